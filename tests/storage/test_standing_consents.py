"""Standing consents in storage: given on the contract in force, withdrawn with a timestamp (never
deleted), a history kept; the consult answers taken from one name it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from consult.recording import STANDING_TEXT_VERSION, ConsentRecord, Decision, StandingConsent
from storage import recordings, standing_consents
from storage.db import create_engine, create_sessionmaker
from storage.models import ConsultRow, ContractRow, StandingConsentRow, UserRow
from tests.conftest import NOW, TODAY


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url)
    yield create_sessionmaker(engine)
    await engine.dispose()


async def _liu(session: AsyncSession) -> tuple[int, int, int]:
    """刘德明's resident id, user id (the demo resident account) and contract in force."""
    user = await session.scalar(select(UserRow).where(UserRow.username == "resident"))
    assert user is not None and user.resident_id is not None
    contract_id = await standing_consents.contract_in_force(session, user.resident_id, TODAY)
    assert contract_id is not None
    return user.resident_id, user.id, contract_id


async def _give(
    session: AsyncSession, resident_id: int, contract_id: int, user_id: int, at: datetime = NOW
) -> StandingConsent:
    """The resident gives standing consent on the contract, shown the current text."""
    return await standing_consents.give(
        session,
        resident_id=resident_id,
        contract_id=contract_id,
        by_user_id=user_id,
        text_version=STANDING_TEXT_VERSION,
        now=at,
    )


async def test_give_withdraw_and_give_again_keeps_the_history(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        resident_id, user_id, contract_id = await _liu(session)
        assert await standing_consents.current(session, resident_id, contract_id, NOW) is None  # demo: none
        assert await standing_consents.resident_user_id(session, resident_id) == user_id
        given = await _give(session, resident_id, contract_id, user_id)
    later = NOW + timedelta(days=3)
    async with sessions() as session, session.begin():
        held = await standing_consents.current(session, resident_id, contract_id, NOW + timedelta(hours=1))
        assert held is not None and held.id == given.id and held.text_version == STANDING_TEXT_VERSION
        withdrawn = await standing_consents.withdraw(session, given.id, by_user_id=user_id, now=later)
        assert withdrawn is not None and withdrawn.withdrawn_at == later
        assert await standing_consents.withdraw(session, given.id, by_user_id=user_id, now=later) is None
    async with sessions() as session, session.begin():
        # What was in force when stays answerable: before the withdrawal it counted, after it does not.
        assert await standing_consents.current(session, resident_id, contract_id, later - timedelta(hours=1))
        assert await standing_consents.current(session, resident_id, contract_id, later) is None
        again = await _give(session, resident_id, contract_id, user_id, later + timedelta(days=1))
    async with sessions() as session:
        history = await standing_consents.history(session, resident_id)
        assert [c.id for c in history] == [again.id, given.id]
        assert history[1].withdrawn_by_user_id == user_id and history[0].withdrawn_at is None
        assert await session.scalar(select(func.count()).select_from(StandingConsentRow)) == 2


async def test_it_is_given_only_on_the_contract_in_force_and_lapses_with_it(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        # The demo resident whose contract is only pending has none to give it on.
        pending = await session.scalar(select(ContractRow.resident_id).where(ContractRow.status == "pending"))
        assert pending is not None
        assert await standing_consents.contract_in_force(session, pending, TODAY) is None
        resident_id, user_id, contract_id = await _liu(session)
        await _give(session, resident_id, contract_id, user_id)
        row = await session.get(ContractRow, contract_id)
        assert row is not None
        row.status = "cancelled"
    async with sessions() as session:
        assert await standing_consents.contract_in_force(session, resident_id, TODAY) is None
        assert await standing_consents.current(session, resident_id, None, NOW) is None


async def test_a_consult_answer_taken_from_a_standing_consent_names_it(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        resident_id, user_id, contract_id = await _liu(session)
        given = await _give(session, resident_id, contract_id, user_id)
        consult_id = await session.scalar(select(ConsultRow.id).order_by(ConsultRow.id).limit(1))
        assert consult_id is not None
        answer = ConsentRecord(
            consult_id, user_id, Decision.GRANTED, NOW, given.text_version, standing_consent_id=given.id
        )
        await recordings.add_consent(session, answer, None)
    async with sessions() as session:
        (stored,) = [c for c in await recordings.consents(session, consult_id) if c.user_id == user_id]
        assert stored.from_standing and stored.standing_consent_id == given.id
        assert stored.text_version == STANDING_TEXT_VERSION
