"""A specialist accepts a single-use invite into one referral consult."""

from __future__ import annotations

from consult.consult import Participant, ParticipantRole
from consult.errors import AccessDenied, NotFound
from consult.waiting_room import check_invite
from storage import consults, invites
from web import schemas
from web.api import Api, RequestContext

api = Api()


@api.operation(
    "POST",
    "/api/invites/{token}/accept",
    summary="Accept an invite into a referral consult",
    tag="consults",
    response=schemas.InviteAcceptedOut,
    errors=(404, 409),
)
async def accept_invite(ctx: RequestContext) -> schemas.InviteAcceptedOut:
    """The logged-in specialist becomes a participant of the consult; the invite cannot be used again.
    Then join the room over Socket.IO (`join`)."""
    token = ctx.request.match_info["token"]
    found = await invites.find(ctx.session, token) if len(token) <= 64 else None
    if found is None:
        raise AccessDenied("this invite is not valid", code="invite_invalid")
    row, invite = found
    consult = await consults.get(ctx.session, invite.consult_id)
    if consult is None:
        raise NotFound(f"no consult {invite.consult_id}")
    check_invite(invite, consult, ctx.me, ctx.now)
    row.used_at, row.used_by = ctx.now, ctx.me.user_id
    consult_row = await consults.get_row(ctx.session, consult.id)
    assert consult_row is not None
    consults.add_participant(
        consult_row, Participant(ctx.me.user_id, ParticipantRole.SPECIALIST, ctx.me.display_name)
    )
    await ctx.session.flush()
    ctx.invalidate("participants", consult.id)
    await ctx.audit("accept_invite", "consult", consult.id, resident_id=consult.resident_id)
    return schemas.InviteAcceptedOut(
        consult_id=consult.id, resident_id=consult.resident_id, kind=consult.kind, status=consult.status
    )
