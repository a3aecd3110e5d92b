"""Referrals from a family-doctor team to a specialist or referral hospital."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from consult.referral import Referral, ReferralStatus, SharedResult
from storage.models import ReferralRow


def referral_of(row: ReferralRow) -> Referral:
    """The domain view of a referral row."""
    return Referral(
        id=row.id,
        resident_id=row.resident_id,
        from_team_id=row.from_team_id,
        to_organization_id=row.to_organization_id,
        to_practitioner_id=row.to_practitioner_id,
        reason=row.reason,
        status=ReferralStatus(row.status),
        created_at=row.created_at,
        shared_results=tuple(SharedResult(**r) for r in row.shared_results),
        shared_condition_ids=tuple(row.shared_condition_ids),
        specialist_opinion=row.specialist_opinion,
    )


async def add(
    session: AsyncSession,
    *,
    resident_id: int,
    from_team_id: int,
    to_organization_id: int,
    to_practitioner_id: int | None,
    reason: str,
    shared_results: list[SharedResult],
    shared_condition_ids: list[int],
    created_by: int,
) -> Referral:
    """Store a new referral in the requested state."""
    row = ReferralRow(
        resident_id=resident_id,
        from_team_id=from_team_id,
        to_organization_id=to_organization_id,
        to_practitioner_id=to_practitioner_id,
        reason=reason,
        status=ReferralStatus.REQUESTED.value,
        shared_results=[r.__dict__ for r in shared_results],
        shared_condition_ids=shared_condition_ids,
        created_by=created_by,
    )
    session.add(row)
    await session.flush()
    return referral_of(row)


async def get_row(session: AsyncSession, referral_id: int) -> ReferralRow | None:
    """One referral row, for updating."""
    return await session.get(ReferralRow, referral_id)


async def listing(
    session: AsyncSession,
    *,
    team_ids: frozenset[int] | None = None,
    practitioner_id: int | None = None,
    organization_id: int | None = None,
    resident_id: int | None = None,
) -> list[Referral]:
    """Referrals sent by the given teams, or addressed to the practitioner (or their hospital)."""
    stmt = select(ReferralRow).order_by(ReferralRow.created_at.desc(), ReferralRow.id.desc())
    if team_ids is not None:
        stmt = stmt.where(ReferralRow.from_team_id.in_(team_ids))
    if practitioner_id is not None:
        stmt = stmt.where(
            or_(
                ReferralRow.to_practitioner_id == practitioner_id,
                (ReferralRow.to_practitioner_id.is_(None))
                & (ReferralRow.to_organization_id == organization_id),
            )
        )
    if resident_id is not None:
        stmt = stmt.where(ReferralRow.resident_id == resident_id)
    return [referral_of(r) for r in await session.scalars(stmt)]
