"""Relay benchmark: Jiayi's forwarding relay against stock aiortc `MediaRelay`, on the same load, in one run.

The relays run in their own processes: Jiayi's in media worker processes started by `media.pool.MediaPool`
(``--workers``, one by default; with more, every step gives each worker as many streams, ``--steps``
count streams per worker, and each worker's CPU is printed: on the 2-core VM here, 2026-12-02, two workers
with two generator processes sharing the cores held 150 streams each, 300 in all, each worker at 0.37-0.39
of a core, p95 10.5 ms with the machine at 1.7 of its 2 cores), the baseline in
``bench/_relay_baseline.py`` (`MediaRelay`, which decodes once and re-encodes per subscriber). The load runs
in ``--generators`` other processes (bench/_relay_load.py): each stream is a publisher sending pre-encoded
640x480 VP8 at 30 fps and about 1 Mbps (encoded once, here, then replayed) and a subscriber receiving it
through the relay, each on its own peer connection over loopback.

Measured, from the relays' processes (/proc): server CPU-seconds per relayed stream-second, at the same
loads for both relays and at every ramp step for Jiayi; per-stream frames per second at the subscribers;
relay-added latency (publisher send to the kernel's receipt of the frame's last packet at the subscriber's
socket, same clock; see bench/_relay_load.py) p50/p95; and the largest number of streams Jiayi held, ramping
up (``--steps``), where *held* means at least 95% of the streams received >= 29 fps. The generators' own CPU
and fps sent are printed too: on a 2-core machine the load generator needs about as much CPU as the relay,
so a step can fail because the generator, not the relay, ran out of CPU; the printed figures show which.
Each step also prints the whole machine's busy cores (/proc/stat) and what of that is neither the relay nor
the generator (other work on a shared machine), and the summary names what limited the first step not held
and extrapolates one worker core's capacity from Jiayi's CPU per stream (labelled as extrapolated).

Same load. ``ratio`` is MediaRelay's CPU per stream-second over Jiayi's at one load, and the rule that picks
the load is applied in every run: **the largest load MediaRelay holds, found in the same run**. MediaRelay
ramps over ``--compare-steps`` (2, 4, 6, ... streams) until a step is not held; after each held step Jiayi
is measured at the same load, right after it (each relay with fresh streams of its own; the machine's
speed drifts over minutes, so the two are measured close together), and the table of every step is printed
and kept in the JSON (``same_load``). ``ratio`` is taken at MediaRelay's largest held step
(``compare_streams``, ``compare_rule``). Why that load: below it MediaRelay is not at its best either (its
CPU per stream falls a little as its encoder threads share the cores), and above it MediaRelay no longer
relays the load (its unbounded queues turn the missing CPU into seconds of latency and dropped fps), so
CPU per stream-second would flatter it. ``--compare-streams N`` overrides the rule and compares at N only.
MediaRelay encodes in aiortc's thread pool, so it uses both cores. Measured on the 2-core VM here (runs of
01:25 and 01:53 UTC): it held 6 streams in a slow period of the machine (0.27 CPU-s per stream-second; 8
streams fell to 24.8 fps with 1.2 s latency) and 10 in a fast one (0.15-0.18; 12 streams fell to 25.5 fps);
its latency p95 at the largest held load was 44-115 ms. Jiayi at 2-10 streams took 0.008-0.017 CPU-s per
stream-second (ratio 15-20 at each step of those runs). In the two full runs of 2026-12-02, with the fast
path compiled: MediaRelay held 8 and 10 streams (0.174 and 0.150), Jiayi took 0.0066-0.0124 at 2-10
streams, and ``ratio`` was 19.1 and 18.8 (16-23 at the steps below); in three more, after RTCP took the fast
path too, MediaRelay held 12, 10 and 10 streams (0.129, 0.147, 0.157), Jiayi took 0.0048, 0.0070 and 0.0066
there, and ``ratio`` was 26.7, 21.2 and 23.8; two more (make bench and a run of its own, clean clones) had
MediaRelay hold 14 and 12 and ``ratio`` 29.6 and 28.6. Once media wake-ups no longer took a turn of
asyncio's loop (media/eventloop.py), two full runs in which MediaRelay again held only 10 streams (0.163
and 0.161) had Jiayi at 0.0061 and 0.0056 there, ``ratio`` 26.6 and 28.6 (the second with the
generator at niceness 10; 22.0-31.4 at 6 and 8 streams); in a third (make bench, clean clone)
MediaRelay held 8 streams at 0.138, Jiayi took 0.0062 there and ``ratio`` was 22.2; in a fourth (clean
clone) MediaRelay held 10 at 0.126, its lowest there in any run, Jiayi took 0.0055 and ``ratio`` was 23.0.
Four runs of the comparison alone (``--compare-steps 8,10,12``, generators at niceness 0, 10, 0, 10):
MediaRelay held 10 streams in each (0.162, 0.159, 0.164, 0.157), ``ratio`` 27.1, 27.4, 26.1 and 26.3.
Once incoming RTCP reports were read in C (2026-12-03), five full runs gave ``ratio`` 28.9, 28.4, 27.3
(make bench, clean clone), 25.0 and 29.4: MediaRelay held 6, 10, 10, 4 and 10 streams, the 4 in a period
when other work on the VM took 0.4-0.7 of its cores.

Why Jiayi's figure at so few streams is what it is. At these loads Jiayi's cost per stream is dominated by
waking up, once per packet burst: measured on the 2-core VM here, a process woken after 8 ms asleep spends
about 36 us on an empty wake-up and about 130 us more on the same work than when it runs warm (caches cold;
33 ms asleep: 72 and 190 us); at 4 streams the worker wakes about 140-160 times a second (120 for frames, the
rest for RTCP and ICE consent timers and the generator's RTCP), so some 0.004-0.005 CPU-s per
stream-second goes to waking up alone, whatever is done per packet. Since the per-packet and per-frame path was
compiled (media/fastpath.pyx, 2026-12-02), what a frame costs beyond that wake-up fell by about a third at
4-8 streams (alternated runs), and the generator's receiving side, which uses the same assembler, costs
less too. How much is the waking up, measured (2026-12-02, 3 rounds each, alternated): the same 8 streams
with every publisher's frame sent at one instant, so that one wake-up of the worker serves all 8, cost
25% less (0.0065 against 0.0087 CPU-s per stream-second) than spread over the frame interval as here;
lining up the worker's RTCP report timers on a shared 250 ms grid (fewer timer wake-ups) made no
difference beyond the noise, and rounding every timer of the worker due 0.4 s or more ahead up to that
grid (RTCP, ICE consent, heartbeats: 4 rounds of 3 at 10 streams) about 3% against the generator's CPU in
the same rounds, so neither was kept. At 150 streams the frames share
wake-ups and per-packet work is what counts, so ``ratio_at_max`` (MediaRelay at the compared load against
Jiayi per stream at its largest load held) is printed too. Two per-frame savings in the worker were
measured against each other in one run (two workers, alternating rounds of 4 and 6 streams): a drain loop
that stops after a frame's last packet (saves a failed ``recvfrom`` per frame, 2 us warm) and reading the
time for aiortc's active-SSRC table once per 32 frames (0.5 us warm); rounds differed by up to 2x with the
machine's speed and the pairs showed no difference beyond that (medians 0.0124 and 0.0113 CPU-s per
stream-second, 10 rounds), so neither was kept. Nor was uvloop for the worker (0.0085-0.0095 against
0.0080-0.0085 on asyncio's loop: the fast path's direct socket reads and writes need asyncio's transport).

Latency at 150 streams: in the two full runs of 2026-12-02 (fan-out and socket reads compiled) p95 was 4.5
and 2.7 ms, with the worker at 0.46-0.48 of a core and no full collection in the window (200 streams: 4.6
and 5.9 ms). Before that, latency at 150 streams (p95 9-38 ms over earlier runs; 13.3 and 187.6 ms in the
two full runs of 02:16 and 02:24 UTC, the second with the worker at 0.95 of a core) had two causes seen here. (1) The worker's core is nearly full: at 150 streams it needs 0.75-0.8 of a
core when the machine runs fast, and in a slow period of the VM (it varies about 2x over minutes) it reached
0.94-0.97, with fps 27-28 and p95 135-377 ms, no collection in the window (the per-step line shows the
worker's CPU and the machine's). (2)
Python's full garbage collections: with about 680,000 objects in the worker at 150 streams (some 2,300 per
peer connection; the generator has as many) one takes 80-180 ms and stalls every stream of the process.
They run while streams are being added (a join's objects are promoted; at this size about one full
collection per 35 joins) and were not seen in steady state (the oldest generation did not grow over 6 s at
150 streams; the last one came 1-4 s after the streams were added). Windows that started after them and on
a fast machine showed p95 12-15 ms. ``--settle`` (4 s) lets most of them pass before a step is measured.
In steady state no collection runs at all (what a frame allocates is freed at once, so the collector's
allocation count does not grow): the per-step lines print the collections of each window in the worker
(its ``stats``, media/gc_pauses.py) and in the generator, so a run shows whether one was to blame. Not
everything is explained: a quick run at 02:29 UTC had p95 22.9 ms at 150 streams with no collection in
either process, the worker at 0.79 of a core and the machine at about 1.6 of its 2 cores.

Placement. By default the scheduler places the processes. With ``--pin`` (the same for both relays), when
the relays and generators fit one core each, each process is kept on its own core: Jiayi's worker and
the baseline on the first, the generator on the next. Unpinned, the scheduler often pulls the
generator onto the relay's core when a datagram wakes it, and the two preempt each other (about 300
involuntary context switches a second in the worker at 4 streams; pinned, about 2); measured, that made
no difference to the relay's CPU beyond the run-to-run noise (4 streams: 0.0108-0.0137 CPU-s per
stream-second pinned, 0.0100-0.0133 unpinned), so it is not the default. CPU is counted the same way
either way. Both relays run on asyncio's event loop: MediaRelay on the default one, as stock aiortc does,
Jiayi's worker on its own (media/eventloop.py: the same loop, with a selector that runs the media sockets'
readers inside ``select``); the generators run on Jiayi's (they use its compiled readers for the
subscribers' sockets), which leaves more of the machine to the relay under test, either relay.

Priority. The generators run at niceness 10 (``--generator-nice``), the relays at 0, so that a relay
woken by a datagram gets a core at once when the generator is using it: the relay-added latency measured
is then the relay's, not a wait for the load generator's time slice, as it would be in a deployment
where the clients are other machines. It changes nothing for the relay's CPU, and the generator still gets
every cycle the relay leaves (when it falls behind, its sent fps shows it and the step's limit says so).
Measured, two workers and two generators at 150 streams per worker, the machine at 1.82-1.85 of its 2
cores (2026-12-02): relay-added latency p95 10.8 ms at niceness 0, 4.1 ms at 10.

``--no-compare`` leaves MediaRelay out and ramps Jiayi only: ``make bench`` runs the comparison above with
one worker, then ``--no-compare --workers N --generators N --steps 150`` with N the machine's cores, so
that every core runs a worker at the 150 streams per worker asked for (the generators share the cores;
measured 2026-12-03: 150 streams each, the workers at 0.41-0.43 of a core, p95 6.1 ms, the machine at
1.68 of its 2 cores). Its JSON has ``ratio`` and the other MediaRelay keys null.

The last line is JSON with ``jiayi_cpu_s_per_stream_s``, ``mediarelay_cpu_s_per_stream_s``, ``ratio``,
``jiayi_max_streams``, ``jiayi_latency_p95_ms`` and more.

    .venv/bin/python bench/relay.py [--quick] [--workers 1] [--generators 1] [--compare-streams N]
        [--compare-steps 2,4,6,8,10,12,14,16] [--no-compare] [--steps 50,100,150,175,200] [--settle 4]
        [--measure 6] [--pin] [--generator-nice 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import secrets
import subprocess
import sys
import time
from fractions import Fraction
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

import av  # noqa: E402
from _relay_load import cpu_seconds, generator_main  # noqa: E402
from aiortc.codecs.vpx import Vp8Encoder, vp8_depayload  # noqa: E402

from media.pool import MediaPool  # noqa: E402
from media.settings import MediaSettings  # noqa: E402
from media.worker import TOKEN_ENV  # noqa: E402

TARGET = {"ratio": 25.0, "streams_per_worker": 150, "fps": 29.0, "latency_p95_ms": 10.0}
GOP = 60


def encode_frames(count: int = GOP, bitrate: int = 1_000_000) -> list[bytes]:
    """`count` frames of 640x480 VP8 at about `bitrate`: a moving gradient with a moving textured patch, so the
    encoder has work every frame; the first frame is a keyframe."""
    encoder = Vp8Encoder()
    encoder.target_bitrate = bitrate
    width, height = 640, 480
    gradient = bytes((x + y) % 256 for y in range(2 * height) for x in range(width))
    texture = os.urandom(160 * 120)
    frames = []
    for index in range(count):
        frame = av.VideoFrame(width, height, "yuv420p")
        y_plane, u_plane, v_plane = frame.planes
        shift = (index * 4) % height
        luma = bytearray(gradient[shift * width : (shift + height) * width])
        left, top = (index * 6) % (width - 160), (index * 3) % (height - 120)
        for row in range(120):
            start = (top + row) * width + left
            luma[start : start + 160] = texture[row * 160 : (row + 1) * 160]
        y_plane.update(bytes(luma))
        u_plane.update(bytes([96 + index % 64]) * u_plane.buffer_size)
        v_plane.update(bytes([160]) * v_plane.buffer_size)
        frame.pts = index * 3000
        frame.time_base = Fraction(1, 90000)
        payloads, _ = encoder.encode(frame, force_keyframe=index == 0)
        frames.append(b"".join(vp8_depayload(p) for p in payloads))
    return frames


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def _spread(total: int, parts: int) -> list[int]:
    """`total` split into `parts` shares that differ by at most one, the larger first."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


