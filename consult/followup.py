"""Follow-up plans (随访计划, FHIR CarePlan) and the tasks they generate (随访任务, FHIR Task)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, timedelta


class TaskStatus(enum.StrEnum):
    """A follow-up task is due until a consult completes it, or it is cancelled."""

    DUE = "due"
    DONE = "done"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class FollowUpPlan:
    """Follow a condition every `interval_days` (e.g. hypertension every 90 days)."""

    id: int
    resident_id: int
    team_id: int
    condition_id: int | None
    title: str
    interval_days: int
    start_date: date
    active: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.interval_days <= 366:
            raise ValueError(f"interval_days must be between 1 and 366, got {self.interval_days!r}")
        if not self.title.strip():
            raise ValueError(f"plan title must not be blank, got {self.title!r}")


@dataclass(frozen=True)
class FollowUpTask:
    """One follow-up the team owes the resident by `due_date`."""

    id: int
    plan_id: int
    resident_id: int
    due_date: date
    status: TaskStatus
    consult_id: int | None = None
    completed_on: date | None = None

    def is_overdue(self, today: date) -> bool:
        """Due and past its date."""
        return self.status is TaskStatus.DUE and self.due_date < today


def first_due_date(plan: FollowUpPlan) -> date:
    """The first task falls one interval after the plan starts."""
    return plan.start_date + timedelta(days=plan.interval_days)


def next_due_date(plan: FollowUpPlan, completed_on: date, requested: date | None = None) -> date:
    """When the next follow-up falls after one completed on `completed_on`.

    The doctor's chosen next-visit date wins when it is after the visit; otherwise one interval
    after the visit, so a late visit does not squeeze the next one.
    """
    if requested is not None and requested > completed_on:
        return requested
    return completed_on + timedelta(days=plan.interval_days)


def due_within(tasks: list[FollowUpTask], today: date, days: int) -> list[FollowUpTask]:
    """Tasks still due on or before `today + days`, most urgent first."""
    horizon = today + timedelta(days=days)
    return sorted(
        (t for t in tasks if t.status is TaskStatus.DUE and t.due_date <= horizon),
        key=lambda t: t.due_date,
    )
