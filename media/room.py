"""A consult's media room, in one process: each participant has ONE peer connection to the server.

**Publishing.** The client offers first: its offer carries its microphone and camera (``sendrecv`` or
``sendonly``; ``recvonly`` when it has no such device) and the server answers (`MediaRoom.offer`). Each
audio or video track the client sends becomes a `Publication` of that participant (media/forwarding.py);
it outlives the peer connection, so a participant who reconnects (`join` again with the same id) keeps the
tiles others have of them: their new connection's tracks feed the same publications, no renegotiation.

**Subscribing, and server-initiated renegotiation.** For every publication of every *other* participant,
the room adds a ``sendonly`` transceiver to the participant's connection, then offers; the offer goes out
through the event callback (``on_event(participant_id, "offer", {...})``) and the client's answer comes back
through `MediaRoom.answer`. When a publisher leaves, their transceivers go ``inactive`` in the next offer
(the browser ends those tracks) and are reused for the next publisher of the same kind and codec, so a
long consult does not grow its SDP with every reconnect. Each offer carries a ``tracks`` map from mid to
the publishing participant (``participant_id``, ``user_id``, ``role``, ``kind``) and a ``participants``
map with each other participant's ``audio``/``video`` state; the msid stream id of each track is also the
publishing participant's id (their audio and video share one MediaStream, so browsers keep them in sync).

**Glare rule.** The server is the *impolite* peer; the client is *polite*. One negotiation runs at a time
per participant (a lock). If the client's offer arrives while a server offer waits for its answer, the
room refuses it with `NegotiationCollision` ("negotiation_collision"); the client rolls back its offer
(``setLocalDescription({type: "rollback"})``), answers the server's offer, then offers again. (aiortc cannot
roll back, so the server could not be the polite one.) The server never offers while the client's offer
is being handled; changes that arrive meanwhile are offered as soon as the connection is stable again.

**Audio only.** `set_media(audio=..., video=...)` says whether the participant sends audio / video; the
relay then stops forwarding what is off (camera off means nobody receives a frame, whatever the client
keeps sending) and everyone else gets a ``media`` event. ``receive_video=False`` (a weak network, an old
phone) stops video *to* that participant, audio keeps flowing; turning it back on waits for a keyframe.

**ICE.** Explicit (media/ice.py): the configured host addresses, the configured ICE servers, never aiortc's
default STUN. The server's SDP carries all its candidates; browsers trickle theirs (`add_ice_candidate`);
candidates that arrive before the offer are kept (up to `max_early_candidates`).

**Errors.** Bad SDP, unknown participants, answers with no offer pending: a `MediaError` with a code, and
nothing else changes (a participant's first offer that fails leaves no connection behind). Garbage
RTP/RTCP is dropped by aiortc (SRTP authentication, parsers) and by the relay's frame assembler; the
others' media keeps flowing.

**Ownership.** The room owns every peer connection and task it starts: `leave` closes a participant's
connection, publications and tasks; `close` does that for everyone. `stats` counts what is alive, so tests
can assert nothing leaked.

Events (``on_event(participant_id, name, payload)``, called on the event loop, must not block):

- ``offer``: ``{"sdp": str, "tracks": {mid: {"participant_id", "user_id", "role", "kind"}},
  "participants": {participant_id: {"user_id", "role", "audio", "video"}}}``; answer with `answer`.
- ``media``: ``{"participant_id", "user_id", "role", "audio": bool, "video": bool}``: another participant
  joined (before any track of theirs, so one with no camera or microphone is known too), or turned their
  camera or microphone on or off.
- ``left``: ``{"participant_id"}``: another participant left the media room.
- ``connection``: ``{"state": "connecting" | "connected" | "failed" | "closed"}``: this participant's link.
- ``error``: ``{"code", "message"}``: something failed outside a request (e.g. a renegotiation).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCPeerConnection, RTCRtpTransceiver, RTCSessionDescription
from aiortc.rtcicetransport import RTCIceCandidate

from media import aiortc_internals
from media.errors import (
    InvalidCandidate,
    InvalidSdp,
    InvalidState,
    MediaError,
    NegotiationCollision,
    RoomClosed,
    UnknownParticipant,
)
from media.forwarding import CodecInfo, ForwardedTrack, Publication, UnsupportedCodecError, attach_sender
from media.ice import create_peer_connection, is_end_of_candidates, parse_candidate, prepare_gathering
from media.negotiation import PayloadMap, align_offer, check_description
from media.recorder import RecordingKey, RoomRecorder
from media.settings import MediaSettings

logger = logging.getLogger(__name__)

EventCallback = Callable[[str, str, dict[str, Any]], None]
KINDS = ("audio", "video")
MAX_ID_CHARS = 128


@dataclass(frozen=True)
class RoomStats:
    """What a room holds alive (tests assert these drop to zero after `leave` and `close`)."""

    participants: int
    peer_connections: int
    tasks: int
    publications: int
    forwarded_tracks: int
    #: Frames received whole from publishers, given up (loss, or waiting for a keyframe), dropped from
    #: subscribers' queues, and handed to subscribers' senders.
    frames_in: int = 0
    frames_lost: int = 0
    frames_dropped: int = 0
    frames_sent: int = 0


@dataclass
class _Outlet:
    """A sendonly transceiver of a subscriber's connection and the track it sends."""

    transceiver: RTCRtpTransceiver
    track: ForwardedTrack
    publisher_id: str | None = None


