"""Consults: create or schedule, list, read, write the visit note, start, end, cancel."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

from sqlalchemy import select

from consult.access import (
    Actor,
    may_view_consult,
    may_view_note,
    participant_role_for,
    require_may_request_consult,
    require_may_write_note,
)
from consult.consult import (
    TERMINAL,
    Consult,
    ConsultKind,
    ConsultStatus,
    Participant,
    ParticipantRole,
    VisitNote,
    Vitals,
    check_transition,
    decide_kind,
)
from consult.errors import AccessDenied, Conflict, NotFound, RuleViolation
from consult.followup import TaskStatus
from consult.referral import OPEN, ReferralStatus
from consult.roles import Role
from storage import consults, followups, referrals, residents
from storage.models import ConsultRow, UserRow
from web import keys, schemas
from web.api import Api, RequestContext
from web.presenters import consult_out, consult_summary, task_out
from web.residents import find_resident

api = Api()


async def _load(ctx: RequestContext) -> tuple[ConsultRow, Consult]:
    """The consult named in the path, as a row to update and as the domain object rules look at."""
    consult_id = ctx.path_int("consult_id")
    found = await consults.load(ctx.session, consult_id)
    if found is None:
        raise NotFound(f"no consult {consult_id}")
    return found


async def _reply(
    ctx: RequestContext, consult_id: int, *, with_note: bool, next_task: schemas.TaskOut | None = None
) -> schemas.ConsultOut:
    """The consult as it stands after this request's changes."""
    consult = await consults.get(ctx.session, consult_id)
    assert consult is not None
    names = await residents.names(ctx.session, {consult.resident_id})
    return consult_out(consult, names.get(consult.resident_id, ""), with_note=with_note, next_task=next_task)


@api.operation(
    "POST",
    "/api/consults",
    summary="Create or schedule a consult",
    tag="consults",
    body=schemas.ConsultCreateIn,
    response=schemas.ConsultOut,
    status=201,
    errors=(404, 409),
)
async def create_consult(ctx: RequestContext) -> schemas.ConsultOut:
    """Open a consult for a resident, now (on demand) or at `scheduled_at`.

    A follow-up (复诊) must name a condition diagnosed offline; otherwise it is refused, or held
    as advice when `fall_back_to_advice` is set. A referral consult (会诊) must name an open
    referral of the resident; its specialist becomes a participant.
    """
    body: schemas.ConsultCreateIn = ctx.body
    actor, session = ctx.me, ctx.session
    resident, team_id = await find_resident(ctx, body.resident_id)
    require_may_request_consult(actor, resident.id, team_id, body.kind)

    condition = None
    if body.condition_id is not None:
        condition = next((c for c in resident.conditions if c.id == body.condition_id), None)
        if condition is None:
            raise RuleViolation(
                f"condition {body.condition_id} is not one of this resident's",
                code="unknown_condition",
                field="condition_id",
            )
    kind = decide_kind(body.kind, condition, fall_back_to_advice=body.fall_back_to_advice)

    participants = [Participant(actor.user_id, participant_role_for(actor), actor.display_name)]
    referral_id = None
    if kind is ConsultKind.REFERRAL:
        if body.referral_id is None:
            raise RuleViolation(
                "a referral consult (会诊) must name its referral",
                code="referral_required",
                field="referral_id",
            )
        referral_row = await referrals.get_row(session, body.referral_id)
        if referral_row is None or referral_row.resident_id != resident.id:
            raise RuleViolation(
                f"referral {body.referral_id} is not one of this resident's",
                code="unknown_referral",
                field="referral_id",
            )
        if ReferralStatus(referral_row.status) not in OPEN:
            raise Conflict(f"referral {body.referral_id} is {referral_row.status}", code="referral_closed")
        referral_id = referral_row.id
        if referral_row.to_practitioner_id is not None:
            specialist = await session.scalar(
                select(UserRow).where(UserRow.practitioner_id == referral_row.to_practitioner_id)
            )
            if specialist is not None:
                participants.append(
                    Participant(specialist.id, ParticipantRole.SPECIALIST, specialist.display_name)
                )
    elif body.referral_id is not None:
        raise RuleViolation(
            "only a referral consult names a referral", code="unexpected_field", field="referral_id"
        )

    task_row = None
    if body.followup_task_id is not None:
        task_row = await followups.get_task_row(session, body.followup_task_id)
        if task_row is None or task_row.resident_id != resident.id:
            raise RuleViolation(
                f"follow-up task {body.followup_task_id} is not one of this resident's",
                code="unknown_task",
                field="followup_task_id",
            )
        if task_row.status != TaskStatus.DUE.value:
            raise Conflict(f"follow-up task {task_row.id} is already {task_row.status}", code="task_closed")

    # The resident's own account takes part whoever opened the consult (a proxy may join for them).
    resident_user = await session.scalar(select(UserRow).where(UserRow.resident_id == resident.id))
    if resident_user is not None and all(p.user_id != resident_user.id for p in participants):
        participants.append(
            Participant(resident_user.id, ParticipantRole.RESIDENT, resident_user.display_name)
        )

    if body.scheduled_at is not None:
        if body.scheduled_at < ctx.now - timedelta(minutes=5):
            raise RuleViolation("scheduled_at is in the past", code="in_the_past", field="scheduled_at")
        if body.scheduled_at > ctx.now + timedelta(days=366):
            raise RuleViolation("consults are scheduled at most a year ahead", field="scheduled_at")
        status, scheduled_at = ConsultStatus.SCHEDULED, body.scheduled_at
    else:
        status, scheduled_at = ConsultStatus.WAITING, ctx.now

    row = await consults.add(
        session,
        kind=kind,
        mode=body.mode,
        resident_id=resident.id,
        team_id=team_id,
        status=status,
        scheduled_at=scheduled_at,
        condition_id=condition.id if condition else None,
        referral_id=referral_id,
        reason=body.reason,
        created_by=actor.user_id,
        participants=participants,
    )
    if task_row is not None:
        task_row.consult_id = row.id
        await session.flush()
    await ctx.audit(
        "create",
        "consult",
        row.id,
        resident_id=resident.id,
        detail={"kind": kind.value, "requested_kind": body.kind.value, "mode": body.mode.value},
    )
    return await _reply(ctx, row.id, with_note=True)


