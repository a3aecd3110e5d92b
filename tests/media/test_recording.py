"""A consult room records each participant's audio and video, untouched, into sealed segments."""

from __future__ import annotations

import asyncio
import io
import itertools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import pytest

from media.recorder import RecordingKey
from storage.blobstore import _open, blob_path
from storage.crypto import cipher_named
from tests.media.conftest import Call
from tests.media.peers import eventually


def _key(tmp_path: Path) -> RecordingKey:
    return RecordingKey(
        7, "k" * 32, "AES-256-GCM", os.urandom(cipher_named("AES-256-GCM").key_size), str(tmp_path)
    )


def _segments(call: Call) -> list[dict[str, Any]]:
    route: Callable[[str, str, dict[str, Any]], None] = call.room._on_event
    seen: list[dict[str, Any]] = []

    def capture(participant_id: str, name: str, payload: dict[str, Any]) -> None:
        if name == "segment":
            seen.append(payload)
        route(participant_id, name, payload)

    call.room._on_event = capture
    return seen


def _probe(data: bytes) -> tuple[str, float, int]:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams[0]
        frames = sum(1 for _ in container.decode(stream))
        return stream.codec_context.name, float(container.duration or 0) / av.time_base, frames


async def test_each_participant_s_tracks_are_recorded_sealed_and_decodable(
    call: Call, tmp_path: Path
) -> None:
    segments = _segments(call)
    alice = await call.join("alice", colour="red")
    await call.join("bob", colour="blue")
    await eventually(lambda: alice.got("bob").video_frames > 5, within_s=15, what="media flowing")
    key = _key(tmp_path)
    call.room.start_recording(key, segment_s=1.0)
    await eventually(
        lambda: sum(1 for s in segments if s["kind"] == "video") >= 4, within_s=15, what="video segments"
    )
    call.room.pause_recording()  # someone present has not consented: nothing more is recorded
    await asyncio.sleep(0.3)  # the segments finished by the pause are sealed
    paused_at = len(segments)
    await asyncio.sleep(1.5)  # longer than a segment
    assert len(segments) == paused_at
    counts = await call.room.stop_recording()
    assert counts["tracks"] == 4 and counts["failures"] == 0  # two participants, audio and video each
    assert {(s["participant_id"], s["kind"]) for s in segments} == {
        ("alice", "audio"),
        ("alice", "video"),
        ("bob", "audio"),
        ("bob", "video"),
    }
    for segment in segments:
        raw = blob_path(tmp_path, segment["blob_id"]).read_bytes()
        assert b"\x1aE\xdf\xa3" not in raw and b"webm" not in raw  # no container magic on disk
        data = _open(raw, key.data_key, segment["blob_id"])
        name, duration, frames = _probe(data)
        assert name == ("vp8" if segment["kind"] == "video" else "opus")
        assert frames > 0 and duration == pytest.approx(segment["duration_ms"] / 1000, abs=0.2)
    # Every track is placed on the one recording clock: each segment starts where the previous one
    # ended (audio and video alike), so a participant's audio and video, played from their start_ms,
    # stay together; video starts at its first keyframe, audio at once.
    for who in ("alice", "bob"):
        for kind in ("audio", "video"):
            track = sorted(
                (s for s in segments if (s["participant_id"], s["kind"]) == (who, kind)),
                key=lambda s: s["seq"],
            )
            for before, after in itertools.pairwise(track):
                assert abs(before["start_ms"] + before["duration_ms"] - after["start_ms"]) <= 100, (who, kind)
        first = {s["kind"]: s["start_ms"] for s in segments if s["participant_id"] == who and s["seq"] == 0}
        # Audio starts at its next packet (one every 20 ms); video's first keyframe may come before that.
        assert 0 <= first["audio"] <= first["video"] + 20 and first["video"] < 1000
    flipped = bytearray(blob_path(tmp_path, segments[0]["blob_id"]).read_bytes())
    flipped[-1] ^= 1
    with pytest.raises(Exception, match="blob"):
        _open(bytes(flipped), key.data_key, segments[0]["blob_id"])
