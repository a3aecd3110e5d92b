"""Users, practitioners, organizations and care teams; builds the `Actor` each request acts as."""

from __future__ import annotations

from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from consult.access import Actor
from consult.care_team import CareTeam, TeamMembership, TeamRole
from consult.organization import Organization, OrganizationKind
from consult.practitioner import Practitioner, PractitionerKind
from consult.proxy import ProxyBinding, Relation
from consult.referral import OPEN
from consult.roles import ProxyScope, Role
from storage.models import (
    CareTeamRow,
    OrganizationRow,
    PractitionerRow,
    ProxyBindingRow,
    ReferralRow,
    TeamMembershipRow,
    UserRow,
)


def practitioner_of(row: PractitionerRow) -> Practitioner:
    """The domain view of a practitioner row."""
    return Practitioner(
        id=row.id,
        name=row.name,
        kind=PractitionerKind(row.kind),
        organization_id=row.organization_id,
        real_name_verified=row.real_name_verified,
        years_of_practice=row.years_of_practice,
        licence_number=row.licence_number,
        verified_at=row.verified_at,
        department=row.department,
    )


def organization_of(row: OrganizationRow) -> Organization:
    """The domain view of an organization row."""
    return Organization(id=row.id, name=row.name, kind=OrganizationKind(row.kind))


def team_of(row: CareTeamRow) -> CareTeam:
    """The domain view of a care-team row."""
    return CareTeam(id=row.id, name=row.name, organization_id=row.organization_id)


def binding_of(row: ProxyBindingRow) -> ProxyBinding:
    """The domain view of a proxy binding row."""
    return ProxyBinding(
        proxy_user_id=row.proxy_user_id,
        resident_id=row.resident_id,
        relation=Relation(row.relation),
        scopes=frozenset(ProxyScope(s) for s in row.scopes),
    )


async def user_by_username(session: AsyncSession, username: str) -> UserRow | None:
    """The account with this user name, active or not."""
    return await session.scalar(select(UserRow).where(UserRow.username == username))


async def current_team_ids(session: AsyncSession, practitioner_id: int, today: date) -> frozenset[int]:
    """Teams the practitioner is a member of on `today`."""
    rows = await session.scalars(
        select(TeamMembershipRow.team_id).where(
            TeamMembershipRow.practitioner_id == practitioner_id,
            TeamMembershipRow.joined_on <= today,
            or_(TeamMembershipRow.left_on.is_(None), TeamMembershipRow.left_on > today),
        )
    )
    return frozenset(rows.all())


async def load_actor(session: AsyncSession, user_id: int, today: date) -> Actor | None:
    """Everything access decisions need about user `user_id`, or None if the account is gone or disabled."""
    user = await session.get(UserRow, user_id)
    if user is None or not user.active:
        return None
    practitioner = None
    team_ids: frozenset[int] = frozenset()
    referred: frozenset[int] = frozenset()
    if user.practitioner_id is not None:
        prow = await session.get(PractitionerRow, user.practitioner_id)
        if prow is not None:
            practitioner = practitioner_of(prow)
            team_ids = await current_team_ids(session, prow.id, today)
            if practitioner.kind is PractitionerKind.SPECIALIST:
                referred = frozenset(
                    (
                        await session.scalars(
                            select(ReferralRow.resident_id).where(
                                ReferralRow.status.in_([s.value for s in OPEN]),
                                or_(
                                    ReferralRow.to_practitioner_id == prow.id,
                                    (ReferralRow.to_practitioner_id.is_(None))
                                    & (ReferralRow.to_organization_id == prow.organization_id),
                                ),
                            )
                        )
                    ).all()
                )
    bindings: tuple[ProxyBinding, ...] = ()
    if user.role == Role.PROXY:
        rows = await session.scalars(
            select(ProxyBindingRow).where(
                ProxyBindingRow.proxy_user_id == user.id, ProxyBindingRow.revoked_at.is_(None)
            )
        )
        bindings = tuple(binding_of(r) for r in rows)
    return Actor(
        user_id=user.id,
        username=user.username,
        role=Role(user.role),
        display_name=user.display_name,
        organization_id=user.organization_id,
        practitioner=practitioner,
        team_ids=team_ids,
        resident_id=user.resident_id,
        proxy_bindings=bindings,
        referred_resident_ids=referred,
    )


async def teams_by_id(session: AsyncSession, ids: frozenset[int]) -> list[CareTeam]:
    """The named teams, in id order."""
    if not ids:
        return []
    rows = await session.scalars(select(CareTeamRow).where(CareTeamRow.id.in_(ids)).order_by(CareTeamRow.id))
    return [team_of(r) for r in rows]


async def memberships(session: AsyncSession, team_id: int) -> list[TeamMembership]:
    """Every membership of a team, current and past."""
    rows = await session.scalars(
        select(TeamMembershipRow).where(TeamMembershipRow.team_id == team_id).order_by(TeamMembershipRow.id)
    )
    return [
        TeamMembership(r.team_id, r.practitioner_id, TeamRole(r.role), r.joined_on, r.left_on) for r in rows
    ]


async def users_by_id(session: AsyncSession, ids: set[int]) -> dict[int, UserRow]:
    """The users with these ids (to name who did something), by id."""
    if not ids:
        return {}
    rows = await session.scalars(select(UserRow).where(UserRow.id.in_(ids)))
    return {r.id: r for r in rows}