@api.operation(
    "GET",
    "/api/consults",
    summary="Consults the caller may see",
    tag="consults",
    query=schemas.ConsultQuery,
    response=schemas.ConsultListOut,
)
async def list_consults(ctx: RequestContext) -> schemas.ConsultListOut:
    """My consults: the team's for a doctor or nurse, one's own for a resident, the bound residents' for
    a proxy, those taken part in for a specialist, all (metadata only) for compliance."""
    query: schemas.ConsultQuery = ctx.query
    actor = ctx.me
    filters: dict[str, object] = {}
    match actor.role:
        case Role.DOCTOR | Role.NURSE:
            filters["team_ids"] = actor.team_ids
        case Role.RESIDENT:
            filters["resident_ids"] = [actor.resident_id] if actor.resident_id else []
        case Role.PROXY:
            filters["resident_ids"] = [b.resident_id for b in actor.proxy_bindings]
        case Role.SPECIALIST:
            filters["participant_user_id"] = actor.user_id
        case Role.COMPLIANCE:
            pass
        case _:
            raise AccessDenied(f"a {actor.role.value} has no consults")
    if query.resident_id is not None:
        wanted = [query.resident_id]
        allowed = filters.get("resident_ids")
        filters["resident_ids"] = wanted if allowed is None else [r for r in wanted if r in allowed]  # type: ignore[operator]
    items = await consults.listing(
        ctx.session,
        statuses=[query.status] if query.status else None,
        limit=query.limit,
        **filters,  # type: ignore[arg-type]
    )
    names = await residents.names(ctx.session, {c.resident_id for c in items})
    return schemas.ConsultListOut(items=[consult_summary(c, names.get(c.resident_id, "")) for c in items])


@api.operation(
    "GET",
    "/api/consults/{consult_id}",
    summary="One consult",
    tag="consults",
    query=schemas.ConsultViewQuery,
    response=schemas.ConsultOut,
)
async def get_consult(ctx: RequestContext) -> schemas.ConsultOut:
    """A consult with participants and, for those who may read it, the visit note.

    A compliance officer reads the note only when stating a `purpose`, which is audited.
    """
    query: schemas.ConsultViewQuery = ctx.query
    consult_id = ctx.path_int("consult_id")
    consult = await consults.get(ctx.session, consult_id)
    if consult is None:
        raise NotFound(f"no consult {consult_id}")
    actor = ctx.me
    if not may_view_consult(actor, consult):
        raise AccessDenied(f"you may not see consult {consult_id}")
    reviewing = actor.role is Role.COMPLIANCE and query.purpose is not None
    with_note = may_view_note(actor, consult, reviewing=reviewing)
    await ctx.audit(
        "review" if reviewing else "read",
        "consult",
        consult_id,
        resident_id=consult.resident_id,
        purpose=query.purpose,
        detail={"note": with_note},
    )
    names = await residents.names(ctx.session, {consult.resident_id})
    return consult_out(consult, names.get(consult.resident_id, ""), with_note=with_note)


