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

- The forwarding fast path (the section at the end of this module, `relay_receiver`, `RtpLink`,
  `RtpWriter`, `on_sender_started`): the receiver's ``_handle_rtp_packet`` and its ``__codecs``,
  ``__remote_streams``, ``__rtx_ssrc``, ``__active_ssrc``, ``__rtcp_ssrc``; the DTLS transport's ``_state``,
  ``_rx_srtp``, ``_tx_srtp`` and its packet and byte counters; ``RTCIceTransport._connection``, aioice's
  ``Connection._nominated`` and the ``StunProtocol`` of the nominated pair, whose socket the fast path
  reads in place of asyncio's transport ``_read_ready`` (the transport's ``_sock_fd`` and ``_conn_lost``,
  the loop's ``_add_reader``) and writes to directly through the transport's ``_sock``, unless asyncio's
  ``_buffer`` holds datagrams (with another loop's transport, the protocol's ``datagram_received`` is
  wrapped instead and its ``transport`` written to); ``_nominated`` is kept, so it must stay the same
  dict); the
  sender's ``_ssrc``, ``_rtx_ssrc``, ``__started``, ``_retransmit`` and the counters its RTCP sender reports
  read; for incoming RTCP sender and receiver reports (`fastpath.RtcpReports`, which parses, routes and
  handles them as ``RtcpPacket.parse``, ``RtpRouter.route_rtcp`` and the receiver's and sender's
  ``_handle_rtcp_packet`` would), the receiver's ``__stats``, ``__kind``, ``__lsr`` and ``__lsr_time``
  and the sender's ``__stats``, ``__kind``, ``__lsr``, ``__lsr_time``, ``__rtt`` and ``__packet_count``;
  ``StreamStatistics``' attributes (`RelayStreamStatistics` keeps them in C, same arithmetic);
  and pylibsrtp's ``Session._srtp`` context with its binding's ``srtp_protect`` and ``srtp_unprotect``
  (`Srtp` calls them directly, without pylibsrtp's per-call allocations). aioice's and pylibsrtp's versions
  are pinned too. The per-packet part of this section is compiled (media/fastpath.pyx, with the same
  names re-exported here): it uses the names listed here and nothing else, and a build made from another
  fastpath.pyx than the one beside it is refused at import (`check_fastpath_build`).

- The media worker's event loop (media/eventloop.py, `fastpath.MediaPoller`): its selector runs the media
  readers inside `select`, as ``Handle._run`` would run them (the handle's ``_context``, ``_cancelled``,
  the loop's ``call_exception_handler``), returns events as ``EpollSelector.select`` does (its
  ``_selector`` and ``_fd_to_key``), and returns early when the loop's ``_ready`` queue, ``_stopping``
  or the top of its ``_scheduled`` heap say ``_run_once`` has work; a reader is recognised by the
  selector key ``_add_reader`` registered it under (``modify`` replaces the key).

The pinned aiortc version is checked, then every name and the code path that uses it (by reading aiortc's
source: that the receiver really hands ``packet`` to ``self.__jitter_buffer.add``, and so on). Any mismatch
raises `AiortcInternalsError` at import, naming what changed: a worker fails to start rather than relaying
garbage. `tests/media/test_aiortc_internals.py` runs the same checks.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import logging
import selectors
import struct
import types
from asyncio import base_events as _asyncio_base_events
from asyncio import selector_events as _asyncio_selector_events
from collections.abc import Callable, Coroutine, Generator, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

import aioice
import aiortc
import pylibsrtp
from aioice import Connection, TransportPolicy
from aioice.ice import StunProtocol
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver, clock
from aiortc import rtcdtlstransport as _rtcdtlstransport
from aiortc import rtcpeerconnection as _rtcpeerconnection
from aiortc import rtp as _rtp
from aiortc.codecs import is_rtx
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcicetransport import RTCIceGatherer, RTCIceTransport
from aiortc.rtcrtpparameters import RTCRtpCodecParameters, RTCRtpSendParameters
from aiortc.rtcrtpreceiver import StreamStatistics
from aiortc.rtp import (
    RTCP_RTPFB_NACK,
    HeaderExtensions,
    HeaderExtensionsMap,
    RtcpRtpfbPacket,
    RtpPacket,
    is_rtcp,
    unwrap_rtx,
)
from pylibsrtp._binding import ffi as _srtp_ffi
from pylibsrtp._binding import lib as _srtp_lib

try:
    from media import fastpath
except ImportError as err:  # pragma: no cover - a checkout nobody built
    raise ImportError(
        "media/fastpath.pyx is not built: run `make` (or `pip install -e .`), which compiles it"
    ) from err

logger = logging.getLogger(__name__)

_FASTPATH_SOURCE = Path(__file__).with_name("fastpath.pyx")
#: The aiortc version whose internals this module was written and checked against (pyproject pins it).
PINNED_AIORTC_VERSION = "1.16.0"
#: The same for aioice, whose data path the forwarding fast path hooks.
PINNED_AIOICE_VERSION = "0.13.0"
#: And for pylibsrtp, whose libsrtp binding `Srtp` calls directly.
PINNED_PYLIBSRTP_VERSION = "1.0.0"


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


def check_fastpath_build(source: Path = _FASTPATH_SOURCE) -> None:
    """Raise `AiortcInternalsError` if media.fastpath was built from another fastpath.pyx than `source`.

    (An installed package has no source beside it: nothing to compare then.)
    """
    if not source.exists():
        return
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    if fastpath.SOURCE_SHA256 != digest:
        raise AiortcInternalsError(
            f"media.fastpath was built from another {source.name} than the one in {source.parent}: "
            "rebuild it (`make`, or `pip install -e .`)"
        )


def check() -> None:
    """Raise `AiortcInternalsError` unless every private name used by the relay exists with the expected shape."""
    check_fastpath_build()
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
    # The forwarding fast path (see the section below): receiver, sender, DTLS and aioice internals.
    if aioice.__version__ != PINNED_AIOICE_VERSION:
        raise AiortcInternalsError(
            f"Jiayi's relay is written against aioice {PINNED_AIOICE_VERSION}, but aioice "
            f"{aioice.__version__} is installed: review media/aiortc_internals.py, then update the pin"
        )
    _require_snippets(
        RTCRtpReceiver.__init__,
        "RTCRtpReceiver.__init__",
        [
            "self.__active_ssrc: dict[int, datetime.datetime] = {}",
            "self.__codecs: dict[int, RTCRtpCodecParameters] = {}",
            "self.__remote_streams: dict[int, StreamStatistics] = {}",
            "self.__rtx_ssrc: dict[int, int] = {}",
            "self.__rtcp_ssrc: Optional[int] = None",
        ],
    )
    _require_parameters(
        RTCRtpReceiver._handle_rtp_packet,
        "RTCRtpReceiver._handle_rtp_packet",
        ["self", "packet", "arrival_time_ms"],
    )
    _require_snippets(
        RTCRtpReceiver._handle_rtp_packet,
        "RTCRtpReceiver._handle_rtp_packet",
        [
            "if not self._enabled:",
            "self.__remote_streams[packet.ssrc].add(packet)",
            "packet = unwrap_rtx(packet, payload_type=apt, ssrc=original_ssrc)",
            "await self._send_rtcp_nack(",
        ],
    )
    _require_snippets(
        RTCRtpReceiver._run_rtcp,
        "RTCRtpReceiver._run_rtcp",
        ["for ssrc, stream in self.__remote_streams.items()"],
    )
    _require_parameters(StreamStatistics.add, "StreamStatistics.add", ["self", "packet"])
    _require_snippets(
        _rtcdtlstransport.RTCDtlsTransport._handle_rtp_data,
        "RTCDtlsTransport._handle_rtp_data",
        ["await receiver._handle_rtp_packet(packet, arrival_time_ms=arrival_time_ms)"],
    )
    _require_snippets(
        _rtcdtlstransport.RTCDtlsTransport._recv_next,
        "RTCDtlsTransport._recv_next",
        [
            "self.__rx_bytes += len(data)",
            "self.__rx_packets += 1",
            "data = self._rx_srtp.unprotect(data)",
            # `fastpath.Inbound` does the same with SRTCP (`rtp_link`).
            "if is_rtcp(data):",
            "data = self._rx_srtp.unprotect_rtcp(data)",
            "await self._handle_rtcp_data(data)",
        ],
    )
    _require_parameters(
        _rtcdtlstransport.RTCDtlsTransport._handle_rtcp_data,
        "RTCDtlsTransport._handle_rtcp_data",
        ["self", "data"],
    )
    # `fastpath.RtcpReports` does for SR, RR and SDES what this parsing, routing and handling does.
    _require_snippets(
        _rtcdtlstransport.RTCDtlsTransport._handle_rtcp_data,
        "RTCDtlsTransport._handle_rtcp_data",
        [
            "packets = RtcpPacket.parse(data)",
            "except ValueError as exc:",
            "for recipient in self._rtp_router.route_rtcp(packet):",
            "await recipient._handle_rtcp_packet(packet)",
        ],
    )
    _require_snippets(
        _rtcdtlstransport.RtpRouter.route_rtcp,
        "RtpRouter.route_rtcp",
        [
            "if isinstance(packet, RtcpSrPacket):",
            "add_recipient(self.ssrc_table.get(packet.ssrc))",
            "if isinstance(packet, (RtcpRrPacket, RtcpSrPacket)):",
            "for report in packet.reports:",
            "add_recipient(self.senders.get(report.ssrc))",
        ],
    )
    _require_snippets(
        _rtp.RtcpPacket.parse,
        "RtcpPacket.parse",
        [
            'v_p_count, packet_type, length = unpack("!BBH", data[pos : pos + 4])',
            "if version != 2:",
            "if len(data) < end:",
            "if not payload or not payload[-1] or payload[-1] > len(payload):",
            "payload = payload[0 : -payload[-1]]",
            "elif packet_type == RTCP_SDES:",
            "elif packet_type == RTCP_SR:",
            "elif packet_type == RTCP_RR:",
        ],
    )
    _require_snippets(_rtp.RtcpSrPacket.parse, "RtcpSrPacket.parse", ["if len(data) != 24 + 24 * count:"])
    _require_snippets(_rtp.RtcpRrPacket.parse, "RtcpRrPacket.parse", ["if len(data) != 4 + 24 * count:"])
    _require_snippets(
        _rtp.RtcpSdesPacket.parse,
        "RtcpSdesPacket.parse",
        [
            "if len(data) < pos + 4:",
            "while pos < len(data) - 1:",
            "if len(data) < pos + d_length:",
            "if d_type == 0:",
        ],
    )
    _require_snippets(
        _rtp.RtcpReceiverInfo.parse,
        "RtcpReceiverInfo.parse",
        ['unpack("!LB", data[0:5])', "unpack_packets_lost(data[5:8])", 'unpack("!LLLL", data[8:])'],
    )
    _require_snippets(_rtp.unpack_packets_lost, "unpack_packets_lost", ['return unpack("!l", d)[0]'])
    _require_snippets(
        RTCRtpReceiver._handle_rtcp_packet,
        "RTCRtpReceiver._handle_rtcp_packet",
        [
            "self.__stats.add(",
            "RTCRemoteOutboundRtpStreamStats(",
            'id=f"remote-outbound-rtp_{id(self)}"',
            "packetsSent=packet.sender_info.packet_count,",
            "bytesSent=packet.sender_info.octet_count,",
            "clock.datetime_from_ntp(",
            "(packet.sender_info.ntp_timestamp) >> 16",
            "self.__lsr_time[packet.ssrc] = time.time()",
        ],
    )
    _require_snippets(
        RTCRtpSender._handle_rtcp_packet,
        "RTCRtpSender._handle_rtcp_packet",
        [
            "for report in filter(lambda x: x.ssrc == self._ssrc, packet.reports):",
            "if self.__lsr == report.lsr and report.dlsr:",
            "rtt = time.time() - self.__lsr_time - (report.dlsr / 65536)",
            "self.__rtt = RTT_ALPHA * self.__rtt + (1 - RTT_ALPHA) * rtt",
            'id="remote-inbound-rtp_" + str(id(self))',
            "ssrc=packet.ssrc,",
            "packetsReceived=self.__packet_count - report.packets_lost,",
            "roundTripTime=self.__rtt,",
            "fractionLost=report.fraction_lost,",
        ],
    )
    # Their RTCP reaches the link through the transport's `_send_rtp` (`rtp_link` replaces it).
    for send_rtcp, where in (
        (RTCRtpSender._send_rtcp, "RTCRtpSender._send_rtcp"),
        (RTCRtpReceiver._send_rtcp, "RTCRtpReceiver._send_rtcp"),
    ):
        _require_snippets(send_rtcp, where, ["await self.transport._send_rtp("])
    _require_snippets(
        _rtcdtlstransport.RTCDtlsTransport._send_rtp,
        "RTCDtlsTransport._send_rtp",
        [
            "if self._state != State.CONNECTED:",
            "if is_rtcp(data):",
            "data = self._tx_srtp.protect_rtcp(data)",
            "data = self._tx_srtp.protect(data)",
            "await self.transport._send(data)",
            "self.__tx_bytes += len(data)",
            "self.__tx_packets += 1",
        ],
    )
    _require_snippets(
        RTCIceTransport.__init__,
        "RTCIceTransport.__init__",
        ["self._connection = gatherer._connection", "self._send = self._connection.send"],
    )
    _require_snippets(
        Connection.sendto,
        "aioice Connection.sendto",
        [
            "active_pair = self._nominated.get(component)",
            "await active_pair.protocol.send_data(data, active_pair.remote_addr)",
        ],
    )
    _require_snippets(
        StunProtocol.send_data, "aioice StunProtocol.send_data", ["self.transport.sendto(data, addr)"]
    )
    # `RtpLink` keeps aioice's dict of nominated pairs, and writes to the pair's socket as asyncio would.
    _require_snippets(
        Connection.__init__, "aioice Connection.__init__", ["self._nominated: dict[int, CandidatePair] = {}"]
    )
    if "self._nominated = " in _source(Connection):
        raise AiortcInternalsError(
            f"aioice {aioice.__version__}: Connection now replaces its _nominated dict"
        )
    # `fastpath.Inbound.read_ready` is the socket's reader in place of the transport's, doing what it does.
    _require_snippets(
        _asyncio_selector_events._SelectorDatagramTransport.__init__,  # type: ignore[attr-defined]
        "asyncio _SelectorDatagramTransport.__init__",
        ["self._loop.call_soon(self._add_reader,", "self._sock_fd, self._read_ready)"],
    )
    _require_snippets(
        _asyncio_selector_events._SelectorDatagramTransport._read_ready,  # type: ignore[attr-defined]
        "asyncio _SelectorDatagramTransport._read_ready",
        [
            "if self._conn_lost:",
            "data, addr = self._sock.recvfrom(self.max_size)",
            "self._protocol.error_received(exc)",
            "self._protocol.datagram_received(data, addr)",
        ],
    )
    _require_snippets(
        _asyncio_selector_events._SelectorTransport.close,  # type: ignore[attr-defined]
        "asyncio _SelectorTransport.close",
        ["self._loop._remove_reader(self._sock_fd)"],
    )
    # `fastpath.MediaPoller` (media/eventloop.py): the media worker's selector runs the media readers
    # inside `select` as the loop would run their handles, and returns to the loop as `EpollSelector` does.
    _require_snippets(
        _asyncio_base_events.BaseEventLoop._run_once,  # type: ignore[attr-defined]
        "asyncio BaseEventLoop._run_once",
        [
            "if self._ready or self._stopping:",
            "when = self._scheduled[0]._when",
            "event_list = self._selector.select(timeout)",
            "handle = heapq.heappop(self._scheduled)",
            "handle = self._ready.popleft()",
            "if handle._cancelled:",
        ],
    )
    _require_snippets(
        asyncio.Handle._run,
        "asyncio Handle._run",
        ["self._context.run(self._callback, *self._args)", "self._loop.call_exception_handler(context)"],
    )
    _require_snippets(
        _asyncio_selector_events.BaseSelectorEventLoop._add_reader,  # type: ignore[attr-defined]
        "asyncio BaseSelectorEventLoop._add_reader",
        ["handle = events.Handle(callback, args, self, None)", "(handle, None))", "return handle"],
    )
    _require_snippets(
        selectors._BaseSelectorImpl.modify,
        "selectors _BaseSelectorImpl.modify",
        ["key = key._replace(data=data)", "self._fd_to_key[key.fd] = key"],
    )
    _require_snippets(
        selectors.EpollSelector.select,
        "selectors EpollSelector.select",
        [
            "fd_event_list = self._selector.poll(timeout, max_ev)",
            "if event & ~select.EPOLLIN:",
            "events |= EVENT_WRITE",
            "if event & ~select.EPOLLOUT:",
            "events |= EVENT_READ",
            "ready.append((key, events & key.events))",
        ],
    )
    _require_snippets(
        _asyncio_selector_events._SelectorDatagramTransport.sendto,  # type: ignore[attr-defined]
        "asyncio _SelectorDatagramTransport.sendto",
        ["if not self._buffer:", "self._sock.sendto(data, addr)"],
    )
    _require_snippets(
        StunProtocol.datagram_received,
        "aioice StunProtocol.datagram_received",
        [
            "message = stun.parse_message(data)",
            "self.receiver.data_received(data, self.local_candidate.component)",
        ],
    )
    _require_snippets(
        RTCRtpSender.__init__,
        "RTCRtpSender.__init__",
        [
            "self._ssrc = random32()",
            "self._rtx_ssrc = random32()",
            "self.__started = False",
            "self.__ntp_timestamp = 0",
            "self.__rtp_timestamp = 0",
            "self.__octet_count = 0",
            "self.__packet_count = 0",
        ],
    )
    _require_snippets(
        RTCRtpSender.send,
        "RTCRtpSender.send",
        ["if not self.__started:", "self._run_rtp(parameters.codecs[0])"],
    )
    _require_parameters(RTCRtpSender._retransmit, "RTCRtpSender._retransmit", ["self", "sequence_number"])
    _require_snippets(
        RTCRtpSender._handle_rtcp_packet, "RTCRtpSender._handle_rtcp_packet", ["await self._retransmit(seq)"]
    )
    _require_snippets(
        RTCRtpSender._run_rtcp,
        "RTCRtpSender._run_rtcp",
        [
            "ntp_timestamp=self.__ntp_timestamp",
            "rtp_timestamp=self.__rtp_timestamp",
            "packet_count=self.__packet_count & 0xFFFFFFFF",
            "octet_count=self.__octet_count & 0xFFFFFFFF",
        ],
    )
    _require_snippets(
        _rtcpeerconnection.RTCPeerConnection._RTCPeerConnection__connect,  # type: ignore[attr-defined]
        "RTCPeerConnection.__connect",
        ["await transceiver.sender.send(self.__localRtp(transceiver))"],
    )
    # `Srtp`: pylibsrtp's session context and its binding's calls.
    if pylibsrtp.__version__ != PINNED_PYLIBSRTP_VERSION:
        raise AiortcInternalsError(
            f"Jiayi's relay is written against pylibsrtp {PINNED_PYLIBSRTP_VERSION}, but pylibsrtp "
            f"{pylibsrtp.__version__} is installed: review media/aiortc_internals.py, then update the pin"
        )
    _require_snippets(
        pylibsrtp.Session.__init__,
        "pylibsrtp Session.__init__",
        ['srtp = ffi.new("srtp_t *")', "self._srtp = ffi.gc(srtp, "],
    )
    _require_snippets(
        pylibsrtp.Session._Session__process,  # type: ignore[attr-defined]
        "pylibsrtp Session.__process",
        ["_srtp_assert(func(self._srtp[0], self._cdata, len_p))"],
    )
    for name in ("srtp_protect", "srtp_unprotect", "srtp_err_status_ok"):
        if not hasattr(_srtp_lib, name):
            raise AiortcInternalsError(f"pylibsrtp {pylibsrtp.__version__}: its binding has no {name}")
    # `RelayStreamStatistics.add` does what `StreamStatistics.add` does, on the same attributes.
    _require_snippets(
        StreamStatistics.add,
        "StreamStatistics.add",
        [
            "in_order = self.max_seq is None or uint16_gt(",
            "self.packets_received += 1",
            "self.base_seq = packet.sequence_number",
            "arrival = int(time.time() * self._clockrate)",
            "self.cycles += 1 << 16",
            "self.max_seq = packet.sequence_number",
            "if packet.timestamp != self._last_timestamp and self.packets_received > 1:",
            "(arrival - self._last_arrival)",
            "- (packet.timestamp - self._last_timestamp)",
            "self._jitter_q4 += diff - ((self._jitter_q4 + 8) >> 4)",
            "self._last_arrival = arrival",
            "self._last_timestamp = packet.timestamp",
        ],
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


def packet_data(packet: object) -> bytes | None:
    """The depayloaded bytes aiortc's receiver stored on a packet (`depayloaded`), or None (relayed packets)."""
    if type(packet) is RelayedPacket:
        return None  # (without the AttributeError that getattr would raise and catch)
    data: bytes | None = getattr(packet, "_data", None)
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


# --- the forwarding fast path -----------------------------------------------------------------------------
#
# Per relayed packet, aiortc would: parse it as STUN first (and catch the ValueError), queue it in aioice,
# wake the DTLS transport's task, parse every header extension, run the REMB bandwidth estimator (the
# largest single cost, `aiortc/rate.py`), run a NACK generator whose `truncate` walks every missing packet,
# depayload it; then wake each subscriber's sender task per frame, copy the frame into an `av.Packet`,
# re-packetize it and build an `RtpPacket` per packet. The fast path keeps aiortc for everything that is not
# per packet (ICE, DTLS, SRTP keys, SDP, RTCP reports, statistics) and does the per-packet work itself:
#
# - `RtpLink` (one per DTLS transport): a datagram of a known relayed SSRC is decrypted, parsed (fixed
#   header only) and handed to its receiver's handler right in the socket's callback; everything else
#   (STUN, DTLS, RTCP, RTX, unknown SSRCs) still takes aiortc's path. `send` encrypts and writes a datagram
#   at once, with no coroutine chain.
# - `relay_receiver` replaces the receiver's `_handle_rtp_packet` with the same steps minus REMB and
#   depayloading, with an O(1) NACK generator (`media.forwarding.NackTracker`).
# - `RtpWriter` sends a frame's RTP payloads as they came from the publisher (no depayload, no
#   re-packetizing) with the subscriber sender's SSRC, payload type, sequence numbers and header extensions,
#   keeps the sender's RTCP sender-report counters, and answers NACKs from its own history.


# The per-packet code is compiled (media/fastpath.pyx, whose docstring says why); its names are this
# module's, as they were when it was Python.
RelayedPacket = fastpath.RelayedPacket
Srtp = fastpath.Srtp
RtpLink = fastpath.RtpLink
RtcpReports = fastpath.RtcpReports
RtpWriter = fastpath.RtpWriter
parse_rtp = fastpath.parse_rtp
ntp_now = fastpath.ntp_now
#: aiortc's receive statistics with `add` in C (the same attributes and arithmetic, checked at import).
RelayStreamStatistics = fastpath.StreamStatistics
ACTIVE_SSRC_RESOLUTION_S = fastpath.ACTIVE_SSRC_RESOLUTION_S
_DRAIN_DATAGRAMS = fastpath.DRAIN_DATAGRAMS
_ABS_SEND_TIME_MARK = fastpath.ABS_SEND_TIME_MARK
_RTX_OSN = struct.Struct("!H")
# Where libsrtp's calls are, in pylibsrtp's binding (the same libsrtp as its sessions').
_SRTP_PROTECT = int(_srtp_ffi.cast("uintptr_t", _srtp_ffi.addressof(_srtp_lib, "srtp_protect")))
_SRTP_UNPROTECT = int(_srtp_ffi.cast("uintptr_t", _srtp_ffi.addressof(_srtp_lib, "srtp_unprotect")))
_SRTP_PROTECT_RTCP = int(_srtp_ffi.cast("uintptr_t", _srtp_ffi.addressof(_srtp_lib, "srtp_protect_rtcp")))
_SRTP_UNPROTECT_RTCP = int(_srtp_ffi.cast("uintptr_t", _srtp_ffi.addressof(_srtp_lib, "srtp_unprotect_rtcp")))


def srtp_of(session: pylibsrtp.Session) -> Srtp:
    """The `Srtp` of a pylibsrtp session (one per session, as `rtp_link` is one per transport).

    It shares the session's libsrtp context, so aiortc's own path and the fast path keep one replay window
    and rollover counter. Never make a second libsrtp session for the same keys.
    """
    srtp: Srtp | None = getattr(session, "_jiayi_srtp", None)
    if srtp is None:
        srtp = Srtp(session, _SRTP_PROTECT, _SRTP_UNPROTECT, _SRTP_PROTECT_RTCP, _SRTP_UNPROTECT_RTCP)
        session._jiayi_srtp = srtp  # type: ignore[attr-defined]
    return srtp


def media_socket(dtls: RTCDtlsTransport) -> Any:
    """The datagram socket a connected transport's media arrives on (its nominated ICE pair's), or None.

    asyncio's `TransportSocket` (it has ``fileno()``), for reading kernel receive timestamps (benchmarks).
    """
    pair = dtls.transport._connection._nominated.get(1)
    if pair is None:
        return None
    return pair.protocol.transport.get_extra_info("socket")


def rtp_link(dtls: RTCDtlsTransport) -> RtpLink:
    """The `RtpLink` of a DTLS transport (one per transport).

    RTCP then takes the link both ways: what arrives is decrypted in the socket's reader and handed to
    the transport's ``_handle_rtcp_data`` there and then (`run_eagerly`), instead of through aioice's
    queue and the transport's receiving task; what aiortc's senders and receivers send (their
    ``_send_rtcp``, through the transport's ``_send_rtp``) is encrypted and sent by the link.
    """
    link: RtpLink | None = getattr(dtls, "_jiayi_rtp_link", None)
    if link is None:

        def on_rtcp(data: bytes) -> None:
            run_eagerly(dtls._handle_rtcp_data(data))

        link = RtpLink(dtls, srtp_of, RtcpReports(dtls, on_rtcp))
        dtls._jiayi_rtp_link = link  # type: ignore[attr-defined]
        original = dtls._send_rtp

        async def send_rtp(data: bytes) -> None:
            if is_rtcp(data):
                link.send_rtcp(data)  # ConnectionError when not connected, as aiortc's
            else:
                await original(data)

        dtls._send_rtp = send_rtp  # type: ignore[method-assign]
    return link


_eager_tasks: set[asyncio.Task[None]] = set()


def run_eagerly(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run `coroutine` now, up to its first real wait, and the rest (if any) in a task.

    What Python 3.12's eager tasks do. aiortc's RTCP handlers are coroutines that in practice never wait,
    so an RTCP packet is handled in the socket's reader, without a task or a turn of the event loop;
    one that does wait goes on in a task, from where it stopped. Its exceptions are raised here (before
    the first wait) or reported by the task, as asyncio reports a task's.
    """
    try:
        waiting_on = coroutine.send(None)
    except StopIteration:
        return
    task = asyncio.get_running_loop().create_task(_resume(coroutine, waiting_on))
    _eager_tasks.add(task)
    task.add_done_callback(_eager_tasks.discard)


@types.coroutine
def _resume(coroutine: Coroutine[Any, Any, None], waiting_on: Any) -> Generator[Any, Any, None]:
    # Hands the future `coroutine` waits on to the task running this, and back what the task sends or
    # throws in (the future's result, or a cancellation), until `coroutine` returns: a `yield from` of a
    # coroutine already started.
    while True:
        try:
            sent = yield waiting_on
        except BaseException as exc:
            try:
                waiting_on = coroutine.throw(exc)
            except StopIteration:
                return
        else:
            try:
                waiting_on = coroutine.send(sent)
            except StopIteration:
                return


#: Takes a relayed packet (or an RTX-unwrapped `RtpPacket` from the slow path); what it returns is ignored.
RtpHandler = Callable[[Any], object]


class NackGeneratorLike(Protocol):
    """What `relay_receiver` needs to request retransmissions (`media.forwarding.NackTracker`)."""

    def add(self, sequence_number: int) -> bool: ...

    def missing(self) -> list[int]: ...


def relay_receiver(receiver: RTCRtpReceiver, handler: RtpHandler, nacks: NackGeneratorLike | None) -> None:
    """Make `receiver` hand its RTP packets to `handler` (never to its jitter buffer or decoder), cheaply.

    What aiortc's `_handle_rtp_packet` does is kept (enabled check, codec check, statistics for RTCP receiver
    reports, RTX unwrapping, NACKs through `nacks`, `None` for audio) except the REMB estimator and
    depayloading (`fastpath.ReceiverTap`). The first packet of each SSRC goes the slow way and routes the
    later ones through the transport's `RtpLink`.
    """
    codecs: dict[int, RTCRtpCodecParameters] = receiver._RTCRtpReceiver__codecs  # type: ignore[attr-defined]
    streams: dict[int, Any] = receiver._RTCRtpReceiver__remote_streams  # type: ignore[attr-defined]
    rtx_ssrcs: dict[int, int] = receiver._RTCRtpReceiver__rtx_ssrc  # type: ignore[attr-defined]
    active: dict[int, Any] = receiver._RTCRtpReceiver__active_ssrc  # type: ignore[attr-defined]
    link = rtp_link(receiver.transport)

    def send_nacks(ssrc: int) -> None:
        assert nacks is not None
        rtcp_ssrc = receiver._RTCRtpReceiver__rtcp_ssrc  # type: ignore[attr-defined]
        if rtcp_ssrc is None:
            return
        packet = RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=rtcp_ssrc, media_ssrc=ssrc)
        packet.lost = nacks.missing()
        try:
            link.send_rtcp(bytes(packet))
        except ConnectionError:
            pass

    take = fastpath.ReceiverTap(
        receiver, codecs, streams, active, handler, nacks, send_nacks, clock.current_datetime
    )

    async def handle_rtp_packet(packet: RtpPacket, arrival_time_ms: int) -> None:
        if not receiver._enabled:
            return
        codec = codecs.get(packet.payload_type)
        if codec is None:
            return
        if is_rtx(codec):
            original_ssrc = rtx_ssrcs.get(packet.ssrc)
            apt = codec.parameters.get("apt")
            if (
                original_ssrc is None
                or len(packet.payload) < 2
                or not isinstance(apt, int)
                or apt not in codecs
            ):
                return
            stats = streams.get(packet.ssrc)
            if stats is None:
                stats = streams[packet.ssrc] = StreamStatistics(codec.clockRate)
            stats.add(packet)
            packet = unwrap_rtx(packet, payload_type=apt, ssrc=original_ssrc)
        else:
            link.route(packet.ssrc, take)
        take(packet)

    receiver._handle_rtp_packet = handle_rtp_packet  # type: ignore[method-assign]


def rtp_writer(sender: RTCRtpSender, parameters: RTCRtpSendParameters) -> RtpWriter:
    """An `RtpWriter` for `sender`, started with `parameters`: its codec's payload type, RTX and extensions."""
    codec = parameters.codecs[0]
    if codec.payloadType is None:
        raise ValueError(f"codec {codec.mimeType} has no payload type")
    rtx_payload_type = None
    for other in parameters.codecs:
        if is_rtx(other) and other.parameters.get("apt") == codec.payloadType:
            rtx_payload_type = other.payloadType
            break
    extensions = HeaderExtensionsMap()
    extensions.configure(parameters)
    extension, at = _extension_template(extensions, parameters.muxId)
    return RtpWriter(
        sender,
        rtp_link(sender.transport),
        codec.payloadType,
        rtx_payload_type,
        extension,
        at,
        header_extensions=extensions,
        mid=parameters.muxId,
    )


def _extension_template(extensions: HeaderExtensionsMap, mid: str | None) -> tuple[bytes, int]:
    # The header extension with a marker value in place of abs-send-time, and where that value sits
    # (-1 when abs-send-time is not negotiated: the extension is then the same for every packet).
    values = HeaderExtensions()
    values.mid = mid
    values.abs_send_time = _ABS_SEND_TIME_MARK
    profile, value = extensions.set(values)
    if not value:
        return b"", -1
    template = struct.pack("!HH", profile, len(value) >> 2) + value
    mark = _ABS_SEND_TIME_MARK.to_bytes(3, "big")
    if template.count(mark) != 1:
        # abs-send-time not negotiated (or the marker also appears elsewhere): check with another value.
        values.abs_send_time = _ABS_SEND_TIME_MARK ^ 0xFFFFFF
        profile, other = extensions.set(values)
        if other == value:
            return template, -1
        raise ValueError("cannot locate abs-send-time in the header extension")
    return template, template.index(mark)


def on_sender_started(sender: RTCRtpSender, callback: Callable[[RtpWriter], None]) -> None:
    """Call `callback` with an `RtpWriter` for `sender` once it is started (its parameters negotiated).

    The writer then answers the sender's NACKs. The sender's own task keeps waiting on its track.
    """
    original = sender.send

    async def send(parameters: RTCRtpSendParameters) -> None:
        started = sender._RTCRtpSender__started  # type: ignore[attr-defined]
        await original(parameters)
        if not started:
            writer = rtp_writer(sender, parameters)
            sender._retransmit = writer.retransmit  # type: ignore[method-assign]
            callback(writer)

    sender.send = send  # type: ignore[method-assign]
