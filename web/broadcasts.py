"""Tag broadcast: a doctor sends one message or card to every matching resident of the team."""

from __future__ import annotations

from sqlalchemy import and_, func, select

from consult.access import ResidentScope, require_team_clinician
from consult.broadcast import MAX_RECIPIENTS, Audience
from consult.errors import AccessDenied, NotFound, RuleViolation
from consult.messaging import Card, CardType, MessageKind, check_content
from consult.roles import Role
from storage import messages, residents
from storage.models import BroadcastRow, MessageRow, ReadMarkRow, UserRow
from web import keys, schemas
from web.api import Api, RequestContext

api = Api()


def _card(data: schemas.BroadcastCardIn | None) -> Card | None:
    if data is None:
        return None
    try:
        return Card(CardType(data.type), data.title, data.url, data.summary, data.due_date)
    except ValueError as err:
        raise RuleViolation(str(err), field="card") from err


async def _stats(ctx: RequestContext, row: BroadcastRow) -> schemas.BroadcastOut:
    """Delivered: a resident-side account's device received it; read: one read it."""
    resident_side = select(UserRow.id).where(UserRow.role.in_([Role.RESIDENT.value, Role.PROXY.value]))
    marks = (
        select(MessageRow.id, func.max(ReadMarkRow.last_delivered_id), func.max(ReadMarkRow.last_read_id))
        .join(
            ReadMarkRow,
            and_(
                ReadMarkRow.conversation_id == MessageRow.conversation_id,
                ReadMarkRow.user_id.in_(resident_side),
            ),
        )
        .where(MessageRow.broadcast_id == row.id)
        .group_by(MessageRow.id)
    )
    delivered = read = 0
    for message_id, last_delivered, last_read in await ctx.session.execute(marks):
        delivered += int((last_delivered or 0) >= message_id)
        read += int((last_read or 0) >= message_id)
    return schemas.BroadcastOut(
        id=row.id,
        recipients=row.recipients,
        delivered=delivered,
        read=read,
        created_at=row.created_at,
        text=row.text,
    )


@api.operation(
    "POST",
    "/api/broadcasts",
    summary="Send one message to residents picked by tag, condition or age",
    tag="messaging",
    body=schemas.BroadcastIn,
    response=schemas.BroadcastOut,
    status=201,
)
async def send_broadcast(ctx: RequestContext) -> schemas.BroadcastOut:
    """Each matching resident of the caller's team gets it in their own conversation with the team.
    `dry_run` counts them without sending."""
    body: schemas.BroadcastIn = ctx.body
    actor = ctx.me
    if actor.role is not Role.DOCTOR:
        raise AccessDenied("broadcasts are sent by the team's doctors")
    team_id = min(actor.team_ids) if actor.team_ids else None
    require_team_clinician(actor, team_id)
    assert team_id is not None
    try:
        audience = Audience(
            tuple(body.audience.tags),
            tuple(body.audience.conditions),
            body.audience.age_min,
            body.audience.age_max,
            body.audience.all_residents,
        )
    except ValueError as err:
        raise RuleViolation(str(err), field="audience") from err
    card = _card(body.card)
    kind = MessageKind.CARD if card else MessageKind.TEXT
    check_content(kind, body.text, None, card)
    scope_page = await residents.search(
        ctx.session,
        ResidentScope(team_ids=frozenset({team_id})),
        ctx.today,
        ctx.app[keys.FIELDS],
        page=1,
        page_size=MAX_RECIPIENTS + 1,
    )
    chosen = [
        r
        for r in scope_page.items
        if audience.matches(r, ctx.today)
        and scope_page.contract_status.get(r.id) in ("active", "due_for_renewal")
    ]
    if len(chosen) > MAX_RECIPIENTS:
        raise RuleViolation(
            f"a broadcast reaches at most {MAX_RECIPIENTS} residents; narrow the audience", field="audience"
        )
    if body.dry_run:
        return schemas.BroadcastOut(
            id=None, recipients=len(chosen), delivered=0, read=0, created_at=None, text=body.text
        )
    if not chosen:
        raise RuleViolation(
            "no resident of your team matches this audience", code="empty_audience", field="audience"
        )
    row = BroadcastRow(
        team_id=team_id,
        sender_user_id=actor.user_id,
        audience=body.audience.model_dump(),
        kind=kind.value,
        text=body.text,
        card=messages.card_to_json(card),
        recipients=len(chosen),
    )
    ctx.session.add(row)
    await ctx.session.flush()
    batches = []
    for resident in chosen:
        conversation = await messages.care_team_conversation(ctx.session, resident.id, team_id)
        message, _ = await messages.add_message(
            ctx.session,
            messages.NewMessage(
                created_at=ctx.now,
                conversation_id=conversation.id,
                kind=kind,
                sender_user_id=actor.user_id,
                sender_role=actor.role.value,
                sender_name=actor.display_name,
                text=body.text,
                card=card,
                broadcast_id=row.id,
            ),
        )
        batches.append((message, list(await messages.members(ctx.session, conversation, ctx.today))))
    await ctx.audit(
        "broadcast",
        "broadcast",
        row.id,
        detail={"recipients": len(chosen), "audience": body.audience.model_dump()},
    )
    hub = ctx.app[keys.HUB]
    ctx.after_commit.append(lambda: hub.deliver(batches))
    return await _stats(ctx, row)


@api.operation(
    "GET",
    "/api/broadcasts/{broadcast_id}",
    summary="A broadcast's delivered and read counts",
    tag="messaging",
    response=schemas.BroadcastOut,
    errors=(404,),
)
async def get_broadcast(ctx: RequestContext) -> schemas.BroadcastOut:
    """How many recipients' devices received it and how many read it."""
    broadcast_id = ctx.path_int("broadcast_id")
    row = await ctx.session.get(BroadcastRow, broadcast_id)
    if row is None:
        raise NotFound(f"no broadcast {broadcast_id}")
    if row.team_id not in ctx.me.team_ids:
        raise AccessDenied("this broadcast belongs to another team")
    return await _stats(ctx, row)
