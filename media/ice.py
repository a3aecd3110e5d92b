"""ICE for the server's peer connections: explicit servers, explicit host addresses, trickled candidates.

- aiortc falls back to a public Google STUN server when no ICE servers are configured (a 5 s DNS time-out on
  a machine without internet); `rtc_configuration` always passes an explicit list, empty by default.
- aioice gathers on every non-loopback interface; `prepare_gathering` makes a peer connection gather host
  candidates on exactly the configured addresses (127.0.0.1 works: tests run on loopback only).
- aiortc's offers and answers carry all of its candidates (gathering ends before `setLocalDescription`
  returns), so the server never trickles. Browsers do: `parse_candidate` reads their `RTCIceCandidate` JSON.
  `.local` (mDNS) candidates are dropped: the server cannot resolve them, and the browser's connectivity
  checks give a peer-reflexive candidate anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection
from aiortc.rtcconfiguration import RTCBundlePolicy
from aiortc.rtcicetransport import RTCIceCandidate
from aiortc.sdp import candidate_from_sdp

from media import aiortc_internals
from media.errors import InvalidCandidate
from media.settings import IceServer

MAX_CANDIDATE_CHARS = 1024


def rtc_configuration(ice_servers: Sequence[IceServer]) -> RTCConfiguration:
    """An explicit configuration (never aiortc's default STUN server), everything on one bundled transport."""
    return RTCConfiguration(
        iceServers=[RTCIceServer(list(s.urls), s.username, s.credential) for s in ice_servers],
        bundlePolicy=RTCBundlePolicy.MAX_BUNDLE,
    )


def create_peer_connection(ice_servers: Sequence[IceServer] = ()) -> RTCPeerConnection:
    """A peer connection with an explicit ICE configuration; call `prepare_gathering` before each local SDP."""
    return RTCPeerConnection(rtc_configuration(ice_servers))


def prepare_gathering(pc: RTCPeerConnection, host_addresses: Sequence[str]) -> None:
    """Make `pc`'s ICE transports that have not gathered yet use exactly `host_addresses` as host candidates."""
    aiortc_internals.gather_on(pc, host_addresses)


def is_end_of_candidates(candidate: Any) -> bool:
    """Whether a trickled candidate says the browser has gathered all (``null`` or an empty candidate line)."""
    return candidate is None or (isinstance(candidate, dict) and candidate.get("candidate") == "")


def parse_candidate(candidate: Any) -> RTCIceCandidate | None:
    """A browser's trickled candidate (``RTCIceCandidate.toJSON()``) as aiortc takes it.

    Returns None for a candidate to ignore (mDNS). Raises `InvalidCandidate` naming the problem otherwise.
    Check `is_end_of_candidates` first.
    """
    if not isinstance(candidate, dict):
        raise InvalidCandidate("candidate must be an object with candidate, sdpMid and sdpMLineIndex")
    line = candidate.get("candidate")
    if not isinstance(line, str) or len(line) > MAX_CANDIDATE_CHARS:
        raise InvalidCandidate(
            f"candidate.candidate must be a string of at most {MAX_CANDIDATE_CHARS} characters"
        )
    if not line:
        raise InvalidCandidate("candidate.candidate is empty (end of candidates is not a candidate)")
    mid = candidate.get("sdpMid")
    index = candidate.get("sdpMLineIndex")
    if mid is not None and not isinstance(mid, str):
        raise InvalidCandidate("candidate.sdpMid must be a string")
    if index is not None and (not isinstance(index, int) or isinstance(index, bool) or index < 0):
        raise InvalidCandidate("candidate.sdpMLineIndex must be a non-negative integer")
    if mid is None and index is None:
        raise InvalidCandidate("candidate needs sdpMid or sdpMLineIndex")
    text = line.removeprefix("a=").removeprefix("candidate:")
    try:
        parsed = candidate_from_sdp(text)
    except (ValueError, IndexError) as err:
        raise InvalidCandidate(f"candidate.candidate is not an ICE candidate line: {err}") from err
    if parsed.protocol.lower() not in ("udp", "tcp") or not 0 < parsed.port < 65536:
        raise InvalidCandidate(f"candidate has protocol {parsed.protocol!r} and port {parsed.port!r}")
    if parsed.ip.endswith(".local"):
        return None
    parsed.sdpMid = mid
    parsed.sdpMLineIndex = index
    return parsed
