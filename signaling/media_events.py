"""The `/consult` namespace's video events: the hub relays offers, answers and ICE candidates between a
participant's browser and the consult's media room on a worker process (media/pool.py).

Only someone in the consult's room (admitted, or a participant by role, who sent `join` on this
connection) takes part in its media. A participant's media id is their user id: a reconnect (a phone
moving from Wi-Fi to 4G) joins again under the same id and gets a new peer connection, and the others
keep their tile of them. What the media room says (a renegotiation offer, another participant's camera
or microphone state, someone leaving, this participant's connection state) goes to the connection
that joined the media, wherever it is connected (its sid is a Socket.IO room, so this works across
nodes through the Redis manager).

Leaving the room (`leave`, removal, the grace period running out) leaves the media; ending the consult
closes its media room, and with it every peer connection and task on the worker.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from consult.access import participant_role_for
from media.errors import MediaError
from media.turn import client_ice_servers
from signaling import payloads
from signaling.namespace import EventContext, EventError, event

if TYPE_CHECKING:
    from media.pool import MediaPool, RoomHandle
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
        #: (consult, media participant id) → the connection that joined the media, on this node.
        self._media_sids: dict[tuple[int, str], str] = {}
        self._media_tasks: set[asyncio.Task[None]] = set()

    # --- helpers ------------------------------------------------------------------------------

    def _pool(self) -> MediaPool:
        if self.hub.media is None:
            raise EventError("media_unavailable", "video is switched off on this server; chat still works")
        return self.hub.media

    def _room(self, ctx: EventContext, consult_id: int) -> tuple[RoomHandle, str]:
        """The consult's media room and the caller's id in it, if the caller is in the consult room."""
        if consult_id not in self._rooms_of_sid.get(ctx.sid, set()):
            raise EventError(
                "not_in_room", f"join consult {consult_id} first (the doctor admits residents)", "consult_id"
            )
        return self._pool().room_for(str(consult_id)), str(ctx.actor.user_id)

    async def _media_call(self, call: Any) -> Any:
        try:
            return await call
        except MediaError as err:
            raise EventError(err.code, err.message) from err

    # --- client events ------------------------------------------------------------------------

    @event(payloads.ConsultRef, writes=False)
    async def on_media_join(self, ctx: EventContext, p: payloads.ConsultRef) -> dict[str, Any]:
        """Take part in the consult's video: the ICE servers to use, then send `media_offer`."""
        room, participant_id = self._room(ctx, p.consult_id)
        role = participant_role_for(ctx.actor).value
        await self._media_call(room.join(participant_id, str(ctx.actor.user_id), role))
        self._media_sids[(p.consult_id, participant_id)] = ctx.sid
        ice = client_ice_servers(self.hub.ice, f"u{ctx.actor.user_id}", now=time.time())
        return {"participant_id": participant_id, "ice_servers": ice}

    @event(payloads.MediaSdp, writes=False, max_bytes=payloads.MAX_SDP + 1024)
    async def on_media_offer(self, ctx: EventContext, p: payloads.MediaSdp) -> dict[str, Any]:
        """The client's offer (its microphone and camera); the ack carries the server's answer."""
        room, participant_id = self._room(ctx, p.consult_id)
        self._require_joined(ctx, p.consult_id, participant_id)
        return {"sdp": await self._media_call(room.offer(participant_id, p.sdp))}

    @event(payloads.MediaSdp, writes=False, max_bytes=payloads.MAX_SDP + 1024)
    async def on_media_answer(self, ctx: EventContext, p: payloads.MediaSdp) -> dict[str, Any]:
        """The client's answer to the server's `media_offer` event."""
        room, participant_id = self._room(ctx, p.consult_id)
        self._require_joined(ctx, p.consult_id, participant_id)
        await self._media_call(room.answer(participant_id, p.sdp))
        return {}

    @event(payloads.MediaCandidate, writes=False)
    async def on_media_candidate(self, ctx: EventContext, p: payloads.MediaCandidate) -> dict[str, Any]:
        """A trickled ICE candidate of the client (null when it has no more)."""
        room, participant_id = self._room(ctx, p.consult_id)
        self._require_joined(ctx, p.consult_id, participant_id)
        candidate = p.candidate.model_dump() if p.candidate is not None else None
        await self._media_call(room.candidate(participant_id, candidate))
        return {}

    @event(payloads.MediaState, writes=False)
    async def on_media_state(self, ctx: EventContext, p: payloads.MediaState) -> dict[str, Any]:
        """Microphone or camera on or off (the others see it), or audio only to this client."""
        room, participant_id = self._room(ctx, p.consult_id)
        self._require_joined(ctx, p.consult_id, participant_id)
        await self._media_call(
            room.set_media(participant_id, audio=p.audio, video=p.video, receive_video=p.receive_video)
        )
        return {}

    @event(payloads.ConsultRef, writes=False)
    async def on_media_leave(self, ctx: EventContext, p: payloads.ConsultRef) -> dict[str, Any]:
        """Hang up the video but stay in the consult room (chat goes on)."""
        await self.leave_media(p.consult_id, ctx.actor.user_id)
        return {}

    def _require_joined(self, ctx: EventContext, consult_id: int, participant_id: str) -> None:
        if self._media_sids.get((consult_id, participant_id)) != ctx.sid:
            raise EventError("media_not_joined", "send media_join on this connection first", "consult_id")

    # --- what the hub does to media -------------------------------------------------------------

    async def leave_media(self, consult_id: int, user_id: int) -> None:
        """Close the user's peer connection in the consult, if they have one (on this node)."""
        key = (consult_id, str(user_id))
        if self._media_sids.pop(key, None) is None or self.hub.media is None:
            return
        try:
            await self.hub.media.room_for(str(consult_id)).leave(str(user_id))
        except MediaError as err:
            log.warning("consult %s: user %s left media: %s", consult_id, user_id, err)

    async def close_media(self, consult_id: int) -> None:
        """The consult ended: close its media room."""
        had = [k for k in self._media_sids if k[0] == consult_id]
        for key in had:
            del self._media_sids[key]
        if self.hub.media is None or not had:
            return
        try:
            await self.hub.media.room_for(str(consult_id)).close()
        except MediaError as err:
            log.warning("consult %s: closing media: %s", consult_id, err)

    def on_media_event(
        self, consult: str, participant_id: str | None, name: str, data: dict[str, Any]
    ) -> None:
        """What a media room says, sent on (called by the pool on the event loop; must not block)."""
        consult_id = int(consult)
        body = {"consult_id": consult_id, **data}
        if participant_id is None:  # the worker died: everyone joins the media again
            for key in [k for k in self._media_sids if k[0] == consult_id]:
                del self._media_sids[key]
            self._spawn(
                self.hub.sio.emit("media_restart", body, room=f"consult:{consult_id}", namespace=NAMESPACE)
            )
            return
        sid = self._media_sids.get((consult_id, participant_id))
        if sid is None or name not in EVENTS:
            return  # they left meanwhile, or a worker speaks of something clients need not hear
        self._spawn(self.hub.sio.emit(EVENTS[name], body, to=sid, namespace=NAMESPACE))

    def _spawn(self, work: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(work)
        self._media_tasks.add(task)
        task.add_done_callback(self._media_tasks.discard)
