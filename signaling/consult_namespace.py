"""`/consult`: check-in, the waiting queue, admission, consult rooms with presence, invites and ending.

Who is waiting and who is in a room lives in the hub's `RoomState` (Redis with several nodes). A
connection that drops is "reconnecting" for the grace period: coming back within it keeps the
resident's place in the queue, or in the room without being admitted again; after it, they have left.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from consult.access import Actor, participant_role_for, require_may_write_note, require_team_clinician
from consult.consult import (
    TERMINAL,
    Consult,
    ConsultKind,
    ConsultStatus,
    Participant,
    ParticipantRole,
    check_transition,
)
from consult.errors import AccessDenied, Conflict, NotFound, RuleViolation
from consult.roles import Role
from consult.waiting_room import (
    INVITE_LIFETIME,
    Presence,
    QueueEntry,
    RoomMember,
    queue_order,
    require_may_check_in,
)
from signaling import payloads
from signaling.media_events import MediaEvents
from signaling.namespace import BaseNamespace, EventContext, event
from signaling.presenters import member_json, queue_json
from signaling.recording_events import RecordingEvents
from storage import consults, invites, residents
from storage.models import ConsultParticipantRow, ConsultRow, UserRow

log = logging.getLogger(__name__)

NAMESPACE = "/consult"


def consult_json(consult: Consult) -> dict[str, Any]:
    """The consult fields a live page needs."""
    return {
        "id": consult.id,
        "kind": consult.kind.value,
        "mode": consult.mode.value,
        "status": consult.status.value,
        "resident_id": consult.resident_id,
        "team_id": consult.team_id,
        "scheduled_at": consult.scheduled_at.isoformat() if consult.scheduled_at else None,
        "started_at": consult.started_at.isoformat() if consult.started_at else None,
        "ended_at": consult.ended_at.isoformat() if consult.ended_at else None,
    }


async def load(ctx: EventContext, consult_id: int) -> tuple[ConsultRow, Consult]:
    """The consult as a row to update and as the domain object rules look at."""
    found = await consults.load(ctx.session, consult_id)
    if found is None:
        raise NotFound(f"no consult {consult_id}", field="consult_id")
    return found


def participant_row(row: ConsultRow, user_id: int) -> ConsultParticipantRow | None:
    """The user's participant row in a loaded consult."""
    return next((p for p in row.participants if p.user_id == user_id), None)


