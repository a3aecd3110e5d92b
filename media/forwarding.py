"""Selective forwarding: encoded VP8, H.264 and Opus frames from a publisher to its subscribers, never decoded.

The path of a frame, and the design choices on it:

1. **In.** For a published track, `media.aiortc_internals.relay_receiver` takes over the receiver's packet
   handling: once a stream's first packet went aiortc's way, its later packets are decrypted (libsrtp called
   directly, `aiortc_internals.Srtp`), parsed (fixed header only, where libsrtp left the packet) and handed on
   right in the socket's datagram callback, with no aioice queue, task switch or
   header-extension parsing; aiortc's statistics for RTCP receiver reports, RTX unwrapping and NACKs are kept
   (NACKs by `NackTracker`, O(1) per packet), its REMB bandwidth estimator is not run (it was the largest
   per-packet cost; browsers keep their loss-based estimate from the receiver reports), and nothing is
   depayloaded. The `FrameAssembler` rebuilds the frame from its packets and **releases it on the packet
   that carries the RTP marker bit** (the last packet of a video frame), so a frame leaves the relay as soon
   as it is whole; aiortc's own buffer would hold it until the next frame's first packet (+33 ms at 30 fps).
   Packets that come in order with none missing (nearly all of them) are appended to a list and never enter
   the assembler's reordering dicts; the NACK tracker likewise only moves its newest number on.
   Audio packets are frames on their own and leave at once. Nothing reaches aiortc's decoder.
2. **Loss.** A video frame with a missing packet waits up to `loss_wait_s` for the retransmission that the
   NACK asked for; then the frame is dropped, and so are all frames up to the next keyframe (a decoder fed a
   frame whose reference is missing shows smeared garbage), and a keyframe is requested.
3. **Fan out.** A `Publication` gives the frame to each subscriber's `ForwardedTrack`. Once the subscriber's
   `RTCRtpSender` is started (connected), the track writes the frame at once through an
   `aiortc_internals.RtpWriter`: the publisher's RTP payloads as they came (no depayloading, no
   re-packetizing, no copy of the frame) under the subscriber sender's SSRC, payload type, sequence numbers,
   rebased timestamps and header extensions; NACKs from the subscriber are answered (RTX) from the writer's
   history, and the sender's RTCP sender reports keep counting. No task is woken per frame. Frames with no
   RTP payloads (made in tests) and tracks whose sender has not started go through the queue instead, read
   by the sender's own task as `av.Packet`s that aiortc re-packetizes.
4. **Queue bounds.** A frame written at once never waits, so delay cannot accumulate in the relay (the
   kernel drops datagrams a socket cannot take). The queue, when used, holds at most `video_queue_frames`
   video frames (`audio_queue_frames` for audio). When the sender cannot keep up (the process is
   overloaded), it is emptied rather than allowed to grow, the subscriber waits for the next keyframe, and
   one is requested: frames are dropped, delay never accumulates. Audio drops its oldest frame. A frame that
   cannot be written (not connected yet) is dropped the same way.
5. **Keyframes.** A subscriber gets its first frame only once a keyframe arrives. A keyframe is requested
   from the publisher (RTCP PLI) when a subscriber's sender starts reading (it joined and is connected), when
   it is attached to another publisher (a participant reconnected), when its queue overflowed, when the
   subscriber itself sends PLI or FIR, and when the relay lost a frame. `KeyframeRequester` sends at most one
   PLI per `keyframe_interval_s` per published track; a request made during that interval is sent when it
   ends (trailing edge), so a late joiner is never left without its keyframe, and while any subscriber still
   waits, every delta frame that arrives renews the request.
6. **Compiled.** The per-packet classes (`FrameAssembler`, `NackTracker`, `EncodedFrame`, and the packet
   path of `media.aiortc_internals`) are Cython, in media/fastpath.pyx: the same logic, with the state a
   packet touches in C fields (its docstring says why). The per-frame fan-out below stays Python.
7. **Timestamps.** Each `ForwardedTrack` rebases the publisher's RTP timestamps so they stay continuous when
   it is attached to another publication (a reconnecting participant keeps their tiles, the subscriber's
   jitter buffer sees no jump).
"""

from __future__ import annotations

import asyncio
import collections
import fractions
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import av
from aiortc import RTCRtpReceiver, RTCRtpSender
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcrtpparameters import RTCRtpCodecCapability, RTCRtpCodecParameters
from aiortc.rtp import RtpPacket

