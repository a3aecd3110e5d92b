"""Follow-up plans and the tasks they generate."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from consult.followup import FollowUpPlan, FollowUpTask, TaskStatus, first_due_date
from storage.models import FollowUpPlanRow, FollowUpTaskRow


def plan_of(row: FollowUpPlanRow) -> FollowUpPlan:
    """The domain view of a plan row."""
    return FollowUpPlan(
        id=row.id,
        resident_id=row.resident_id,
        team_id=row.team_id,
        condition_id=row.condition_id,
        title=row.title,
        interval_days=row.interval_days,
        start_date=row.start_date,
        active=row.active,
    )


def task_of(row: FollowUpTaskRow) -> FollowUpTask:
    """The domain view of a task row."""
    return FollowUpTask(
        id=row.id,
        plan_id=row.plan_id,
        resident_id=row.resident_id,
        due_date=row.due_date,
        status=TaskStatus(row.status),
        consult_id=row.consult_id,
        completed_on=row.completed_on,
    )


async def add_plan(
    session: AsyncSession,
    *,
    resident_id: int,
    team_id: int,
    condition_id: int | None,
    title: str,
    interval_days: int,
    start_date: date,
    created_by: int | None,
    first_due: date | None = None,
) -> tuple[FollowUpPlan, FollowUpTask]:
    """Store a plan and its first task (one interval after the start unless `first_due` is given)."""
    row = FollowUpPlanRow(
        resident_id=resident_id,
        team_id=team_id,
        condition_id=condition_id,
        title=title,
        interval_days=interval_days,
        start_date=start_date,
        created_by=created_by,
    )
    session.add(row)
    await session.flush()
    plan = plan_of(row)
    task = await add_task(session, plan, first_due or first_due_date(plan))
    return plan, task


async def add_task(session: AsyncSession, plan: FollowUpPlan, due: date) -> FollowUpTask:
    """Store the plan's next task."""
    row = FollowUpTaskRow(
        plan_id=plan.id, resident_id=plan.resident_id, due_date=due, status=TaskStatus.DUE.value
    )
    session.add(row)
    await session.flush()
    return task_of(row)


async def plans_for_resident(session: AsyncSession, resident_id: int) -> list[FollowUpPlan]:
    """The resident's plans, active first."""
    rows = await session.scalars(
        select(FollowUpPlanRow)
        .where(FollowUpPlanRow.resident_id == resident_id)
        .order_by(FollowUpPlanRow.active.desc(), FollowUpPlanRow.id)
    )
    return [plan_of(r) for r in rows]


async def get_plan(session: AsyncSession, plan_id: int) -> FollowUpPlan | None:
    """One plan."""
    row = await session.get(FollowUpPlanRow, plan_id)
    return None if row is None else plan_of(row)


async def get_task_row(session: AsyncSession, task_id: int) -> FollowUpTaskRow | None:
    """One task row, for updating."""
    return await session.get(FollowUpTaskRow, task_id)


async def task_for_consult(session: AsyncSession, consult_id: int) -> FollowUpTaskRow | None:
    """The task a consult serves, if any."""
    return await session.scalar(select(FollowUpTaskRow).where(FollowUpTaskRow.consult_id == consult_id))


async def due_tasks(
    session: AsyncSession,
    *,
    until: date,
    resident_ids: list[int] | None = None,
    team_ids: frozenset[int] | None = None,
) -> list[tuple[FollowUpTask, FollowUpPlan]]:
    """Tasks still due on or before `until`, for the given residents or teams, earliest first."""
    stmt = (
        select(FollowUpTaskRow, FollowUpPlanRow)
        .join(FollowUpPlanRow, FollowUpPlanRow.id == FollowUpTaskRow.plan_id)
        .where(
            FollowUpTaskRow.status == TaskStatus.DUE.value,
            FollowUpTaskRow.due_date <= until,
            FollowUpPlanRow.active.is_(True),
        )
        .order_by(FollowUpTaskRow.due_date, FollowUpTaskRow.id)
    )
    if resident_ids is not None:
        stmt = stmt.where(FollowUpTaskRow.resident_id.in_(resident_ids))
    if team_ids is not None:
        stmt = stmt.where(FollowUpPlanRow.team_id.in_(team_ids))
    rows = await session.execute(stmt)
    return [(task_of(t), plan_of(p)) for t, p in rows]
