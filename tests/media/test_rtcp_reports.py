"""Incoming RTCP reports handled in C (`fastpath.RtcpReports`) leave aiortc's receivers and senders as
aiortc's own path (`RTCDtlsTransport._handle_rtcp_data`) leaves them; everything else goes to that path."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import asdict
from typing import Any

import pytest
from aiortc import (
    RTCCertificate,
    RTCDtlsTransport,
    RTCIceGatherer,
    RTCIceTransport,
    RTCRtpReceiver,
    RTCRtpSender,
)
from aiortc.rtp import (
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    RtcpByePacket,
    RtcpPsfbPacket,
    RtcpReceiverInfo,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtcpSdesPacket,
    RtcpSenderInfo,
    RtcpSourceInfo,
    RtcpSrPacket,
)

from media.aiortc_internals import RtcpReports

REMOTE_SSRC = 0x11223344  # the publisher's stream, received by `receiver`
PEER_SSRC = 0x55667788  # the peer's own RTCP SSRC
NTP = 0xE8A1B2C3D4E5F607


class Side:
    """One DTLS transport (never connected: the handlers send nothing) with a receiver and a sender routed."""

    def __init__(self) -> None:
        self.dtls = RTCDtlsTransport(
            RTCIceTransport(RTCIceGatherer()), [RTCCertificate.generateCertificate()]
        )
        self.receiver = RTCRtpReceiver("video", self.dtls)
        self.sender = RTCRtpSender("video", self.dtls)
        router = self.dtls._rtp_router
        router.register_receiver(self.receiver, ssrcs=[REMOTE_SSRC], payload_types=[])
        router.register_sender(self.sender, self.sender._ssrc)
        self.sent_sr()
        self.sender._RTCRtpSender__packet_count = 1000
        self.passed_on: list[bytes] = []
        self.reports = RtcpReports(self.dtls, self.passed_on.append)

    def sent_sr(self) -> None:
        """As after the sender's own SR went out half a second ago."""
        self.sender._RTCRtpSender__lsr = 0x1234ABCD
        self.sender._RTCRtpSender__lsr_time = time.time() - 0.5

    def state(self) -> dict[str, Any]:
        """What getStats and the next reports are made from, without wall-clock times."""

        def stats(report: Any) -> dict[str, Any]:
            # (the round-trip time to the millisecond: the two paths run at different moments)
            return {
                key: {
                    k: round(v, 3) if k == "roundTripTime" and v is not None else v
                    for k, v in asdict(s).items()
                    if k != "timestamp"
                }
                for key, s in report.items()
            }

        rtt = self.sender._RTCRtpSender__rtt
        return {
            "receiver_stats": stats(self.receiver._RTCRtpReceiver__stats),
            "lsr": dict(self.receiver._RTCRtpReceiver__lsr),
            "lsr_times": sorted(self.receiver._RTCRtpReceiver__lsr_time),
            "sender_stats": stats(self.sender._RTCRtpSender__stats),
            "rtt": None if rtt is None else round(rtt, 2),
        }


def ids(side: Side, state: dict[str, Any]) -> dict[str, Any]:
    # The stats ids hold id(receiver) and id(sender): the same for both sides once these are named.
    text = repr(state)
    text = text.replace(str(id(side.receiver)), "R").replace(str(id(side.sender)), "S")
    text = text.replace(str(side.sender._ssrc), "SSRC").replace(side.dtls._stats_id, "T")
    return {"state": text}


def rr(sender_ssrc: int, *, lsr: int = 0x1234ABCD, dlsr: int = 6554, lost: int = 3) -> RtcpReceiverInfo:
    return RtcpReceiverInfo(
        ssrc=sender_ssrc,
        fraction_lost=12,
        packets_lost=lost,
        highest_sequence=70000,
        jitter=90,
        lsr=lsr,
        dlsr=dlsr,
    )


