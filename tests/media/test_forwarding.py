"""The relay's frame path without the network: assembling frames on the marker, loss, keyframes, queue bounds."""

from __future__ import annotations

import asyncio

import pytest
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import RtpPacket

from media.aiortc_internals import depayloaded
from media.forwarding import (
    CodecInfo,
    EncodedFrame,
    ForwardedTrack,
    FrameAssembler,
    KeyframeRequester,
    Publication,
    is_keyframe,
)

VP8 = CodecInfo("video", "video/VP8", 90000)
OPUS = CodecInfo("audio", "audio/opus", 48000, 2)
KEY = b"\x10\x02\x00\x9d\x01\x2a" + bytes(10)  # a VP8 key frame's header
DELTA = b"\x31\x02\x00" + bytes(13)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def rtp(seq: int, ts: int, data: bytes, *, marker: bool = False, ssrc: int = 1234) -> RtpPacket:
    packet = RtpPacket(payload_type=97, sequence_number=seq & 0xFFFF, timestamp=ts & 0xFFFFFFFF, ssrc=ssrc)
    packet.marker = int(marker)
    packet.payload = data
    return depayloaded(packet, data)


class Sink:
    def __init__(self, codec: CodecInfo = VP8, clock: Clock | None = None) -> None:
        self.frames: list[EncodedFrame] = []
        self.keyframe_wanted = 0
        self.assembler = FrameAssembler(
            codec, self.frames.append, self._want, loss_wait_s=0.1, clock=clock or Clock()
        )

    def _want(self) -> None:
        self.keyframe_wanted += 1

    def feed(self, *packets: RtpPacket) -> None:
        for packet in packets:
            assert self.assembler.add(packet) == (False, None)  # nothing ever reaches aiortc's decoder


def frame_packets(seq: int, ts: int, first: bytes, parts: int = 3) -> list[RtpPacket]:
    chunks = [first] + [bytes([i]) * 4 for i in range(1, parts)]
    return [rtp(seq + i, ts, chunk, marker=i == parts - 1) for i, chunk in enumerate(chunks)]


def test_a_frame_leaves_on_its_marker_packet() -> None:
    sink = Sink()
    sink.feed(rtp(9, 0, DELTA, marker=True))  # joins the stream at a frame boundary
    packets = frame_packets(10, 3000, KEY)
    sink.feed(*packets[:2])
    assert sink.frames == []
    sink.feed(packets[2])  # not waiting for the next frame's first packet
    assert len(sink.frames) == 1
    frame = sink.frames[0]
    assert frame.data == KEY + b"\x01" * 4 + b"\x02" * 4 and frame.keyframe and frame.timestamp == 0


def test_reordered_packets_and_a_late_retransmission() -> None:
    sink = Sink()
    sink.feed(rtp(9, 0, DELTA, marker=True))
    first, second = frame_packets(10, 3000, KEY), frame_packets(13, 6000, DELTA)
    sink.feed(first[1], first[0], first[2])
    assert [f.timestamp for f in sink.frames] == [0]
    sink.feed(second[0], second[2])  # second[1] was lost; NACK brings it back 40 ms later
    assert len(sink.frames) == 1
    sink.feed(second[1])
    assert [f.timestamp for f in sink.frames] == [0, 3000] and sink.keyframe_wanted == 0


def test_a_lost_frame_holds_the_stream_until_a_keyframe() -> None:
    clock = Clock()
    sink = Sink(clock=clock)
    sink.feed(rtp(9, 0, DELTA, marker=True), *frame_packets(10, 3000, KEY))
    lost = frame_packets(13, 6000, DELTA)
    sink.feed(lost[0], lost[2])
    clock.now += 0.2  # the retransmission never comes
    sink.feed(*frame_packets(16, 9000, DELTA))
    sink.feed(*frame_packets(19, 12000, DELTA))
    assert len(sink.frames) == 1 and sink.keyframe_wanted >= 1  # no corrupt pictures forwarded
    sink.feed(*frame_packets(22, 15000, KEY))
    sink.feed(*frame_packets(25, 18000, DELTA))
    assert [f.timestamp for f in sink.frames] == [0, 12000, 15000]