@dataclass
class _Participant:
    participant_id: str
    user_id: str
    role: str
    pc: RTCPeerConnection | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    audio: bool = True
    video: bool = True
    receive_video: bool = True
    publications: dict[str, Publication] = field(default_factory=dict)
    #: (publisher id, kind) -> outlet; idle outlets wait to be reused.
    outlets: dict[tuple[str, str], _Outlet] = field(default_factory=dict)
    idle: list[_Outlet] = field(default_factory=list)
    bound_receivers: set[int] = field(default_factory=set)
    early_candidates: list[RTCIceCandidate | None] = field(default_factory=list)
    numbers: PayloadMap = field(default_factory=PayloadMap)
    negotiation_wanted: bool = False
    negotiation_task: asyncio.Task[None] | None = None

    @property
    def label(self) -> str:
        return f"participant={self.participant_id}"

    def sends(self, kind: str) -> bool:
        return self.audio if kind == "audio" else self.video


def _check_id(name: str, value: object) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_ID_CHARS:
        raise MediaError(f"{name} must be a non-empty string of at most {MAX_ID_CHARS} characters")
    return value


class MediaRoom:
    """One consult's participants, their peer connections and the relay between them."""

    def __init__(self, consult_id: str, settings: MediaSettings, on_event: EventCallback) -> None:
        self.consult_id = consult_id
        self.settings = settings
        self._on_event = on_event
        self._participants: dict[str, _Participant] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        #: The consult's recording, while one runs (see media/recorder.py).
        self._recorder: RoomRecorder | None = None

    # --- requests -----------------------------------------------------------------------------------------

    async def join(self, participant_id: str, user_id: str, role: str) -> None:
        """Admit a participant to the media room; joining again replaces their connection (a reconnect)."""
        self._check_open()
        _check_id("participant_id", participant_id)
        _check_id("user_id", user_id)
        _check_id("role", role)
        participant = self._participants.get(participant_id)
        if participant is None:
            participant = _Participant(participant_id, user_id, role)
            self._participants[participant_id] = participant
            logger.info("consult=%s participant=%s joined media as %s", self.consult_id, participant_id, role)
            # Everyone learns of everyone now, not only with their tracks: someone with no camera or
            # microphone (refused, missing) publishes none, and would otherwise never have a tile.
            self._tell_others(participant)
            for other in list(self._participants.values()):
                if other is not participant:
                    self._tell(participant, other)
            return
        logger.info(
            "consult=%s participant=%s rejoined media: new connection", self.consult_id, participant_id
        )
        async with participant.lock:
            participant.user_id, participant.role = user_id, role
            await self._drop_connection(participant)

    async def offer(self, participant_id: str, sdp: object) -> str:
        """Apply the client's offer and return the server's answer (SDP)."""
        participant = self._get(participant_id)
        description = check_description(sdp, "offer", max_bytes=self.settings.max_sdp_bytes)
        assert isinstance(sdp, str)
        async with participant.lock:
            self._check_open()
            fresh = participant.pc is None
            if participant.pc is None:
                participant.pc = self._new_connection(participant)
            pc = participant.pc
            if pc.signalingState == "have-local-offer":
                raise NegotiationCollision(
                    "the server's offer is waiting for your answer: roll back, answer it, then offer again"
                )
            try:
                await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
                participant.numbers.learn(description)
                new_publications = self._bind_publications(participant)
                prepare_gathering(pc, self.settings.host_addresses)
                await pc.setLocalDescription(await pc.createAnswer())
            except MediaError:
                raise
            except Exception as err:
                if fresh:
                    await self._drop_connection(participant)
                raise InvalidSdp(
                    f"the offer could not be applied: {type(err).__name__} {err}".strip()
                ) from err
            await self._apply_early_candidates(participant)
            answer = pc.localDescription.sdp
        if new_publications:
            for other in self._participants.values():
                if other is not participant:
                    self._want_negotiation(other)
        if fresh or participant.negotiation_wanted or self._publications_of_others(participant):
            self._want_negotiation(participant)
        return answer

    async def answer(self, participant_id: str, sdp: object) -> None:
        """Apply the client's answer to the server's last offer."""
        participant = self._get(participant_id)
        description = check_description(sdp, "answer", max_bytes=self.settings.max_sdp_bytes)
        assert isinstance(sdp, str)
        async with participant.lock:
            self._check_open()
            pc = participant.pc
            if pc is None or pc.signalingState != "have-local-offer":
                raise InvalidState("no server offer is waiting for an answer")
            try:
                await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
            except Exception as err:
                raise InvalidSdp(
                    f"the answer could not be applied: {type(err).__name__} {err}".strip()
                ) from err
            participant.numbers.learn(description)
        if participant.negotiation_wanted:
            self._want_negotiation(participant)

    async def add_ice_candidate(self, participant_id: str, candidate: object) -> None:
        """Add a candidate the browser trickled (``RTCIceCandidate.toJSON()``, or None at the end)."""
        participant = self._get(participant_id)
        parsed: RTCIceCandidate | None = None
        if not is_end_of_candidates(candidate):
            parsed = parse_candidate(candidate)
            if parsed is None:
                return  # mDNS: see media/ice.py
        async with participant.lock:
            pc = participant.pc
            if pc is None or pc.remoteDescription is None:
                if len(participant.early_candidates) >= self.settings.max_early_candidates:
                    raise InvalidCandidate(
                        f"more than {self.settings.max_early_candidates} candidates before the offer"
                    )
                participant.early_candidates.append(parsed)
                return
            await pc.addIceCandidate(parsed)

    async def set_media(
        self,
        participant_id: str,
        *,
        audio: bool | None = None,
        video: bool | None = None,
        receive_video: bool | None = None,
    ) -> None:
        """Turn a participant's microphone / camera on or off for the others, or video to them."""
        participant = self._get(participant_id)
        for name, value in (("audio", audio), ("video", video), ("receive_video", receive_video)):
            if value is not None and not isinstance(value, bool):
                raise MediaError(f"{name} must be true, false or absent")
        changed = False
        if audio is not None and audio != participant.audio:
            participant.audio, changed = audio, True
        if video is not None and video != participant.video:
            participant.video, changed = video, True
        for kind, publication in participant.publications.items():
            self._set_enabled(publication, participant.sends(kind))
        if receive_video is not None and receive_video != participant.receive_video:
            participant.receive_video = receive_video
            for (_, kind), outlet in participant.outlets.items():
                if kind == "video":
                    outlet.track.pause(not receive_video)
        if changed:
            logger.info(
                "consult=%s participant=%s media audio=%s video=%s",
                self.consult_id,
                participant_id,
                participant.audio,
                participant.video,
            )
            self._tell_others(participant)

    def _tell_others(self, participant: _Participant) -> None:
        """Tell everyone else who the participant is and whether their microphone and camera are on."""
        for other in list(self._participants.values()):
            if other is not participant:
                self._tell(other, participant)

    def _tell(self, listener: _Participant, about: _Participant) -> None:
        self._emit(
            listener.participant_id,
            "media",
            {
                "participant_id": about.participant_id,
                "user_id": about.user_id,
                "role": about.role,
                "audio": about.audio,
                "video": about.video,
            },
        )

    async def leave(self, participant_id: str) -> None:
        """Close everything of a participant; the others' transceivers for them go inactive."""
        participant = self._get(participant_id)
        del self._participants[participant_id]
        if self._recorder is not None:
            self._recorder.detach(participant_id)
        await self._drop_participant(participant)
        logger.info("consult=%s participant=%s left media", self.consult_id, participant_id)
        for other in list(self._participants.values()):
            self._emit(other.participant_id, "left", {"participant_id": participant_id})
            self._want_negotiation(other)

    async def close(self) -> None:
        """Close every participant's connection and every task of the room."""
        if self._closed:
            return
        self._closed = True
        await self.stop_recording()
        participants = list(self._participants.values())
        self._participants.clear()
        for participant in participants:
            await self._drop_participant(participant)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        logger.info("consult=%s media room closed", self.consult_id)

    # --- recording ---------------------------------------------------------------------------------------

    def start_recording(self, key: RecordingKey, segment_s: float = 10.0) -> None:
        """Record every participant's tracks from now on, sealed with the recording's key; each written
        segment is announced as a ``segment`` event (participant = the publisher)."""
        self._check_open()
        if self._recorder is not None and not self._recorder.stopped:
            raise InvalidState(f"consult {self.consult_id} is already recording")

        def written(info: dict[str, object]) -> None:
            self._emit(str(info["participant_id"]), "segment", info)

        self._recorder = RoomRecorder(key, on_written=written, spawn=self._spawn, segment_s=segment_s)
        for participant in self._participants.values():
            for publication in participant.publications.values():
                self._recorder.attach(participant.participant_id, participant.user_id, publication)
        logger.info("consult=%s recording %s started", self.consult_id, key.recording_id)

    def pause_recording(self) -> None:
        """Record nothing until `resume_recording` (someone present has not consented)."""
        if self._recorder is not None:
            self._recorder.pause()

    def resume_recording(self) -> None:
        """Everyone present consented again."""
        if self._recorder is not None:
            self._recorder.resume()

    async def stop_recording(self) -> dict[str, int]:
        """Finish the recording and wait until its last segments are written."""
        recorder, self._recorder = self._recorder, None
        if recorder is None:
            return {"segments": 0, "tracks": 0, "failures": 0}
        recorder.stop()
        await recorder.drain()
        logger.info("consult=%s recording %s stopped", self.consult_id, recorder.key.recording_id)
        return {
            "segments": recorder.segments_written,
            "tracks": recorder.tracks,
            "failures": recorder.failures,
        }

    # --- observation --------------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """Whether `close` was called."""
        return self._closed

    @property
    def participant_ids(self) -> list[str]:
        """The participants in the room."""
        return list(self._participants)

    def stats(self) -> RoomStats:
        """Counts of what the room keeps alive."""
        participants = list(self._participants.values())
        publications = [p for participant in participants for p in participant.publications.values()]
        tasks = sum(1 for t in self._tasks if not t.done()) + sum(
            1 for p in publications if p.keyframes.running
        )
        return RoomStats(
            participants=len(participants),
            peer_connections=sum(
                1 for p in participants if p.pc is not None and p.pc.connectionState != "closed"
            ),
            tasks=tasks,
            publications=len(publications),
            forwarded_tracks=sum(len(p.outlets) for p in participants),
            frames_in=sum(p.frames_in for p in publications),
            frames_lost=sum(p.assembler.frames_lost for p in publications if p.assembler is not None),
            frames_dropped=sum(o.track.dropped for p in participants for o in p.outlets.values()),
            frames_sent=sum(o.track.sent for p in participants for o in p.outlets.values()),
        )

    def publication(self, participant_id: str, kind: str) -> Publication | None:
        """A participant's publication of `kind` (for metrics and tests)."""
        participant = self._participants.get(participant_id)
        return participant.publications.get(kind) if participant else None

    # --- internals ----------------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise RoomClosed(f"the media room of consult {self.consult_id} is closed")

    def _get(self, participant_id: object) -> _Participant:
        self._check_open()
        participant = self._participants.get(participant_id) if isinstance(participant_id, str) else None
        if participant is None:
            raise UnknownParticipant(f"participant {participant_id!r} has not joined this consult's media")
        return participant

    def _emit(self, participant_id: str, name: str, payload: dict[str, Any]) -> None:
        try:
            self._on_event(participant_id, name, payload)
        except Exception:
            logger.exception(
                "consult=%s participant=%s: %s event handler failed", self.consult_id, participant_id, name
            )

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _new_connection(self, participant: _Participant) -> RTCPeerConnection:
        pc = create_peer_connection(self.settings.server_ice_servers)
        participant.bound_receivers.clear()
        participant.numbers = PayloadMap()

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if participant.pc is pc:
                state = pc.connectionState
                logger.info("consult=%s %s connection %s", self.consult_id, participant.label, state)
                self._emit(participant.participant_id, "connection", {"state": state})
                if state == "connected" and participant.negotiation_wanted:
                    self._want_negotiation(participant)

        return pc

    async def _drop_connection(self, participant: _Participant) -> None:
        """Close a participant's connection; their publications stay (a reconnect feeds them again)."""
        pc, participant.pc = participant.pc, None
        for publication in participant.publications.values():
            publication.unbind()
        for outlet in [*participant.outlets.values(), *participant.idle]:
            outlet.track.stop()
        participant.outlets.clear()
        participant.idle.clear()
        participant.bound_receivers.clear()
        participant.early_candidates.clear()
        participant.negotiation_wanted = False
        if pc is not None:
            await pc.close()

    async def _drop_participant(self, participant: _Participant) -> None:
        task = participant.negotiation_task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        async with participant.lock:
            publications = list(participant.publications.values())
            participant.publications.clear()
            for publication in publications:
                await publication.close()
            await self._drop_connection(participant)

    def _bind_publications(self, participant: _Participant) -> bool:
        """Feed the participant's publications from the receivers of their connection; True if one is new."""
        assert participant.pc is not None
        created = False
        for transceiver in participant.pc.getTransceivers():
            receiver = transceiver.receiver
            if receiver.track is None or id(receiver) in participant.bound_receivers:
                continue
            participant.bound_receivers.add(id(receiver))
            kind = transceiver.kind
            codecs = [
                c
                for c in aiortc_internals.negotiated_codecs(transceiver)
                if not c.mimeType.lower().endswith("/rtx")
            ]
            try:
                codec = CodecInfo.from_parameters(codecs[0])
            except (IndexError, UnsupportedCodecError) as err:
                logger.warning(
                    "consult=%s %s: %s track not relayed: %s", self.consult_id, participant.label, kind, err
                )
                self._emit(
                    participant.participant_id, "error", {"code": "unsupported_codec", "message": str(err)}
                )
                continue
            publication = participant.publications.get(kind)
            if publication is not None and publication.assembler is not None:
                logger.info(
                    "consult=%s %s: extra %s track not relayed", self.consult_id, participant.label, kind
                )
                continue
            if publication is not None and publication.codec != codec:
                # Reconnected with another codec: the subscribers' senders must be renegotiated.
                participant.publications.pop(kind)
                self._spawn(
                    publication.close(), f"close {self.consult_id} {participant.participant_id} {kind}"
                )
                publication = None
            if publication is None:
                publication = Publication(
                    codec,
                    keyframe_interval_s=self.settings.keyframe_interval_s,
                    loss_wait_s=self.settings.loss_wait_s,
                    label=f"consult={self.consult_id} {participant.label} {kind}",
                )
                participant.publications[kind] = publication
                created = True
            publication.bind(receiver)
            self._set_enabled(publication, participant.sends(kind))
            if self._recorder is not None:
                self._recorder.attach(participant.participant_id, participant.user_id, publication)
            # A reconnected publisher: everyone attached waits for a keyframe from the new connection.
            for outlet in list(publication.outlets):
                outlet.attach(publication)
        return created

    @staticmethod
    def _set_enabled(publication: Publication, enabled: bool) -> None:
        if publication.enabled == enabled:
            return
        publication.enabled = enabled
        if enabled:
            for outlet in list(publication.outlets):
                outlet.attach(publication)  # from the next keyframe

    def _publications_of_others(self, participant: _Participant) -> bool:
        return any(other.publications for other in self._participants.values() if other is not participant)

    async def _apply_early_candidates(self, participant: _Participant) -> None:
        pc = participant.pc
        candidates, participant.early_candidates = participant.early_candidates, []
        if pc is None:
            return
        for candidate in candidates:
            try:
                await pc.addIceCandidate(candidate)
            except ValueError as err:
                logger.info(
                    "consult=%s %s: early candidate dropped: %s", self.consult_id, participant.label, err
                )

    # --- server-initiated renegotiation -------------------------------------------------------------------

    def _want_negotiation(self, participant: _Participant) -> None:
        participant.negotiation_wanted = True
        if self._closed or (
            participant.negotiation_task is not None and not participant.negotiation_task.done()
        ):
            return
        participant.negotiation_task = self._spawn(
            self._negotiate(participant), f"negotiate {self.consult_id} {participant.participant_id}"
        )

    async def _negotiate(self, participant: _Participant) -> None:
        """Offer the participant the current set of other participants' tracks, while something changed."""
        try:
            while participant.negotiation_wanted and not self._closed:
                async with participant.lock:
                    pc = participant.pc
                    if pc is None or pc.remoteDescription is None or pc.signalingState != "stable":
                        return  # offered again after the client's offer or answer
                    if pc.connectionState != "connected":
                        # aiortc's createOffer resets the transceivers' codecs to its own numbering,
                        # and its receivers take their payload types and header extensions when DTLS
                        # connects: offering before then renumbers what a browser sends (Chrome's
                        # opus 111 became 96) and every packet was dropped. Offered once connected.
                        return
                    participant.negotiation_wanted = False
                    if not self._sync_outlets(participant):
                        continue
                    prepare_gathering(pc, self.settings.host_addresses)
                    offer = await pc.createOffer()
                    aligned = align_offer(offer.sdp, participant.numbers)
                    await pc.setLocalDescription(RTCSessionDescription(sdp=aligned, type="offer"))
                    payload = {
                        "sdp": pc.localDescription.sdp,
                        "tracks": self._tracks(participant),
                        "participants": self._others(participant),
                    }
                self._emit(participant.participant_id, "offer", payload)
        except asyncio.CancelledError:
            raise
        except Exception as err:
            logger.exception("consult=%s %s: renegotiation failed", self.consult_id, participant.label)
            self._emit(
                participant.participant_id,
                "error",
                {"code": "renegotiation_failed", "message": f"{type(err).__name__}: {err}"},
            )

    def _sync_outlets(self, participant: _Participant) -> bool:
        """Make the participant's sendonly transceivers match the others' publications; True if any changed."""
        pc = participant.pc
        assert pc is not None
        wanted: dict[tuple[str, str], Publication] = {}
        for other in self._participants.values():
            if other is not participant:
                for kind, publication in other.publications.items():
                    wanted[(other.participant_id, kind)] = publication
        changed = False
        for key, existing in list(participant.outlets.items()):
            current = wanted.get(key)
            if current is None or current.codec != existing.track.codec:
                existing.track.detach()
                existing.publisher_id = None
                existing.transceiver.direction = "inactive"
                del participant.outlets[key]
                participant.idle.append(existing)
                changed = True
            elif existing.track.source is not current:
                existing.track.attach(current)
        for key, wanted_publication in wanted.items():
            if key in participant.outlets:
                continue
            publisher_id, kind = key
            publication = wanted_publication
            reusable = next(
                (o for o in participant.idle if o.track.kind == kind and o.track.codec == publication.codec),
                None,
            )
            if reusable is not None:
                outlet = reusable
                participant.idle.remove(outlet)
                outlet.transceiver.direction = "sendonly"
            else:
                transceiver = pc.addTransceiver(kind, direction="sendonly")
                transceiver.setCodecPreferences(publication.codec.preferences())
                bound = (
                    self.settings.video_queue_frames if kind == "video" else self.settings.audio_queue_frames
                )
                outlet = _Outlet(transceiver, ForwardedTrack(publication.codec, max_frames=bound))
                attach_sender(transceiver.sender, outlet.track)
            aiortc_internals.set_stream_id(outlet.transceiver.sender, publisher_id)
            outlet.publisher_id = publisher_id
            outlet.track.attach(publication)
            outlet.track.pause(kind == "video" and not participant.receive_video)
            participant.outlets[key] = outlet
            changed = True
        return changed

    def _tracks(self, participant: _Participant) -> dict[str, dict[str, str]]:
        tracks: dict[str, dict[str, str]] = {}
        for (publisher_id, kind), outlet in participant.outlets.items():
            publisher = self._participants.get(publisher_id)
            mid = outlet.transceiver.mid
            if publisher is not None and mid is not None:
                tracks[mid] = {
                    "participant_id": publisher_id,
                    "user_id": publisher.user_id,
                    "role": publisher.role,
                    "kind": kind,
                }
        return tracks

    def _others(self, participant: _Participant) -> dict[str, dict[str, Any]]:
        return {
            other.participant_id: {
                "user_id": other.user_id,
                "role": other.role,
                "audio": other.audio,
                "video": other.video,
            }
            for other in self._participants.values()
            if other is not participant
        }