def sr(*reports: RtcpReceiverInfo) -> RtcpSrPacket:
    info = RtcpSenderInfo(ntp_timestamp=NTP, rtp_timestamp=123456, packet_count=4321, octet_count=5_000_000)
    return RtcpSrPacket(ssrc=REMOTE_SSRC, sender_info=info, reports=list(reports))


def sdes(ssrc: int) -> RtcpSdesPacket:
    return RtcpSdesPacket(chunks=[RtcpSourceInfo(ssrc=ssrc, items=[(1, b"{cname-of-the-peer}")])])


def compound(*packets: Any) -> bytes:
    return b"".join(bytes(p) for p in packets)


def both(make_data: Any) -> tuple[Side, Side]:
    """(aiortc's path, RtcpReports) after the same compound: `make_data(side)` builds it for a side."""
    theirs, ours = Side(), Side()
    theirs.sent_sr()
    asyncio.get_event_loop().run_until_complete(theirs.dtls._handle_rtcp_data(make_data(theirs)))
    ours.sent_sr()
    ours.reports(make_data(ours))
    return theirs, ours


def assert_same(theirs: Side, ours: Side) -> None:
    assert ids(ours, ours.state()) == ids(theirs, theirs.state())
    # Same moment, give or take the test's own run time.
    for a, b in zip(theirs.state()["lsr_times"], ours.state()["lsr_times"], strict=True):
        assert abs(a - b) < 1.0


@pytest.fixture(autouse=True)
def loop() -> Any:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield loop
    loop.close()
    asyncio.set_event_loop(None)


@pytest.mark.parametrize(
    "make",
    [
        # What a publisher sends: SR (no reports) + SDES.
        lambda side: compound(sr(), sdes(REMOTE_SSRC)),
        # What a subscriber sends: RR about our sender + SDES.
        lambda side: compound(RtcpRrPacket(ssrc=PEER_SSRC, reports=[rr(side.sender._ssrc)]), sdes(PEER_SSRC)),
        # An SR that also reports on our sender, and a report about an SSRC nobody here sends.
        lambda side: compound(sr(rr(side.sender._ssrc, lost=-2), rr(0x99999999)), sdes(REMOTE_SSRC)),
        # A report whose LSR is not our last SR (no round-trip time) and one with no DLSR.
        lambda side: compound(
            RtcpRrPacket(
                ssrc=PEER_SSRC, reports=[rr(side.sender._ssrc, lsr=1), rr(side.sender._ssrc, dlsr=0)]
            )
        ),
        # A sender report from a source nobody receives.
        lambda side: compound(
            RtcpSrPacket(ssrc=0x0BADBEEF, sender_info=RtcpSenderInfo(1, 2, 3, 4)), RtcpSdesPacket(chunks=[])
        ),
    ],
    ids=["publisher-sr", "subscriber-rr", "sr-with-reports", "rr-without-rtt", "unknown-source"],
)
def test_reports_leave_receivers_and_senders_as_aiortc_leaves_them(make: Any) -> None:
    theirs, ours = both(make)
    assert_same(theirs, ours)
    assert ours.reports.handled == 1 and ours.passed_on == []


def test_what_the_reports_change_is_what_a_peer_connection_shows() -> None:
    theirs, ours = both(lambda side: compound(sr(rr(side.sender._ssrc)), sdes(REMOTE_SSRC)))
    assert_same(theirs, ours)
    outbound = next(iter(ours.receiver._RTCRtpReceiver__stats.values()))
    assert (outbound.type, outbound.packetsSent, outbound.bytesSent) == (
        "remote-outbound-rtp",
        4321,
        5_000_000,
    )
    assert ours.receiver._RTCRtpReceiver__lsr[REMOTE_SSRC] == (NTP >> 16) & 0xFFFFFFFF
    inbound = next(iter(ours.sender._RTCRtpSender__stats.values()))
    assert (inbound.packetsLost, inbound.packetsReceived, inbound.fractionLost) == (3, 997, 12)
    # Sent 0.5 s ago, held 0.1 s by the peer (DLSR 6554/65536): 0.4 s there and back.
    assert inbound.roundTripTime == pytest.approx(0.4, abs=0.05)


