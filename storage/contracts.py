"""Contracts (签约) between residents and family-doctor teams."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from consult.contract import Contract, ContractStatus, ServicePackage, UnableReason
from storage.models import ContractRow


def contract_of(row: ContractRow) -> Contract:
    """The domain view of a contract row."""
    return Contract(
        id=row.id,
        resident_id=row.resident_id,
        team_id=row.team_id,
        package=ServicePackage(row.package),
        start_date=row.start_date,
        end_date=row.end_date,
        status=ContractStatus(row.status),
        unable_reason=UnableReason(row.unable_reason) if row.unable_reason else None,
        note=row.note,
    )


async def for_resident(session: AsyncSession, resident_id: int) -> list[Contract]:
    """Every contract cycle of the resident, newest first."""
    rows = await session.scalars(
        select(ContractRow)
        .where(ContractRow.resident_id == resident_id)
        .order_by(ContractRow.start_date.desc(), ContractRow.id.desc())
    )
    return [contract_of(r) for r in rows]


async def get_row(session: AsyncSession, contract_id: int) -> ContractRow | None:
    """The contract row, for updating."""
    return await session.get(ContractRow, contract_id)


async def add(
    session: AsyncSession,
    *,
    resident_id: int,
    team_id: int,
    package: ServicePackage,
    start_date: date,
    end_date: date,
    status: ContractStatus,
    created_by: int | None,
    unable_reason: UnableReason | None = None,
    note: str | None = None,
) -> Contract:
    """Store a new contract cycle."""
    row = ContractRow(
        resident_id=resident_id,
        team_id=team_id,
        package=package.value,
        start_date=start_date,
        end_date=end_date,
        status=status.value,
        unable_reason=unable_reason.value if unable_reason else None,
        note=note,
        created_by=created_by,
    )
    session.add(row)
    await session.flush()
    return contract_of(row)
