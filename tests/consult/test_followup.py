"""Follow-up plans (随访计划) and tasks: due dates, overdue, and the doctor's worklist order."""

from __future__ import annotations

from datetime import date

import pytest

from consult.followup import (
    FollowUpPlan,
    FollowUpTask,
    TaskStatus,
    due_within,
    first_due_date,
    next_due_date,
)


def _plan(
    *, interval_days: int = 90, start: date = date(2024, 1, 10), title: str = "高血压随访"
) -> FollowUpPlan:
    return FollowUpPlan(
        id=1,
        resident_id=100,
        team_id=10,
        condition_id=7,
        title=title,
        interval_days=interval_days,
        start_date=start,
    )


def _task(id: int, due: date, status: TaskStatus = TaskStatus.DUE) -> FollowUpTask:
    return FollowUpTask(id=id, plan_id=1, resident_id=100, due_date=due, status=status)


@pytest.mark.parametrize("interval_days", [0, -7, 367])
def test_interval_outside_one_day_to_a_year_is_refused(interval_days: int) -> None:
    with pytest.raises(ValueError, match=f"interval_days must be between 1 and 366, got {interval_days}"):
        _plan(interval_days=interval_days)


@pytest.mark.parametrize("interval_days", [1, 366])
def test_interval_edges_are_accepted(interval_days: int) -> None:
    assert _plan(interval_days=interval_days).interval_days == interval_days


def test_plan_without_a_title_is_refused() -> None:
    with pytest.raises(ValueError, match="plan title must not be blank"):
        _plan(title="  ")


def test_first_task_falls_one_interval_after_the_start() -> None:
    assert first_due_date(_plan(interval_days=90, start=date(2024, 1, 10))) == date(2024, 4, 9)


def test_first_due_date_counts_29_february() -> None:
    assert first_due_date(_plan(interval_days=30, start=date(2024, 2, 15))) == date(2024, 3, 16)


def test_next_due_without_requested_date_is_one_interval_after_the_visit() -> None:
    assert next_due_date(_plan(interval_days=90), completed_on=date(2024, 5, 20)) == date(2024, 8, 18)


def test_late_visit_does_not_squeeze_the_next_one() -> None:
    # Planned for 2024-04-09, held 2024-05-20: the next one is 90 days after the visit, not the plan.
    due = next_due_date(_plan(interval_days=90, start=date(2024, 1, 10)), completed_on=date(2024, 5, 20))
    assert due == date(2024, 8, 18)


def test_doctors_next_visit_date_wins_when_after_the_visit() -> None:
    due = next_due_date(_plan(interval_days=90), completed_on=date(2024, 5, 20), requested=date(2024, 6, 3))
    assert due == date(2024, 6, 3)


def test_requested_date_may_be_later_than_the_interval() -> None:
    due = next_due_date(_plan(interval_days=30), completed_on=date(2024, 5, 20), requested=date(2024, 12, 1))
    assert due == date(2024, 12, 1)


@pytest.mark.parametrize("requested", [date(2024, 5, 20), date(2024, 5, 1)], ids=["same day", "before"])
def test_requested_date_not_after_the_visit_is_ignored(requested: date) -> None:
    due = next_due_date(_plan(interval_days=90), completed_on=date(2024, 5, 20), requested=requested)
    assert due == date(2024, 8, 18)


@pytest.mark.parametrize(
    ("status", "due", "overdue"),
    [
        (TaskStatus.DUE, date(2024, 6, 9), True),
        (TaskStatus.DUE, date(2024, 6, 10), False),  # due today is not yet overdue
        (TaskStatus.DUE, date(2024, 6, 11), False),
        (TaskStatus.DONE, date(2024, 6, 1), False),
        (TaskStatus.CANCELLED, date(2024, 6, 1), False),
    ],
)
def test_overdue_means_still_due_and_past_its_date(status: TaskStatus, due: date, overdue: bool) -> None:
    assert _task(1, due, status).is_overdue(date(2024, 6, 10)) is overdue


def test_due_within_lists_most_urgent_first_and_keeps_overdue() -> None:
    today = date(2024, 6, 10)
    tasks = [
        _task(1, date(2024, 6, 15)),
        _task(2, date(2024, 6, 2)),  # overdue: stays on the list, first
        _task(3, date(2024, 6, 17)),  # exactly today + 7: included
        _task(4, date(2024, 6, 18)),  # one day beyond the horizon
        _task(5, date(2024, 6, 10)),
        _task(6, date(2024, 6, 5), TaskStatus.DONE),
        _task(7, date(2024, 6, 11), TaskStatus.CANCELLED),
    ]
    assert [t.id for t in due_within(tasks, today, 7)] == [2, 5, 1, 3]


def test_due_within_zero_days_lists_today_and_overdue_only() -> None:
    today = date(2024, 6, 10)
    tasks = [_task(1, date(2024, 6, 11)), _task(2, today), _task(3, date(2024, 6, 1))]
    assert [t.id for t in due_within(tasks, today, 0)] == [3, 2]


def test_due_within_nothing_due() -> None:
    assert due_within([_task(1, date(2024, 6, 1), TaskStatus.DONE)], date(2024, 6, 10), 30) == []