def test_a_stream_joined_mid_frame_starts_at_a_keyframe() -> None:
    sink = Sink()
    sink.feed(rtp(100, 0, b"tail"), rtp(101, 0, b"end", marker=True))
    sink.feed(*frame_packets(102, 3000, DELTA))
    assert sink.frames == [] and sink.keyframe_wanted == 1
    sink.feed(*frame_packets(105, 6000, KEY))
    assert len(sink.frames) == 1 and sink.frames[0].keyframe


def test_sequence_numbers_wrap_around_and_padding_is_skipped() -> None:
    sink = Sink()
    sink.feed(rtp(65533, 0, DELTA, marker=True))
    sink.feed(rtp(65534, 0, b""))  # padding between frames
    sink.feed(*frame_packets(65535, 2**32 - 1500, KEY))  # 65535, 0, 1
    sink.feed(*frame_packets(2, 1500, DELTA))  # the timestamp wraps too
    assert [f.timestamp for f in sink.frames] == [0, 3000]


def test_audio_packets_are_frames_and_duplicates_are_dropped() -> None:
    sink = Sink(OPUS)
    sink.feed(rtp(1, 0, b"a"), rtp(2, 960, b"b"), rtp(2, 960, b"b"), rtp(1, 0, b"a"), rtp(4, 2880, b"d"))
    assert [f.data for f in sink.frames] == [b"a", b"b", b"d"]
    assert all(f.keyframe for f in sink.frames)


def test_keyframe_detection() -> None:
    assert is_keyframe("video/VP8", KEY) and not is_keyframe("video/VP8", DELTA)
    idr = b"\x00\x00\x00\x01\x67\x42" + b"\x00\x00\x00\x01\x68\xce" + b"\x00\x00\x01\x65\x88"
    assert is_keyframe("video/H264", idr)
    assert not is_keyframe("video/H264", b"\x00\x00\x00\x01\x41\x9a")
    assert is_keyframe("audio/opus", b"\x78")


def frame(data: bytes, ts: int, epoch: int = 0) -> EncodedFrame:
    return EncodedFrame(data, ts, is_keyframe("video/VP8", data), 0.0, epoch)


async def test_a_slow_subscriber_drops_frames_instead_of_falling_behind() -> None:
    publication = Publication(VP8, keyframe_interval_s=0.05)
    wanted: list[int] = []
    publication.request_keyframe = lambda: wanted.append(1)  # type: ignore[method-assign]
    track = ForwardedTrack(VP8, max_frames=3)
    track.attach(publication)
    publication.deliver(frame(KEY, 0))  # before the sender reads: nothing is kept
    first = asyncio.ensure_future(track.recv())
    await asyncio.sleep(0)
    assert wanted  # the sender started reading: keyframe requested
    publication.deliver(frame(DELTA, 3000))  # still waiting for a keyframe
    publication.deliver(frame(KEY, 6000))
    packet = await first
    assert bytes(packet) == KEY and packet.pts == 0

    # The sender stalls: the queue never grows past 3; the 4th frame empties it and a keyframe is awaited.
    wanted.clear()
    for i in range(3, 7):
        publication.deliver(frame(DELTA, i * 3000))
    assert track.dropped == 4 and wanted
    publication.deliver(frame(DELTA, 21000))
    publication.deliver(frame(KEY, 24000))
    packet = await track.recv()
    assert bytes(packet) == KEY and packet.pts == 24000 - 6000
    track.stop()
    await publication.close()


async def test_audio_drops_its_oldest_frame() -> None:
    publication = Publication(OPUS)
    track = ForwardedTrack(OPUS, max_frames=2)
    track.attach(publication)
    reader = asyncio.ensure_future(track.recv())
    await asyncio.sleep(0)
    publication.deliver(EncodedFrame(b"\x00", 0, True, 0.0, 0))
    assert bytes(await reader) == b"\x00"
    for i in range(1, 4):
        publication.deliver(EncodedFrame(bytes([i]), i * 960, True, 0.0, 0))
    assert [bytes(await track.recv()) for _ in range(2)] == [b"\x02", b"\x03"] and track.dropped == 1
    track.stop()
    with pytest.raises(MediaStreamError):
        await track.recv()
    await publication.close()