from media import aiortc_internals
from media.fastpath import EncodedFrame, Fanout, FrameAssembler, NackTracker, Outlet
from media.fastpath import depayload as depayload
from media.fastpath import is_keyframe as is_keyframe
from media.fastpath import vp8_descriptor_length as vp8_descriptor_length

logger = logging.getLogger(__name__)

#: The codecs the relay forwards (lower-case MIME types).
FORWARDABLE_CODECS = frozenset({"audio/opus", "video/vp8", "video/h264"})


#: What the frame assembler takes: a relayed packet, or (tests, fallbacks) a packet aiortc depayloaded.
Packet = aiortc_internals.RelayedPacket | RtpPacket


class UnsupportedCodecError(ValueError):
    """A track was negotiated with a codec the relay cannot forward."""


@dataclass(frozen=True)
class CodecInfo:
    """The codec a published track was negotiated with; its subscribers' senders must use the same."""

    kind: str
    mime_type: str
    clock_rate: int
    channels: int | None = None
    parameters: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.mime_type.lower() not in FORWARDABLE_CODECS:
            raise UnsupportedCodecError(
                f"codec {self.mime_type!r} cannot be forwarded; the relay forwards {sorted(FORWARDABLE_CODECS)}"
            )
        if self.kind != self.mime_type.split("/")[0].lower():
            raise ValueError(f"codec {self.mime_type!r} is not of kind {self.kind!r}")
        if self.clock_rate <= 0:
            raise ValueError(f"clock_rate must be positive, got {self.clock_rate!r}")

    @classmethod
    def from_parameters(cls, codec: RTCRtpCodecParameters) -> CodecInfo:
        """The codec of a negotiated transceiver (`aiortc_internals.negotiated_codecs(t)[0]`)."""
        return cls(
            kind=codec.mimeType.split("/")[0].lower(),
            mime_type=codec.mimeType,
            clock_rate=codec.clockRate,
            channels=codec.channels,
            parameters=tuple(sorted((str(k), str(v)) for k, v in codec.parameters.items())),
        )

    @property
    def name(self) -> str:
        """The codec name, e.g. ``VP8``."""
        return self.mime_type.split("/")[1]

    @property
    def time_base(self) -> fractions.Fraction:
        """The RTP clock as a time base: frame timestamps are counted in it."""
        return fractions.Fraction(1, self.clock_rate)

    def preferences(self) -> list[RTCRtpCodecCapability]:
        """Codec preferences that make a subscriber's transceiver negotiate exactly this codec (and RTX)."""
        wanted: list[RTCRtpCodecCapability] = []
        rtx: list[RTCRtpCodecCapability] = []
        for capability in RTCRtpSender.getCapabilities(self.kind).codecs:
            if capability.mimeType.lower() == f"{self.kind}/rtx":
                rtx.append(capability)
            elif (
                capability.mimeType.lower() == self.mime_type.lower()
                and tuple(sorted((str(k), str(v)) for k, v in capability.parameters.items()))
                == self.parameters
            ):
                wanted.append(capability)
        if not wanted:
            raise UnsupportedCodecError(f"aiortc cannot send {self.mime_type} with {dict(self.parameters)}")
        return wanted + rtx