class Generators:
    """The load generator processes, driven over pipes."""

    def __init__(self, count: int, frames: list[bytes], nice: int = 0) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.processes = []
        for index in range(count):
            parent, child = context.Pipe()
            process = context.Process(
                target=generator_main, args=(child, frames, index * 100_000), daemon=True
            )
            process.start()
            if nice:
                assert process.pid is not None
                renice(process.pid, nice)
            self.pipes.append(parent)
            self.processes.append(process)
        self.per_url: dict[str, int] = {}

    def _ask(self, commands: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
        for pipe, command in zip(self.pipes, commands, strict=True):
            pipe.send(command)
        return [pipe.recv() for pipe in self.pipes]

    @property
    def streams(self) -> int:
        return sum(self.per_url.values())

    def add(self, urls: list[str], token: str, count: int) -> int:
        """Add `count` streams, spread so that every relay endpoint in `urls` (a worker each) has as many
        streams as the others (give or take one), and each endpoint's share over the generators."""
        failures = 0
        for url, wanted in zip(urls, _spread(self.streams + count, len(urls)), strict=True):
            new = wanted - self.per_url.get(url, 0)
            if new <= 0:
                continue
            replies = self._ask([("add", url, token, n) for n in _spread(new, len(self.pipes))])
            self.per_url[url] = wanted
            failures += sum(r["failures"] for r in replies)
        return failures

    def measure(self, seconds: float) -> dict[str, Any]:
        replies = self._ask([("measure", seconds)] * len(self.pipes))
        return {
            "fps": [f for r in replies for f in r["fps"]],
            "sent_fps": [f for r in replies for f in r["sent_fps"]],
            "latencies_ms": [v for r in replies for v in r["latencies_ms"]],
            "latencies_as_read_ms": [v for r in replies for v in r["latencies_as_read_ms"]],
            "cpu": sum(r["cpu"] for r in replies),
            "server": replies[0]["server"],
            "loop_lag_max_ms": max(r["loop_lag_max_ms"] for r in replies),
            # The worker's collections are counted once (every generator asks the same workers).
            "server_gc_full": replies[0]["server_gc_full"],
            "server_gc_young": replies[0]["server_gc_young"],
            "generator_gc_full": [sum(r["generator_gc_full"][i] for r in replies) for i in (0, 1)],
        }

    def clear(self) -> None:
        self._ask([("clear",)] * len(self.pipes))
        self.per_url = {}

    def stop(self) -> None:
        self._ask([("stop",)] * len(self.pipes))
        for process in self.processes:
            process.join(10)


def pin(pid: int, cpu: int) -> None:
    """Keep every thread of process `pid` (and the threads it starts later) on one CPU."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            os.sched_setaffinity(int(tid), {cpu})
        except ProcessLookupError:
            pass  # a thread that just ended


def renice(pid: int, nice: int) -> None:
    """Give every thread of process `pid` (and those its threads start later) the niceness `nice`."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            os.setpriority(os.PRIO_PROCESS, int(tid), nice)
        except ProcessLookupError:
            pass  # a thread that just ended


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU-seconds of the whole machine since boot, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])
    ticks = os.sysconf("SC_CLK_TCK")
    return (total - idle) / ticks, total / ticks


