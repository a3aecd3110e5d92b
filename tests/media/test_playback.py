"""A recorded track's segments join into one file that plays them at their place on the recording's clock."""

from __future__ import annotations

import io

import av
import pytest

from media.forwarding import EncodedFrame
from media.playback import duration_s, join_segments
from media.recorder import Segment, TrackRecorder
from tests.media.test_recorder import OPUS, VP8, _encoded


def _segments(codec, kind: str, seconds: float, gap_after: int | None = None) -> list[Segment]:  # type: ignore[no-untyped-def]
    out: list[Segment] = []
    recorder = TrackRecorder(
        codec, recording_started=0.0, on_segment=out.append, request_keyframe=lambda: None, segment_s=1.0
    )
    for i, (data, pts, key) in enumerate(_encoded(kind, seconds)):
        clock = codec.clock_rate
        shift = 2.0 if gap_after is not None and i >= gap_after else 0.0  # a pause: two seconds later
        if gap_after is not None and i == gap_after:
            recorder.pause()
            recorder.resume()
        recorder.push(EncodedFrame(data, pts + round(shift * clock), key, pts / clock + shift, 0))
    recorder.close()
    return out


def test_video_segments_join_into_one_decodable_file() -> None:
    segments = _segments(VP8, "video", 3.0)
    joined = join_segments([(s.start_ms, s.data) for s in segments])
    assert joined[:4] == b"\x1aE\xdf\xa3"
    with av.open(io.BytesIO(joined)) as container:
        assert sum(1 for _ in container.decode(container.streams[0])) == sum(s.frames for s in segments)
    assert duration_s(joined) == pytest.approx(3.0, abs=0.15)


def test_a_pause_stays_a_gap_so_tracks_keep_in_step() -> None:
    segments = _segments(OPUS, "audio", 2.0, gap_after=50)  # one second, a two-second pause, one second
    joined = join_segments([(s.start_ms, s.data) for s in segments])
    assert duration_s(joined) == pytest.approx(4.0, abs=0.15)
