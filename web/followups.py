"""Follow-up plans and the tasks they generate."""

from __future__ import annotations

from datetime import timedelta

from consult.access import require_team_clinician, resident_scope
from consult.errors import RuleViolation
from consult.followup import FollowUpPlan
from storage import followups
from web import schemas
from web.api import Api, RequestContext
from web.presenters import plan_out, task_out
from web.residents import find_resident

api = Api()


@api.operation(
    "POST",
    "/api/followup-plans",
    summary="Start a follow-up plan",
    tag="follow-ups",
    body=schemas.PlanIn,
    response=schemas.PlanCreatedOut,
    status=201,
    errors=(404,),
)
async def create_plan(ctx: RequestContext) -> schemas.PlanCreatedOut:
    """Follow a resident's condition every `interval_days`; the first task is created at once."""
    body: schemas.PlanIn = ctx.body
    resident, team_id = await find_resident(ctx, body.resident_id)
    require_team_clinician(ctx.me, team_id)
    assert team_id is not None
    if body.condition_id is not None and body.condition_id not in {c.id for c in resident.conditions}:
        raise RuleViolation(
            f"condition {body.condition_id} is not one of this resident's",
            code="unknown_condition",
            field="condition_id",
        )
    if body.first_due is not None and body.first_due < body.start_date:
        raise RuleViolation("first_due must not be before start_date", field="first_due")
    try:
        FollowUpPlan(
            0, resident.id, team_id, body.condition_id, body.title, body.interval_days, body.start_date
        )
    except ValueError as err:
        raise RuleViolation(str(err)) from err
    plan, task = await followups.add_plan(
        ctx.session,
        resident_id=resident.id,
        team_id=team_id,
        condition_id=body.condition_id,
        title=body.title,
        interval_days=body.interval_days,
        start_date=body.start_date,
        created_by=ctx.me.user_id,
        first_due=body.first_due,
    )
    await ctx.audit(
        "create",
        "followup_plan",
        plan.id,
        resident_id=resident.id,
        detail={"interval_days": plan.interval_days, "first_due": task.due_date.isoformat()},
    )
    return schemas.PlanCreatedOut(plan=plan_out(plan), first_task=task_out(task, plan, ctx.today))


@api.operation(
    "GET",
    "/api/followup-tasks",
    summary="Follow-up tasks due",
    tag="follow-ups",
    query=schemas.TaskQuery,
    response=schemas.TaskListOut,
)
async def list_tasks(ctx: RequestContext) -> schemas.TaskListOut:
    """Tasks due within `within_days` (overdue ones included) for the residents the caller may see."""
    query: schemas.TaskQuery = ctx.query
    scope = resident_scope(ctx.me)
    until = ctx.today + timedelta(days=query.within_days)
    if scope.team_ids:
        rows = await followups.due_tasks(ctx.session, until=until, team_ids=scope.team_ids)
    elif scope.resident_ids:
        rows = await followups.due_tasks(ctx.session, until=until, resident_ids=sorted(scope.resident_ids))
    else:
        rows = []
    if query.resident_id is not None:
        rows = [(t, p) for t, p in rows if t.resident_id == query.resident_id]
    return schemas.TaskListOut(items=[task_out(t, p, ctx.today) for t, p in rows])