def run_load(
    generators: Generators,
    pids: list[int],
    urls: list[str],
    token: str,
    streams: int,
    settle: float,
    seconds: float,
) -> dict[str, Any]:
    """Add streams up to `streams` (spread evenly over the relay processes `pids`, reached at `urls`), let
    them settle, then measure server CPU (each process's, and their sum), fps and latency."""
    failures = (
        generators.add(urls, token, streams - generators.streams) if streams > generators.streams else 0
    )
    time.sleep(settle)
    each_before = [cpu_seconds(pid) for pid in pids]
    start, machine_before = time.monotonic(), machine_busy()
    result = generators.measure(seconds)
    elapsed = time.monotonic() - start
    each = [(cpu_seconds(pid) - before) / elapsed for pid, before in zip(pids, each_before, strict=True)]
    cpu = sum(each)
    machine_after = machine_busy()
    machine = (machine_after[0] - machine_before[0]) / elapsed
    fps = result["fps"]
    latencies = result["latencies_ms"]
    return {
        "streams": streams,
        "failures": failures,
        "server_cpu": round(cpu, 3),
        # Each relay process's share (one per worker): with several workers, each must keep up.
        "server_cpu_each": [round(c, 3) for c in each],
        "cpu_s_per_stream_s": round(cpu / streams, 5),
        "fps_mean": round(sum(fps) / len(fps), 2) if fps else 0.0,
        "fps_p5": round(percentile(fps, 5), 2),
        "sent_fps_mean": round(sum(result["sent_fps"]) / max(1, len(result["sent_fps"])), 2),
        "latency_p50_ms": round(percentile(latencies, 50), 2),
        "latency_p95_ms": round(percentile(latencies, 95), 2),
        "latency_as_read_p95_ms": round(percentile(result["latencies_as_read_ms"], 95), 2),
        "generator_cpu": round(result["cpu"], 3),
        # Busy cores of the whole machine: relay + generator + everything else running (other work shows).
        "machine_cpu": round(machine, 3),
        "other_cpu": round(max(0.0, machine - cpu - result["cpu"]), 3),
        "held": bool(fps) and percentile(fps, 5) >= TARGET["fps"],
        "server_stats": result["server"],
        "generator_loop_lag_max_ms": result["loop_lag_max_ms"],
        # Full garbage collections in the window, [count, total ms]: the relay's worker(s), the generator.
        "server_gc_full": list(result["server_gc_full"]),
        "server_gc_young": list(result["server_gc_young"]),
        "generator_gc_full": list(result["generator_gc_full"]),
    }