class KeyframeRequester:
    """Sends an RTCP PLI to a publisher when asked, at most once per `interval_s`, never losing a request."""

    def __init__(
        self, send: Callable[[], Awaitable[None]], *, interval_s: float = 0.5, label: str = ""
    ) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s must be positive, got {interval_s!r}")
        self._send = send
        self._interval = interval_s
        self._label = label
        self._wanted = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        #: Requests received and PLIs sent (requests within one interval share a PLI).
        self.requested = 0
        self.sent = 0

    def request(self) -> None:
        """Ask for a keyframe (from the event loop's thread)."""
        if self._closed:
            return
        self.requested += 1
        self._wanted.set()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"keyframes {self._label}")

    async def _run(self) -> None:
        while True:
            await self._wanted.wait()
            self._wanted.clear()
            try:
                await self._send()
                self.sent += 1
            except ConnectionError:
                logger.debug("%s: PLI not sent, the publisher is not connected", self._label)
            await asyncio.sleep(self._interval)

    async def close(self) -> None:
        """Stop; no PLI is sent afterwards."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    @property
    def running(self) -> bool:
        """Whether its task is alive (for leak checks)."""
        return self._task is not None and not self._task.done()


class Publication:
    """One participant's published audio or video track, fanned out to its subscribers' `ForwardedTrack`s.

    It outlives the publisher's peer connection: when the participant reconnects, `bind` attaches the new
    receiver and the subscribers keep their tracks.
    """

    def __init__(
        self,
        codec: CodecInfo,
        *,
        keyframe_interval_s: float = 0.5,
        loss_wait_s: float = 0.1,
        label: str = "",
    ) -> None:
        self.codec = codec
        self.kind = codec.kind
        self.label = label
        self.outlets: set[ForwardedTrack] = set()
        #: Who else gets every relayed frame (a recorder): called on the event loop, must not block.
        self.taps: set[Callable[[EncodedFrame], None]] = set()
        # The per-frame fan-out over those two sets, compiled (`fastpath.Fanout`).
        self._fanout = Fanout(self.outlets, self.taps, self.request_keyframe)
        self._loss_wait = loss_wait_s
        self._receiver: RTCRtpReceiver | None = None
        self._assembler: FrameAssembler | None = None
        self.keyframes = KeyframeRequester(self._send_pli, interval_s=keyframe_interval_s, label=label)

    def bind(self, receiver: RTCRtpReceiver) -> FrameAssembler:
        """Take this track's frames from `receiver` (a new one when the publisher reconnects)."""
        assembler = FrameAssembler(
            self.codec, self._fanout, self.request_keyframe, loss_wait_s=self._loss_wait
        )
        aiortc_internals.relay_receiver(
            receiver, assembler.add, NackTracker() if self.kind == "video" else None
        )
        self._receiver = receiver
        self._assembler = assembler
        return assembler

    def unbind(self) -> None:
        """Forget the publisher's receiver (its peer connection is closing)."""
        self._receiver = None
        self._assembler = None

    @property
    def assembler(self) -> FrameAssembler | None:
        """The assembler of the bound receiver, if any."""
        return self._assembler

    @property
    def enabled(self) -> bool:
        """Whether frames are relayed (False: the publisher turned this track off)."""
        return self._fanout.enabled

    @enabled.setter
    def enabled(self, enabled: bool) -> None:
        self._fanout.enabled = enabled

    @property
    def frames_in(self) -> int:
        """Frames received from the publisher."""
        return self._fanout.frames_in

    def deliver(self, frame: EncodedFrame) -> None:
        """Give one frame to every tap and subscriber (called on the event loop by the assembler).

        Subscribers still waiting for a keyframe renew the request on each delta frame.
        """
        self._fanout(frame)

    def request_keyframe(self) -> None:
        """Ask the publisher for a keyframe (rate-limited; audio needs none)."""
        if self.kind == "video":
            self.keyframes.request()

    async def _send_pli(self) -> None:
        receiver, assembler = self._receiver, self._assembler
        if receiver is not None and assembler is not None and assembler.ssrc is not None:
            await aiortc_internals.send_pli(receiver, assembler.ssrc)

    async def close(self) -> None:
        """Detach every subscriber and stop requesting keyframes."""
        for outlet in list(self.outlets):
            outlet.detach()
        self.unbind()
        await self.keyframes.close()


