"""Family-doctor teams (FHIR CareTeam) and the history of who was on them."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date


class TeamRole(enum.StrEnum):
    """A member's role within the team."""

    LEADER = "leader"
    DOCTOR = "doctor"
    NURSE = "nurse"


@dataclass(frozen=True)
class TeamMembership:
    """One stretch of a practitioner's time on a team; ended memberships stay as history."""

    team_id: int
    practitioner_id: int
    role: TeamRole
    joined_on: date
    left_on: date | None = None

    def __post_init__(self) -> None:
        if self.left_on is not None and self.left_on < self.joined_on:
            raise ValueError(f"left_on {self.left_on} is before joined_on {self.joined_on}")

    def active_on(self, day: date) -> bool:
        """Whether the practitioner was on the team on `day`."""
        return self.joined_on <= day and (self.left_on is None or day < self.left_on)


@dataclass(frozen=True)
class CareTeam:
    """A family-doctor team of one community health centre."""

    id: int
    name: str
    organization_id: int

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError(f"team name must not be blank, got {self.name!r}")


def current_members(memberships: Iterable[TeamMembership], day: date) -> list[TeamMembership]:
    """The memberships in force on `day`."""
    return [m for m in memberships if m.active_on(day)]
