"""Storing messages in batches: retries answered with the first copy, one bad message failing alone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from consult.messaging import Message, MessageKind
from signaling.writer import MessageWriter, Store
from storage import messages
from storage.db import SqliteWriteThread, create_engine, create_sessionmaker
from storage.models import MessageRow
from tests.conftest import NOW


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url)
    yield create_sessionmaker(engine)
    await engine.dispose()


async def _conversation(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    """A care-team conversation of demo resident 2 and the user id of 刘德明's own account."""
    from storage.models import UserRow

    async with sessions() as session, session.begin():
        conversation = await messages.care_team_conversation(session, 2, 1)
        user_id = await session.scalar(select(UserRow.id).where(UserRow.username == "resident"))
        assert user_id is not None
        return conversation.id, user_id


def _new(
    conversation_id: int, user_id: int | None, client_msg_id: str | None, text: str
) -> messages.NewMessage:
    return messages.NewMessage(
        conversation_id=conversation_id,
        kind=MessageKind.TEXT if user_id else MessageKind.AUTO_REPLY,
        sender_user_id=user_id,
        sender_role="resident" if user_id else "system",
        sender_name="刘德明" if user_id else "系统",
        created_at=NOW,
        text=text,
        client_msg_id=client_msg_id,
    )


async def _count(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(MessageRow)) or 0)


async def test_a_batch_stores_each_message_once_and_answers_retries_with_the_first(
    sessions: async_sessionmaker[AsyncSession], store: Store
) -> None:
    conversation_id, user_id = await _conversation(sessions)
    async with sessions() as session, session.begin():
        ((earlier, created),) = await messages.add_messages(
            session, [_new(conversation_id, user_id, "a", "早上好")]
        )
        assert created
    before = await _count(sessions)
    batch = [
        _new(conversation_id, user_id, "b", "血压 135/85"),
        _new(conversation_id, None, None, "医生休息中"),
        _new(conversation_id, user_id, "a", "早上好"),  # a retry of a stored message
        _new(conversation_id, user_id, "c", "谢谢"),
        _new(conversation_id, user_id, "b", "血压 135/85"),  # a retry within the batch
        _new(conversation_id, None, None, "第二条系统消息"),
    ]
    results = await store(batch)  # on SQLite the writer's own connection; the first went through a session
    assert [created for _, created in results] == [True, True, False, True, False, True]
    assert results[2][0].id == earlier.id and results[4][0].id == results[0][0].id
    assert [m.text for m, _ in results] == [item.text for item in batch]
    assert len({m.id for m, created in results if created}) == 4
    assert await _count(sessions) == before + 4
    async with sessions() as session:
        stored = await messages.messages_after(session, conversation_id, earlier.id, 10)
    assert {(m.id, m.text) for m in stored} == {(m.id, m.text) for m, created in results if created}


@pytest.fixture
async def store(database_url: str, sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[Store]:
    """The hub's store for the writer: on SQLite its own connection on a thread, else a session."""
    if database_url.startswith("sqlite"):
        thread = SqliteWriteThread(database_url)

        async def on_thread(batch: list[messages.NewMessage]) -> list[tuple[Message, bool]]:
            return await thread.run(lambda connection: messages.add_messages_sync(connection, batch))

        yield on_thread
        await thread.close()
        return

    async def in_session(batch: list[messages.NewMessage]) -> list[tuple[Message, bool]]:
        async with sessions() as session, session.begin():
            return await messages.add_messages(session, batch)

    yield in_session


async def test_the_writer_batches_concurrent_messages_and_one_bad_message_fails_alone(
    sessions: async_sessionmaker[AsyncSession], store: Store
) -> None:
    conversation_id, user_id = await _conversation(sessions)
    writer = MessageWriter(store)
    writer.start()
    try:
        good = [_new(conversation_id, user_id, f"m{i}", f"第{i}条") for i in range(40)]
        bad = _new(conversation_id + 999, user_id, "bad", "发到不存在的会话")  # violates a foreign key
        results = await asyncio.gather(
            *(writer.add(item) for item in [*good[:20], bad, *good[20:]]), return_exceptions=True
        )
    finally:
        await writer.stop()
    assert isinstance(results[20], RuntimeError)
    stored = [r for i, r in enumerate(results) if i != 20]
    assert all(isinstance(r, tuple) and r[1] for r in stored)
    assert [r[0].text for r in stored] == [g.text for g in good]  # type: ignore[index]
    assert writer.written == 40 and writer.batches < 40 // 2  # grouped, not one commit each
