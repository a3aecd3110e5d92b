"""The audit chain detects an edited, inserted or removed entry, and names it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import audit
from storage.db import create_engine, create_sessionmaker
from storage.models import AuditEventRow


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url)
    yield create_sessionmaker(engine)
    await engine.dispose()


async def _append(sessions: async_sessionmaker[AsyncSession], n: int) -> None:
    for i in range(n):
        async with sessions() as session, session.begin():
            await audit.append(
                session,
                audit.AuditRecord(
                    action="read", entity_type="resident", entity_id=str(i), resident_id=1, actor_user_id=1
                ),
            )


async def _verify(sessions: async_sessionmaker[AsyncSession]) -> audit.ChainReport:
    async with sessions() as session:
        return await audit.verify_chain(session)


async def test_intact_chain_verifies(sessions: async_sessionmaker[AsyncSession]) -> None:
    await _append(sessions, 5)
    report = await _verify(sessions)
    assert report.ok, report.problem
    assert report.checked >= 5


async def test_edited_entry_is_named(sessions: async_sessionmaker[AsyncSession]) -> None:
    await _append(sessions, 5)
    async with sessions() as session, session.begin():
        target = await session.scalar(
            select(AuditEventRow.seq).order_by(AuditEventRow.seq.desc()).offset(2).limit(1)
        )
        await session.execute(
            update(AuditEventRow).where(AuditEventRow.seq == target).values(outcome="denied")
        )
    report = await _verify(sessions)
    assert not report.ok
    assert report.first_bad_seq == target
    assert "edited" in (report.problem or "")


async def test_removed_entry_is_named(sessions: async_sessionmaker[AsyncSession]) -> None:
    await _append(sessions, 5)
    async with sessions() as session, session.begin():
        target = await session.scalar(
            select(AuditEventRow.seq).order_by(AuditEventRow.seq.desc()).offset(1).limit(1)
        )
        await session.execute(delete(AuditEventRow).where(AuditEventRow.seq == target))
    report = await _verify(sessions)
    assert (report.ok, report.first_bad_seq) == (False, target)
    assert "removed" in (report.problem or "")


async def test_removed_tail_is_detected(sessions: async_sessionmaker[AsyncSession]) -> None:
    await _append(sessions, 3)
    async with sessions() as session, session.begin():
        last = await session.scalar(select(AuditEventRow.seq).order_by(AuditEventRow.seq.desc()).limit(1))
        await session.execute(delete(AuditEventRow).where(AuditEventRow.seq == last))
    report = await _verify(sessions)
    assert not report.ok
    assert report.first_bad_seq == last


async def test_concurrent_appends_keep_one_chain(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Appenders racing in separate transactions never fork the chain or reuse a sequence number."""

    async def one(i: int) -> None:
        async with sessions() as session, session.begin():
            await audit.append(session, audit.AuditRecord(action="read", entity_type="x", entity_id=str(i)))

    await asyncio.gather(*(one(i) for i in range(20)))
    report = await _verify(sessions)
    assert report.ok, report.problem