class ConsultNamespace(RecordingEvents, MediaEvents, BaseNamespace):
    """Live consult events, video included (signaling/media_events.py); see docs/protocol.md."""

    def __init__(self, namespace: str, hub: Any) -> None:
        super().__init__(namespace, hub)
        #: This node's connections and the consult rooms (or queues) each is counted in.
        self._rooms_of_sid: dict[str, set[int]] = {}
        self._init_media()
        self._init_recording()

    # --- connection bookkeeping ---------------------------------------------------------------

    async def _count_in(self, sid: str, consult_id: int, actor: Actor, now: datetime) -> None:
        rooms = self._rooms_of_sid.setdefault(sid, set())
        if consult_id in rooms:
            return
        rooms.add(consult_id)
        member = RoomMember(
            actor.user_id, participant_role_for(actor).value, actor.display_name, Presence.CONNECTED, now
        )
        await self.hub.state.connect(consult_id, member)
        self.hub.cancel_grace(consult_id, actor.user_id)

    def evict(self, consult_id: int, user_id: int) -> None:
        """Take this node's connections of a removed participant out of the consult's room (python-
        socketio's `leave_room` reaches only connections of this node; `Hub.evict` tells the others)."""
        manager = self.server.manager
        for sid, _ in list(manager.get_participants(self.namespace, f"user:{user_id}")):
            manager.basic_leave_room(sid, self.namespace, f"consult:{consult_id}")
            self._rooms_of_sid.get(sid, set()).discard(consult_id)

    async def disconnected(self, sid: str, user_id: int) -> None:
        """Each room the connection was counted in: if it was the user's last, start the grace period."""
        now = self.hub.clock()
        for consult_id in self._rooms_of_sid.pop(sid, set()):
            if await self.hub.state.disconnect(consult_id, user_id) > 0:
                continue
            await self.hub.state.set_presence(consult_id, user_id, Presence.RECONNECTING, now)
            await self.broadcast_room(consult_id)
            await self.hub.broadcast_queue_of(consult_id, reconnecting_user=user_id)
            self.hub.start_grace(consult_id, user_id, self._grace_expired)

    async def _grace_expired(self, consult_id: int, user_id: int) -> None:
        """Still gone after the grace period: out of the queue, out of the room."""
        members = {m.user_id: m for m in await self.hub.state.members(consult_id)}
        member = members.get(user_id)
        if member is None or member.presence is not Presence.RECONNECTING:
            return  # came back (maybe on another node) or already left
        now = self.hub.clock()
        await self.hub.state.set_presence(consult_id, user_id, Presence.LEFT, now)
        async with self.hub.transaction() as session:
            row = await consults.get_row(session, consult_id)
            if row is not None and row.status == ConsultStatus.IN_PROGRESS.value:
                for p in row.participants:
                    if p.user_id == user_id and p.left_at is None and p.role in ("resident", "proxy"):
                        p.left_at = now  # must be admitted again
        await self.leave_media(consult_id, user_id)
        await self.hub.drop_from_queue(consult_id, user_id)
        await self.broadcast_room(consult_id)

    async def broadcast_room(self, consult_id: int) -> None:
        """Send everyone in the room who is there now; a recording follows who is present."""
        members = await self.hub.state.members(consult_id)
        await self.hub.sio.emit(
            "presence",
            {"consult_id": consult_id, "members": [member_json(m) for m in members]},
            room=f"consult:{consult_id}",
            namespace=NAMESPACE,
        )
        await self.evaluate_recording(consult_id)

    # --- the waiting room ---------------------------------------------------------------------

    @event(payloads.ConsultRef, audit_denied=True)
    async def on_check_in(self, ctx: EventContext, p: payloads.ConsultRef) -> dict[str, Any]:
        """The resident (or proxy) waits for the doctor; checking in again keeps their place."""
        row, consult = await load(ctx, p.consult_id)
        require_may_check_in(ctx.actor, consult, ctx.now)
        if consult.team_id is None:
            raise RuleViolation("this consult has no care team to admit the resident", code="no_care_team")
        if consult.status is ConsultStatus.SCHEDULED:
            check_transition(consult.status, ConsultStatus.WAITING)
            row.status = ConsultStatus.WAITING.value
        earlier = next(
            (e for e in await self.hub.state.queue(consult.team_id) if e.consult_id == consult.id), None
        )
        names = await residents.names(ctx.session, {consult.resident_id})
        entry = QueueEntry(
            consult_id=consult.id,
            team_id=consult.team_id,
            resident_id=consult.resident_id,
            resident_name=names.get(consult.resident_id, ""),
            user_id=ctx.actor.user_id,
            checked_in_at=earlier.checked_in_at if earlier else ctx.now,
            kind=consult.kind,
        )
        if earlier is None:
            await ctx.audit("check_in", "consult", consult.id, resident_id=consult.resident_id)
        actor, sid = ctx.actor, ctx.sid

        async def enqueue() -> None:
            await self.hub.state.enqueue(entry)
            await self._count_in(sid, consult.id, actor, ctx.now)
            await self.hub.state.set_presence(consult.id, actor.user_id, Presence.CONNECTED, ctx.now)
            await self.hub.broadcast_queue(consult.team_id or 0)

        ctx.out.then(enqueue)
        waiting = queue_order(
            [*(e for e in await self.hub.state.queue(consult.team_id) if e.consult_id != consult.id), entry]
        )
        position = next(i for i, e in enumerate(waiting, start=1) if e.consult_id == consult.id)
        return {"consult": consult_json(consult), "position": position, "queue_size": len(waiting)}

    @event(payloads.Empty, writes=False)
    async def on_watch_queue(self, ctx: EventContext, _: payloads.Empty) -> dict[str, Any]:
        """A doctor or nurse follows their teams' waiting queues (`queue` events from now on)."""
        if ctx.actor.role not in (Role.DOCTOR, Role.NURSE):
            raise AccessDenied("only the care team watches the waiting queue")
        require_team_clinician(ctx.actor, next(iter(ctx.actor.team_ids), None))
        sid, teams = ctx.sid, sorted(ctx.actor.team_ids)

        async def watch() -> None:
            for team_id in teams:
                await self.enter_room(sid, f"queue:{team_id}")

        ctx.out.then(watch)
        entries = [e for team_id in teams for e in await self.hub.state.queue(team_id)]
        return {"queue": queue_json(queue_order(entries), ctx.now)}

    @event(payloads.ConsultRef, audit_denied=True)
    async def on_admit(self, ctx: EventContext, p: payloads.ConsultRef) -> dict[str, Any]:
        """The doctor lets a waiting resident in: the consult starts."""
        row, consult = await load(ctx, p.consult_id)
        require_may_write_note(ctx.actor, consult)
        entry = next(
            (e for e in await self.hub.state.queue(consult.team_id or 0) if e.consult_id == consult.id), None
        )
        if entry is None:
            raise Conflict("the resident is not in the waiting room", code="not_waiting")
        if consult.status is not ConsultStatus.IN_PROGRESS:  # else: letting someone back in
            check_transition(consult.status, ConsultStatus.IN_PROGRESS)
            row.status = ConsultStatus.IN_PROGRESS.value
            row.started_at = ctx.now
        doctor = Participant(
            ctx.actor.user_id, participant_role_for(ctx.actor), ctx.actor.display_name, ctx.now
        )
        consults.add_participant(row, doctor)
        waiting_user = await ctx.session.get(UserRow, entry.user_id)
        assert waiting_user is not None
        admitted = participant_row(row, entry.user_id)
        if admitted is None:
            role = "proxy" if waiting_user.role == Role.PROXY.value else "resident"
            consults.add_participant(
                row,
                Participant(entry.user_id, ParticipantRole(role), waiting_user.display_name, ctx.now),
            )
        else:
            admitted.joined_at, admitted.left_at = ctx.now, None
        await ctx.session.flush()
        ctx.out.invalidate("participants", consult.id)
        await ctx.audit(
            "admit",
            "consult",
            consult.id,
            resident_id=consult.resident_id,
            detail={"admitted_user_id": entry.user_id},
        )
        team_id = consult.team_id or 0

        async def admit() -> None:
            await self.hub.state.dequeue(team_id, consult.id)
            await self.hub.broadcast_queue(team_id)

        ctx.out.then(admit)
        ctx.out.emit(NAMESPACE, "admitted", {"consult_id": consult.id}, f"user:{entry.user_id}")
        return {"consult": {**consult_json(consult), "status": ConsultStatus.IN_PROGRESS.value}}

    # --- the room -----------------------------------------------------------------------------

    @event(payloads.ConsultRef, audit_denied=True)
    async def on_join(self, ctx: EventContext, p: payloads.ConsultRef) -> dict[str, Any]:
        """Enter the consult room: the team and invited specialists at any time while it runs; the
        resident or proxy once admitted (and, after a drop, within the grace period)."""
        read_at = self.hub.participants.generation
        row, consult = await load(ctx, p.consult_id)
        actor = ctx.actor
        if consult.status in TERMINAL:
            raise Conflict(f"consult {consult.id} is {consult.status.value}", code="consult_closed")
        mine = participant_row(row, actor.user_id)
        if actor.role in (Role.RESIDENT, Role.PROXY):
            if mine is None or mine.joined_at is None or mine.left_at is not None:
                raise AccessDenied(
                    "wait in the waiting room until the doctor admits you", code="not_admitted"
                )
        else:
            require_may_write_note(actor, consult)
            if mine is None:
                consults.add_participant(
                    row, Participant(actor.user_id, participant_role_for(actor), actor.display_name, ctx.now)
                )
                ctx.out.invalidate("participants", consult.id)
            elif mine.left_at is not None or mine.joined_at is None:
                mine.joined_at, mine.left_at = mine.joined_at or ctx.now, None
            await ctx.session.flush()
        sid = ctx.sid
        # Chatting follows joining: the room's chat needs to know its members.
        everyone = frozenset(pt.user_id for pt in row.participants)
        ctx.out.then(lambda: self.hub.participants.put(consult.id, everyone, read_at))

        async def enter() -> None:
            await self.enter_room(sid, f"consult:{consult.id}")
            await self._count_in(sid, consult.id, actor, ctx.now)
            await self.hub.state.set_presence(consult.id, actor.user_id, Presence.CONNECTED, ctx.now)
            await self.broadcast_room(consult.id)

        ctx.out.then(enter)
        await ctx.audit("join", "consult", consult.id, resident_id=consult.resident_id)
        return {"consult": consult_json(consult)}

    @event(payloads.ConsultRef)
    async def on_leave(self, ctx: EventContext, p: payloads.ConsultRef) -> dict[str, Any]:
        """Leave the room on purpose (a resident must then be admitted again)."""
        row, consult = await load(ctx, p.consult_id)
        mine = participant_row(row, ctx.actor.user_id)
        if mine is None:
            raise AccessDenied(f"you are not in consult {consult.id}")
        if mine.left_at is None:
            mine.left_at = ctx.now
        sid, user_id = ctx.sid, ctx.actor.user_id

        async def leave() -> None:
            await self.leave_media(consult.id, user_id)
            await self.leave_room(sid, f"consult:{consult.id}")
            if consult.id in self._rooms_of_sid.get(sid, set()):
                self._rooms_of_sid[sid].discard(consult.id)
                await self.hub.state.disconnect(consult.id, user_id)
            await self.hub.state.set_presence(consult.id, user_id, Presence.LEFT, ctx.now)
            await self.broadcast_room(consult.id)

        ctx.out.then(leave)
        return {}

    @event(payloads.RemoveParticipant, audit_denied=True)
    async def on_remove_participant(self, ctx: EventContext, p: payloads.RemoveParticipant) -> dict[str, Any]:
        """The doctor removes someone from the room; they cannot come back without being let in again."""
        row, consult = await load(ctx, p.consult_id)
        require_may_write_note(ctx.actor, consult)
        if ctx.actor.role is Role.SPECIALIST:
            raise AccessDenied("the family doctor removes participants")
        target = participant_row(row, p.user_id)
        if target is None or p.user_id == ctx.actor.user_id:
            raise RuleViolation(
                f"user {p.user_id} is not another participant of consult {consult.id}", field="user_id"
            )
        target.left_at = ctx.now
        await ctx.audit(
            "remove",
            "consult",
            consult.id,
            resident_id=consult.resident_id,
            detail={"removed_user_id": p.user_id},
        )
        ctx.out.emit(NAMESPACE, "removed", {"consult_id": consult.id}, f"user:{p.user_id}")

        async def mark() -> None:
            await self.leave_media(consult.id, p.user_id)
            await self.hub.evict(consult.id, p.user_id)
            await self.hub.state.forget_connections(consult.id, p.user_id)
            await self.hub.state.set_presence(consult.id, p.user_id, Presence.LEFT, ctx.now)
            await self.broadcast_room(consult.id)

        ctx.out.then(mark)
        return {}

    @event(payloads.ConsultRef, audit_denied=True)
    async def on_end(self, ctx: EventContext, p: payloads.ConsultRef) -> dict[str, Any]:
        """End the consult for everyone; a follow-up completes its task and schedules the next."""
        row, consult = await load(ctx, p.consult_id)
        require_may_write_note(ctx.actor, consult)
        scheduled = await consults.end(ctx.session, row, consult, ctx.now, ctx.today)
        await ctx.audit(
            "end",
            "consult",
            consult.id,
            resident_id=consult.resident_id,
            detail={"next_task_due": scheduled[0].due_date.isoformat() if scheduled else None},
        )
        due = scheduled[0].due_date if scheduled else None
        ctx.out.then(lambda: self.hub.consult_ended(consult.id, consult.team_id, due))
        return {"next_task_due": scheduled[0].due_date.isoformat() if scheduled else None}

    @event(payloads.ConsultRef, audit_denied=True)
    async def on_invite(self, ctx: EventContext, p: payloads.ConsultRef) -> dict[str, Any]:
        """A single-use link, valid for a day, that lets one specialist into this referral consult."""
        _, consult = await load(ctx, p.consult_id)
        if ctx.actor.role is not Role.DOCTOR:
            raise AccessDenied("the family doctor invites specialists")
        require_may_write_note(ctx.actor, consult)
        if consult.kind is not ConsultKind.REFERRAL:
            raise RuleViolation(
                "only referral consults (会诊) take invited specialists", code="not_a_referral"
            )
        if consult.status in TERMINAL:
            raise Conflict(f"consult {consult.id} is {consult.status.value}", code="consult_closed")
        expires = ctx.now + INVITE_LIFETIME
        token = await invites.create(ctx.session, consult.id, ctx.actor.user_id, expires)
        await ctx.audit("invite", "consult", consult.id, resident_id=consult.resident_id)
        return {"token": token, "url": f"/join/{token}", "expires_at": expires.isoformat()}