def limiting(row: dict[str, Any]) -> str:
    """What most likely stopped a step from being held: the generator, the worker, or the machine."""
    cores = os.cpu_count() or 1
    if row["machine_cpu"] >= 0.9 * cores and row["other_cpu"] >= 0.25:
        return f"machine (every core busy; other work took {row['other_cpu']:.2f} cores)"
    if row["sent_fps_mean"] < TARGET["fps"] or row["generator_cpu"] >= 0.9:
        return "load generator (it could not send or receive 30 fps: its core is full)"
    busiest = max(row["server_cpu_each"])
    if busiest >= 0.9:
        return f"relay (its busiest process used {busiest:.2f} cores)"
    if row["machine_cpu"] >= 0.9 * cores:
        return "machine (every core busy)"
    return "unknown (no process at a full core: latency or loss; see the per-step lines)"


def show(label: str, row: dict[str, Any]) -> None:
    each = row["server_cpu_each"]
    print(
        f"{label:>10} {row['streams']:4d} streams: server {row['server_cpu']:.2f} CPU "
        + (f"(workers {', '.join(f'{c:.2f}' for c in each)}) " if len(each) > 1 else "")
        + f"({row['cpu_s_per_stream_s']:.4f} s/stream-s), fps mean {row['fps_mean']:.1f} p5 {row['fps_p5']:.1f} "
        f"(sent {row['sent_fps_mean']:.1f}), latency p50 {row['latency_p50_ms']:.1f} p95 "
        f"{row['latency_p95_ms']:.1f} ms (p95 as the generator read it {row['latency_as_read_p95_ms']:.1f} ms), generator {row['generator_cpu']:.2f} CPU, machine "
        f"{row['machine_cpu']:.2f} of {os.cpu_count()} cores (other work {row['other_cpu']:.2f}), "
        f"failures {row['failures']}" + ("" if row["held"] else "  << not held"),
        flush=True,
    )
    if row.get("server_stats"):
        print(
            f"{'':>10} server: {row['server_stats']}; generator loop lag max {row['generator_loop_lag_max_ms']} ms; "
            f"full garbage collections in the window (count, ms): worker {tuple(row['server_gc_full'])}, "
            f"generator {tuple(row['generator_gc_full'])}; the worker's young collections "
            f"{tuple(row['server_gc_young'])}",
            flush=True,
        )


