"""The media side's settings: ICE addresses and servers, queue bounds, keyframe pacing, worker count.

One frozen dataclass, checked on construction, and carried to worker processes as JSON (`to_json` /
`from_json`), so a worker runs with exactly the hub's settings.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from ipaddress import ip_address
from typing import Any

_ICE_SCHEMES = ("stun:", "stuns:", "turn:", "turns:")


@dataclass(frozen=True)
class IceServer:
    """One STUN or TURN server, as `RTCIceServer` takes it (browser or aiortc)."""

    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None

    def __post_init__(self) -> None:
        if not self.urls:
            raise ValueError("an ICE server needs at least one URL")
        for url in self.urls:
            if not url.startswith(_ICE_SCHEMES):
                raise ValueError(f"ICE server URL {url!r} must start with one of {_ICE_SCHEMES}")
            if url.startswith(("turn:", "turns:")) and (self.username is None or self.credential is None):
                raise ValueError(f"TURN server {url!r} needs a username and a credential")

    def as_dict(self) -> dict[str, Any]:
        """The `RTCIceServer` dictionary a browser takes."""
        server: dict[str, Any] = {"urls": list(self.urls)}
        if self.username is not None:
            server["username"] = self.username
        if self.credential is not None:
            server["credential"] = self.credential
        return server


@dataclass(frozen=True)
class MediaSettings:
    """How media workers relay: the defaults suit one machine and loopback tests."""

    #: The addresses the server's peer connections gather host candidates on (and so advertise). aioice would
    #: take every non-loopback interface and never 127.0.0.1; here nothing is implicit. Set the addresses the
    #: clients can reach.
    host_addresses: tuple[str, ...] = ("127.0.0.1",)
    #: STUN/TURN servers for the *server's own* peer connections. Empty by default: never aiortc's default
    #: public STUN server.
    server_ice_servers: tuple[IceServer, ...] = ()
    #: A subscriber's queue bound, in frames, before frames are dropped (see media/forwarding.py).
    video_queue_frames: int = 5
    audio_queue_frames: int = 10
    #: At most one keyframe request (RTCP PLI) per published video track per this interval.
    keyframe_interval_s: float = 0.5
    #: How long a video frame with a missing packet waits for its retransmission.
    loss_wait_s: float = 0.1
    #: Offers and answers larger than this are refused.
    max_sdp_bytes: int = 64 * 1024
    #: Trickled ICE candidates kept per participant until its offer arrives.
    max_early_candidates: int = 64
    #: Worker processes of a `MediaPool` (None: one per core).
    workers: int | None = None
    #: How long a worker call may take before `WorkerCallTimeout`.
    call_timeout_s: float = 10.0
    #: Length of a recording's segments: a worker that dies loses at most the one it was writing.
    segment_s: float = 10.0
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for address in self.host_addresses:
            try:
                ip_address(address)
            except ValueError as err:
                raise ValueError(f"host_addresses: {address!r} is not an IP address") from err
        if not self.host_addresses:
            raise ValueError("host_addresses must name at least one address clients can reach")
        if self.video_queue_frames < 1 or self.audio_queue_frames < 1:
            raise ValueError(
                f"queue bounds must be at least 1 frame, got video {self.video_queue_frames!r}, "
                f"audio {self.audio_queue_frames!r}"
            )
        if self.keyframe_interval_s <= 0 or self.loss_wait_s <= 0:
            raise ValueError(
                f"keyframe_interval_s and loss_wait_s must be positive, got {self.keyframe_interval_s!r}, "
                f"{self.loss_wait_s!r}"
            )
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers!r}")
        if self.segment_s <= 0:
            raise ValueError(f"segment_s must be positive, got {self.segment_s!r}")
        if self.call_timeout_s <= 0:
            raise ValueError(f"call_timeout_s must be positive, got {self.call_timeout_s!r}")

    @property
    def worker_count(self) -> int:
        """How many worker processes a pool starts."""
        return self.workers if self.workers is not None else max(1, os.cpu_count() or 1)

    def to_json(self) -> str:
        """These settings as JSON, for a worker process."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> MediaSettings:
        """Settings from `to_json`'s output."""
        raw = json.loads(text)
        if not isinstance(raw, dict):
            raise ValueError("media settings must be a JSON object")
        if "host_addresses" in raw:
            raw["host_addresses"] = tuple(raw["host_addresses"])
        if "server_ice_servers" in raw:
            raw["server_ice_servers"] = tuple(
                IceServer(tuple(s["urls"]), s.get("username"), s.get("credential"))
                for s in raw["server_ice_servers"]
            )
        return cls(**raw)
