"""Recorder benchmark: the CPU a recorded track costs, against the same frames relayed without recording,
in the same run.

Both phases push the same pre-encoded media through `Publication`s in this process, paced in real
time: ``--participants`` participants, each a 640x480 VP8 video track at 30 fps and about 1 Mbps (the
relay benchmark's frames) and an Opus audio track at 50 frames a second. The baseline phase relays them
to no one (the cost of delivering frames, which the relay pays anyway); the recording phase adds a
`RoomRecorder` that muxes every frame into 10 s segments and seals each with AES-256-GCM into files in a
temporary folder (what a media worker does while a consult is recorded). The difference, divided by
the recorded tracks and the seconds, is the recorder's cost per track as a share of one core.
Receiving RTP is the same in both phases and is not part of it.

The last line is JSON with ``recorder_cpu_percent_per_track`` (target: at most 2% of a core),
``baseline_cpu_percent``, ``recording_cpu_percent``, ``tracks``, ``segments`` and ``bytes_written``.

    .venv/bin/python bench/recorder.py [--participants 4] [--duration 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

from relay import encode_frames  # noqa: E402

from media.forwarding import CodecInfo, EncodedFrame, Publication  # noqa: E402
from media.recorder import RecordingKey, RoomRecorder  # noqa: E402

TARGET_PERCENT = 2.0
VP8 = CodecInfo("video", "video/VP8", 90000)
OPUS = CodecInfo("audio", "audio/opus", 48000, 2)


def opus_frames(count: int = 50) -> list[bytes]:
    """`count` 20 ms Opus frames of a tone."""
    codec = av.CodecContext.create("libopus", "w")
    codec.sample_rate, codec.layout, codec.format = 48000, "stereo", "s16"
    codec.time_base = Fraction(1, 48000)
    out: list[bytes] = []
    for i in range(count):
        frame = av.AudioFrame(format="s16", layout="stereo", samples=960)
        tone = bytes((i * 37 + n * 11) % 256 for n in range(960 * 4))
        frame.planes[0].update(tone)
        frame.sample_rate, frame.pts, frame.time_base = 48000, i * 960, Fraction(1, 48000)
        out += [bytes(p) for p in codec.encode(frame)]
    return out


async def run(
    participants: int, seconds: float, record: bool, video: list[bytes], audio: list[bytes]
) -> dict[str, float]:
    publications = [
        (Publication(VP8, label=f"v{i}"), Publication(OPUS, label=f"a{i}")) for i in range(participants)
    ]
    tasks: set[asyncio.Task[None]] = set()

    def spawn(work: object, name: str) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(work, name=name)  # type: ignore[arg-type]
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return task

    folder = tempfile.mkdtemp(prefix="jiayi-recorder-bench-")
    written = {"segments": 0, "bytes": 0}

    def on_written(info: dict[str, object]) -> None:
        written["segments"] += 1
        written["bytes"] += int(info["size"])  # type: ignore[call-overload]

    recorder = None
    if record:
        key = RecordingKey(1, "bench", "AES-256-GCM", os.urandom(32), folder)
        recorder = RoomRecorder(key, on_written=on_written, spawn=spawn)
        for i, (v, a) in enumerate(publications):
            recorder.attach(f"p{i}", str(i), v)
            recorder.attach(f"p{i}", str(i), a)
    started = time.monotonic()
    cpu0 = time.process_time()
    tick = 0
    while (now := time.monotonic()) - started < seconds:
        # 20 ms ticks: audio every tick, video on the ticks where a 30 fps frame falls due.
        audio_index = tick
        for _, a in publications:
            a.deliver(EncodedFrame(audio[audio_index % len(audio)], audio_index * 960, True, now, 0))
        due_video = int((tick + 1) * 0.02 * 30) - int(tick * 0.02 * 30)
        for n in range(due_video):
            index = int(tick * 0.02 * 30) + n
            for v, _ in publications:
                v.deliver(
                    EncodedFrame(video[index % len(video)], index * 3000, index % len(video) == 0, now, 0)
                )
        tick += 1
        await asyncio.sleep(max(0.0, started + tick * 0.02 - time.monotonic()))
    if recorder is not None:
        recorder.stop()
        await recorder.drain()
    cpu = time.process_time() - cpu0
    for v, a in publications:
        await v.close()
        await a.close()
    shutil.rmtree(folder, ignore_errors=True)  # sealed segments, never plaintext
    return {"cpu_percent": 100 * cpu / seconds, "segments": written["segments"], "bytes": written["bytes"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--participants", type=int, default=4)
    parser.add_argument("--duration", type=float, default=20.0)
    args = parser.parse_args()
    video, audio = encode_frames(), opus_frames()
    tracks = 2 * args.participants
    print(
        f"load: {args.participants} participants x (640x480 VP8 30 fps ~1 Mbps + Opus 50 fps), {args.duration:g} s per phase"
    )
    base = asyncio.run(run(args.participants, args.duration, False, video, audio))
    print(f"relay only      cpu {base['cpu_percent']:.2f}% of a core")
    rec = asyncio.run(run(args.participants, args.duration, True, video, audio))
    print(
        f"recording       cpu {rec['cpu_percent']:.2f}% of a core, {rec['segments']} segments, "
        f"{rec['bytes'] / 1e6:.1f} MB sealed"
    )
    per_track = (rec["cpu_percent"] - base["cpu_percent"]) / tracks
    met = per_track <= TARGET_PERCENT
    print(
        f"recorder        {per_track:.3f}% of a core per recorded track (target <= {TARGET_PERCENT}%): {'met' if met else 'NOT MET'}"
    )
    print(
        json.dumps(
            {
                "recorder_cpu_percent_per_track": round(per_track, 3),
                "baseline_cpu_percent": round(base["cpu_percent"], 2),
                "recording_cpu_percent": round(rec["cpu_percent"], 2),
                "tracks": tracks,
                "segments": rec["segments"],
                "bytes_written": rec["bytes"],
                "target_percent_per_track": TARGET_PERCENT,
                "target_met": met,
            }
        )
    )


if __name__ == "__main__":
    main()