class ForwardedTrack(MediaStreamTrack):
    """What one subscriber's `RTCRtpSender` reads: a publication's frames, as pre-encoded `av.Packet`s.

    Its forwarding state and per-frame step are a compiled `fastpath.Outlet` (``_outlet``), which writes
    frames at once once the sender started; the queue here is what the sender's task reads until then. It
    is bounded (see the module docstring); `paused` drops everything (the subscriber asked for audio only,
    or the publisher turned their camera off).
    """

    def __init__(self, codec: CodecInfo, *, max_frames: int) -> None:
        super().__init__()
        if max_frames < 1:
            raise ValueError(f"max_frames must be at least 1, got {max_frames!r}")
        self.kind = codec.kind
        self.codec = codec
        self._max = max_frames
        self._queue: collections.deque[EncodedFrame] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self._outlet = Outlet(
            codec.kind == "video",
            codec.clock_rate,
            codec.clock_rate // (30 if codec.kind == "video" else 50),
            self._enqueue,
        )

    @property
    def source(self) -> Publication | None:
        """The publication forwarded, or None."""
        source: Publication | None = self._outlet.source
        return source

    @property
    def dropped(self) -> int:
        """Frames dropped (queue overflow, not connected)."""
        return self._outlet.dropped

    @property
    def sent(self) -> int:
        """Frames sent (written at once, or read by the sender's task)."""
        return self._outlet.sent

    @property
    def waiting_keyframe(self) -> bool:
        """Whether this subscriber holds back delta frames until a keyframe."""
        return self._outlet.waiting_keyframe

    @property
    def paused(self) -> bool:
        """Whether frames are dropped instead of sent."""
        return self._outlet.paused

    def pause(self, paused: bool) -> None:
        """Stop (True) or resume (False) sending; resuming waits for a keyframe."""
        outlet = self._outlet
        if paused == outlet.paused:
            return
        outlet.paused = paused
        self._queue.clear()
        if not paused and self.kind == "video":
            outlet.waiting = True
            if outlet.started and outlet.source is not None:
                outlet.source.request_keyframe()

    def attach(self, publication: Publication) -> None:
        """Forward `publication`'s frames from now on (from its next keyframe, for video)."""
        if publication.codec != self.codec:
            raise UnsupportedCodecError(
                f"a {self.codec.mime_type} track cannot forward a {publication.codec.mime_type} publication"
            )
        self.detach()
        outlet = self._outlet
        outlet.source = publication
        publication.outlets.add(self)
        outlet.waiting = self.kind == "video"
        if outlet.started and not outlet.paused:
            publication.request_keyframe()

    def detach(self) -> None:
        """Stop forwarding; the sender keeps waiting (the transceiver may be reused)."""
        outlet = self._outlet
        if outlet.source is not None:
            outlet.source.outlets.discard(self)
            outlet.source = None
        self._queue.clear()

    def use_writer(self, writer: aiortc_internals.RtpWriter) -> None:
        """Send frames through `writer` as they are pushed (the sender started), instead of queueing them."""
        outlet = self._outlet
        outlet.writer = writer
        self._queue.clear()
        if not outlet.started:
            outlet.started = True
            if outlet.source is not None and not outlet.paused:
                outlet.source.request_keyframe()

    def push(self, frame: EncodedFrame) -> None:
        """Send one frame now, or queue it for the sender, dropping instead of growing (module docstring)."""
        self._outlet.push(frame)

    def _enqueue(self, frame: EncodedFrame) -> None:
        # A frame the outlet could not write at once (no writer yet, or no RTP payloads): the bounded queue.
        outlet = self._outlet
        queue = self._queue
        if len(queue) >= self._max:
            if self.kind == "video":
                outlet.dropped += len(queue) + (0 if frame.keyframe else 1)
                queue.clear()
                if not frame.keyframe:
                    outlet.waiting = True
                    if outlet.source is not None:
                        outlet.source.request_keyframe()
                    return
            else:
                queue.popleft()
                outlet.dropped += 1
        queue.append(frame)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def keyframe_requested(self) -> None:
        """The subscriber sent PLI or FIR: pass it on to the publisher."""
        if self._outlet.source is not None:
            self._outlet.source.request_keyframe()

    async def recv(self) -> av.Packet:
        """The next frame, as an `av.Packet` that `RTCRtpSender` only re-packetizes."""
        outlet = self._outlet
        if not outlet.started:
            outlet.started = True
            if outlet.source is not None and not outlet.paused:
                outlet.source.request_keyframe()
        while not self._queue:
            if self.readyState != "live":
                raise MediaStreamError
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        frame = self._queue.popleft()
        packet = av.Packet(frame.data)
        packet.pts = outlet.rebase(frame)
        packet.time_base = self.codec.time_base
        outlet.sent += 1
        return packet

    def stop(self) -> None:
        """End the track: the sender's pending `recv` raises `MediaStreamError`."""
        self.detach()
        super().stop()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


def attach_sender(sender: RTCRtpSender, track: ForwardedTrack) -> None:
    """Make `sender` send `track` and route its subscriber's PLI/FIR to the track's publisher."""
    sender.replaceTrack(track)
    aiortc_internals.on_keyframe_request(sender, track.keyframe_requested)
    aiortc_internals.on_sender_started(sender, track.use_writer)
