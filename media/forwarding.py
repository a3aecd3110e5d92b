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
6. **Timestamps.** Each `ForwardedTrack` rebases the publisher's RTP timestamps so they stay continuous when
   it is attached to another publication (a reconnecting participant keeps their tiles, the subscriber's
   jitter buffer sees no jump).
"""

from __future__ import annotations

import asyncio
import collections
import fractions
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import av
from aiortc import RTCRtpReceiver, RTCRtpSender
from aiortc.codecs.h264 import h264_depayload
from aiortc.codecs.vpx import vp8_depayload
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcrtpparameters import RTCRtpCodecCapability, RTCRtpCodecParameters
from aiortc.rtp import RtpPacket

from media import aiortc_internals

logger = logging.getLogger(__name__)

#: The codecs the relay forwards (lower-case MIME types).
FORWARDABLE_CODECS = frozenset({"audio/opus", "video/vp8", "video/h264"})
#: What `FrameAssembler.add` returns: aiortc must neither send its own PLI nor decode anything.
_NOTHING: tuple[bool, None] = (False, None)
_VP8_KEYFRAME_START_CODE = b"\x9d\x01\x2a"


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


def is_keyframe(mime_type: str, data: bytes) -> bool:
    """Whether an encoded frame can be decoded on its own (every Opus frame can)."""
    mime = mime_type.lower()
    if mime == "video/vp8":
        # RFC 6386 section 9.1: bit 0 of the frame tag is 0 for key frames, which carry a start code.
        return len(data) >= 10 and not data[0] & 0x01 and data[3:6] == _VP8_KEYFRAME_START_CODE
    if mime == "video/h264":
        return any(nal_type == 5 for nal_type in _h264_nal_types(data))
    return True


def vp8_descriptor_length(payload: bytes) -> int:
    """The length of a VP8 RTP payload descriptor (RFC 7741 section 4.2), or -1 when it is truncated.

    What `aiortc.codecs.vpx.VpxPayloadDescriptor.parse` skips, without building the descriptor.
    """
    size = len(payload)
    if size < 1:
        return -1
    if not payload[0] & 0x80:  # no extended control bits
        return 1
    if size < 2:
        return -1
    extended = payload[1]
    position = 2
    if extended & 0x80:  # PictureID, 7 or 15 bits
        if size < position + 1:
            return -1
        position += 2 if payload[position] & 0x80 else 1
    if extended & 0x40:  # TL0PICIDX
        position += 1
    if extended & 0x30:  # TID/Y/KEYIDX
        position += 1
    return position if position <= size else -1


def _h264_nal_types(data: bytes) -> list[int]:
    """NAL unit types of an Annex B byte stream (what aiortc's H.264 depayloader produces)."""
    types = []
    position = data.find(b"\x00\x00\x01")
    while position != -1 and position + 3 < len(data):
        types.append(data[position + 3] & 0x1F)
        position = data.find(b"\x00\x00\x01", position + 3)
    return types


class _Unwrapper:
    """Extends RTP sequence numbers or timestamps past their wrap-around, allowing for reordering."""

    def __init__(self, bits: int) -> None:
        self._mask = (1 << bits) - 1
        self._half = 1 << (bits - 1)
        self._last: int | None = None

    def unwrap(self, value: int) -> int:
        if self._last is None:
            self._last = value + self._mask + 1
            return self._last
        delta = (value - self._last) & self._mask
        if delta >= self._half:
            delta -= self._mask + 1
        extended = self._last + delta
        if delta > 0:
            self._last = extended
        return extended

    def advance(self, extended: int) -> None:
        """Take `extended`, the value that follows the last one, as the newest (what `unwrap` would do)."""
        self._last = extended


def depayload(mime_type: str, payload: bytes) -> bytes:
    """The codec data of one RTP payload (VP8 and H.264 payloads carry a descriptor; Opus is its payload)."""
    mime = mime_type.lower()
    if mime == "video/vp8":
        return vp8_depayload(payload)
    if mime == "video/h264":
        return h264_depayload(payload)
    return payload


class NackTracker:
    """The packets missing from one RTP stream, for NACKs: O(1) amortized per packet.

    aiortc's `NackGenerator` walks every missing packet on every packet it receives; here the missing
    sequence numbers are kept in arrival order, so forgetting the old ones only looks at the oldest.
    At most `history` packets behind the newest are asked for (aiortc: `RTP_HISTORY_SIZE`).
    """

    def __init__(self, history: int = 128) -> None:
        if history < 1:
            raise ValueError(f"history must be at least 1, got {history!r}")
        self._history = history
        self._seq = _Unwrapper(16)
        self._max: int | None = None
        self._missing: collections.OrderedDict[int, None] = collections.OrderedDict()

    def add(self, sequence_number: int) -> bool:
        """Note a received packet; True when it revealed newly missing packets (a NACK is due)."""
        newest = self._max
        if newest is not None and sequence_number == (newest + 1) & 0xFFFF and not self._missing:
            # The next packet in order with nothing missing (the common case): only the newest moves on.
            self._max = newest + 1
            self._seq.advance(newest + 1)
            return False
        extended = self._seq.unwrap(sequence_number)
        if self._max is None:
            self._max = extended
            return False
        missing = self._missing
        if extended <= self._max:
            missing.pop(extended, None)  # a retransmission or a reordered packet
            return False
        oldest = extended - self._history
        for seq in range(max(self._max + 1, oldest), extended):
            missing[seq] = None
        missed = extended > self._max + 1
        self._max = extended
        while missing and next(iter(missing)) < oldest:
            missing.popitem(last=False)
        return missed

    def missing(self) -> list[int]:
        """The missing sequence numbers, oldest first."""
        return [seq & 0xFFFF for seq in self._missing]


class EncodedFrame:
    """One whole encoded frame as the publisher sent it.

    A frame from a `FrameAssembler` also has `payloads`, its RTP payloads as they arrived: a subscriber's
    `RtpWriter` sends those as they are (no depayloading, no re-packetizing), and `data` is only built if
    something asks for it.
    """

    __slots__ = ("_bytes", "_join", "arrival", "epoch", "keyframe", "payloads", "timestamp")

    def __init__(
        self,
        data: bytes | None,
        timestamp: int,
        keyframe: bool,
        arrival: float,
        epoch: int,
        payloads: list[bytes] | None = None,
        join: Callable[[], bytes] | None = None,
    ) -> None:
        if data is None and join is None:
            raise ValueError("an EncodedFrame needs its data or a way to join it")
        self._bytes = data
        self._join = join
        self.payloads = payloads
        #: In the codec's clock, counted from the first frame of this `epoch` (may be negative after reordering).
        self.timestamp = timestamp
        self.keyframe = keyframe
        #: `time.monotonic()` when its last packet arrived.
        self.arrival = arrival
        #: Changes when the publisher's stream restarts (new SSRC): timestamps of two epochs are unrelated.
        self.epoch = epoch

    @property
    def data(self) -> bytes:
        """The encoded frame (depayloaded, joined)."""
        if self._bytes is None:
            assert self._join is not None
            self._bytes = self._join()
        return self._bytes


class FrameAssembler:
    """Rebuilds frames from a receiver's depayloaded RTP packets; releases each frame on its marker packet.

    It takes the place of aiortc's jitter buffer (same `add` shape) but never returns a frame to aiortc:
    whole frames go to `on_frame`, and `on_need_keyframe` is called when a frame was lost (the stream then
    waits for a keyframe) or when the stream starts with a delta frame.
    """

    def __init__(
        self,
        codec: CodecInfo,
        on_frame: Callable[[EncodedFrame], None],
        on_need_keyframe: Callable[[], None],
        *,
        loss_wait_s: float = 0.1,
        capacity: int = 512,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if loss_wait_s <= 0:
            raise ValueError(f"loss_wait_s must be positive, got {loss_wait_s!r}")
        self.codec = codec
        self._video = codec.kind == "video"
        self._mime = codec.mime_type.lower()
        self._on_frame = on_frame
        self._on_need_keyframe = on_need_keyframe
        self._loss_wait = loss_wait_s
        self._capacity = capacity
        self._clock = clock
        self.ssrc: int | None = None
        self.epoch = 0
        #: Frames released, and frames given up (lost, or skipped while waiting for a keyframe).
        self.frames = 0
        self.frames_lost = 0
        self._reset()

    def _reset(self) -> None:
        self._seq = _Unwrapper(16)
        self._ts = _Unwrapper(32)
        self._ts_origin: int | None = None
        self._next: int | None = None
        self._packets: dict[int, Packet] = {}
        self._markers: dict[int, float] = {}
        # The common case, kept out of the dicts above: packets in order from `_next` on, none missing, the
        # frame's last one not in yet. Whenever that stops being so, the run moves into `_packets`.
        self._run: list[Packet] = []
        self._waiting_keyframe = self._video

    @property
    def waiting_keyframe(self) -> bool:
        """Whether frames are held back until the publisher sends a keyframe."""
        return self._waiting_keyframe

    def add(self, packet: Packet) -> tuple[bool, None]:
        """Take one packet (a relayed one, or one that aiortc's receiver depayloaded for its jitter buffer)."""
        if packet.ssrc != self.ssrc:
            if self.ssrc is not None:
                self.epoch += 1
            self.ssrc = packet.ssrc
            self._reset()
        extended = self._seq.unwrap(packet.sequence_number)
        run = self._run
        if (
            self._video
            and self._next is not None
            and extended == self._next + len(run)
            and not self._packets
            and len(run) < self._capacity
        ):
            # In order, nothing missing (the fast path): the frame is whole on its marker.
            run.append(packet)
            if packet.marker:
                self._next = extended + 1
                self._run = []
                self._complete(run, self._clock())
            return _NOTHING
        if run:
            self._unstage()
        now = self._clock()
        if self._next is not None and extended < self._next:
            return _NOTHING  # a duplicate, or too late: its frame was released or given up
        if not self._video:
            self._next = extended + 1
            payload = packet.payload
            if payload:
                data = aiortc_internals.packet_data(packet)
                self._release(
                    EncodedFrame(payload if data is None else data, 0, True, now, self.epoch, [payload]),
                    packet.timestamp,
                )
            return _NOTHING
        if extended in self._packets:
            return _NOTHING
        self._packets[extended] = packet
        if packet.marker:
            self._markers[extended] = now
        if self._next is None:
            # Join the stream on its first frame boundary.
            if packet.marker:
                self._discard_through(extended)
                self._next = extended + 1
            elif len(self._packets) > self._capacity:
                self._packets.clear()
            return _NOTHING
        if self._markers or len(self._packets) > self._capacity:
            # (With no frame's last packet in, no frame can be complete: nothing to look at.)
            self._drain(now)
        return _NOTHING

    def _unstage(self) -> None:
        # The run leaves the fast path: its packets join the others (it holds no frame's last packet).
        assert self._next is not None
        packets = self._packets
        for offset, staged in enumerate(self._run, self._next):
            packets[offset] = staged
        self._run = []

    def _drain(self, now: float) -> None:
        packets = self._packets
        while self._next is not None:
            start = self._next
            # Padding packets (no payload) between frames belong to no frame.
            while (p := packets.get(start)) is not None and not p.marker and not p.payload:
                del packets[start]
                start += 1
            self._next = start
            end = start
            while (p := packets.get(end)) is not None and not p.marker:
                end += 1
            if p is not None:
                run = [packets.pop(seq) for seq in range(start, end + 1)]
                del self._markers[end]
                self._next = end + 1
                self._complete(run, now)
                continue
            # A packet is missing. Wait for its retransmission while the later frames are recent.
            if not self._markers:
                if len(packets) > self._capacity:
                    self._lose()
                    self._packets.clear()
                    self._next = None
                return
            boundary = min(self._markers)
            if len(packets) <= self._capacity and now - self._markers[boundary] < self._loss_wait:
                return
            self._discard_through(boundary)
            self._next = boundary + 1
            self._lose()

    def _discard_through(self, last: int) -> None:
        for seq in [s for s in self._packets if s <= last]:
            del self._packets[seq]
        for seq in [s for s in self._markers if s <= last]:
            del self._markers[seq]

    def _frame_data(self, packet: Packet) -> bytes:
        data = aiortc_internals.packet_data(packet)
        return depayload(self._mime, packet.payload) if data is None else data

    def _complete(self, run: list[Packet], now: float) -> None:
        timestamp = run[-1].timestamp
        kept = []
        for p in run:
            if p.payload:
                if p.timestamp != timestamp:
                    # The previous frame's marker never came: this run mixes two frames.
                    self._lose()
                    return
                kept.append(p)
        if not kept:
            return

        def join() -> bytes:
            return b"".join([self._frame_data(p) for p in kept])

        frame = EncodedFrame(None, 0, False, now, self.epoch, [p.payload for p in kept], join)
        if self._mime == "video/vp8":
            # The frame tag is in the first packet, after its payload descriptor.
            first = kept[0]
            data = aiortc_internals.packet_data(first)
            if data is None:
                payload = first.payload
                start = vp8_descriptor_length(payload)
                # A truncated descriptor is no keyframe (the relay forwards what it cannot read as it came).
                data = payload[start : start + 10] if start >= 0 else b""
                if start >= 0 and len(data) < 10 and len(kept) > 1:
                    data = frame.data  # a first packet too short to hold the frame tag and start code
            frame.keyframe = is_keyframe(self._mime, data)
        else:
            frame.keyframe = is_keyframe(self._mime, frame.data)
        self._release(frame, timestamp)

    def _release(self, frame: EncodedFrame, rtp_timestamp: int) -> None:
        if self._waiting_keyframe:
            if not frame.keyframe:
                self.frames_lost += 1
                self._on_need_keyframe()
                return
            self._waiting_keyframe = False
        extended = self._ts.unwrap(rtp_timestamp)
        if self._ts_origin is None:
            self._ts_origin = extended
        self.frames += 1
        frame.timestamp = extended - self._ts_origin
        self._on_frame(frame)

    def _lose(self) -> None:
        self.frames_lost += 1
        self._waiting_keyframe = True
        self._on_need_keyframe()


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
        self.enabled = True
        self.outlets: set[ForwardedTrack] = set()
        #: Who else gets every relayed frame (a recorder): called on the event loop, must not block.
        self.taps: set[Callable[[EncodedFrame], None]] = set()
        self.frames_in = 0
        self._loss_wait = loss_wait_s
        self._receiver: RTCRtpReceiver | None = None
        self._assembler: FrameAssembler | None = None
        self.keyframes = KeyframeRequester(self._send_pli, interval_s=keyframe_interval_s, label=label)

    def bind(self, receiver: RTCRtpReceiver) -> FrameAssembler:
        """Take this track's frames from `receiver` (a new one when the publisher reconnects)."""
        assembler = FrameAssembler(
            self.codec, self.deliver, self.request_keyframe, loss_wait_s=self._loss_wait
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

    def deliver(self, frame: EncodedFrame) -> None:
        """Give one frame to every subscriber (called on the event loop by the assembler)."""
        self.frames_in += 1
        if not self.enabled:
            return
        for tap in self.taps:
            tap(frame)
        waiting = False
        for outlet in self.outlets:
            outlet.push(frame)
            waiting = waiting or outlet.waiting_keyframe
        if waiting and not frame.keyframe:
            self.request_keyframe()

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

    The queue is bounded (see the module docstring); `paused` drops everything (the subscriber asked for
    audio only, or the publisher turned their camera off).
    """

    def __init__(self, codec: CodecInfo, *, max_frames: int) -> None:
        super().__init__()
        if max_frames < 1:
            raise ValueError(f"max_frames must be at least 1, got {max_frames!r}")
        self.kind = codec.kind
        self.codec = codec
        self.source: Publication | None = None
        self.dropped = 0
        self.sent = 0
        self._max = max_frames
        self._queue: collections.deque[EncodedFrame] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self._started = False
        self._paused = False
        self._waiting_keyframe = codec.kind == "video"
        self._writer: aiortc_internals.RtpWriter | None = None
        # Timestamp rebasing: output = input + offset, continuous across sources and epochs.
        self._offset = 0
        self._last_out: int | None = None
        self._epoch: tuple[int, int] | None = None
        self._step = codec.clock_rate // (30 if codec.kind == "video" else 50)

    @property
    def waiting_keyframe(self) -> bool:
        """Whether this subscriber holds back delta frames until a keyframe."""
        return self._waiting_keyframe and self._started and not self._paused

    @property
    def paused(self) -> bool:
        """Whether frames are dropped instead of sent."""
        return self._paused

    def pause(self, paused: bool) -> None:
        """Stop (True) or resume (False) sending; resuming waits for a keyframe."""
        if paused == self._paused:
            return
        self._paused = paused
        self._queue.clear()
        if not paused and self.kind == "video":
            self._waiting_keyframe = True
            if self._started and self.source is not None:
                self.source.request_keyframe()

    def attach(self, publication: Publication) -> None:
        """Forward `publication`'s frames from now on (from its next keyframe, for video)."""
        if publication.codec != self.codec:
            raise UnsupportedCodecError(
                f"a {self.codec.mime_type} track cannot forward a {publication.codec.mime_type} publication"
            )
        self.detach()
        self.source = publication
        publication.outlets.add(self)
        self._waiting_keyframe = self.kind == "video"
        if self._started and not self._paused:
            publication.request_keyframe()

    def detach(self) -> None:
        """Stop forwarding; the sender keeps waiting (the transceiver may be reused)."""
        if self.source is not None:
            self.source.outlets.discard(self)
            self.source = None
        self._queue.clear()

    def use_writer(self, writer: aiortc_internals.RtpWriter) -> None:
        """Send frames through `writer` as they are pushed (the sender started), instead of queueing them."""
        self._writer = writer
        self._queue.clear()
        if not self._started:
            self._started = True
            if self.source is not None and not self._paused:
                self.source.request_keyframe()

    def push(self, frame: EncodedFrame) -> None:
        """Send one frame now, or queue it for the sender, dropping instead of growing (module docstring)."""
        if self._paused or not self._started:
            return
        if self._waiting_keyframe:
            if not frame.keyframe:
                return
            self._waiting_keyframe = False
        writer = self._writer
        if writer is not None and frame.payloads is not None:
            # Nothing waits: the frame's packets are written to the subscriber's socket right now.
            try:
                writer.write(frame.payloads, self._rebase(frame))
            except ConnectionError:
                # Not connected yet (or any more): start again from a keyframe once it is.
                self.dropped += 1
                if self.kind == "video":
                    self._waiting_keyframe = True
                    if self.source is not None:
                        self.source.request_keyframe()
                return
            self.sent += 1
            return
        queue = self._queue
        if len(queue) >= self._max:
            if self.kind == "video":
                self.dropped += len(queue) + (0 if frame.keyframe else 1)
                queue.clear()
                if not frame.keyframe:
                    self._waiting_keyframe = True
                    if self.source is not None:
                        self.source.request_keyframe()
                    return
            else:
                queue.popleft()
                self.dropped += 1
        queue.append(frame)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def keyframe_requested(self) -> None:
        """The subscriber sent PLI or FIR: pass it on to the publisher."""
        if self.source is not None:
            self.source.request_keyframe()

    async def recv(self) -> av.Packet:
        """The next frame, as an `av.Packet` that `RTCRtpSender` only re-packetizes."""
        if not self._started:
            self._started = True
            if self.source is not None and not self._paused:
                self.source.request_keyframe()
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
        packet.pts = self._rebase(frame)
        packet.time_base = self.codec.time_base
        self.sent += 1
        return packet

    def _rebase(self, frame: EncodedFrame) -> int:
        epoch = (id(self.source), frame.epoch)
        if epoch != self._epoch:
            self._epoch = epoch
            start = 0 if self._last_out is None else self._last_out + self._step
            self._offset = start - frame.timestamp
        out = frame.timestamp + self._offset
        if self._last_out is not None and out <= self._last_out - (self.codec.clock_rate * 2):
            # A timestamp far behind the last one (a publisher restarted mid-epoch): start afresh.
            self._offset = self._last_out + self._step - frame.timestamp
            out = frame.timestamp + self._offset
        self._last_out = out
        return out

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