async def test_timestamps_stay_continuous_when_the_publisher_changes() -> None:
    old, new = Publication(VP8), Publication(VP8)
    track = ForwardedTrack(VP8, max_frames=5)
    track.attach(old)
    reader = asyncio.ensure_future(track.recv())
    await asyncio.sleep(0)
    old.deliver(frame(KEY, 500_000))
    assert (await reader).pts == 0
    old.deliver(frame(DELTA, 503_000))
    assert (await track.recv()).pts == 3000
    track.attach(new)  # the publisher reconnected: its timestamps start anywhere
    new.deliver(frame(DELTA, 7))  # not before a keyframe
    new.deliver(frame(KEY, 10))
    new.deliver(frame(DELTA, 3010))
    assert [(await track.recv()).pts for _ in range(2)] == [6000, 9000]
    track.stop()
    await old.close()
    await new.close()


async def test_keyframe_requests_are_rate_limited_but_never_lost() -> None:
    sent: list[float] = []
    loop = asyncio.get_running_loop()

    async def send() -> None:
        sent.append(loop.time())

    requester = KeyframeRequester(send, interval_s=0.2)
    start = loop.time()
    while loop.time() - start < 0.1:  # many requests, all within the first interval even on a busy machine
        requester.request()
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.3)
    assert len(sent) == 2  # one at once, one for the requests made during the interval
    assert sent[1] - sent[0] >= 0.19
    await requester.close()
    requester.request()
    await asyncio.sleep(0.01)
    assert len(sent) == 2 and not requester.running


def test_vp8_descriptor_length_skips_what_aiortc_skips() -> None:
    from aiortc.codecs.vpx import VpxPayloadDescriptor, vp8_depayload

    from media.forwarding import vp8_descriptor_length

    for picture_id in (None, 5, 200, 32767):
        for tl0picidx in (None, 3):
            for tid in (None, (1, 0)):
                for keyidx in (None, 4):
                    descriptor = VpxPayloadDescriptor(
                        partition_start=1,
                        partition_id=0,
                        picture_id=picture_id,
                        tl0picidx=tl0picidx,
                        tid=tid,
                        keyidx=keyidx,
                    )
                    payload = bytes(descriptor) + b"\x10\x02\x00\x9d\x01\x2a"
                    assert payload[vp8_descriptor_length(payload) :] == vp8_depayload(payload)
    truncated = bytes(VpxPayloadDescriptor(partition_start=1, partition_id=0, picture_id=300, tl0picidx=1))
    for cut in range(len(truncated)):
        assert vp8_descriptor_length(truncated[:cut]) == -1


def test_a_duplicate_or_reordered_packet_inside_a_frame_and_in_order_frames_after_it() -> None:
    sink = Sink()
    sink.feed(rtp(9, 0, DELTA, marker=True))
    first = frame_packets(10, 3000, KEY, parts=4)
    sink.feed(first[0], first[1], first[1], first[3], first[2])  # a duplicate, then the last two swapped
    second, third = frame_packets(14, 6000, DELTA), frame_packets(17, 9000, DELTA)
    sink.feed(*second, *third)
    assert [f.timestamp for f in sink.frames] == [0, 3000, 6000]
    assert sink.frames[0].data == KEY + b"\x01" * 4 + b"\x02" * 4 + b"\x03" * 4
    assert sink.frames[1].data == DELTA + b"\x01" * 4 + b"\x02" * 4 and sink.keyframe_wanted == 0


def test_a_frame_that_never_ends_is_given_up_within_the_capacity() -> None:
    frames: list[EncodedFrame] = []
    wanted: list[None] = []
    assembler = FrameAssembler(VP8, frames.append, lambda: wanted.append(None), capacity=8)
    assembler.add(rtp(9, 0, DELTA, marker=True))
    for seq in range(10, 30):  # twenty packets of one frame, and its marker never comes
        assembler.add(rtp(seq, 3000, KEY if seq == 10 else b"part"))
    assert frames == [] and assembler.frames_lost == 1 and wanted
    assembler.add(rtp(30, 3000, b"end", marker=True))  # the stream joins again at this boundary
    for packet in frame_packets(31, 6000, KEY):
        assembler.add(packet)
    assert [f.keyframe for f in frames] == [True]