def _note_digest(note: dict[str, object]) -> str:
    return hashlib.sha256(json.dumps(note, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


@api.operation(
    "PUT",
    "/api/consults/{consult_id}/note",
    summary="Write the visit note",
    tag="consults",
    body=schemas.NoteIn,
    response=schemas.ConsultOut,
    errors=(404, 409),
)
async def put_note(ctx: RequestContext) -> schemas.ConsultOut:
    """Replace the SOAP note and vitals. Every edit is audited with who, when and which fields changed,
    and the digest of the note it replaced."""
    body: schemas.NoteIn = ctx.body
    row, consult = await _load(ctx)
    consult_id = consult.id
    require_may_write_note(ctx.me, consult)
    if consult.status in (ConsultStatus.CANCELLED, ConsultStatus.NO_SHOW):
        raise Conflict(
            f"consult {consult_id} was {consult.status.value}; it has no note", code="consult_closed"
        )
    if body.next_visit_on is not None and body.next_visit_on <= ctx.today:
        raise RuleViolation("next_visit_on must be after today", field="next_visit_on")
    note = VisitNote(
        subjective=body.subjective,
        objective=body.objective,
        vitals=Vitals(**body.vitals.model_dump()),
        assessment=body.assessment,
        plan=body.plan,
    )
    previous = dict(row.note)
    new = consults.note_to_json(note)
    changed = sorted(k for k in new if previous.get(k) != new[k])
    row.note = new
    row.next_visit_on = body.next_visit_on
    await ctx.session.flush()
    await ctx.audit(
        "update",
        "consult_note",
        consult_id,
        resident_id=consult.resident_id,
        detail={"changed": changed, "previous_sha256": _note_digest(previous) if previous else None},
    )
    return await _reply(ctx, consult_id, with_note=True)


def _require_runs_consult(actor: Actor, consult: Consult) -> None:
    """Whoever may write the note runs the consult: the team's clinicians, or the referral's specialist."""
    require_may_write_note(actor, consult)


@api.operation(
    "POST",
    "/api/consults/{consult_id}/start",
    summary="Start the consult",
    tag="consults",
    response=schemas.ConsultOut,
    errors=(404,),
)
async def start_consult(ctx: RequestContext) -> schemas.ConsultOut:
    """Mark the consult in progress (the live room does this when the doctor admits the resident)."""
    row, consult = await _load(ctx)
    consult_id = consult.id
    _require_runs_consult(ctx.me, consult)
    check_transition(consult.status, ConsultStatus.IN_PROGRESS)
    row.status = ConsultStatus.IN_PROGRESS.value
    row.started_at = ctx.now
    me = ctx.me
    consults.add_participant(row, Participant(me.user_id, participant_role_for(me), me.display_name, ctx.now))
    await ctx.session.flush()
    ctx.invalidate("participants", consult_id)
    await ctx.audit("start", "consult", consult_id, resident_id=consult.resident_id)
    return await _reply(ctx, consult_id, with_note=True)


@api.operation(
    "POST",
    "/api/consults/{consult_id}/end",
    summary="End the consult",
    tag="consults",
    response=schemas.ConsultOut,
    errors=(404,),
)
async def end_consult(ctx: RequestContext) -> schemas.ConsultOut:
    """End the consult. A follow-up consult completes its follow-up task and schedules the next one,
    on the note's next-visit date or one plan interval from today."""
    row, consult = await _load(ctx)
    consult_id = consult.id
    _require_runs_consult(ctx.me, consult)
    check_transition(consult.status, ConsultStatus.ENDED)
    next_task = None
    scheduled = await consults.end(ctx.session, row, consult, ctx.now, ctx.today)
    if scheduled is not None:
        next_task = task_out(*scheduled, ctx.today)
    await ctx.session.flush()
    await ctx.audit(
        "end",
        "consult",
        consult_id,
        resident_id=consult.resident_id,
        detail={"next_task_due": next_task.due_date.isoformat() if next_task else None},
    )
    hub = ctx.app[keys.HUB]
    due = next_task.due_date if next_task else None
    ctx.after_commit.append(lambda: hub.consult_ended(consult_id, consult.team_id, due))
    return await _reply(ctx, consult_id, with_note=True, next_task=next_task)


@api.operation(
    "POST",
    "/api/consults/{consult_id}/cancel",
    summary="Cancel, or mark a no-show",
    tag="consults",
    body=schemas.CancelIn,
    response=schemas.ConsultOut,
    errors=(404,),
)
async def cancel_consult(ctx: RequestContext) -> schemas.ConsultOut:
    """Cancel a consult that has not started (the resident, their proxy or the team), or mark the
    resident a no-show (the team only)."""
    body: schemas.CancelIn = ctx.body
    if body.status not in (ConsultStatus.CANCELLED, ConsultStatus.NO_SHOW):
        raise RuleViolation("status must be cancelled or no_show", field="status")
    row, consult = await _load(ctx)
    consult_id = consult.id
    actor = ctx.me
    if actor.role in (Role.RESIDENT, Role.PROXY):
        team_id = await residents.contracted_team(ctx.session, consult.resident_id, ctx.today)
        require_may_request_consult(actor, consult.resident_id, team_id, ConsultKind.ADVICE)
        if body.status is ConsultStatus.NO_SHOW:
            raise AccessDenied("only the team marks a no-show")
    else:
        _require_runs_consult(actor, consult)
    if consult.status in TERMINAL:
        raise Conflict(f"consult {consult_id} is already {consult.status.value}", code="consult_closed")
    check_transition(consult.status, body.status)
    row.status = body.status.value
    task_row = await followups.task_for_consult(ctx.session, consult_id)
    if task_row is not None:
        task_row.consult_id = None  # the task stays due and may be served by another consult
    await ctx.session.flush()
    await ctx.audit(
        body.status.value,
        "consult",
        consult_id,
        resident_id=consult.resident_id,
        detail={"reason": body.reason},
    )
    return await _reply(ctx, consult_id, with_note=may_view_note(actor, consult, reviewing=False))
