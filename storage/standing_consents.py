"""Standing consents: a resident's consent, given on their contract, to recording their follow-ups.

Rows are never deleted or edited but for the withdrawal: withdrawing sets `withdrawn_at` and who did
it, so what was in force at any time stays answerable. At most one is in force per contract: giving
locks the contract's row (PostgreSQL; SQLite runs one request transaction at a time), so two taps at
once cannot both give.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from consult.contract import binding_contract
from consult.recording import StandingConsent
from storage import contracts
from storage.models import ContractRow, StandingConsentRow, UserRow


def standing_of(row: StandingConsentRow) -> StandingConsent:
    """The domain view of a standing consent row."""
    return StandingConsent(
        id=row.id,
        resident_id=row.resident_id,
        contract_id=row.contract_id,
        given_by_user_id=row.given_by_user_id,
        given_at=row.given_at,
        text_version=row.text_version,
        withdrawn_at=row.withdrawn_at,
        withdrawn_by_user_id=row.withdrawn_by_user_id,
    )


async def contract_in_force(session: AsyncSession, resident_id: int, today: date) -> int | None:
    """The id of the contract binding the resident today (what a standing consent is given on)."""
    contract = binding_contract(await contracts.for_resident(session, resident_id), today)
    return contract.id if contract is not None else None


async def resident_user_id(session: AsyncSession, resident_id: int) -> int | None:
    """The user id of the resident's own (active) account, if they have one: who a standing consent
    speaks for in the room."""
    return await session.scalar(
        select(UserRow.id).where(UserRow.resident_id == resident_id, UserRow.active.is_(True))
    )


async def history(session: AsyncSession, resident_id: int) -> list[StandingConsent]:
    """Every standing consent the resident ever gave, newest first."""
    rows = await session.scalars(
        select(StandingConsentRow)
        .where(StandingConsentRow.resident_id == resident_id)
        .order_by(StandingConsentRow.given_at.desc(), StandingConsentRow.id.desc())
    )
    return [standing_of(r) for r in rows]


async def current(
    session: AsyncSession, resident_id: int, contract_id: int | None, at: datetime
) -> StandingConsent | None:
    """The standing consent in force at `at` on the resident's contract `contract_id`, if any."""
    if contract_id is None:
        return None
    rows = await session.scalars(
        select(StandingConsentRow)
        .where(
            StandingConsentRow.resident_id == resident_id,
            StandingConsentRow.contract_id == contract_id,
        )
        .order_by(StandingConsentRow.given_at.desc(), StandingConsentRow.id.desc())
    )
    for row in rows:
        consent = standing_of(row)
        if consent.in_force(contract_id, at):
            return consent
    return None


async def get(session: AsyncSession, consent_id: int) -> StandingConsent | None:
    """One standing consent by id."""
    row = await session.get(StandingConsentRow, consent_id)
    return standing_of(row) if row is not None else None


async def lock_contract(session: AsyncSession, contract_id: int) -> None:
    """Serialise gives and withdrawals on one contract until the transaction ends."""
    await session.execute(select(ContractRow.id).where(ContractRow.id == contract_id).with_for_update())


async def give(
    session: AsyncSession,
    *,
    resident_id: int,
    contract_id: int,
    by_user_id: int,
    text_version: str,
    now: datetime,
) -> StandingConsent:
    """Store a standing consent given now on the contract, with the version of the text shown."""
    consent = StandingConsent(0, resident_id, contract_id, by_user_id, now, text_version)  # validates
    row = StandingConsentRow(
        resident_id=consent.resident_id,
        contract_id=consent.contract_id,
        given_by_user_id=consent.given_by_user_id,
        given_at=consent.given_at,
        text_version=consent.text_version,
    )
    session.add(row)
    await session.flush()
    return standing_of(row)


async def withdraw(
    session: AsyncSession, consent_id: int, *, by_user_id: int, now: datetime
) -> StandingConsent | None:
    """Withdraw the standing consent (a timestamp, never a delete); None if it was already withdrawn."""
    row = await session.get(StandingConsentRow, consent_id)
    if row is None or row.withdrawn_at is not None:
        return None
    row.withdrawn_at, row.withdrawn_by_user_id = now, by_user_id
    await session.flush()
    return standing_of(row)
