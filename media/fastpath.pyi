"""Types of the compiled fast path (media/fastpath.pyx)."""

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

SOURCE_SHA256: str
DRAIN_DATAGRAMS: int
ABS_SEND_TIME_MARK: int
ACTIVE_SSRC_RESOLUTION_S: float

def ntp_now() -> int: ...

class RelayedPacket:
    payload_type: int
    marker: int
    sequence_number: int
    timestamp: int
    ssrc: int
    payload: bytes
    def __init__(
        self, payload_type: int, marker: int, sequence_number: int, timestamp: int, ssrc: int, payload: bytes
    ) -> None: ...

def parse_rtp(data: bytes) -> RelayedPacket: ...

class Srtp:
    def __init__(
        self, session: Any, protect: int, unprotect: int, protect_rtcp: int, unprotect_rtcp: int
    ) -> None: ...
    def unprotect_rtp(self, data: bytes) -> RelayedPacket: ...
    def protect(self, header: bytes, payload: bytes) -> bytes: ...
    def protect_rtcp(self, packet: bytes) -> bytes: ...
    def unprotect_rtcp(self, data: bytes) -> bytes: ...

class StreamStatistics:
    cycles: int
    packets_received: int
    def __init__(self, clockrate: int) -> None: ...
    @property
    def base_seq(self) -> int | None: ...
    @property
    def max_seq(self) -> int | None: ...
    def add(self, packet: Any) -> None: ...
    @property
    def fraction_lost(self) -> int: ...
    @property
    def jitter(self) -> int: ...
    @property
    def packets_expected(self) -> int: ...
    @property
    def packets_lost(self) -> int: ...

class EncodedFrame:
    payloads: list[bytes] | None
    timestamp: int
    keyframe: bool
    arrival: float
    epoch: int
    def __init__(
        self,
        data: bytes | None,
        timestamp: int,
        keyframe: bool,
        arrival: float,
        epoch: int,
        payloads: list[bytes] | None = None,
        join: Callable[[], bytes] | None = None,
    ) -> None: ...
    @property
    def data(self) -> bytes: ...

def is_keyframe(mime_type: str, data: bytes) -> bool: ...
def vp8_descriptor_length(payload: bytes) -> int: ...
def depayload(mime_type: str, payload: bytes) -> bytes: ...

class Unwrapper:
    def __init__(self, bits: int) -> None: ...
    def unwrap(self, value: int) -> int: ...
    def advance(self, extended: int) -> None: ...

class NackTracker:
    def __init__(self, history: int = 128) -> None: ...
    def add(self, sequence_number: int) -> bool: ...
    def missing(self) -> list[int]: ...

class FrameAssembler:
    codec: Any
    ssrc: int | None
    epoch: int
    frames: int
    frames_lost: int
    def __init__(
        self,
        codec: Any,
        on_frame: Callable[[EncodedFrame], None],
        on_need_keyframe: Callable[[], None],
        *,
        loss_wait_s: float = 0.1,
        capacity: int = 512,
        clock: Callable[[], float] = ...,
    ) -> None: ...
    @property
    def waiting_keyframe(self) -> bool: ...
    def add(self, packet: Any) -> tuple[bool, None]: ...

class ReceiverTap:
    def __init__(
        self,
        receiver: Any,
        codecs: dict[int, Any],
        streams: dict[int, Any],
        active: dict[int, Any],
        handler: Callable[[Any], object],
        nacks: Any,
        send_nacks: Callable[[int], None],
        now_datetime: Callable[[], Any],
    ) -> None: ...
    def __call__(self, packet: Any) -> None: ...

class Inbound:
    def __init__(
        self,
        dtls: Any,
        routes: dict[int, Any],
        protocol: asyncio.DatagramProtocol,
        transport: Any,
        srtp_of: Callable[[Any], Srtp],
        on_rtcp: Callable[[bytes], None] | None = ...,
    ) -> None: ...
    def __call__(self, data: bytes, addr: Any) -> None: ...
    def read_ready(self) -> None: ...

class RtpLink:
    def __init__(
        self, dtls: Any, srtp_of: Callable[[Any], Srtp], on_rtcp: Callable[[bytes], None] | None = ...
    ) -> None: ...
    def send(self, header: bytes, payload: bytes) -> None: ...
    def send_all(self, packets: Sequence[tuple[bytes, bytes]]) -> None: ...
    def send_rtcp(self, packet: bytes) -> None: ...
    def route(self, ssrc: int, handler: Callable[[Any], object]) -> None: ...
    def handler(self, ssrc: int) -> Callable[[Any], object] | None: ...
    def unroute(self, handler: Callable[[Any], object]) -> None: ...

class RtpWriter:
    packets: int
    octets: int
    header_extensions: Any
    mid: str | None
    def __init__(
        self,
        sender: Any,
        link: RtpLink,
        payload_type: int,
        rtx_payload_type: int | None,
        extension: bytes,
        extension_at: int,
        header_extensions: Any = None,
        mid: str | None = None,
    ) -> None: ...
    @property
    def sequence(self) -> int: ...
    def write(self, payloads: Sequence[bytes], timestamp: int) -> None: ...
    def sent_packet(self, sequence_number: int) -> tuple[bytes, bytes] | None: ...
    async def retransmit(self, sequence_number: int) -> None: ...

class Outlet:
    video: bool
    paused: bool
    started: bool
    waiting: bool
    source: Any
    dropped: int
    sent: int
    writer: RtpWriter | None
    def __init__(
        self, video: bool, clock_rate: int, step: int, enqueue: Callable[[EncodedFrame], None]
    ) -> None: ...
    @property
    def waiting_keyframe(self) -> bool: ...
    def push(self, frame: EncodedFrame) -> None: ...
    def rebase(self, frame: EncodedFrame) -> int: ...

class Fanout:
    enabled: bool
    frames_in: int
    def __init__(self, tracks: set[Any], taps: set[Any], request_keyframe: Callable[[], None]) -> None: ...
    def __call__(self, frame: EncodedFrame) -> None: ...
