"""Reviewing recordings: the list, one recording with its consents, chat, timeline and audit trail,
playback, exports, and legal holds.

Who: compliance officers review every recording; a resident (or a family member with the
view-records scope) lists and plays their own (consult/recording.py `may_view_recording`).

Playback is audited before any byte is served: `POST /api/recordings/{id}/views` (with a purpose)
commits the audit entry, then hands out track URLs carrying a short-lived ticket; only a valid ticket
opens `GET …/tracks/{track}/media`, so no byte is ever served without its audit entry committed, and if
that write fails, no ticket exists. `<video>` elements fetch those URLs themselves (they cannot send the
bearer token) and use HTTP range requests to seek. A track is decrypted and joined from its segments in
memory (media/playback.py), kept briefly for the range requests that follow, and never written to disk.
Exports work the same way with a reason, served as attachments.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import OrderedDict
from datetime import timedelta

import jwt
from aiohttp import web
from sqlalchemy import and_, exists, func, select

from consult.consult import ConsultKind
from consult.errors import AccessDenied, NotFound
from consult.recording import Decision, may_view_recording
from consult.retention import LegalHold
from consult.roles import Role
from media.playback import join_segments
from storage import recordings, residents
from storage.models import (
    AuditEventRow,
    ConsentRow,
    ConsultRow,
    ConversationRow,
    LegalHoldRow,
    MessageRow,
    RecordingRow,
    RecordingSegmentRow,
    RecordingTrackRow,
    ResidentRow,
    UserRow,
)
from web import keys, schemas
from web.api import Api, RequestContext

api = Api()

#: How long a playback ticket opens a recording's tracks.
TICKET_TTL = timedelta(minutes=10)
#: Joined tracks kept in memory for the range requests that follow, at most this many bytes in all.
CACHE_BYTES = 256 * 1024 * 1024
CACHE_S = 600.0


class TrackCache:
    """Decrypted, joined tracks in memory (never on disk), least recently used out first."""

    def __init__(self, limit: int = CACHE_BYTES, ttl_s: float = CACHE_S) -> None:
        self.limit, self.ttl_s = limit, ttl_s
        self._items: OrderedDict[int, tuple[float, bytes]] = OrderedDict()
        self._size = 0

    def get(self, track_id: int) -> bytes | None:
        item = self._items.get(track_id)
        if item is None or item[0] < time.monotonic():
            return None
        self._items.move_to_end(track_id)
        return item[1]

    def put(self, track_id: int, data: bytes) -> None:
        old = self._items.pop(track_id, None)
        if old is not None:
            self._size -= len(old[1])
        self._items[track_id] = (time.monotonic() + self.ttl_s, data)
        self._size += len(data)
        while self._size > self.limit and len(self._items) > 1:
            _, (_, dropped) = self._items.popitem(last=False)
            self._size -= len(dropped)


TRACKS = web.AppKey("recording_tracks", TrackCache)


async def _recording(ctx: RequestContext) -> tuple[RecordingRow, ConsultRow]:
    recording_id = ctx.path_int("recording_id")
    row = await ctx.session.get(RecordingRow, recording_id)
    consult = await ctx.session.get(ConsultRow, row.consult_id) if row is not None else None
    if row is None or consult is None:
        raise NotFound(f"no recording {recording_id}")
    if not may_view_recording(ctx.me, consult.resident_id):
        raise AccessDenied("compliance officers and the resident's side view recordings")
    return row, consult


async def _items(
    ctx: RequestContext, rows: list[tuple[RecordingRow, ConsultRow]]
) -> list[schemas.RecordingItemOut]:
    resident_names = await residents.names(ctx.session, {c.resident_id for _, c in rows})
    users = {
        u.id: u.display_name
        for u in await ctx.session.scalars(
            select(UserRow).where(UserRow.id.in_({r.requested_by for r, _ in rows}))
        )
    }
    ids = [r.id for r, _ in rows]
    refused = set(
        (
            await ctx.session.scalars(
                select(ConsentRow.recording_id).where(
                    ConsentRow.recording_id.in_(ids),
                    ConsentRow.decision.in_([Decision.REFUSED.value, Decision.WITHDRAWN.value]),
                )
            )
        ).all()
    )
    held = set(
        (
            await ctx.session.scalars(
                select(LegalHoldRow.entity_id).where(
                    LegalHoldRow.entity_type == recordings.RECORDING,
                    LegalHoldRow.entity_id.in_(ids),
                    LegalHoldRow.released_at.is_(None),
                )
            )
        ).all()
    )
    return [
        schemas.RecordingItemOut(
            id=r.id,
            consult_id=c.id,
            consult_kind=ConsultKind(c.kind),
            resident_id=c.resident_id,
            resident_name=resident_names.get(c.resident_id, ""),
            requested_by=r.requested_by,
            requested_by_name=users.get(r.requested_by, ""),
            status=r.status,
            complete=r.complete,
            started_at=r.started_at,
            ended_at=r.ended_at,
            consent="refused" if r.id in refused else "all_granted",
            held=r.id in held,
            expires_on=r.expires_on,
            destroyed_at=r.destroyed_at,
        )
        for r, c in rows
    ]


@api.operation(
    "GET",
    "/api/recordings",
    summary="Recordings to review (compliance), or my own (resident, family member)",
    tag="recordings",
    query=schemas.RecordingQuery,
    response=schemas.RecordingListOut,
)
async def list_recordings(ctx: RequestContext) -> schemas.RecordingListOut:
    """Filter by doctor, resident, date, consult kind, consent state, hold and completeness."""
    q: schemas.RecordingQuery = ctx.query
    me = ctx.me
    stmt = select(RecordingRow, ConsultRow).join(ConsultRow, ConsultRow.id == RecordingRow.consult_id)
    if me.role is Role.COMPLIANCE:
        pass
    elif me.role is Role.RESIDENT and me.resident_id is not None:
        stmt = stmt.where(ConsultRow.resident_id == me.resident_id)
    elif me.role is Role.PROXY:
        mine = [b.resident_id for b in me.proxy_bindings if may_view_recording(me, b.resident_id)]
        stmt = stmt.where(ConsultRow.resident_id.in_(mine))
    else:
        raise AccessDenied("compliance officers and the resident's side view recordings")
    if q.resident_id is not None:
        stmt = stmt.where(ConsultRow.resident_id == q.resident_id)
    if q.doctor_id is not None:
        stmt = stmt.where(RecordingRow.requested_by == q.doctor_id)
    if q.date_from is not None:
        stmt = stmt.where(func.date(RecordingRow.requested_at) >= q.date_from.isoformat())
    if q.date_to is not None:
        stmt = stmt.where(func.date(RecordingRow.requested_at) <= q.date_to.isoformat())
    if q.kind is not None:
        stmt = stmt.where(ConsultRow.kind == q.kind.value)
    if q.complete is not None:
        stmt = stmt.where(RecordingRow.complete.is_(q.complete))
    refusal = exists().where(
        and_(
            ConsentRow.recording_id == RecordingRow.id,
            ConsentRow.decision.in_([Decision.REFUSED.value, Decision.WITHDRAWN.value]),
        )
    )
    if q.consent == "refused":
        stmt = stmt.where(refusal)
    elif q.consent == "all_granted":
        stmt = stmt.where(~refusal)
    hold = exists().where(
        and_(
            LegalHoldRow.entity_type == recordings.RECORDING,
            LegalHoldRow.entity_id == RecordingRow.id,
            LegalHoldRow.released_at.is_(None),
        )
    )
    if q.held is not None:
        stmt = stmt.where(hold if q.held else ~hold)
    rows = [(r, c) for r, c in await ctx.session.execute(stmt.order_by(RecordingRow.id.desc()).limit(500))]
    await ctx.audit(
        "list", "recording", detail={"results": len(rows), **q.model_dump(mode="json", exclude_none=True)}
    )
    return schemas.RecordingListOut(items=await _items(ctx, rows))


#: At most this many doctors and this many residents per lookup.
PEOPLE_LIMIT = 200


@api.operation(
    "GET",
    "/api/recordings/people",
    summary="Doctors and residents the recordings name, for the review list's filters (compliance)",
    tag="recordings",
    query=schemas.PeopleQuery,
    response=schemas.RecordingPeopleOut,
)
async def recording_people(ctx: RequestContext) -> schemas.RecordingPeopleOut:
    """Everyone who asked to record and every resident whose consult was recorded (not only those
    the last list showed), by name; `q` narrows by part of a name. Audited like a listing."""
    if ctx.me.role is not Role.COMPLIANCE:
        raise AccessDenied("compliance officers look up the people recordings name")
    q: schemas.PeopleQuery = ctx.query
    doctors = (
        select(UserRow.id, UserRow.display_name)
        .where(UserRow.id.in_(select(RecordingRow.requested_by).distinct()))
        .order_by(UserRow.display_name, UserRow.id)
        .limit(PEOPLE_LIMIT + 1)
    )
    people = (
        select(ResidentRow.id, ResidentRow.name)
        .where(
            ResidentRow.id.in_(
                select(ConsultRow.resident_id).join(RecordingRow, RecordingRow.consult_id == ConsultRow.id)
            )
        )
        .order_by(ResidentRow.name, ResidentRow.id)
        .limit(PEOPLE_LIMIT + 1)
    )
    if q.q:
        doctors = doctors.where(UserRow.display_name.contains(q.q, autoescape=True))
        people = people.where(ResidentRow.name.contains(q.q, autoescape=True))
    found_doctors = [schemas.PersonOut(id=i, name=n) for i, n in await ctx.session.execute(doctors)]
    found_residents = [schemas.PersonOut(id=i, name=n) for i, n in await ctx.session.execute(people)]
    truncated = len(found_doctors) > PEOPLE_LIMIT or len(found_residents) > PEOPLE_LIMIT
    await ctx.audit(
        "lookup",
        "recording",
        detail={
            "q_given": bool(q.q),
            "doctors": min(len(found_doctors), PEOPLE_LIMIT),
            "residents": min(len(found_residents), PEOPLE_LIMIT),
        },
    )
    return schemas.RecordingPeopleOut(
        doctors=found_doctors[:PEOPLE_LIMIT],
        residents=found_residents[:PEOPLE_LIMIT],
        truncated=truncated,
        limit=PEOPLE_LIMIT,
    )


@api.operation(
    "GET",
    "/api/recordings/{recording_id}",
    summary="One recording: tracks, timeline, consents, chat, holds and (compliance) who accessed it",
    tag="recordings",
    response=schemas.RecordingOut,
    errors=(404,),
)
async def get_recording(ctx: RequestContext) -> schemas.RecordingOut:
    row, consult = await _recording(ctx)
    (item,) = await _items(ctx, [(row, consult)])
    tracks = list(
        await ctx.session.scalars(
            select(RecordingTrackRow)
            .where(RecordingTrackRow.recording_id == row.id)
            .order_by(RecordingTrackRow.id)
        )
    )
    segments = list(
        await ctx.session.scalars(
            select(RecordingSegmentRow)
            .where(RecordingSegmentRow.track_id.in_([t.id for t in tracks]))
            .order_by(RecordingSegmentRow.track_id, RecordingSegmentRow.seq)
        )
    )
    consents = list(
        await ctx.session.scalars(
            select(ConsentRow)
            .where(ConsentRow.recording_id == row.id)
            .order_by(ConsentRow.decided_at, ConsentRow.id)
        )
    )
    names = {
        u.id: u.display_name
        for u in await ctx.session.scalars(
            select(UserRow).where(UserRow.id.in_({t.user_id for t in tracks} | {c.user_id for c in consents}))
        )
    }
    chat = list(
        await ctx.session.scalars(
            select(MessageRow)
            .join(ConversationRow, ConversationRow.id == MessageRow.conversation_id)
            .where(ConversationRow.consult_id == consult.id)
            .order_by(MessageRow.id)
            .limit(2000)
        )
    )
    holds = list(
        await ctx.session.scalars(
            select(LegalHoldRow)
            .where(LegalHoldRow.entity_type == recordings.RECORDING, LegalHoldRow.entity_id == row.id)
            .order_by(LegalHoldRow.id)
        )
    )
    access: list[schemas.AccessOut] = []
    if ctx.me.role is Role.COMPLIANCE:
        access = [
            schemas.AccessOut(
                at=a.at,
                user_id=a.actor_user_id,
                username=a.actor_username,
                role=a.actor_role,
                action=a.action,
                purpose=a.purpose,
                outcome=a.outcome,
            )
            for a in await ctx.session.scalars(
                select(AuditEventRow)
                .where(AuditEventRow.entity_type == "recording", AuditEventRow.entity_id == str(row.id))
                .order_by(AuditEventRow.seq)
            )
        ]
    await ctx.audit("read", "recording", row.id, resident_id=consult.resident_id)
    return schemas.RecordingOut(
        **item.model_dump(),
        timeline=list(row.timeline),
        tracks=[
            schemas.TrackOut(
                id=t.id,
                user_id=t.user_id,
                name=names.get(t.user_id, ""),
                kind=t.kind,
                codec=t.codec,
                segments=[
                    schemas.SegmentOut(seq=s.seq, start_ms=s.start_ms, duration_ms=s.duration_ms)
                    for s in segments
                    if s.track_id == t.id
                ],
            )
            for t in tracks
        ],
        consents=[
            schemas.ConsentOut(
                user_id=c.user_id,
                name=names.get(c.user_id, ""),
                decision=c.decision,
                decided_at=c.decided_at,
                text_version=c.text_version,
                on_behalf_of_resident_id=c.on_behalf_of_resident_id,
                source="standing" if c.standing_consent_id is not None else "in_call",
                standing_consent_id=c.standing_consent_id,
            )
            for c in consents
        ],
        holds=[_hold_out(recordings.hold_of(h)) for h in holds],
        chat=[
            schemas.ChatLineOut(
                id=m.id,
                sender_name=m.sender_name,
                sender_role=m.sender_role,
                text=m.text,
                kind=m.kind,
                created_at=m.created_at,
            )
            for m in chat
        ],
        access=access,
    )


async def _grant(ctx: RequestContext, action: str) -> schemas.ViewOut:
    body: schemas.PurposeIn = ctx.body
    row, consult = await _recording(ctx)
    if row.destroyed_at is not None:
        raise NotFound(f"recording {row.id} was destroyed on {row.destroyed_at.date()} (retention)")
    await ctx.audit(action, "recording", row.id, resident_id=consult.resident_id, purpose=body.purpose)
    expires = ctx.now + TICKET_TTL
    ticket = jwt.encode(
        {"sub": str(ctx.me.user_id), "rec": row.id, "act": action, "exp": int(expires.timestamp())},
        ctx.app[keys.TICKET_KEY],
        algorithm="HS256",
    )
    track_ids = (
        await ctx.session.scalars(
            select(RecordingTrackRow.id)
            .where(RecordingTrackRow.recording_id == row.id)
            .order_by(RecordingTrackRow.id)
        )
    ).all()
    return schemas.ViewOut(
        expires_at=expires,
        tracks=[
            schemas.ViewTrackOut(track_id=t, url=f"/api/recordings/{row.id}/tracks/{t}/media?ticket={ticket}")
            for t in track_ids
        ],
    )


@api.operation(
    "POST",
    "/api/recordings/{recording_id}/views",
    summary="Play a recording: audited first (with a purpose), then track URLs valid for 10 minutes",
    tag="recordings",
    body=schemas.PurposeIn,
    response=schemas.ViewOut,
    errors=(404,),
)
async def view_recording(ctx: RequestContext) -> schemas.ViewOut:
    return await _grant(ctx, "view")


@api.operation(
    "POST",
    "/api/recordings/{recording_id}/exports",
    summary="Export a recording's tracks: a stated reason is required and audited",
    tag="recordings",
    body=schemas.PurposeIn,
    response=schemas.ViewOut,
    errors=(404,),
)
async def export_recording(ctx: RequestContext) -> schemas.ViewOut:
    return await _grant(ctx, "export")


@api.operation(
    "GET",
    "/api/recordings/{recording_id}/tracks/{track_id}/media",
    summary="A track's media (WebM), with HTTP range support; opened by the ticket of a view or export",
    tag="recordings",
    auth=False,
    errors=(404,),
)
async def track_media(ctx: RequestContext) -> web.StreamResponse:
    recording_id, track_id = ctx.path_int("recording_id"), ctx.path_int("track_id")
    try:
        claims = jwt.decode(
            ctx.request.query.get("ticket", ""),
            ctx.app[keys.TICKET_KEY],
            algorithms=["HS256"],
            options={"require": ["exp", "sub", "rec", "act"], "verify_exp": False},
        )
    except jwt.InvalidTokenError as err:
        raise AccessDenied(
            "open recordings through a view or an export (the ticket is invalid)", code="invalid_ticket"
        ) from err
    if claims["rec"] != recording_id or claims["exp"] <= ctx.now.timestamp():
        raise AccessDenied(
            "this ticket has expired or is for another recording; view it again", code="invalid_ticket"
        )
    track = await ctx.session.get(RecordingTrackRow, track_id)
    row = await ctx.session.get(RecordingRow, recording_id)
    if track is None or track.recording_id != recording_id or row is None or row.destroyed_at is not None:
        raise NotFound(f"no track {track_id} in recording {recording_id}")
    cache = ctx.app[TRACKS]
    data = cache.get(track_id)
    if data is None:
        blobs = ctx.app[keys.BLOBS]
        segments = list(
            await ctx.session.scalars(
                select(RecordingSegmentRow)
                .where(RecordingSegmentRow.track_id == track_id)
                .order_by(RecordingSegmentRow.seq)
            )
        )
        parts = [(s.start_ms, await blobs.get(ctx.session, s.blob_id)) for s in segments]
        data = await asyncio.to_thread(
            join_segments, parts, "matroska" if track.container == "matroska" else "webm"
        )
        cache.put(track_id, data)
    content_type = f"{track.kind}/{'x-matroska' if track.container == 'matroska' else 'webm'}"
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, no-store"}
    if claims["act"] == "export":
        headers["Content-Disposition"] = (
            f'attachment; filename="recording-{recording_id}-track-{track_id}.webm"'
        )
    wanted = _range(ctx.request.headers.get("Range"), len(data))
    if wanted is None:
        return web.Response(body=data, content_type=content_type, headers=headers)
    start, end = wanted
    headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
    return web.Response(status=206, body=data[start : end + 1], content_type=content_type, headers=headers)


def _range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one byte range asked for (`bytes=a-b`, `bytes=a-`, `bytes=-n`), or None for the whole."""
    if not header:
        return None
    match = re.fullmatch(r"bytes=(\d*)-(\d*)", header.strip())
    if match is None or (not match[1] and not match[2]):
        raise web.HTTPRequestRangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"})
    if match[1]:
        start = int(match[1])
        end = min(int(match[2]), size - 1) if match[2] else size - 1
    else:
        start, end = max(0, size - int(match[2])), size - 1
    if start >= size or start > end:
        raise web.HTTPRequestRangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"})
    return start, end


