"""The `/consult` namespace's video events: the hub relays offers, answers and ICE candidates between a
participant's browser and the consult's media room on a worker process (media/pool.py), on whichever
node holds the consult's media (signaling/media_router.py).

Only someone in the consult's room (admitted, or a participant by role, who sent `join` on this
connection) takes part in its media. A participant's media id is their user id: a reconnect (a phone
moving from Wi-Fi to 4G) joins again under the same id and gets a new peer connection, and the others
keep their tile of them. What the media room says (a renegotiation offer, another participant's camera
or microphone state, someone leaving, this participant's connection state) goes to the connection
that joined the media; its sid is a Socket.IO room, so this works across nodes.

Leaving the room (`leave`, removal, the grace period running out) leaves the media; ending the consult
closes its media room, and with it every peer connection and task on the worker.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from consult.access import participant_role_for
from media.turn import client_ice_servers
from signaling import payloads
from signaling.media_router import MediaRefused
from signaling.namespace import EventContext, EventError, event

if TYPE_CHECKING:
    from signaling.hub import Hub

log = logging.getLogger(__name__)

NAMESPACE = "/consult"
#: The media room's event names → the names clients receive.
EVENTS = {
    "offer": "media_offer",
    "media": "media_state",
    "left": "media_left",
    "connection": "media_connection",
    "error": "media_error",
}


class MediaEvents:
    """Mixed into `ConsultNamespace`; see the module docstring and docs/protocol.md."""

    hub: Hub
    _rooms_of_sid: dict[str, set[int]]

    def _init_media(self) -> None:
        self._media_tasks: set[asyncio.Task[None]] = set()

    # --- helpers ------------------------------------------------------------------------------

    def _in_room(self, ctx: EventContext, consult_id: int) -> None:
        if consult_id not in self._rooms_of_sid.get(ctx.sid, set()):
            raise EventError(
                "not_in_room", f"join consult {consult_id} first (the doctor admits residents)", "consult_id"
            )

    async def _media(self, ctx: EventContext, consult_id: int, method: str, **params: Any) -> Any:
        """Run a media call for the caller, on whichever node holds the consult's media."""
        self._in_room(ctx, consult_id)
        try:
            return await self.hub.media_router.call(
                consult_id, method, participant_id=str(ctx.actor.user_id), sid=ctx.sid, **params
            )
        except MediaRefused as err:
            raise EventError(err.code, err.message) from err

    # --- client events ------------------------------------------------------------------------

    @event(payloads.ConsultRef, writes=False)
    async def on_media_join(self, ctx: EventContext, p: payloads.ConsultRef) -> dict[str, Any]:
        """Take part in the consult's video: the ICE servers to use, then send `media_offer`."""
        role = participant_role_for(ctx.actor).value
        await self._media(ctx, p.consult_id, "join", user_id=str(ctx.actor.user_id), role=role)
        ice = client_ice_servers(self.hub.ice, f"u{ctx.actor.user_id}", now=time.time())
        return {"participant_id": str(ctx.actor.user_id), "ice_servers": ice}

    @event(payloads.MediaSdp, writes=False, max_bytes=payloads.MAX_SDP + 1024)
    async def on_media_offer(self, ctx: EventContext, p: payloads.MediaSdp) -> dict[str, Any]:
        """The client's offer (its microphone and camera); the ack carries the server's answer."""
        return {"sdp": await self._media(ctx, p.consult_id, "offer", sdp=p.sdp)}

    @event(payloads.MediaSdp, writes=False, max_bytes=payloads.MAX_SDP + 1024)
    async def on_media_answer(self, ctx: EventContext, p: payloads.MediaSdp) -> dict[str, Any]:
        """The client's answer to the server's `media_offer` event."""
        await self._media(ctx, p.consult_id, "answer", sdp=p.sdp)
        return {}

    @event(payloads.MediaCandidate, writes=False)
    async def on_media_candidate(self, ctx: EventContext, p: payloads.MediaCandidate) -> dict[str, Any]:
        """A trickled ICE candidate of the client (null when it has no more)."""
        candidate = p.candidate.model_dump() if p.candidate is not None else None
        await self._media(ctx, p.consult_id, "candidate", candidate=candidate)
        return {}

    @event(payloads.MediaState, writes=False)
    async def on_media_state(self, ctx: EventContext, p: payloads.MediaState) -> dict[str, Any]:
        """Microphone or camera on or off (the others see it), or audio only to this client."""
        await self._media(
            ctx, p.consult_id, "set_media", audio=p.audio, video=p.video, receive_video=p.receive_video
        )
        return {}

    @event(payloads.ConsultRef, writes=False)
    async def on_media_leave(self, ctx: EventContext, p: payloads.ConsultRef) -> dict[str, Any]:
        """Hang up the video but stay in the consult room (chat goes on)."""
        await self.leave_media(p.consult_id, ctx.actor.user_id)
        return {}

    # --- what the hub does to media -------------------------------------------------------------

    async def leave_media(self, consult_id: int, user_id: int) -> None:
        """Close the user's peer connection in the consult, if they have one."""
        try:
            await self.hub.media_router.call(consult_id, "leave", participant_id=str(user_id))
        except MediaRefused as err:
            log.warning("consult %s: user %s leaving media: %s", consult_id, user_id, err)

    async def close_media(self, consult_id: int) -> None:
        """The consult ended: close its media room."""
        try:
            await self.hub.media_router.call(consult_id, "close")
        except MediaRefused as err:
            log.warning("consult %s: closing media: %s", consult_id, err)

    def finish_media(self, consult_id: int) -> None:
        """The consult ended: finish its recording, then close its media room, without keeping the one who
        ended it waiting (sealing the last segments can take seconds on a busy node). The room hears the
        recording end (``recording``, status ``ended``) when it has."""
        self._spawn(self._finish_media(consult_id))

    async def _finish_media(self, consult_id: int) -> None:
        try:
            await self.stop_recording(consult_id, "the consult ended")  # type: ignore[attr-defined]
        except Exception:
            log.exception("consult %s: finishing its recording failed", consult_id)
        await self.close_media(consult_id)

    async def settle_media(self) -> None:
        """Wait for the media work under way (recordings being finished, segments being stored)."""
        while self._media_tasks:
            await asyncio.gather(*list(self._media_tasks), return_exceptions=True)

    def on_media_event(
        self, consult: str, participant_id: str | None, name: str, data: dict[str, Any]
    ) -> None:
        """What a media room of this node says, sent on (called by the pool on the event loop; must
        not block). The sid may be on another node: the Socket.IO manager carries it there."""
        consult_id = int(consult)
        body = {"consult_id": consult_id, **data}
        router = self.hub.media_router
        if name == "segment":
            self._spawn(self.record_segment(consult_id, data))  # type: ignore[attr-defined]
            return
        if participant_id is None:  # the worker died: everyone joins the media again
            router.forget_consult(consult_id)
            self._spawn(self.recording_lost(consult_id))  # type: ignore[attr-defined]
            self._spawn(
                self.hub.sio.emit("media_restart", body, room=f"consult:{consult_id}", namespace=NAMESPACE)
            )
            return
        sid = router.sid_of(consult_id, participant_id)
        if sid is None or name not in EVENTS:
            return  # they left meanwhile, or a worker speaks of something clients need not hear
        self._spawn(self.hub.sio.emit(EVENTS[name], body, to=sid, namespace=NAMESPACE))

    def _spawn(self, work: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(work)
        self._media_tasks.add(task)
        task.add_done_callback(self._media_tasks.discard)
