"""Alerts raised by messages, the sensitive-word list, team red flags and duty status."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from consult.access import require_practising
from consult.alerts import AlertKind
from consult.duty import DutyStatus, is_on_duty, next_on_duty
from consult.errors import AccessDenied, Conflict, NotFound, RuleViolation
from consult.roles import Role
from storage import alerts, duty, residents
from storage.models import AlertRow, CareTeamRow
from web import keys, schemas
from web.api import Api, RequestContext

api = Api()


def _alert_out(row: AlertRow, resident_name: str) -> schemas.AlertOut:
    return schemas.AlertOut(
        id=row.id,
        kind=row.kind,
        resident_id=row.resident_id,
        resident_name=resident_name,
        message_id=row.message_id,
        findings=list(row.findings),
        created_at=row.created_at,
        acknowledged_at=row.acknowledged_at,
    )


@api.operation(
    "GET",
    "/api/alerts",
    summary="Alerts for me: red flags and readings, or sensitive words",
    tag="messaging",
    response=schemas.AlertListOut,
)
async def list_alerts(ctx: RequestContext) -> schemas.AlertListOut:
    """A doctor or nurse sees their teams' red-flag and reading alerts; compliance sees sensitive-word
    flags, with who sent what and when (the message itself by its id)."""
    actor = ctx.me
    if actor.role in (Role.DOCTOR, Role.NURSE):
        require_practising(actor)
        rows = await alerts.listing(
            ctx.session, kinds=[AlertKind.RED_FLAG, AlertKind.READING], team_ids=actor.team_ids
        )
    elif actor.role is Role.COMPLIANCE:
        rows = await alerts.listing(ctx.session, kinds=[AlertKind.SENSITIVE_WORD])
        await ctx.audit("read", "alerts", detail={"kind": "sensitive_word", "results": len(rows)})
    else:
        raise AccessDenied(f"a {actor.role.value} receives no alerts")
    names = await residents.names(ctx.session, {r.resident_id for r in rows})
    return schemas.AlertListOut(items=[_alert_out(r, names.get(r.resident_id, "")) for r in rows])


@api.operation(
    "GET", "/api/sensitive-words", summary="The sensitive-word list", tag="admin", response=schemas.WordsOut
)
async def list_words(ctx: RequestContext) -> schemas.WordsOut:
    """Administrators manage it; compliance officers read it."""
    if ctx.me.role not in (Role.ADMIN, Role.COMPLIANCE):
        raise AccessDenied("only administrators and compliance see the sensitive-word list")
    return schemas.WordsOut(items=await alerts.sensitive_words(ctx.session))


@api.operation(
    "POST",
    "/api/sensitive-words",
    summary="Add a sensitive word",
    tag="admin",
    body=schemas.WordIn,
    response=schemas.WordsOut,
    status=201,
    errors=(409,),
)
async def add_word(ctx: RequestContext) -> schemas.WordsOut:
    """Messages containing it are flagged to compliance from now on."""
    if ctx.me.role is not Role.ADMIN:
        raise AccessDenied("only administrators change the sensitive-word list")
    body: schemas.WordIn = ctx.body
    if not await alerts.add_sensitive_word(ctx.session, body.word, ctx.me.user_id):
        raise Conflict(f"{body.word!r} is already listed", code="word_listed", field="word")
    await ctx.audit("create", "sensitive_word", body.word)
    ctx.invalidate("words")
    return schemas.WordsOut(items=await alerts.sensitive_words(ctx.session))


@api.operation(
    "DELETE",
    "/api/sensitive-words/{word}",
    summary="Remove a sensitive word",
    tag="admin",
    response=schemas.WordsOut,
    errors=(404,),
)
async def remove_word(ctx: RequestContext) -> schemas.WordsOut:
    """Stop flagging a word (past flags stay)."""
    if ctx.me.role is not Role.ADMIN:
        raise AccessDenied("only administrators change the sensitive-word list")
    word = ctx.request.match_info["word"]
    if not await alerts.remove_sensitive_word(ctx.session, word):
        raise NotFound(f"{word!r} is not listed")
    await ctx.audit("delete", "sensitive_word", word)
    ctx.invalidate("words")
    return schemas.WordsOut(items=await alerts.sensitive_words(ctx.session))


@api.operation(
    "PUT",
    "/api/me/duty",
    summary="Set my duty status",
    tag="messaging",
    body=schemas.DutyIn,
    response=schemas.DutyOut,
)
async def set_duty(ctx: RequestContext) -> schemas.DutyOut:
    """on_duty, busy, off_duty, or auto (follow working hours). Off duty, residents' messages still
    arrive, and they get an auto-reply with the emergency path."""
    body: schemas.DutyIn = ctx.body
    practitioner = require_practising(ctx.me)
    try:
        status = DutyStatus(body.status)
    except ValueError as err:
        raise RuleViolation(f"status must be one of {[s.value for s in DutyStatus]}", field="status") from err
    await duty.set_status(ctx.session, practitioner.id, status)
    await ctx.audit("update", "duty", practitioner.id, detail={"status": status.value})
    ctx.invalidate("teams")
    return await _duty_out(ctx, practitioner.id)


@api.operation("GET", "/api/me/duty", summary="My duty status", tag="messaging", response=schemas.DutyOut)
async def get_duty(ctx: RequestContext) -> schemas.DutyOut:
    """My status, whether I count as on duty now, and when my next shift starts."""
    practitioner = require_practising(ctx.me)
    return await _duty_out(ctx, practitioner.id)


async def _duty_out(ctx: RequestContext, practitioner_id: int) -> schemas.DutyOut:
    status, hours = await duty.get(ctx.session, practitioner_id)
    local: datetime = ctx.now.astimezone(ZoneInfo(ctx.app[keys.SETTINGS].timezone))
    return schemas.DutyOut(
        status=status.value,
        on_duty_now=is_on_duty(status, hours, local),
        next_on_duty=next_on_duty(hours, local),
    )


async def _settings_out(
    ctx: RequestContext, team_id: int, off_duty_message: str | None
) -> schemas.TeamSettingsIO:
    return schemas.TeamSettingsIO(
        off_duty_message=off_duty_message, red_flags=list(await duty.red_flags(ctx.session, team_id))
    )


async def _team_for_settings(ctx: RequestContext, write: bool) -> int:
    team_id = ctx.path_int("team_id")
    require_practising(ctx.me)
    if team_id not in ctx.me.team_ids:
        raise AccessDenied("this is not your team")
    if write:
        members = await duty.team_members(ctx.session, team_id, ctx.today)
        leaders = [m.user_id for m in members if m.team_role == "leader"]
        if ctx.me.user_id not in leaders:
            raise AccessDenied("the team leader sets the team's messaging settings")
    return team_id


@api.operation(
    "GET",
    "/api/teams/{team_id}/settings",
    summary="The team's after-hours and red-flag settings",
    tag="messaging",
    response=schemas.TeamSettingsIO,
)
async def get_team_settings(ctx: RequestContext) -> schemas.TeamSettingsIO:
    """The emergency path given in auto-replies and the red-flag words (the defaults when never set)."""
    team_id = await _team_for_settings(ctx, write=False)
    team = await ctx.session.get(CareTeamRow, team_id)
    assert team is not None
    return await _settings_out(ctx, team_id, team.off_duty_message)


@api.operation(
    "PUT",
    "/api/teams/{team_id}/settings",
    summary="Set the team's after-hours and red-flag settings",
    tag="messaging",
    body=schemas.TeamSettingsIO,
    response=schemas.TeamSettingsIO,
)
async def put_team_settings(ctx: RequestContext) -> schemas.TeamSettingsIO:
    """The team leader words the emergency path and chooses the red-flag words."""
    body: schemas.TeamSettingsIO = ctx.body
    team_id = await _team_for_settings(ctx, write=True)
    if not body.red_flags:
        raise RuleViolation("keep at least one red-flag word", field="red_flags")
    team = await ctx.session.get(CareTeamRow, team_id)
    assert team is not None
    team.off_duty_message = body.off_duty_message or None
    await duty.set_red_flags(ctx.session, team_id, sorted(set(body.red_flags)))
    await ctx.audit("update", "team_settings", team_id, detail={"red_flags": len(set(body.red_flags))})
    ctx.invalidate("teams", team_id)
    return await _settings_out(ctx, team_id, team.off_duty_message)


@api.operation(
    "POST",
    "/api/alerts/{alert_id}/acknowledge",
    summary="Acknowledge an alert",
    tag="messaging",
    response=schemas.AlertOut,
    errors=(404,),
)
async def acknowledge_alert(ctx: RequestContext) -> schemas.AlertOut:
    """Someone has seen to it: the team for red flags and readings, compliance for sensitive words.
    Who and when is kept; acknowledging twice keeps the first."""
    alert_id = ctx.path_int("alert_id")
    row = await ctx.session.get(AlertRow, alert_id)
    if row is None:
        raise NotFound(f"no alert {alert_id}")
    actor = ctx.me
    if row.kind == AlertKind.SENSITIVE_WORD.value:
        if actor.role is not Role.COMPLIANCE:
            raise AccessDenied("sensitive-word flags are acknowledged by compliance")
    else:
        require_practising(actor)
        if row.team_id not in actor.team_ids:
            raise AccessDenied("this alert belongs to another team")
    if row.acknowledged_at is None:
        row.acknowledged_at, row.acknowledged_by = ctx.now, actor.user_id
        await ctx.session.flush()
        await ctx.audit("acknowledge", "alert", alert_id, resident_id=row.resident_id)
    names = await residents.names(ctx.session, {row.resident_id})
    return _alert_out(row, names.get(row.resident_id, ""))