def padded(packet: bytes, pad: int) -> bytes:
    # The same packet with `pad` bytes of RTCP padding (the P bit, the count in the last byte).
    words = (len(packet) + pad) // 4 - 1
    return (
        bytes([packet[0] | 0x20, packet[1]])
        + words.to_bytes(2, "big")
        + packet[4:]
        + bytes(pad - 1)
        + bytes([pad])
    )


def test_a_padded_report_is_read_without_its_padding() -> None:
    theirs, ours = both(
        lambda side: padded(bytes(RtcpRrPacket(ssrc=PEER_SSRC, reports=[rr(side.sender._ssrc)])), 8)
    )
    assert_same(theirs, ours)
    assert ours.reports.handled == 1 and ours.state()["rtt"] is not None


@pytest.mark.parametrize(
    "make",
    [
        lambda side: bytes(RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=PEER_SSRC, media_ssrc=side.sender._ssrc)),
        lambda side: compound(
            RtcpRrPacket(ssrc=PEER_SSRC, reports=[rr(side.sender._ssrc)]),
            RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=PEER_SSRC, media_ssrc=side.sender._ssrc, lost=[5]),
        ),
        lambda side: compound(sr(), RtcpByePacket(sources=[REMOTE_SSRC])),
        # An extended report (XR, 207), which aiortc skips.
        lambda side: compound(sr(), bytes([0x80, 207, 0, 1]) + bytes(4)),
    ],
    ids=["pli", "rr-and-nack", "sr-and-bye", "sr-and-xr"],
)
def test_feedback_and_other_packets_go_whole_to_aiortc(make: Any) -> None:
    side = Side()
    before = side.state()
    data = make(side)
    side.reports(data)
    assert side.passed_on == [data] and side.reports.handled == 0
    assert side.state() == before  # nothing of the compound was handled here


def malformed(side: Side) -> list[bytes]:
    good = compound(sr(rr(side.sender._ssrc)), sdes(REMOTE_SSRC))
    report = bytes(RtcpRrPacket(ssrc=PEER_SSRC, reports=[rr(side.sender._ssrc)]))
    return [
        good[:-1],  # truncated
        bytes([0x40]) + good[1:],  # version 1
        bytes([good[0] + 1]) + good[1:],  # one report more than its length holds
        report + bytes([0x80, 202, 0, 1, 0, 0]),  # SDES chunk cut short
        bytes([report[0] | 0x20]) + report[1:-1] + bytes([0]),  # padding flag, count byte 0
        bytes([report[0] | 0x20]) + report[1:-1] + bytes([200]),  # padding count beyond the packet
        report + bytes([0x80, 201]),  # a header cut short
    ]


def test_a_malformed_compound_changes_nothing_here_and_aiortc_drops_it() -> None:
    side = Side()
    before = side.state()
    for data in malformed(side):
        side.reports(data)
    assert side.passed_on == malformed(side) and side.reports.handled == 0
    assert side.state() == before
    # And aiortc's own path handles none of them either (what it would have done with them).
    theirs = Side()
    for data in malformed(theirs):
        asyncio.get_event_loop().run_until_complete(theirs.dtls._handle_rtcp_data(data))
    assert theirs.state() == Side().state() | {"lsr_times": []}


def test_while_aiortc_logs_debug_its_own_path_handles_the_reports() -> None:
    side = Side()
    data = compound(sr(), sdes(REMOTE_SSRC))
    logger = logging.getLogger("aiortc.rtcrtpreceiver")
    level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        side.reports(data)
    finally:
        logger.setLevel(level)
    assert side.passed_on == [data]
    side.reports(data)
    assert side.reports.handled == 1
