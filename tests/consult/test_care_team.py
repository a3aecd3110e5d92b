"""Family-doctor teams and who was on them on a given day."""

from __future__ import annotations

from datetime import date

import pytest

from consult.care_team import CareTeam, TeamMembership, TeamRole, current_members


def _membership(
    practitioner_id: int, joined: date, left: date | None = None, role: TeamRole = TeamRole.DOCTOR
) -> TeamMembership:
    return TeamMembership(
        team_id=10, practitioner_id=practitioner_id, role=role, joined_on=joined, left_on=left
    )


@pytest.mark.parametrize(
    ("day", "active"),
    [
        (date(2023, 12, 31), False),  # before joining
        (date(2024, 1, 1), True),  # the day of joining
        (date(2024, 6, 29), True),  # the last day on the team
        (date(2024, 6, 30), False),  # the day of leaving: already gone
        (date(2025, 1, 1), False),
    ],
)
def test_membership_runs_from_joining_up_to_leaving(day: date, active: bool) -> None:
    membership = _membership(1, date(2024, 1, 1), date(2024, 6, 30))
    assert membership.active_on(day) is active


def test_open_membership_stays_active() -> None:
    assert _membership(1, date(2024, 1, 1)).active_on(date(2034, 1, 1)) is True


def test_leaving_before_joining_is_refused() -> None:
    with pytest.raises(ValueError, match="left_on 2023-12-31 is before joined_on 2024-01-01"):
        _membership(1, date(2024, 1, 1), date(2023, 12, 31))


def test_current_members_keeps_only_those_on_the_team_that_day() -> None:
    memberships = [
        _membership(1, date(2020, 1, 1), role=TeamRole.LEADER),
        _membership(2, date(2020, 1, 1), date(2024, 3, 1)),  # left the team
        _membership(3, date(2024, 3, 1), role=TeamRole.NURSE),  # replaced them
        _membership(4, date(2024, 7, 1)),  # not yet joined
    ]
    assert [m.practitioner_id for m in current_members(memberships, date(2024, 3, 1))] == [1, 3]
    assert [m.practitioner_id for m in current_members(memberships, date(2024, 2, 29))] == [1, 2]


def test_team_without_a_name_is_refused() -> None:
    with pytest.raises(ValueError, match="team name must not be blank"):
        CareTeam(id=10, name=" ", organization_id=1)
