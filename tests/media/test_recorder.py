"""The recorder muxes encoded frames, untouched, into segments that decode on their own."""

from __future__ import annotations

import io
from fractions import Fraction

import av
import pytest

from media.forwarding import CodecInfo, EncodedFrame
from media.recorder import Segment, TrackRecorder, vp8_size

VP8 = CodecInfo("video", "video/VP8", 90000)
OPUS = CodecInfo("audio", "audio/opus", 48000, 2)


def _encoded(kind: str, seconds: float) -> list[tuple[bytes, int, bool]]:
    """Real VP8 (320x240, 30 fps, a keyframe every second) or Opus (20 ms) packets: (data, pts, keyframe)."""
    codec = av.CodecContext.create("libvpx" if kind == "video" else "libopus", "w")
    out = []
    if kind == "video":
        codec.width, codec.height, codec.pix_fmt = 320, 240, "yuv420p"
        codec.time_base = Fraction(1, 90000)
        codec.framerate = Fraction(30)
        codec.gop_size = 30
        for i in range(round(seconds * 30)):
            frame = av.VideoFrame(320, 240, "yuv420p")
            for plane in frame.planes:
                plane.update(bytes([(i * 7) % 255]) * plane.buffer_size)
            frame.pts = i * 3000
            frame.time_base = Fraction(1, 90000)
            out += [(bytes(p), i * 3000, p.is_keyframe) for p in codec.encode(frame)]
    else:
        codec.sample_rate, codec.layout, codec.format = 48000, "stereo", "s16"
        codec.time_base = Fraction(1, 48000)
        for i in range(round(seconds * 50)):
            frame = av.AudioFrame(format="s16", layout="stereo", samples=960)
            frame.planes[0].update(bytes(960 * 4))
            frame.sample_rate, frame.pts, frame.time_base = 48000, i * 960, Fraction(1, 48000)
            out += [(bytes(p), i * 960, True) for p in codec.encode(frame)]
    return out


def _record(
    codec: CodecInfo, packets: list[tuple[bytes, int, bool]], segment_s: float, clock: float
) -> tuple[list[Segment], int]:
    segments: list[Segment] = []
    asked = 0

    def ask() -> None:
        nonlocal asked
        asked += 1

    recorder = TrackRecorder(
        codec, recording_started=100.0, on_segment=segments.append, request_keyframe=ask, segment_s=segment_s
    )
    for data, pts, key in packets:
        arrival = 100.0 + float(Fraction(pts) * codec.time_base) + clock
        recorder.push(EncodedFrame(data, pts, key, arrival, 0))
    recorder.close()
    return segments, asked


def _probe(segment: Segment) -> tuple[str, float, int]:
    with av.open(io.BytesIO(segment.data)) as container:
        stream = container.streams[0]
        decoded = sum(1 for _ in container.decode(stream))
        duration = float(container.duration or 0) / av.time_base
        return stream.codec_context.name, duration, decoded


def test_video_is_cut_on_keyframes_into_segments_that_each_decode() -> None:
    segments, asked = _record(VP8, _encoded("video", 5.0), segment_s=2.0, clock=0.5)
    assert [s.seq for s in segments] == [0, 1, 2]
    assert asked >= 2  # a keyframe was requested before each cut
    for segment in segments:
        assert segment.data[:4] == b"\x1aE\xdf\xa3"  # EBML: a WebM file of its own
        name, _, decoded = _probe(segment)
        assert name == "vp8" and decoded == segment.frames  # every frame decodes, from its own keyframe
    assert [s.start_ms for s in segments] == [500, 2500, 4500]
    assert sum(s.frames for s in segments) == 150
    assert abs(sum(s.duration_ms for s in segments) - 5000) <= 40


def test_audio_segments_carry_their_place_on_the_recording_clock() -> None:
    segments, _ = _record(OPUS, _encoded("audio", 3.0), segment_s=1.0, clock=0.25)
    assert len(segments) == 3
    assert [s.start_ms for s in segments] == [250, 1250, 2250]
    for segment in segments:
        name, duration, decoded = _probe(segment)
        assert name == "opus" and decoded == segment.frames == 50
        assert duration == pytest.approx(1.0, abs=0.05)


def test_pause_finishes_the_segment_and_resume_waits_for_a_keyframe() -> None:
    packets = _encoded("video", 3.0)
    segments: list[Segment] = []
    recorder = TrackRecorder(
        VP8, recording_started=0.0, on_segment=segments.append, request_keyframe=lambda: None
    )
    for data, pts, key in packets[:45]:
        recorder.push(EncodedFrame(data, pts, key, pts / 90000, 0))
    recorder.pause()
    for data, pts, key in packets[45:60]:
        recorder.push(EncodedFrame(data, pts, key, pts / 90000, 0))  # paused: nothing recorded
    recorder.resume()
    for data, pts, key in packets[60:75]:  # frame 60 is a keyframe (one a second)
        recorder.push(EncodedFrame(data, pts, key, pts / 90000, 0))
    recorder.close()
    assert [s.frames for s in segments] == [45, 15]
    assert segments[1].start_ms == 2000
    assert all(_probe(s)[2] == s.frames for s in segments)


def test_a_restarted_stream_starts_a_new_segment() -> None:
    """A publisher that reconnects sends a new stream (new epoch): its timestamps start afresh."""
    packets = _encoded("audio", 1.0)
    segments: list[Segment] = []
    recorder = TrackRecorder(
        OPUS, recording_started=0.0, on_segment=segments.append, request_keyframe=lambda: None
    )
    for data, pts, key in packets[:25]:
        recorder.push(EncodedFrame(data, pts, key, pts / 48000, 0))
    for data, pts, key in packets[:25]:  # the same timestamps again, in a new epoch, half a second later
        recorder.push(EncodedFrame(data, pts, key, 0.5 + pts / 48000, 1))
    recorder.close()
    assert [(s.frames, s.start_ms) for s in segments] == [(25, 0), (25, 500)]


def test_vp8_size_reads_keyframes_only() -> None:
    data, _, key = _encoded("video", 0.1)[0]
    assert key and vp8_size(data) == (320, 240)
    assert vp8_size(b"\x01" + data[1:]) is None
