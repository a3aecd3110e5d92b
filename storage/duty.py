"""Practitioners' duty status and working hours, and the team settings messaging needs."""

from __future__ import annotations

from datetime import date, time
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from consult.alerts import DEFAULT_RED_FLAGS
from consult.duty import DEFAULT_HOURS, DutyStatus, Shift, TeamMember
from storage.models import DutyRow, PractitionerRow, TeamMembershipRow, TeamSettingsRow, UserRow


def hours_to_json(hours: tuple[Shift, ...]) -> list[dict[str, Any]]:
    """Working hours as stored."""
    return [
        {"weekday": s.weekday, "start": s.start.strftime("%H:%M"), "end": s.end.strftime("%H:%M")}
        for s in hours
    ]


def hours_from_json(data: list[dict[str, Any]] | None) -> tuple[Shift, ...]:
    """Stored working hours back as shifts; none stored means the centre's usual hours."""
    if data is None:
        return DEFAULT_HOURS
    return tuple(
        Shift(int(d["weekday"]), time.fromisoformat(d["start"]), time.fromisoformat(d["end"])) for d in data
    )


async def get(session: AsyncSession, practitioner_id: int) -> tuple[DutyStatus, tuple[Shift, ...]]:
    """A practitioner's status and hours (auto and the usual hours when never set)."""
    row = await session.get(DutyRow, practitioner_id)
    if row is None:
        return DutyStatus.AUTO, DEFAULT_HOURS
    return DutyStatus(row.status), hours_from_json(row.hours)


async def set_status(
    session: AsyncSession, practitioner_id: int, status: DutyStatus, hours: tuple[Shift, ...] | None = None
) -> None:
    """Set the manual status (and, when given, the working hours)."""
    row = await session.get(DutyRow, practitioner_id)
    if row is None:
        row = DutyRow(practitioner_id=practitioner_id, status=status.value)
        session.add(row)
    row.status = status.value
    if hours is not None:
        row.hours = hours_to_json(hours)
    await session.flush()


async def team_members(session: AsyncSession, team_id: int, today: date) -> list[TeamMember]:
    """The team's current members with their accounts' ids, team role, status and hours."""
    rows = await session.execute(
        select(UserRow.id, PractitionerRow.name, PractitionerRow.kind, TeamMembershipRow.role, DutyRow)
        .join(PractitionerRow, PractitionerRow.id == UserRow.practitioner_id)
        .join(TeamMembershipRow, TeamMembershipRow.practitioner_id == PractitionerRow.id)
        .outerjoin(DutyRow, DutyRow.practitioner_id == PractitionerRow.id)
        .where(
            TeamMembershipRow.team_id == team_id,
            TeamMembershipRow.joined_on <= today,
            or_(TeamMembershipRow.left_on.is_(None), TeamMembershipRow.left_on > today),
            UserRow.active.is_(True),
        )
        .order_by(PractitionerRow.id)
    )
    return [
        TeamMember(
            user_id=user_id,
            name=name,
            kind=kind,
            team_role=team_role,
            status=DutyStatus(row.status) if row else DutyStatus.AUTO,
            hours=hours_from_json(row.hours) if row else DEFAULT_HOURS,
        )
        for user_id, name, kind, team_role, row in rows
    ]


async def red_flags(session: AsyncSession, team_id: int) -> tuple[str, ...]:
    """The team's red-flag words, or the defaults."""
    row = await session.get(TeamSettingsRow, team_id)
    if row is None or row.red_flags is None:
        return DEFAULT_RED_FLAGS
    return tuple(row.red_flags)


async def set_red_flags(session: AsyncSession, team_id: int, flags: list[str]) -> None:
    """Replace the team's red-flag words."""
    row = await session.get(TeamSettingsRow, team_id)
    if row is None:
        row = TeamSettingsRow(team_id=team_id)
        session.add(row)
    row.red_flags = flags
    await session.flush()
