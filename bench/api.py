"""HTTP API benchmark: a resident-record read (auth, access rules, ~10 queries, an audit append) and a
resident search, against `/healthz` (one `SELECT 1`) as the baseline, in the same run.

The server runs in its own process (`run.py serve --demo`) on a fresh data folder; the load generator
runs here. Prints one line per scenario and, last, a JSON summary.

    .venv/bin/python bench/api.py [--duration 5] [--concurrency 16] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _scenario(
    session: aiohttp.ClientSession,
    url: str,
    headers: dict[str, str],
    duration: float,
    concurrency: int,
    pid: int,
) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    stop = time.monotonic() + duration

    async def worker() -> None:
        nonlocal errors
        while time.monotonic() < stop:
            started = time.perf_counter()
            async with session.get(url, headers=headers) as resp:
                await resp.read()
                if resp.status != 200:
                    errors += 1
            latencies.append((time.perf_counter() - started) * 1000)

    cpu_before, wall_before = _cpu_seconds(pid), time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.monotonic() - wall_before
    cpu = _cpu_seconds(pid) - cpu_before
    return {
        "requests": len(latencies),
        "errors": errors,
        "requests_per_s": round(len(latencies) / wall, 1),
        "p50_ms": round(statistics.median(latencies), 2),
        "p95_ms": round(_percentile(latencies, 0.95), 2),
        "p99_ms": round(_percentile(latencies, 0.99), 2),
        "server_cpu_ms_per_request": round(cpu * 1000 / max(1, len(latencies)), 3),
    }


def start_server(database_url: str | None) -> tuple[subprocess.Popen[bytes], str]:
    """The server, in its own process, on a fresh data folder (and database, when given)."""
    port = _free_port()
    data = tempfile.mkdtemp(prefix="jiayi-bench-")
    env = {**os.environ, "JIAYI_DATA_DIR": data, "JIAYI_LOG_LEVEL": "WARNING"}
    if database_url:
        env["DATABASE_URL"] = database_url
    server = subprocess.Popen(
        [sys.executable, "run.py", "serve", "--demo", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return server, f"http://127.0.0.1:{port}"


async def run(base: str, pid: int, duration: float, concurrency: int) -> dict[str, object]:
    """Log in as the demo doctor and run each scenario in turn."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        for _ in range(150):
            try:
                async with session.get(f"{base}/healthz") as resp:
                    if resp.status == 200:
                        break
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
        else:
            raise SystemExit("the server did not start")
        async with session.post(
            f"{base}/api/auth/login", json={"username": "doctor", "password": "jiayi-demo"}
        ) as resp:
            token = (await resp.json())["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        results = {}
        for name, path, headers in [
            ("baseline_healthz", "/healthz", {}),
            ("resident_record", "/api/residents/2", auth),
            ("resident_search", "/api/residents?q=%E5%88%98&page_size=20", auth),
        ]:
            result = await _scenario(session, base + path, headers, duration, concurrency, pid)
            results[name] = result
            print(
                f"{name:18} {result['requests_per_s']:8.1f} req/s  p50 {result['p50_ms']:7.2f} ms  "
                f"p95 {result['p95_ms']:7.2f} ms  p99 {result['p99_ms']:7.2f} ms  "
                f"cpu {result['server_cpu_ms_per_request']:.3f} ms/req  errors {result['errors']}"
            )
    record, baseline = results["resident_record"], results["baseline_healthz"]
    return {
        "concurrency": concurrency,
        "duration_s": duration,
        "record_requests_per_s": record["requests_per_s"],
        "record_p99_ms": record["p99_ms"],
        "baseline_requests_per_s": baseline["requests_per_s"],
        "record_cost_vs_baseline": round(
            record["server_cpu_ms_per_request"] / max(1e-9, baseline["server_cpu_ms_per_request"]), 2
        ),
        "server_rss_mb": round(_rss_mb(pid), 1),
        "scenarios": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL to bench instead of SQLite")
    args = parser.parse_args()
    server, base = start_server(args.database_url)
    try:
        summary = asyncio.run(run(base, server.pid, args.duration, args.concurrency))
    finally:
        server.terminate()
        server.wait(timeout=10)
    summary = {"backend": "postgresql" if args.database_url else "sqlite", **summary}
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