def start_baseline(token: str) -> tuple[subprocess.Popen[str], str]:
    env = dict(os.environ, **{TOKEN_ENV: token})
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "_relay_baseline.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    ready = json.loads(process.stdout.readline())
    return process, f"http://127.0.0.1:{ready['port']}/rpc"


def stop_baseline(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(15)


def compare(
    generators: Generators,
    baseline: tuple[int, str, str],
    pids: list[int],
    urls: list[str],
    token: str,
    args: argparse.Namespace,
    baseline_steps: list[int],
) -> tuple[dict[str, Any], dict[str, Any], str, list[tuple[dict[str, Any], dict[str, Any] | None]]]:
    """MediaRelay and Jiayi at the same loads: (MediaRelay's row and Jiayi's at the compared load, the rule
    that picked it, every step's pair). `baseline` is MediaRelay's process id, RPC address and token."""
    baseline_pid, baseline_url, baseline_token = baseline
    # Same load on both relays: each step is measured on MediaRelay, then on Jiayi, each with streams of
    # its own, one right after the other (the machine's speed drifts over minutes).
    compare_steps = [args.compare_streams] if args.compare_streams else baseline_steps
    same_load: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
    for streams in compare_steps:
        stock_row = run_load(
            generators, [baseline_pid], [baseline_url], baseline_token, streams, args.settle, args.measure
        )
        show("mediarelay", stock_row)
        generators.clear()
        jiayi_row = None
        if stock_row["held"] or args.compare_streams:
            jiayi_row = run_load(generators, pids, urls, token, streams, args.settle, args.measure)
            show("jiayi", jiayi_row)
            generators.clear()
        same_load.append((stock_row, jiayi_row))
        if not stock_row["held"]:
            break
    stock_held = [pair for pair in same_load if pair[0]["held"] and pair[1] is not None]
    if args.compare_streams:
        compare_rule = f"--compare-streams {args.compare_streams} (given)"
        stock, jiayi_compare = same_load[0]
    elif stock_held:
        compare_rule = "the largest step MediaRelay held at >= 29 fps in this run"
        stock, jiayi_compare = stock_held[-1]
    else:
        compare_rule = "MediaRelay held no step in this run: its first step, not held"
        stock, jiayi_compare = same_load[0][0], None
    if jiayi_compare is None:
        jiayi_compare = run_load(generators, pids, urls, token, stock["streams"], args.settle, args.measure)
        show("jiayi", jiayi_compare)
        generators.clear()
    stock_failed = next((pair[0] for pair in same_load if not pair[0]["held"]), None)
    print(
        "same load, CPU-s per relayed stream-second (fps mean):\n"
        f"{'streams':>8} {'mediarelay':>18} {'jiayi':>18} {'ratio':>6}",
        flush=True,
    )
    for stock_row, jiayi_row in same_load:
        line = (
            f"{stock_row['streams']:8d} {stock_row['cpu_s_per_stream_s']:9.4f} ({stock_row['fps_mean']:4.1f})"
            + ("   " if stock_row["held"] else " x ")
        )
        if jiayi_row is not None:
            line += f" {jiayi_row['cpu_s_per_stream_s']:9.4f} ({jiayi_row['fps_mean']:4.1f})"
            if stock_row["held"] and jiayi_row["cpu_s_per_stream_s"] > 0:
                line += f" {stock_row['cpu_s_per_stream_s'] / jiayi_row['cpu_s_per_stream_s']:6.1f}"
        print(line, flush=True)
    print(
        f"compared at {stock['streams']} streams: {compare_rule}"
        + (
            f"; MediaRelay's next step failed, limited by the {limiting(stock_failed)}"
            if stock_failed
            else ""
        ),
        flush=True,
    )
    return stock, jiayi_compare, compare_rule, same_load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter steps (about a minute)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--generators", type=int, default=1)
    parser.add_argument(
        "--compare-streams",
        type=int,
        default=0,
        help="compare both relays at this load only (default: the largest load MediaRelay holds, found by "
        "ramping it over --compare-steps)",
    )
    parser.add_argument("--compare-steps", default="2,4,6,8,10,12,14,16")
    parser.add_argument(
        "--no-compare",
        action="store_true",
        help="ramp Jiayi only, without MediaRelay (make bench's run with a worker per core)",
    )
    parser.add_argument("--steps", default="50,100,150,175,200")
    parser.add_argument("--settle", type=float, default=4.0)
    parser.add_argument("--measure", type=float, default=6.0)
    parser.add_argument(
        "--generator-nice",
        type=int,
        default=10,
        help="the load generators' niceness (the relays keep 0; see the module docstring)",
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="keep each relay and generator process on a core of its own (see the module docstring)",
    )
    args = parser.parse_args()
    if args.quick:
        args.steps, args.settle, args.measure = "50,150", 3.0, 4.0
    steps = [int(s) for s in args.steps.split(",")]
    baseline_steps = [int(s) for s in args.compare_steps.split(",")]

    frames = encode_frames()
    bitrate = sum(len(f) for f in frames) * 8 * 30 / len(frames)
    print(
        f"load: 640x480 VP8, {len(frames)} pre-encoded frames, {bitrate / 1e6:.2f} Mbps at 30 fps", flush=True
    )

    generators = Generators(args.generators, frames, args.generator_nice)
    pool = MediaPool(MediaSettings(workers=args.workers))
    loop = asyncio.new_event_loop()
    loop.run_until_complete(pool.start())
    pids = pool.worker_pids
    urls = [url for _, url in pool.endpoints()]
    workers = len(pids)
    cores = sorted(os.sched_getaffinity(0))
    pinned = args.pin and args.workers + args.generators <= len(cores)
    if pinned:
        # Relays on the first cores, generators on the next ones; the baseline later on the first worker's.
        for index, pid in enumerate(pids):
            pin(pid, cores[index])
        for index, process in enumerate(generators.processes):
            assert process.pid is not None
            pin(process.pid, cores[args.workers + index])
    print(
        f"worker pids {pids}, generator pids {[p.pid for p in generators.processes]}, bench pid {os.getpid()}",
        flush=True,
    )
    rows: dict[str, Any] = {}
    baseline = None
    try:
        stock: dict[str, Any] | None = None
        jiayi: dict[str, Any] | None = None
        compare_rule = "not compared (--no-compare)"
        same_load: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
        if not args.no_compare:
            baseline_token = secrets.token_urlsafe(24)
            baseline, baseline_url = start_baseline(baseline_token)
            assert baseline.pid is not None
            if pinned:
                pin(baseline.pid, cores[0])
            stock, jiayi, compare_rule, same_load = compare(
                generators,
                (baseline.pid, baseline_url, baseline_token),
                pids,
                urls,
                pool.rpc_token,
                args,
                baseline_steps,
            )
            stop_baseline(baseline)
        stock_held = [pair for pair in same_load if pair[0]["held"] and pair[1] is not None]
        # Jiayi ramps up, the steps counting streams per worker process (each worker gets as many); after
        # the first step not held, two steps halve the gap to the last held one (streams are only ever
        # added, so those restart the ramp).
        ramp = []
        failed: dict[str, Any] | None = None
        for streams in steps:
            row = run_load(
                generators, pids, urls, pool.rpc_token, streams * workers, args.settle, args.measure
            )
            show("jiayi", row)
            ramp.append(row)
            if not row["held"]:
                failed = row
                break
        for _ in range(2 if failed is not None else 0):
            assert failed is not None
            low = max((r["streams"] // workers for r in ramp if r["held"]), default=0)
            high = failed["streams"] // workers
            middle = (low + high) // 2
            if middle <= low or high - low < 10:
                break
            generators.clear()
            row = run_load(
                generators, pids, urls, pool.rpc_token, middle * workers, args.settle, args.measure
            )
            show("jiayi", row)
            ramp.append(row)
            if not row["held"]:
                failed = row
        generators.clear()
        held = sorted((r for r in ramp if r["held"]), key=lambda r: r["streams"])
        best = held[-1] if held else ramp[0]
        best_per_worker = best["streams"] // workers if held else 0
        limit = None if failed is None else limiting(failed)
        per_stream = best["cpu_s_per_stream_s"]
        capacity = int(1 / per_stream) if per_stream > 0 else None
        note = (
            f"largest step held: {best_per_worker} streams"
            + (f" per worker ({best_per_worker * workers} on {workers} workers)" if workers > 1 else "")
            + f" at >= {TARGET['fps']:.0f} fps"
            + (f"; the next step failed, limited by the {limit}" if limit else "")
            + (
                f"; at {per_stream:.4f} CPU-s per stream-second one worker core would hold about {capacity} "
                f"streams (extrapolated, not shown) while the generator needs "
                f"{best['generator_cpu'] / max(1, best['streams']):.4f} CPU-s per stream-second on the other core"
                if capacity
                else ""
            )
        )
        print(note, flush=True)
        # Without the comparison, MediaRelay's figures are null and Jiayi's are those of its largest load held.
        jiayi = jiayi or best
        mediarelay = stock or {}
        stock_cpu = mediarelay.get("cpu_s_per_stream_s")
        rows = {
            "jiayi_cpu_s_per_stream_s": jiayi["cpu_s_per_stream_s"],
            "mediarelay_cpu_s_per_stream_s": stock_cpu,
            "ratio": round(stock_cpu / jiayi["cpu_s_per_stream_s"], 1)
            if stock_cpu and jiayi["cpu_s_per_stream_s"] > 0
            else None,
            "compare_streams": mediarelay.get("streams"),
            "compare_rule": compare_rule,
            "mediarelay_max_streams": max((p[0]["streams"] for p in stock_held), default=0),
            # Every step of the same-load comparison: MediaRelay's ramp, and Jiayi at each step it held.
            "same_load": [
                {
                    "streams": stock_row["streams"],
                    "mediarelay_cpu_s_per_stream_s": stock_row["cpu_s_per_stream_s"],
                    "mediarelay_fps_mean": stock_row["fps_mean"],
                    "mediarelay_fps_p5": stock_row["fps_p5"],
                    "mediarelay_held": stock_row["held"],
                    "mediarelay_latency_p95_ms": stock_row["latency_p95_ms"],
                    "jiayi_cpu_s_per_stream_s": None
                    if jiayi_row is None
                    else jiayi_row["cpu_s_per_stream_s"],
                    "jiayi_fps_mean": None if jiayi_row is None else jiayi_row["fps_mean"],
                    "generator_cpu": stock_row["generator_cpu"],
                    "other_cpu": stock_row["other_cpu"],
                }
                for stock_row, jiayi_row in same_load
            ],
            "jiayi_fps_mean": jiayi["fps_mean"],
            "mediarelay_fps_mean": mediarelay.get("fps_mean"),
            "jiayi_latency_p50_ms": best["latency_p50_ms"],
            "jiayi_latency_p95_ms": best["latency_p95_ms"],
            "jiayi_latency_as_read_p95_ms": best["latency_as_read_p95_ms"],
            # The same at the target load (``streams_per_worker``), when the ramp has that step and held it.
            "jiayi_latency_p95_ms_at_target_streams": next(
                (r["latency_p95_ms"] for r in held if r["streams"] == TARGET["streams_per_worker"] * workers),
                None,
            ),
            "mediarelay_latency_p50_ms": mediarelay.get("latency_p50_ms"),
            "mediarelay_latency_p95_ms": mediarelay.get("latency_p95_ms"),
            # Streams per worker process (each worker had as many), and in all.
            "jiayi_max_streams": best_per_worker,
            "jiayi_max_streams_total": best_per_worker * workers,
            "jiayi_cpu_s_per_stream_s_at_max": best["cpu_s_per_stream_s"],
            # MediaRelay at `compare_streams` (the most it held) against Jiayi per stream at its largest load held.
            "ratio_at_max": round(stock_cpu / per_stream, 1) if stock_cpu and per_stream > 0 else None,
            # The busiest worker's cores, and each worker's.
            "jiayi_worker_cpu_at_max": max(best["server_cpu_each"]),
            "jiayi_workers_cpu_at_max": best["server_cpu_each"],
            "generator_cpu_at_max": best["generator_cpu"],
            "machine_cpu_at_max": best["machine_cpu"],
            "other_cpu_at_max": best["other_cpu"],
            "limit_of_next_step": limit,
            "jiayi_streams_per_core_extrapolated": capacity,
            "note": note,
            "workers": args.workers,
            "pinned": pinned,
            "cores": os.cpu_count(),
            "target": TARGET,
        }
    finally:
        if baseline is not None:
            stop_baseline(baseline)
        generators.stop()
        loop.run_until_complete(pool.close())
        loop.close()
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
