"""The doctor's workbench: residents due for follow-up and today's consults."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from consult.access import require_practising
from consult.errors import AccessDenied
from consult.roles import Role
from storage import consults, followups, residents
from web import keys, schemas
from web.api import Api, RequestContext
from web.presenters import consult_summary

api = Api()

#: Tasks due within this many days show on the workbench (overdue ones always do).
HORIZON_DAYS = 7


@api.operation(
    "GET",
    "/api/workbench",
    summary="Follow-ups due and today's consults",
    tag="workbench",
    response=schemas.WorkbenchOut,
)
async def workbench(ctx: RequestContext) -> schemas.WorkbenchOut:
    """For a doctor or nurse: their teams' follow-up tasks due within a week (overdue first) and the
    consults scheduled today; for a specialist, today's referral consults they take part in."""
    actor = ctx.me
    if not actor.role.is_practitioner:
        raise AccessDenied(f"the workbench is for practitioners, not a {actor.role.value}")
    require_practising(actor)
    zone = ZoneInfo(ctx.app[keys.SETTINGS].timezone)
    day_start = datetime.combine(ctx.today, time.min, tzinfo=zone)
    day_end = day_start + timedelta(days=1)
    if actor.role is Role.SPECIALIST:
        due = []
        today = await consults.listing(
            ctx.session, participant_user_id=actor.user_id, scheduled_from=day_start, scheduled_to=day_end
        )
    else:
        due = await followups.due_tasks(
            ctx.session, until=ctx.today + timedelta(days=HORIZON_DAYS), team_ids=actor.team_ids
        )
        today = await consults.listing(
            ctx.session, team_ids=actor.team_ids, scheduled_from=day_start, scheduled_to=day_end
        )
    names = await residents.names(
        ctx.session, {t.resident_id for t, _ in due} | {c.resident_id for c in today}
    )
    return schemas.WorkbenchOut(
        today=ctx.today,
        due_tasks=[
            schemas.WorkbenchTaskOut(
                task_id=t.id,
                plan_id=p.id,
                resident_id=t.resident_id,
                resident_name=names.get(t.resident_id, ""),
                title=p.title,
                due_date=t.due_date,
                overdue=t.is_overdue(ctx.today),
            )
            for t, p in due
        ],
        consults_today=[
            consult_summary(c, names.get(c.resident_id, ""))
            for c in sorted(today, key=lambda c: c.scheduled_at or c.created_at)
        ],
    )