@api.operation(
    "POST",
    "/api/recordings/{recording_id}/holds",
    summary="Put a legal hold on a recording (compliance; a reason is required)",
    tag="recordings",
    body=schemas.HoldIn,
    response=schemas.HoldOut,
    status=201,
    errors=(404,),
)
async def hold_recording(ctx: RequestContext) -> schemas.HoldOut:
    if ctx.me.role is not Role.COMPLIANCE:
        raise AccessDenied("compliance officers set legal holds")
    row, consult = await _recording(ctx)
    body: schemas.HoldIn = ctx.body
    hold = await recordings.set_hold(
        ctx.session, recordings.RECORDING, row.id, body.reason, ctx.me.user_id, ctx.now
    )
    await ctx.audit(
        "hold",
        "recording",
        row.id,
        resident_id=consult.resident_id,
        detail={"hold_id": hold.id, "reason": hold.reason},
    )
    return _hold_out(hold)


@api.operation(
    "POST",
    "/api/recordings/{recording_id}/holds/{hold_id}/release",
    summary="Release a legal hold (compliance)",
    tag="recordings",
    response=schemas.HoldOut,
    errors=(404,),
)
async def release_hold(ctx: RequestContext) -> schemas.HoldOut:
    if ctx.me.role is not Role.COMPLIANCE:
        raise AccessDenied("compliance officers release legal holds")
    row, consult = await _recording(ctx)
    hold_id = ctx.path_int("hold_id")
    existing = await ctx.session.get(LegalHoldRow, hold_id)
    if existing is None or existing.entity_type != recordings.RECORDING or existing.entity_id != row.id:
        raise NotFound(f"no hold {hold_id} on recording {row.id}")
    released = await recordings.release_hold(ctx.session, hold_id, ctx.me.user_id, ctx.now)
    if released is None:
        raise NotFound(f"hold {hold_id} was already released")
    await ctx.audit(
        "release_hold", "recording", row.id, resident_id=consult.resident_id, detail={"hold_id": hold_id}
    )
    return _hold_out(released)


def _hold_out(hold: LegalHold) -> schemas.HoldOut:
    return schemas.HoldOut(
        id=hold.id,
        reason=hold.reason,
        set_by=hold.set_by_user_id,
        set_at=hold.set_at,
        released_at=hold.released_at,
        released_by=hold.released_by_user_id,
    )


def setup(app: web.Application) -> None:
    """The in-memory cache of joined tracks."""
    app[TRACKS] = TrackCache()
