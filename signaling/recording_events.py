"""The `/consult` namespace's recording events: the doctor asks to record, everyone present answers, and
the recording runs only while everyone present has consented (consult/recording.py decides).

`evaluate_recording` is the one place that moves a recording between waiting, running and paused: it
runs after every answer and every change of who is in the room (`broadcast_room` calls it), marks the
change on the recording's timeline, tells the media worker to start, pause or resume, and sends the
room a `recording` event (every page shows whether it runs and whom it waits for). Segments the worker
writes come back as `segment` media events and are registered in the blob store and the database
(`record_segment`). Stopping, by the doctor or at the end of the consult, waits for the last segments,
marks the recording ended and complete, and starts its retention clock.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

from consult.access import require_may_write_note
from consult.consult import Consult, ConsultKind, ConsultStatus
from consult.errors import AccessDenied, Conflict, NotFound, RuleViolation
from consult.recording import (
    CONSENT_TEXT,
    CONSENT_TEXT_VERSION,
    ConsentRecord,
    Decision,
    RecordingStatus,
    TimelineEntry,
    TimelineKind,
    latest_decisions,
    may_answer,
    next_status,
    not_consented,
    standing_answer,
    standing_applies,
    standing_mark,
    standing_users,
)
from consult.roles import Role
from consult.waiting_room import Presence
from signaling import payloads
from signaling.media_router import MediaRefused
from signaling.namespace import EventContext, EventError, event
from storage import audit, consults, recordings, standing_consents
from storage.models import ConsultRow, RecordingRow

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from signaling.hub import Hub

log = logging.getLogger(__name__)

NAMESPACE = "/consult"


def recording_json(
    row: RecordingRow, waiting_for: tuple[int, ...], standing: tuple[int, ...] = ()
) -> dict[str, Any]:
    """What every page in the room is told about the consult's recording; `standing` are those who
    count as consenting by their standing consent (they were not asked, and may still withdraw)."""
    return {
        "consult_id": row.consult_id,
        "recording_id": row.id,
        "status": row.status,
        "waiting_for": list(waiting_for),
        "standing": list(standing),
        "requested_by": row.requested_by,
        "text_version": CONSENT_TEXT_VERSION,
        "text": dict(CONSENT_TEXT[CONSENT_TEXT_VERSION]),
    }


class RecordingEvents:
    """Mixed into `ConsultNamespace`; see the module docstring and docs/protocol.md."""

    hub: Hub
    _rooms_of_sid: dict[str, set[int]]

    def _init_recording(self) -> None:
        self._recording_locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def _consult_in_room(self, ctx: EventContext, consult_id: int) -> Consult:
        """The consult, if the caller is in its room on this connection."""
        if consult_id not in self._rooms_of_sid.get(ctx.sid, set()):
            raise EventError("not_in_room", f"join consult {consult_id} first", "consult_id")
        consult = await consults.get(ctx.session, consult_id)
        if consult is None:
            raise NotFound(f"no consult {consult_id}", field="consult_id")
        return consult

    # --- client events ------------------------------------------------------------------------

    @event(payloads.ConsultRef, audit_denied=True)
    async def on_record_request(self, ctx: EventContext, p: payloads.ConsultRef) -> dict[str, Any]:
        """The family doctor asks to record; everyone present is asked (the `recording` event)."""
        consult = await self._consult_in_room(ctx, p.consult_id)
        require_may_write_note(ctx.actor, consult)
        if ctx.actor.role is not Role.DOCTOR:
            raise AccessDenied("the family doctor asks to record")
        if consult.status is not ConsultStatus.IN_PROGRESS:
            raise Conflict(f"consult {consult.id} is {consult.status.value}", code="consult_not_running")
        if await recordings.active(ctx.session, consult.id) is not None:
            raise Conflict(
                "this consult is already being recorded or waiting for consent", code="already_recording"
            )
        row = await recordings.request(
            ctx.session, ctx.hub.blobs, consult_id=consult.id, requested_by=ctx.actor.user_id, now=ctx.now
        )
        await ctx.audit("request", "recording", row.id, resident_id=consult.resident_id)
        ctx.out.then(lambda: self.evaluate_recording(consult.id))
        return {
            "recording_id": row.id,
            "text_version": CONSENT_TEXT_VERSION,
            "text": dict(CONSENT_TEXT[CONSENT_TEXT_VERSION]),
        }

    @event(payloads.RecordConsent, audit_denied=True)
    async def on_record_consent(self, ctx: EventContext, p: payloads.RecordConsent) -> dict[str, Any]:
        """A participant's answer (a proxy answers for the resident too); withdrawing pauses at once."""
        if p.text_version not in CONSENT_TEXT:
            raise RuleViolation(f"unknown consent text {p.text_version!r}", field="text_version")
        consult = await self._consult_in_room(ctx, p.consult_id)
        row = await recordings.active(ctx.session, consult.id)
        if row is None:
            raise Conflict("nobody asked to record this consult", code="no_recording")
        on_behalf = may_answer(ctx.actor, consult.resident_id)
        record = ConsentRecord(
            consult.id, ctx.actor.user_id, Decision(p.decision), ctx.now, p.text_version, on_behalf
        )
        await recordings.add_consent(ctx.session, record, row.id)
        await ctx.audit(
            "consent",
            "recording",
            row.id,
            resident_id=consult.resident_id,
            detail={"decision": p.decision, "text_version": p.text_version, "on_behalf_of": on_behalf},
        )
        ctx.out.then(lambda: self.evaluate_recording(consult.id))
        return {"decision": p.decision}

    @event(payloads.ConsultRef, audit_denied=True)
    async def on_record_stop(self, ctx: EventContext, p: payloads.ConsultRef) -> dict[str, Any]:
        """The doctor stops the recording (ending the consult stops it too)."""
        consult = await self._consult_in_room(ctx, p.consult_id)
        require_may_write_note(ctx.actor, consult)
        ctx.out.then(lambda: self.stop_recording(consult.id, "stopped by the doctor"))
        return {}

    # --- the gate -------------------------------------------------------------------------------

    async def evaluate_recording(self, consult_id: int) -> None:
        """Start, pause or resume the consult's recording by who is present and what they answered."""
        async with self._recording_locks[consult_id]:
            now = self.hub.clock()
            members = await self.hub.state.members(consult_id)
            present = [m.user_id for m in members if m.presence is not Presence.LEFT]
            async with self.hub.transaction() as session:
                row = await recordings.active(session, consult_id)
                if row is None:
                    return
                answers = await recordings.decisions_for(session, row.id)
                taken = await self._standing_answer(session, row, present, answers, now)
                if taken is not None:
                    answers.append(taken)
                decisions = latest_decisions(answers)
                old = RecordingStatus(row.status)
                new, entry = next_status(old, present, decisions, now)
                first_start = new is RecordingStatus.RUNNING and row.started_at is None
                if entry is not None:
                    recordings.mark(row, new, entry)
                snapshot = recording_json(row, not_consented(present, decisions), standing_users(answers))
                recording_id, key_id = row.id, row.key_id
            if new is not old:
                await self._media_recording(consult_id, recording_id, key_id, new, first_start)
            await self.hub.sio.emit("recording", snapshot, room=f"consult:{consult_id}", namespace=NAMESPACE)

    async def _standing_answer(
        self,
        session: AsyncSession,
        row: RecordingRow,
        present: list[int],
        answers: list[ConsentRecord],
        now: datetime,
    ) -> ConsentRecord | None:
        """In a follow-up, the resident's answer taken from their standing consent (or its
        withdrawal), stored with its timeline mark and audit entry; None when none is due."""
        consult = await session.get(ConsultRow, row.consult_id)
        if consult is None or not standing_applies(ConsultKind(consult.kind)):
            return None
        resident_user_id = await standing_consents.resident_user_id(session, consult.resident_id)
        if resident_user_id is None or resident_user_id not in present:
            return None
        contract_id = await standing_consents.contract_in_force(
            session, consult.resident_id, self.hub.today(now)
        )
        standing = await standing_consents.current(session, consult.resident_id, contract_id, now)
        taken = standing_answer(
            consult_id=consult.id,
            kind=ConsultKind(consult.kind),
            resident_user_id=resident_user_id,
            present=present,
            answers=answers,
            consult_answers=await recordings.consents(session, consult.id),
            standing=standing,
            contract_id=contract_id,
            now=now,
        )
        if taken is None:
            return None
        await recordings.add_consent(session, taken, row.id)
        recordings.mark(row, RecordingStatus(row.status), standing_mark(taken))
        await audit.append(
            session,
            audit.record_for(
                None,
                "consent",
                "recording",
                row.id,
                resident_id=consult.resident_id,
                detail={
                    "decision": taken.decision.value,
                    "text_version": taken.text_version,
                    "standing_consent_id": taken.standing_consent_id,
                    "user_id": resident_user_id,
                },
            ),
            at=now,
        )
        log.info(
            "consult %s: recording %s: resident's %s taken from standing consent %s",
            consult.id,
            row.id,
            taken.decision.value,
            taken.standing_consent_id,
        )
        return taken

    async def _media_recording(
        self, consult_id: int, recording_id: int, key_id: str, status: RecordingStatus, first: bool
    ) -> None:
        router = self.hub.media_router
        try:
            if status is RecordingStatus.RUNNING and first:
                await router.call(consult_id, "record_start", recording_id=recording_id, key_id=key_id)
            elif status is RecordingStatus.RUNNING:
                await router.call(consult_id, "record_resume")
            elif status is RecordingStatus.PAUSED:
                await router.call(consult_id, "record_pause")
        except MediaRefused as err:
            log.warning("consult %s: recording %s %s: %s", consult_id, recording_id, status.value, err)

    async def stop_recording(self, consult_id: int, reason: str) -> None:
        """Finish the consult's recording: the last segments written, ended and complete, retention set."""
        async with self._recording_locks[consult_id]:
            async with self.hub.transaction() as session:
                row = await recordings.active(session, consult_id)
                if row is None:
                    return
                recording_id = row.id
            counts: dict[str, int] = {}
            try:
                counts = await self.hub.media_router.call(consult_id, "record_stop") or {}
            except MediaRefused as err:
                log.warning("consult %s: stopping recording %s: %s", consult_id, recording_id, err)
            now = self.hub.clock()
            async with self.hub.transaction() as session:
                row = await session.get(RecordingRow, recording_id)
                consult = await consults.get(session, consult_id)
                if row is None or consult is None:
                    return
                recordings.mark(row, RecordingStatus.ENDED, TimelineEntry(now, TimelineKind.STOPPED, reason))
                row.ended_at = now
                row.complete = counts.get("failures", 0) == 0
                row.expires_on = recordings.expiry(
                    self.hub.retention, consult.ended_at or now, self.hub.today(now)
                )
                await audit.append(
                    session,
                    audit.record_for(
                        None,
                        "stop",
                        "recording",
                        recording_id,
                        resident_id=consult.resident_id,
                        detail={"reason": reason, **counts},
                    ),
                    at=now,
                )
                snapshot = recording_json(row, ())
            await self.hub.sio.emit("recording", snapshot, room=f"consult:{consult_id}", namespace=NAMESPACE)

    # --- what the worker tells ------------------------------------------------------------------

    async def record_segment(self, consult_id: int, info: dict[str, Any]) -> None:
        """A segment the worker sealed and wrote: register it (blob, track, segment)."""
        try:
            async with self.hub.side_transaction() as session:
                row = await session.get(RecordingRow, int(info["recording_id"]))
                if row is None or row.consult_id != consult_id:
                    log.warning(
                        "consult %s: segment for unknown recording %s", consult_id, info.get("recording_id")
                    )
                    return
                await self.hub.blobs.register(
                    session,
                    blob_id=str(info["blob_id"]),
                    key_id=row.key_id,
                    algorithm=row.algorithm,
                    content_type=str(info["content_type"]),
                    size=int(info["size"]),
                    sha256=str(info["sha256"]),
                )
                track = await recordings.track(
                    session,
                    row.id,
                    int(info["user_id"]),
                    str(info["kind"]),
                    str(info["codec"]),
                    str(info["container"]),
                )
                await recordings.add_segment(
                    session,
                    track.id,
                    int(info["seq"]),
                    str(info["blob_id"]),
                    int(info["start_ms"]),
                    int(info["duration_ms"]),
                )
        except Exception:
            log.exception("consult %s: a recorded segment could not be registered", consult_id)

    async def recording_lost(self, consult_id: int) -> None:
        """The worker recording the consult died: what it wrote stays, the recording is incomplete."""
        now = self.hub.clock()
        async with self._recording_locks[consult_id], self.hub.transaction() as session:
            row = await recordings.active(session, consult_id)
            if row is None:
                return
            recordings.mark(
                row,
                RecordingStatus.INCOMPLETE,
                TimelineEntry(now, TimelineKind.FAILED, "the media worker stopped"),
            )
            row.ended_at, row.complete = now, False
            consult = await consults.get(session, consult_id)
            row.expires_on = recordings.expiry(self.hub.retention, now, self.hub.today(now))
            await audit.append(
                session,
                audit.record_for(
                    None,
                    "incomplete",
                    "recording",
                    row.id,
                    resident_id=consult.resident_id if consult else None,
                    outcome="failure",
                    detail={"reason": "the media worker stopped"},
                ),
                at=now,
            )
            snapshot = recording_json(row, ())
        await self.hub.sio.emit("recording", snapshot, room=f"consult:{consult_id}", namespace=NAMESPACE)
