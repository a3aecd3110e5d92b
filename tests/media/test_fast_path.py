"""The forwarding fast path: RTP parsing, O(1) NACK bookkeeping, and frames written straight to a subscriber's
socket, with a lost packet recovered by NACK and RTX between two real aiortc peers over loopback."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable
from typing import cast

import av
import pylibsrtp
import pytest
from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcrtpreceiver import StreamStatistics
from aiortc.rtp import RTCP_PSFB_PLI, HeaderExtensionsMap, RtcpPsfbPacket, RtcpRrPacket, RtpPacket
from pylibsrtp import Policy, Session

from media import aiortc_internals, eventloop, fastpath
from media.aiortc_internals import RelayedPacket, RtpWriter, parse_rtp, srtp_of
from media.forwarding import CodecInfo, EncodedFrame, FrameAssembler, NackTracker, depayload, is_keyframe
from media.ice import create_peer_connection, prepare_gathering

VP8 = CodecInfo("video", "video/VP8", 90000)
KEY = b"\x10\x02\x00\x9d\x01\x2a" + os.urandom(3000)
DELTA = b"\x31\x02\x00" + os.urandom(2500)


def test_nack_tracker_lists_each_gap_once_and_forgets_old_ones() -> None:
    nacks = NackTracker(history=8)
    assert not nacks.add(65533)
    assert not nacks.add(65534)
    assert nacks.add(1)  # 65535 and 0 missing, across the wrap-around
    assert nacks.missing() == [65535, 0]
    assert not nacks.add(0)  # the retransmission
    assert nacks.missing() == [65535]
    assert not nacks.add(2)
    assert nacks.add(20)  # a burst: only the last `history` sequence numbers are asked for
    assert nacks.missing() == list(range(12, 20))
    assert not nacks.add(21) and nacks.missing() == list(range(13, 20))


def test_parse_rtp_reads_what_aiortc_writes() -> None:
    extensions = HeaderExtensionsMap()
    packet = RtpPacket(payload_type=97, marker=1, sequence_number=4242, timestamp=2**32 - 5, ssrc=0xDEADBEEF)
    packet.csrc = [7, 8]
    packet.payload = b"payload bytes"
    packet.padding_size = 5
    packet.extensions.abs_send_time = 0x123456
    data = packet.serialize(extensions)
    parsed = parse_rtp(data)
    assert (parsed.payload_type, parsed.marker, parsed.sequence_number, parsed.timestamp, parsed.ssrc) == (
        97,
        1,
        4242,
        2**32 - 5,
        0xDEADBEEF,
    )
    assert parsed.payload == b"payload bytes"
    for bad in (b"\x80" * 5, b"\x40" + bytes(20), b"\xb0" + bytes(11) + b"\xbe\xde\x00\x09"):
        with pytest.raises(ValueError):
            parse_rtp(bad)


def _srtp_pair(profile: int, key_length: int) -> tuple[Session, Session]:
    key = os.urandom(key_length)
    return (
        Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND, srtp_profile=profile)),
        Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_INBOUND, srtp_profile=profile)),
    )


@pytest.mark.parametrize(
    ("profile", "key_length"),
    [(Policy.SRTP_PROFILE_AES128_CM_SHA1_80, 30), (Policy.SRTP_PROFILE_AEAD_AES_128_GCM, 28)],
)
def test_srtp_called_directly_speaks_what_pylibsrtp_speaks(profile: int, key_length: int) -> None:
    # Protected by `Srtp`, unprotected by pylibsrtp, and the other way round; refusals as pylibsrtp's.
    tx, rx = _srtp_pair(profile, key_length)
    extensions = HeaderExtensionsMap()
    packets = []
    for seq in range(5):
        packet = RtpPacket(payload_type=96, marker=seq % 2, sequence_number=seq, timestamp=90 * seq, ssrc=77)
        packet.payload = os.urandom(1100 - seq)
        packet.padding_size = 4 * (seq % 2)
        packets.append(packet.serialize(extensions))
    fast_tx = srtp_of(tx)
    for data in packets[:3]:
        header, payload = data[:12], data[12:]
        assert rx.unprotect(fast_tx.protect(header, payload)) == data
    other_tx, other_rx = _srtp_pair(profile, key_length)
    fast_rx = srtp_of(other_rx)
    for data in packets:
        relayed, expected = fast_rx.unprotect_rtp(other_tx.protect(data)), parse_rtp(data)
        assert (relayed.payload_type, relayed.marker, relayed.sequence_number, relayed.timestamp) == (
            expected.payload_type,
            expected.marker,
            expected.sequence_number,
            expected.timestamp,
        )
        assert relayed.ssrc == 77 and relayed.payload == expected.payload and type(relayed.payload) is bytes
    again = other_tx.protect(with_sequence_number(packets[0], seq=9))
    tampered = bytearray(again)
    tampered[20] ^= 1
    with pytest.raises(pylibsrtp.Error):
        fast_rx.unprotect_rtp(bytes(tampered))
    fast_rx.unprotect_rtp(again)
    with pytest.raises(pylibsrtp.Error):
        fast_rx.unprotect_rtp(again)  # replayed
    with pytest.raises(ValueError):
        fast_rx.unprotect_rtp(bytes(1501))
    with pytest.raises(ValueError):
        fast_tx.protect(packets[0][:12], bytes(1489))


@pytest.mark.parametrize(
    ("profile", "key_length"),
    [(Policy.SRTP_PROFILE_AES128_CM_SHA1_80, 30), (Policy.SRTP_PROFILE_AEAD_AES_128_GCM, 28)],
)
def test_srtcp_called_directly_speaks_what_pylibsrtp_speaks(profile: int, key_length: int) -> None:
    reports = [
        bytes(RtcpRrPacket(ssrc=1234 + n, reports=[]))
        + bytes(RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=1234 + n, media_ssrc=77))
        for n in range(3)
    ]
    tx, rx = _srtp_pair(profile, key_length)
    fast_tx = srtp_of(tx)
    assert [rx.unprotect_rtcp(fast_tx.protect_rtcp(r)) for r in reports] == reports
    other_tx, other_rx = _srtp_pair(profile, key_length)
    fast_rx = srtp_of(other_rx)
    protected = [other_tx.protect_rtcp(r) for r in reports]
    assert [fast_rx.unprotect_rtcp(p) for p in protected] == reports
    with pytest.raises(pylibsrtp.Error):
        fast_rx.unprotect_rtcp(protected[1])  # replayed
    tampered = bytearray(other_tx.protect_rtcp(reports[0]))
    tampered[9] ^= 1
    with pytest.raises(pylibsrtp.Error):
        fast_rx.unprotect_rtcp(bytes(tampered))
    with pytest.raises(ValueError):
        fast_rx.unprotect_rtcp(bytes(1501))


async def test_a_coroutine_run_eagerly_runs_now_and_one_that_waits_goes_on_in_a_task() -> None:
    steps: list[object] = []

    async def quick(value: int) -> None:
        steps.append(value)

    aiortc_internals.run_eagerly(quick(1))
    assert steps == [1]  # no turn of the event loop needed

    loop = asyncio.get_running_loop()
    first, second = loop.create_future(), loop.create_future()

    async def waits() -> None:
        steps.append("before")
        steps.append(await first)
        try:
            await second
        except ValueError as exc:
            steps.append(f"raised {exc}")

    aiortc_internals.run_eagerly(waits())
    assert steps == [1, "before"]
    first.set_result("result")
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert steps == [1, "before", "result"]
    second.set_exception(ValueError("late"))
    for _ in range(3):
        await asyncio.sleep(0)
    assert steps == [1, "before", "result", "raised late"]
    assert not aiortc_internals._eager_tasks

    async def fails() -> None:
        raise RuntimeError("at once")

    with pytest.raises(RuntimeError, match="at once"):
        aiortc_internals.run_eagerly(fails())

    async def cancelled() -> None:
        await loop.create_future()

    aiortc_internals.run_eagerly(cancelled())
    (task,) = aiortc_internals._eager_tasks
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def with_sequence_number(data: bytes, *, seq: int) -> bytes:
    """`data` with sequence number `seq`."""
    return data[:2] + seq.to_bytes(2, "big") + data[4:]


def test_the_relay_statistics_count_what_aiortc_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    # In order, reordered, duplicated and across the wrap-around: the receiver-report figures agree.
    now = [1000.0]
    monkeypatch.setattr("time.time", lambda: now[0])
    ours, aiortcs = aiortc_internals.RelayStreamStatistics(90000), StreamStatistics(90000)
    order = [65530, 65531, 65533, 65532, 65533, 65534, 65535, 0, 2, 1, 3, 40, 39, 41]
    for index, seq in enumerate(order):
        now[0] += 0.011 + 0.003 * (index % 3)
        packet = aiortc_internals.RelayedPacket(96, 0, seq, 3000 * (index // 2), 5, b"x")
        ours.add(packet)  # type: ignore[arg-type]
        aiortcs.add(packet)  # type: ignore[arg-type]
        assert (ours.max_seq, ours.cycles, ours.jitter, ours.packets_received, ours.packets_lost) == (
            aiortcs.max_seq,
            aiortcs.cycles,
            aiortcs.jitter,
            aiortcs.packets_received,
            aiortcs.packets_lost,
        )
    assert ours.cycles == 1 << 16 and ours.jitter > 0 and ours.fraction_lost == aiortcs.fraction_lost


def test_a_frame_from_relayed_packets_is_depayloaded_only_when_asked() -> None:
    frames: list[EncodedFrame] = []
    assembler = FrameAssembler(VP8, frames.append, lambda: None)
    payloads = vp8_payloads(KEY, 0)
    assembler.add(aiortc_internals.RelayedPacket(97, 1, 9, 0, 5, b"\x10\x00"))  # joins at a boundary
    for index, payload in enumerate(payloads):
        last = index == len(payloads) - 1
        assembler.add(aiortc_internals.RelayedPacket(97, int(last), 10 + index, 3000, 5, payload))
    [frame] = frames
    assert frame.keyframe and frame.payloads == payloads  # forwarded as they came
    assert frame.data == KEY == b"".join(depayload("video/VP8", p) for p in payloads)


def vp8_payloads(data: bytes, pts: int) -> list[bytes]:
    from aiortc.codecs.vpx import Vp8Encoder

    packet = av.Packet(data)
    packet.pts = pts
    packet.time_base = VP8.time_base
    return Vp8Encoder().pack(packet)[0]


class IdleTrack(MediaStreamTrack):
    kind = "video"

    async def recv(self) -> av.Packet:
        await asyncio.Event().wait()
        raise MediaStreamError


async def connect(sender_pc: RTCPeerConnection, receiver_pc: RTCPeerConnection) -> None:
    for pc in (sender_pc, receiver_pc):
        prepare_gathering(pc, ("127.0.0.1",))
    await sender_pc.setLocalDescription(await sender_pc.createOffer())
    await receiver_pc.setRemoteDescription(sender_pc.localDescription)
    await receiver_pc.setLocalDescription(await receiver_pc.createAnswer())
    await sender_pc.setRemoteDescription(
        RTCSessionDescription(sdp=receiver_pc.localDescription.sdp, type="answer")
    )


async def wait_for(predicate: object) -> None:
    assert callable(predicate)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5.0
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.01)


async def test_a_lost_packet_comes_back_by_nack_and_rtx_and_its_frame_is_whole() -> None:
    publisher, subscriber = create_peer_connection(), create_peer_connection()
    writers: list[RtpWriter] = []
    frames: list[EncodedFrame] = []
    nacks = NackTracker()
    try:
        sender: RTCRtpSender = publisher.addTransceiver(IdleTrack(), direction="sendonly").sender
        aiortc_internals.on_sender_started(sender, writers.append)
        assembler = FrameAssembler(VP8, frames.append, lambda: None, loss_wait_s=2.0)

        @subscriber.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            receiver = next(t.receiver for t in subscriber.getTransceivers() if t.receiver.track is track)
            aiortc_internals.relay_receiver(receiver, assembler.add, nacks)

        await connect(publisher, subscriber)
        await wait_for(lambda: writers)
        await wait_for(lambda: publisher.connectionState == "connected")
        await wait_for(lambda: subscriber.connectionState == "connected")
        writer = writers[0]
        dropped: list[RelayedPacket] = []

        def lose_one(take: Callable[[RelayedPacket], None]) -> Callable[[RelayedPacket], None]:
            def lossy(packet: RelayedPacket) -> None:
                if not dropped and len(frames) == 2 and packet.marker == 0:
                    dropped.append(packet)  # the network loses the first packet of the third frame
                    return
                take(packet)

            return lossy

        writer.write(vp8_payloads(DELTA, 0), 0)  # the receiver joins the stream after this frame's marker
        await wait_for(lambda: assembler.ssrc is not None)
        # Between the socket and the receiver, once its stream is routed: as if lost on the way.
        link = aiortc_internals.rtp_link(subscriber.getTransceivers()[0].receiver.transport)
        take = link.handler(assembler.ssrc)
        assert take is not None
        link.route(assembler.ssrc, lose_one(take))
        for index, data in enumerate([KEY, DELTA, DELTA, DELTA]):
            writer.write(vp8_payloads(data, 3000 + index * 3000), 3000 + index * 3000)
            if index < 2:
                await wait_for(lambda index=index: len(frames) == index + 1)
            await asyncio.sleep(0.03)
        await wait_for(lambda: len(frames) == 4)
        assert dropped, "no packet was dropped"
        assert [f.timestamp for f in frames] == [0, 3000, 6000, 9000]
        assert frames[2].data == DELTA and is_keyframe("video/VP8", frames[0].data)
        assert nacks.missing() == [] and assembler.frames_lost == 0
        assert writer.packets == sum(len(vp8_payloads(d, 0)) for d in [DELTA, KEY, DELTA, DELTA, DELTA])
        # The subscriber's media socket can be found (the relay bench reads its receive timestamps).
        socket = aiortc_internals.media_socket(subscriber.getTransceivers()[0].receiver.transport)
        assert socket is not None and socket.fileno() >= 0
        # Every packet carries the sender's header extensions: its mid, and an abs-send-time of now.
        now = (aiortc_internals.ntp_now() >> 14) & 0xFFFFFF
        first = (writer.sequence - writer.packets) & 0xFFFF
        sent = [writer.sent_packet((first + offset) & 0xFFFF) for offset in range(writer.packets)]
        for entry in sent:
            assert entry is not None
            header, payload = entry
            packet = RtpPacket.parse(header + payload, writer.header_extensions)
            assert packet.extensions.mid == writer.mid is not None
            assert packet.extensions.abs_send_time is not None
            assert (now - packet.extensions.abs_send_time) % (1 << 24) < 1 << 18  # within a second
            assert payload == packet.payload
        assert writer.sent_packet((first - 1) & 0xFFFF) is None  # never sent
    finally:
        await publisher.close()
        await subscriber.close()


def test_the_check_notices_a_changed_fast_path_name(monkeypatch: pytest.MonkeyPatch) -> None:
    async def renamed(self: RTCRtpSender, seq: int) -> None: ...

    monkeypatch.setattr(RTCRtpSender, "_retransmit", renamed)
    with pytest.raises(aiortc_internals.AiortcInternalsError, match="_retransmit"):
        aiortc_internals.check()


def test_the_check_notices_another_pylibsrtp_or_changed_statistics(monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as patched:
        patched.setattr(pylibsrtp, "__version__", "1.1.0")
        with pytest.raises(aiortc_internals.AiortcInternalsError, match=r"pylibsrtp 1\.1\.0"):
            aiortc_internals.check()

    def add(self: StreamStatistics, packet: RtpPacket) -> None:
        self.packets_received += 1

    monkeypatch.setattr(StreamStatistics, "add", add)
    with pytest.raises(aiortc_internals.AiortcInternalsError, match=r"StreamStatistics\.add"):
        aiortc_internals.check()


class _NotConnected:
    _state = None


class _Collecting(asyncio.DatagramProtocol):
    def __init__(self, close_after: int = 0) -> None:
        self.got: list[tuple[bytes, object]] = []
        self.close_after = close_after
        self.transport: asyncio.DatagramTransport | None = None
        self.errors: list[Exception] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)  # asyncio's is not a subclass of it

    def datagram_received(self, data: bytes, addr: object) -> None:
        self.got.append((data, addr))
        if self.close_after and len(self.got) == self.close_after:
            assert self.transport is not None
            self.transport.close()

    def error_received(self, exc: Exception) -> None:
        self.errors.append(exc)


async def _reading_endpoint(
    host: str, protocol: _Collecting, **where: object
) -> tuple[asyncio.DatagramTransport, fastpath.Inbound]:
    # A datagram endpoint as aioice makes one, its socket then read by `Inbound` as `RtpLink` sets it up.
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: protocol,
        **(where or {"local_addr": (host, 0)}),  # type: ignore[arg-type]
    )
    await asyncio.sleep(0)  # asyncio adds its reader on the next iteration
    inbound = fastpath.Inbound(_NotConnected(), {}, protocol, transport, srtp_of)
    # Run inside the selector's select, as on the media worker's loop (the media tests' loop).
    eventloop.add_media_reader(loop, transport.get_extra_info("socket").fileno(), inbound.read_ready)
    assert isinstance(loop._selector, eventloop.MediaSelector)  # type: ignore[attr-defined]
    return transport, inbound


@pytest.mark.parametrize("family, host", [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")])
async def test_datagrams_the_relay_reads_and_does_not_relay_reach_their_protocol_as_asyncio_gives_them(
    family: socket.AddressFamily, host: str
) -> None:
    # What the compiled reader reads off the socket and does not relay (STUN, DTLS, RTCP, RTP of an
    # unrouted or not yet connected stream) reaches the protocol with the bytes and the address asyncio
    # gives, however many wait at one wake-up.
    protocol = _Collecting()
    transport, _ = await _reading_endpoint(host, protocol)
    datagrams = [
        b"\x00\x01stun",
        bytes([0x80, 96]) + bytes(30),
        b"\x16\xfe\xfddtls",
        bytes([0x81, 201]) + bytes(6),
    ] * 10  # more than one wake-up reads
    with socket.socket(family, socket.SOCK_DGRAM) as sender:
        sender.bind((host, 0))
        for datagram in datagrams:
            sender.sendto(datagram, transport.get_extra_info("sockname")[:2])
        for _ in range(100):
            if len(protocol.got) == len(datagrams):
                break
            await asyncio.sleep(0.01)
        assert protocol.got == [(datagram, sender.getsockname()) for datagram in datagrams]
    transport.close()


async def test_a_protocol_that_closes_its_transport_gets_no_datagram_after() -> None:
    protocol = _Collecting(close_after=2)
    transport, _ = await _reading_endpoint("127.0.0.1", protocol)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        for index in range(5):
            sender.sendto(b"\x00\x01stun%d" % index, transport.get_extra_info("sockname"))
        await asyncio.sleep(0.1)
    assert [data for data, _ in protocol.got] == [b"\x00\x01stun0", b"\x00\x01stun1"]
    assert transport.is_closing()


async def test_a_read_error_reaches_the_protocol_as_asyncio_reports_it() -> None:
    # A connected UDP socket whose peer's port is closed: the ICMP error comes back on the next read.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    protocol = _Collecting()
    transport, _ = await _reading_endpoint("127.0.0.1", protocol, remote_addr=("127.0.0.1", port))
    transport.sendto(b"anyone there?")
    for _ in range(100):
        if protocol.errors:
            break
        await asyncio.sleep(0.01)
    assert [type(error) for error in protocol.errors] == [ConnectionRefusedError]
    assert not transport.is_closing() and protocol.got == []
    transport.close()
