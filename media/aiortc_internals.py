"""Every use of aiortc's and aioice's private names, in one place, checked when this module is imported.

aiortc has no public API for forwarding encoded media (its maintainers decline packet forwarding upstream),
so the relay reaches into it at a handful of points. Each is wrapped here by a small function with a typed,
public-looking signature; nothing else in Jiayi touches a private aiortc or aioice name.

The points, and why each is needed:

- ``RTCRtpReceiver.__jitter_buffer`` is replaced by the relay's frame assembler
  (`media.forwarding.FrameAssembler`, which has the same ``add(packet) -> (pli, frame)`` shape). aiortc's
  receiver keeps doing everything else it does for a packet (SRTP, statistics for its RTCP receiver reports,
  REMB, NACK, RTX unwrapping, depayloading into ``packet._data``), but the frame goes to the relay instead of
  the decoder thread, which then stays idle: nothing is decoded. aiortc's own jitter buffer releases a frame
  only when the next frame's first packet arrives (about 33 ms per hop at 30 fps); the assembler releases it
  on its marker packet.
- ``RtpPacket._data``: the depayloaded bytes that the receiver stores on the packet before the jitter buffer.
- ``RTCRtpReceiver._send_rtcp_pli(media_ssrc)``: sends an RTCP PLI to the publisher (keyframe request).
- ``RTCRtpSender._send_keyframe()``: called by the sender when its remote peer sends PLI or FIR. The relay
  replaces it on each forwarding sender so that a subscriber's keyframe request reaches the publisher; with
  pre-encoded frames the sender has no encoder to force a keyframe from.
- ``RTCRtpSender._stream_id``: the stream id put in the SDP ``a=msid`` line. Set to the publishing participant's
  id, so a browser groups that participant's audio and video in one MediaStream (and syncs them).
- ``RTCRtpTransceiver._codecs``: the codecs negotiated for a transceiver, in payload-type order.
- ``RTCIceGatherer._connection`` and aioice's ``Connection._components``, ``_local_candidates``,
  ``_local_candidates_start``, ``_local_candidates_end``, ``_transport_policy`` and ``get_component_candidates``: aioice gathers host
  candidates on every non-loopback interface and has no option to choose them. `gather_on` makes one
  connection gather on exactly the configured addresses (127.0.0.1 included), without patching aioice for the
  whole process.

The pinned aiortc version is checked, then every name and the code path that uses it (by reading aiortc's
source: that the receiver really hands ``packet`` to ``self.__jitter_buffer.add``, and so on). Any mismatch
raises `AiortcInternalsError` at import, naming what changed: a worker fails to start rather than relaying
garbage. `tests/media/test_aiortc_internals.py` runs the same checks.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

import aiortc
from aioice import Connection, TransportPolicy
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver
from aiortc import rtcpeerconnection as _rtcpeerconnection
from aiortc.rtcicetransport import RTCIceGatherer
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import RtpPacket

#: The aiortc version whose internals this module was written and checked against (pyproject pins it).
PINNED_AIORTC_VERSION = "1.16.0"


class AiortcInternalsError(RuntimeError):
    """aiortc or aioice no longer has a private name, or a code path, that the relay relies on."""


class JitterBufferLike(Protocol):
    """What `RTCRtpReceiver._handle_rtp_packet` calls on its jitter buffer."""

    def add(self, packet: RtpPacket) -> tuple[bool, Any]: ...


def _source(obj: object) -> str:
    try:
        return inspect.getsource(obj)  # type: ignore[arg-type]
    except (OSError, TypeError) as err:
        raise AiortcInternalsError(f"cannot read the source of {obj!r}: {err}") from err


def _require_snippets(obj: object, where: str, snippets: Iterable[str]) -> None:
    text = _source(obj)
    for snippet in snippets:
        if snippet not in text:
            raise AiortcInternalsError(
                f"aiortc {aiortc.__version__}: {where} no longer contains {snippet!r}; "
                "media/aiortc_internals.py must be reviewed for this aiortc version"
            )


def _require_parameters(func: Callable[..., Any], where: str, expected: Sequence[str]) -> None:
    names = list(inspect.signature(func).parameters)
    if names != list(expected):
        raise AiortcInternalsError(
            f"aiortc {aiortc.__version__}: {where} takes {names}, expected {list(expected)}"
        )


def check() -> None:
    """Raise `AiortcInternalsError` unless every private name used by the relay exists with the expected shape."""
    if aiortc.__version__ != PINNED_AIORTC_VERSION:
        raise AiortcInternalsError(
            f"Jiayi's relay is written against aiortc {PINNED_AIORTC_VERSION}, but aiortc "
            f"{aiortc.__version__} is installed: review media/aiortc_internals.py, then update the pin"
        )
    # Receiver: the jitter buffer attribute, the depayloaded data, the way frames leave it, PLI.
    _require_snippets(
        RTCRtpReceiver.__init__,
        "RTCRtpReceiver.__init__",
        ["self.__jitter_buffer = JitterBuffer("],
    )
    _require_snippets(
        RTCRtpReceiver._handle_rtp_packet,
        "RTCRtpReceiver._handle_rtp_packet",
        [
            "packet._data = depayload(codec, packet.payload)",
            "pli_flag, encoded_frame = self.__jitter_buffer.add(packet)",
            "if pli_flag:",
            "if encoded_frame is not None and self.__decoder_thread:",
        ],
    )
    if not inspect.iscoroutinefunction(RTCRtpReceiver._send_rtcp_pli):
        raise AiortcInternalsError("RTCRtpReceiver._send_rtcp_pli is no longer a coroutine function")
    _require_parameters(
        RTCRtpReceiver._send_rtcp_pli, "RTCRtpReceiver._send_rtcp_pli", ["self", "media_ssrc"]
    )
    # Sender: keyframe requests from the remote peer, the msid stream id, pre-encoded packets.
    _require_parameters(RTCRtpSender._send_keyframe, "RTCRtpSender._send_keyframe", ["self"])
    _require_snippets(
        RTCRtpSender._handle_rtcp_packet,
        "RTCRtpSender._handle_rtcp_packet",
        ["RTCP_PSFB_FIR", "RTCP_PSFB_PLI", "self._send_keyframe()"],
    )
    _require_snippets(
        RTCRtpSender._next_encoded_frame,
        "RTCRtpSender._next_encoded_frame",
        ["payloads, timestamp = self.__encoder.pack(data)"],
    )
    _require_snippets(RTCRtpSender.__init__, "RTCRtpSender.__init__", ["self._stream_id = "])
    _require_snippets(
        _rtcpeerconnection.create_media_description_for_transceiver,
        "create_media_description_for_transceiver",
        ['media.msid = f"{transceiver.sender._stream_id} {transceiver.sender._track_id}"'],
    )
    # Transceiver: negotiated codecs.
    _require_snippets(
        RTCRtpTransceiver.__init__,
        "RTCRtpTransceiver.__init__",
        ["self._codecs: list[RTCRtpCodecParameters] = []"],
    )
    # ICE: the gatherer's aioice connection, and how aioice gathers.
    _require_snippets(RTCIceGatherer.__init__, "RTCIceGatherer.__init__", ["self._connection = Connection("])
    _require_snippets(
        RTCIceGatherer.gather, "RTCIceGatherer.gather", ["await self._connection.gather_candidates()"]
    )
    _require_parameters(
        Connection.get_component_candidates,
        "aioice Connection.get_component_candidates",
        ["self", "component", "addresses", "timeout"],
    )
    _require_snippets(
        Connection.gather_candidates,
        "aioice Connection.gather_candidates",
        [
            "if not self._local_candidates_start:",
            "self._local_candidates_start = True",
            "if self._transport_policy == TransportPolicy.ALL:",
            "self.get_component_candidates(component=component, addresses=addresses)",
            "for component in self._components",
            "self._local_candidates += candidates",
            "self._local_candidates_end = True",
        ],
    )


check()


# --- receiver ---------------------------------------------------------------------------------------------


def install_jitter_buffer(receiver: RTCRtpReceiver, buffer: JitterBufferLike) -> None:
    """Make `receiver` hand every depayloaded RTP packet to `buffer` instead of its own jitter buffer.

    `buffer.add` must return ``(False, None)``: no frame then reaches aiortc's decoder thread.
    """
    receiver._RTCRtpReceiver__jitter_buffer = buffer  # type: ignore[attr-defined]


def packet_data(packet: RtpPacket) -> bytes:
    """The depayloaded bytes of a packet that went through `RTCRtpReceiver._handle_rtp_packet`."""
    data: bytes = packet._data  # type: ignore[attr-defined]
    return data


def depayloaded(packet: RtpPacket, data: bytes) -> RtpPacket:
    """`packet` as the receiver hands it to its jitter buffer, carrying `data` (for tests and benchmarks)."""
    packet._data = data  # type: ignore[attr-defined]
    return packet


async def send_pli(receiver: RTCRtpReceiver, media_ssrc: int) -> None:
    """Send an RTCP Picture Loss Indication for `media_ssrc` to the remote sender of `receiver`."""
    await receiver._send_rtcp_pli(media_ssrc)


# --- sender -----------------------------------------------------------------------------------------------


def on_keyframe_request(sender: RTCRtpSender, callback: Callable[[], None]) -> None:
    """Call `callback` (instead of forcing a local encoder keyframe) when the remote peer sends PLI or FIR."""
    sender._send_keyframe = callback  # type: ignore[method-assign]


def observe_keyframe_requests(sender: RTCRtpSender, callback: Callable[[], None]) -> None:
    """Call `callback` when the remote peer sends PLI or FIR to `sender`, which then does what it always does."""
    original = sender._send_keyframe

    def send_keyframe() -> None:
        callback()
        original()

    sender._send_keyframe = send_keyframe  # type: ignore[method-assign]


def set_stream_id(sender: RTCRtpSender, stream_id: str) -> None:
    """Set the MediaStream id that the next offer or answer advertises for `sender` (``a=msid``)."""
    sender._stream_id = stream_id


# --- transceiver ------------------------------------------------------------------------------------------


def negotiated_codecs(transceiver: RTCRtpTransceiver) -> list[RTCRtpCodecParameters]:
    """The codecs negotiated for `transceiver` (empty before negotiation), RTX included."""
    return list(transceiver._codecs)


# --- ICE --------------------------------------------------------------------------------------------------


def _ice_gatherers(pc: RTCPeerConnection) -> list[RTCIceGatherer]:
    gatherers: list[RTCIceGatherer] = []
    for transceiver in pc.getTransceivers():
        gatherer = transceiver.receiver.transport.transport.iceGatherer
        if gatherer not in gatherers:
            gatherers.append(gatherer)
    if pc.sctp is not None:
        gatherer = pc.sctp.transport.transport.iceGatherer
        if gatherer not in gatherers:
            gatherers.append(gatherer)
    return gatherers


def gather_on(pc: RTCPeerConnection, addresses: Sequence[str]) -> None:
    """Make every ICE gatherer of `pc` that has not gathered yet use exactly `addresses` for host candidates.

    Call it after the transceivers exist and before `setLocalDescription` (which gathers). STUN and TURN
    candidates still come from the configured ICE servers.
    """
    wanted = list(addresses)
    for gatherer in _ice_gatherers(pc):
        connection: Connection = gatherer._connection
        if connection._local_candidates_start or getattr(connection, "_jiayi_addresses", None) == wanted:
            continue
        connection._jiayi_addresses = wanted  # type: ignore[attr-defined]
        connection.gather_candidates = _gatherer_for(connection, wanted)  # type: ignore[method-assign]


def _gatherer_for(connection: Connection, addresses: list[str]) -> Callable[[], Any]:
    async def gather_candidates() -> None:
        # aioice's own gather_candidates, with the host addresses given instead of found.
        if connection._local_candidates_start:
            return
        connection._local_candidates_start = True
        # The relay-only policy uses no host candidates (RFC 9429 section 3.5.3), as in aioice.
        hosts = addresses if connection._transport_policy == TransportPolicy.ALL else []
        for component in sorted(connection._components):
            connection._local_candidates += await connection.get_component_candidates(
                component=component, addresses=hosts
            )
        connection._local_candidates_end = True

    return gather_candidates
