"""Socket.IO hub benchmark: N clients in consult rooms chatting at a given rate, against `typing` events
(the same clients, rate and hub path, but nothing stored) as the baseline, in the same run.

The bench population (residents signed with the demo team, one doctor of the team per resident, one
consult in progress per pair, both admitted, with its chat) is written through the project's storage
code before the server starts, and tokens are minted with the server's own key. The server runs in
its own process (`run.py serve --demo`) on a fresh data folder; the clients run in `--workers`
generator processes, each holding whole rooms, so a message's send and receive times come from one
clock. Every client connects to /chat and /consult, `join`s its room and opens its chat (as the consult page does); sends are open-loop (the
rate does not drop when the server falls behind) and spread over all clients. Latency is from the
sender's `send_message` to the other participant's `message` event, not the ack; a message never
delivered counts with the time it had waited, so percentiles of an overloaded server are marked as
lower bounds ("p99 >"). Between phases the bench waits for the server's backlog to drain.

Prints one block per step and phase (server, generator and machine CPU, so a busy machine or a
saturated generator shows) and, last, a JSON summary.

    .venv/bin/python bench/signaling.py [--quick] [--clients 2000] [--rate 500] [--duration 20]
        [--workers 2] [--database-url postgresql://...empty database] [--profile server.svg|.txt]
        [--keep-data]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
# The project before this folder: this file's name would otherwise shadow the `signaling` package.
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

from _signaling_load import Member, Room, worker_main  # noqa: E402

from consult.consult import ConsultKind, ConsultMode, ConsultStatus, Participant, ParticipantRole  # noqa: E402
from consult.contract import ContractStatus, ServicePackage, one_year_from  # noqa: E402
from consult.resident import Sex  # noqa: E402
from storage import audit, consults, contracts, messages, people, residents  # noqa: E402
from storage.crypto import FieldProtector, derive_key  # noqa: E402
from storage.db import create_engine, create_sessionmaker  # noqa: E402
from storage.demo import demo_id_number  # noqa: E402
from storage.models import CareTeamRow, PractitionerRow, TeamMembershipRow, UserRow  # noqa: E402
from storage.passwords import hash_password  # noqa: E402
from web.auth import TokenIssuer  # noqa: E402
from web.settings import Settings, from_env  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
#: Fixed, so the bench can mint the server's tokens; never a production secret.
SECRET = "jiayi-bench-secret-key-0123456789abcdef-not-for-production"
BENCH_PASSWORD = "jiayi-bench"
#: After a phase's last send, how long answers and deliveries still under way are waited for.
DRAIN_S = 15.0
TARGET = {"clients": 2000, "messages_per_s": 500, "p99_ms": 50.0}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_times(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / TICKS, int(fields[12]) / TICKS


def _cpu_seconds(pid: int) -> float:
    return sum(_cpu_times(pid))


def _postgres_cpu_seconds() -> float:
    """CPU time of every PostgreSQL process on this machine (the database is part of what is measured)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if "(postgres)" in text:
            fields = text.rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def _status_mb(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _machine_busy() -> tuple[float, float, float]:
    """(busy, stolen, total) jiffies of the whole machine, to tell the server, the generators and anything
    else apart; `stolen` is time the hypervisor gave this VM's cores to other guests."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    idle, steal = values[3] + values[4], values[7]
    return float(sum(values) - idle - steal), float(steal), float(sum(values))


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def _server_version() -> dict[str, Any]:
    """The commit the server runs, and whether its code differs from it (others edit it meanwhile)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        changed = subprocess.run(
            [
                "git",
                "--no-optional-locks",
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                "consult",
                "signaling",
                "storage",
                "web/*.py",
                "run.py",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.split("\n")
    except (OSError, subprocess.SubprocessError):
        return {"server_commit": None, "server_code_changed": None}
    return {"server_commit": head or None, "server_code_changed": sorted(c[3:] for c in changed if c.strip())}


# --- the bench population -----------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    """A consult in progress between one bench resident and one bench doctor."""

    consult_id: int
    conversation_id: int
    resident_user_id: int
    doctor_user_id: int


async def populate(settings: Settings, pairs: int) -> list[Pair]:
    """Residents signed with the demo team, a doctor of that team for each, and a consult in progress
    (both admitted, its chat created) per pair, in one transaction through the storage code."""
    engine = create_engine(settings.database_url)
    protector = FieldProtector(
        encryption_key=derive_key(settings.secret_key, "jiayi field encryption"),
        index_key=derive_key(settings.secret_key, "jiayi field index"),
        cipher_name=settings.cipher,
    )
    today = datetime.now(ZoneInfo(settings.timezone)).date()
    now = datetime.now(UTC)
    password = hash_password(BENCH_PASSWORD)  # one argon2 hash for every bench account
    signed = today - timedelta(days=30)
    out: list[Pair] = []
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            demo_doctor = await people.user_by_username(session, "doctor")
            if demo_doctor is None or demo_doctor.practitioner_id is None:
                raise SystemExit("the demo data has no doctor: was `run.py demo` run on this database?")
            team_ids = await people.current_team_ids(session, demo_doctor.practitioner_id, today)
            team = await session.get(CareTeamRow, min(team_ids))
            assert team is not None
            for i in range(pairs):
                male = i % 2 == 1
                born = date(1940, 1, 1) + timedelta(days=i)
                serial = (i % 500) * 2 + (1 if male else 0)  # odd 17th digit for men
                resident = await residents.add(
                    session,
                    protector,
                    name=f"压测居民{i:05d}",
                    sex=Sex.MALE if male else Sex.FEMALE,
                    birth_date=born,
                    id_number=demo_id_number(born, serial, region="310113"),
                    phone=f"139{i:08d}",
                    address=f"压测路 {i} 号",
                    tags=("高血压",),
                )
                await contracts.add(
                    session,
                    resident_id=resident.id,
                    team_id=team.id,
                    package=ServicePackage.BASIC,
                    start_date=signed,
                    end_date=one_year_from(signed),
                    status=ContractStatus.ACTIVE,
                    created_by=demo_doctor.id,
                )
                practitioner = PractitionerRow(
                    name=f"压测医生{i:05d}",
                    kind="doctor",
                    organization_id=team.organization_id,
                    years_of_practice=10,
                    department="全科",
                    real_name_verified=True,
                    verified_at=now,
                    licence_number=f"BENCH{i:08d}",
                )
                session.add(practitioner)
                await session.flush()
                session.add(
                    TeamMembershipRow(
                        team_id=team.id, practitioner_id=practitioner.id, role="doctor", joined_on=signed
                    )
                )
                resident_user = UserRow(
                    username=f"bench-r{i:05d}",
                    password_hash=password,
                    role="resident",
                    display_name=resident.name,
                    resident_id=resident.id,
                )
                doctor_user = UserRow(
                    username=f"bench-d{i:05d}",
                    password_hash=password,
                    role="doctor",
                    display_name=f"{practitioner.name} 医生",
                    practitioner_id=practitioner.id,
                    organization_id=team.organization_id,
                )
                session.add_all([resident_user, doctor_user])
                await session.flush()
                row = await consults.add(
                    session,
                    kind=ConsultKind.ADVICE,
                    mode=ConsultMode.TEXT,
                    resident_id=resident.id,
                    team_id=team.id,
                    status=ConsultStatus.IN_PROGRESS,
                    scheduled_at=None,
                    condition_id=None,
                    referral_id=None,
                    reason="压测：图文咨询",
                    created_by=doctor_user.id,
                    participants=[
                        Participant(doctor_user.id, ParticipantRole.DOCTOR, doctor_user.display_name),
                        Participant(resident_user.id, ParticipantRole.RESIDENT, resident_user.display_name),
                    ],
                )
                row.started_at = now
                for participant in row.participants:  # admitted: the resident may `join`
                    participant.joined_at = now
                conversation = await messages.consult_conversation(session, row.id, resident.id, team.id)
                out.append(Pair(row.id, conversation.id, resident_user.id, doctor_user.id))
            await audit.append(
                session,
                audit.AuditRecord(action="bench_load", entity_type="system", detail={"consults": pairs}),
            )
    finally:
        await engine.dispose()
    return out


# --- the server ---------------------------------------------------------------------------------


class BenchError(Exception):
    """The bench could not run; the message says why."""


def _server_log_tail(log: Path, lines: int = 25) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


def server_log_errors(log: Path, top: int = 3) -> tuple[int, list[tuple[str, int]]]:
    """How many errors the server logged, and its most common exception lines."""
    errors = 0
    kinds: dict[str, int] = {}
    try:
        with log.open(errors="replace") as lines:
            for line in lines:
                if " ERROR " in line or " CRITICAL " in line:
                    errors += 1
                elif line[:1] not in (" ", "\t", "T") and "Error" in line.split(":", 1)[0]:
                    kind = line.strip()[:160]
                    kinds[kind] = kinds.get(kind, 0) + 1
    except OSError:
        return 0, []
    return errors, sorted(kinds.items(), key=lambda kv: -kv[1])[:top]


def start_server(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    """`run.py serve --demo` in its own process, its output in `log`."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "run.py", "serve", "--demo", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_healthy(server: subprocess.Popen[bytes], base: str, log: Path, within: float = 60.0) -> float:
    """Seconds until `/healthz` answers; BenchError with the server's log if it exits or never does."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        if server.poll() is not None:
            raise BenchError(
                f"the server exited with status {server.returncode} before answering; its log:\n"
                + _server_log_tail(log)
            )
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as resp:
                if resp.status == 200:
                    return time.monotonic() - started
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise BenchError(
        f"the server did not answer /healthz within {within:.0f} s; its log:\n" + _server_log_tail(log)
    )


def stop_server(server: subprocess.Popen[bytes]) -> None:
    """Terminate, then kill if it does not go."""
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)


def _start_profiler(pid: int, path: Path, duration: float) -> subprocess.Popen[bytes]:
    """py-spy sampling the server (without pausing it) for `duration` seconds: collapsed stacks for a
    `.txt` path, a flame graph otherwise."""
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        raise BenchError("--profile needs py-spy: .venv/bin/pip install py-spy")
    fmt = "raw" if path.suffix == ".txt" else "flamegraph"
    return subprocess.Popen(
        [
            spy,
            "record",
            "--nonblocking",
            "--rate",
            "200",
            "--format",
            fmt,
            "--duration",
            str(int(duration)),
            "--pid",
            str(pid),
            "--output",
            str(path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _stop_profiler(spy: subprocess.Popen[bytes], path: Path) -> None:
    try:
        _, err = spy.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        spy.kill()
        _, err = spy.communicate()
    if spy.returncode != 0:
        print(f"py-spy failed ({spy.returncode}): {err.decode(errors='replace')[-500:]}", file=sys.stderr)
    else:
        print(f"profile               {path}")


# --- generator processes ------------------------------------------------------------------------


class Generators:
    """The generator processes and the pipes the bench drives them through."""

    def __init__(self, url: str, rooms: list[Room], count: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.procs: list[Any] = []
        #: Rooms per process: each process sends its share of the rate.
        self.room_counts: list[int] = []
        for index in range(count):
            share = rooms[index::count]
            if not share:
                continue
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=worker_main, args=(child, url, share, index), daemon=True)
            proc.start()
            child.close()
            self.pipes.append(parent)
            self.procs.append(proc)
            self.room_counts.append(len(share))

    def send(self, name: str, args: list[dict[str, Any]] | dict[str, Any]) -> None:
        """Send a command to every process (`args` per process, or one for all)."""
        for i, pipe in enumerate(self.pipes):
            pipe.send((name, args[i] if isinstance(args, list) else args))

    def collect(self, name: str, within: float) -> list[dict[str, Any]]:
        """Every process's reply to the command sent last, waiting at most `within` seconds in all."""
        deadline = time.monotonic() + within
        replies = []
        for i, pipe in enumerate(self.pipes):
            if not pipe.poll(max(0.0, deadline - time.monotonic())):
                raise BenchError(f"generator {i} did not finish {name!r} within {within:.0f} s")
            try:
                reply = pipe.recv()
            except EOFError as err:
                raise BenchError(f"generator {i} died during {name!r}") from err
            if "error" in reply:
                raise BenchError(f"generator {i} failed during {name!r}: {reply['error']}")
            replies.append(reply)
        return replies

    def command(
        self, name: str, args: list[dict[str, Any]] | dict[str, Any], within: float
    ) -> list[dict[str, Any]]:
        """Send a command and collect the replies."""
        self.send(name, args)
        return self.collect(name, within)

    def cpu_seconds(self) -> float:
        """CPU time used so far by every generator process."""
        total = 0.0
        for proc in self.procs:
            try:
                total += _cpu_seconds(proc.pid)
            except (OSError, IndexError):
                pass
        return total

    def stop(self) -> None:
        """Close the clients if the processes still answer, then end them."""
        for pipe in self.pipes:
            try:
                pipe.send(("close", {"within": 5.0}))
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + 20
        for proc in self.procs:
            proc.join(max(0.1, deadline - time.monotonic()))
            if proc.is_alive():
                proc.terminate()
                proc.join(5)


# --- phases -------------------------------------------------------------------------------------


def run_phase(
    gens: Generators,
    server_pid: int,
    kind: str,
    rate: float,
    duration: float,
    clients: int,
    profile: Path | None = None,
    idle: float = 0.0,
) -> dict[str, Any]:
    """One phase on every generator; the CPU of the server, of the generators and of the whole machine,
    and the server's RSS, are read over the send window. With `profile`, py-spy samples the server
    over that window."""
    start_at = time.monotonic() + 1.0
    shares = gens.room_counts
    total = sum(shares)
    args = [
        {"kind": kind, "rate": rate * s / total, "start_at": start_at, "duration": duration, "drain": DRAIN_S}
        for s in shares
    ]
    gens.send("run", args)
    spy = _start_profiler(server_pid, profile, duration) if profile else None
    time.sleep(max(0.0, start_at - time.monotonic()))
    times0, gen0, busy0, wall0 = _cpu_times(server_pid), gens.cpu_seconds(), _machine_busy(), time.monotonic()
    db0 = _postgres_cpu_seconds()
    time.sleep(max(0.0, start_at + duration - time.monotonic()))
    times1, gen1, busy1, wall1 = _cpu_times(server_pid), gens.cpu_seconds(), _machine_busy(), time.monotonic()
    db = 100 * (_postgres_cpu_seconds() - db0) / (time.monotonic() - wall0)
    rss = _status_mb(server_pid, "VmRSS")
    if spy is not None and profile is not None:
        _stop_profiler(spy, profile)
    replies = gens.collect(f"{kind} phase", DRAIN_S + 30)
    # Per event answered: everything the server spent from the first send to the last answer.
    spent_until = time.monotonic()
    spent = _cpu_seconds(server_pid) - sum(times0)
    # The same, less what the server spends with no events at all (pings of every connection).
    net = max(0.0, spent - idle / 100 * (spent_until - wall0))
    answered = sum(r["acked"] + sum(r["errors"].values()) for r in replies)
    cpu0, cpu1 = sum(times0), sum(times1)
    user, system = times1[0] - times0[0], times1[1] - times0[1]
    delivered = [v for r in replies for v in r["latencies_ms"]]
    undelivered = [v for r in replies for v in r["undelivered_ms"]]
    latencies = delivered + undelivered  # undelivered: waited at least this long (a lower bound)
    ack_ms = [v for r in replies for v in r["ack_ms"]]
    received = sum(r["received"] for r in replies)
    last = max((r["last_received_at"] for r in replies if r["received"]), default=start_at)
    errors: dict[str, int] = {}
    for r in replies:
        for code, n in r["errors"].items():
            errors[code] = errors.get(code, 0) + n
    wall = wall1 - wall0
    cores = os.cpu_count() or 1
    machine = 100 * (busy1[0] - busy0[0]) / max(1.0, busy1[2] - busy0[2]) * cores
    stolen = 100 * (busy1[1] - busy0[1]) / max(1.0, busy1[2] - busy0[2]) * cores
    server_cpu = 100 * (cpu1 - cpu0) / wall
    gen_cpu = 100 * (gen1 - gen0) / wall
    return {
        "kind": kind,
        "clients": clients,
        "offered_per_s": round(sum(r["sent"] for r in replies) / duration, 1),
        "delivered_per_s": round(received / max(1e-9, last - start_at), 1) if received else 0.0,
        "sent": sum(r["sent"] for r in replies),
        "acked": sum(r["acked"] for r in replies),
        "received": received,
        "lost": sum(r["lost"] for r in replies),
        "unanswered": sum(r["unanswered"] for r in replies),
        "errors": errors,
        "duplicates": sum(r["duplicates"] for r in replies),
        "p50_ms": round(_percentile(latencies, 0.50), 2),
        "p95_ms": round(_percentile(latencies, 0.95), 2),
        "p99_ms": round(_percentile(latencies, 0.99), 2),
        "max_ms": round(max(latencies), 2) if latencies else float("nan"),
        # Events never delivered within the drain count with the time they had waited, so with any
        # of them the percentiles they reach are lower bounds.
        "undelivered": len(undelivered),
        "p99_is_lower_bound": bool(undelivered) and _percentile(latencies, 0.99) >= min(undelivered),
        "ack_p99_ms": round(_percentile(ack_ms, 0.99), 2),
        "server_cpu_percent": round(server_cpu, 1),
        "server_cpu_user_percent": round(100 * user / wall, 1),
        "server_cpu_system_percent": round(100 * system / wall, 1),
        "server_cpu_ms_per_event": round(1000 * spent / max(1, answered), 3),
        "server_cpu_ms_per_event_net": round(1000 * net / max(1, answered), 3),
        "server_rss_mb": round(rss, 1),
        "generator_cpu_percent": round(gen_cpu, 1),
        "generator_loop_lag_p99_ms": max(r["loop_lag_p99_ms"] for r in replies),
        "generator_loop_lag_max_ms": max(r["loop_lag_max_ms"] for r in replies),
        "generator_gc_pause_max_ms": max(r["gc_pause_max_ms"] for r in replies),
        "slowest_seconds": _slowest_seconds(replies, duration),
        "machine_cpu_percent": round(machine, 1),
        "stolen_cpu_percent": round(stolen, 1),
        # PostgreSQL's processes (any database on the machine: with SQLite, someone else's).
        "postgres_cpu_percent": round(db, 1),
        # Anything else on the machine (another test run, a build) competing for the same cores.
        "other_cpu_percent": round(max(0.0, machine - server_cpu - gen_cpu - db), 1),
        "disconnects": sum(r["disconnects"] for r in replies),
        "senders": sum(r["senders"] for r in replies),
        "connected_after": sum(r["connected"] for r in replies),
        "stalled_after": sum(r["stalled_after"] for r in replies),
    }


def settle(pid: int, idle_percent: float = 15.0, within: float = 180.0) -> float:
    """Wait (at most `within` s) until the server is idle, so a phase does not start on the backlog of
    the one before; returns the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        before = _cpu_seconds(pid)
        time.sleep(1.0)
        if 100 * (_cpu_seconds(pid) - before) < idle_percent:
            break
    waited = time.monotonic() - started
    if waited > 2:
        print(f"settle                server busy with the backlog for {waited:.0f} s before the next step")
    return waited


def _slowest_seconds(replies: list[dict[str, Any]], duration: float, top: int = 3) -> list[list[float]]:
    """The seconds of the phase whose sends were delivered slowest: [second, p99 ms, deliveries]. A tail
    made of a few bad seconds (a pause) reads differently from a tail spread over the whole run."""
    per_second: dict[int, list[float]] = {}
    for r in replies:
        for at, ms in r["timeline"]:
            if 0 <= at < duration:
                per_second.setdefault(int(at), []).append(ms)
    worst = sorted(per_second.items(), key=lambda kv: -_percentile(kv[1], 0.99))[:top]
    return [[second, round(_percentile(v, 0.99), 1), len(v)] for second, v in worst]


def idle_cpu_percent(pid: int, seconds: float = 3.0) -> float:
    """The server's CPU with every client connected and nothing sent."""
    before, started = _cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return 100 * (_cpu_seconds(pid) - before) / (time.monotonic() - started)


def _print_phase(name: str, r: dict[str, Any]) -> None:
    bound = ">" if r["p99_is_lower_bound"] else " "
    pad = " " * 22
    print(
        f"{name:22}offered {r['offered_per_s']:6.1f}/s  delivered {r['delivered_per_s']:6.1f}/s  "
        f"p50 {r['p50_ms']:.1f} ms  p95 {r['p95_ms']:.1f} ms  p99 {bound}{r['p99_ms']:.1f} ms  "
        f"max {r['max_ms']:.1f} ms  (ack p99 {r['ack_p99_ms']:.1f} ms)\n"
        f"{pad}lost {r['lost']}  undelivered {r['undelivered']}  unanswered {r['unanswered']}  "
        f"errors {r['errors'] or 0}  disconnects {r['disconnects']}"
        + (f"  senders {r['senders']}/{r['clients']}" if r["senders"] < r["clients"] else "")
        + (f"  stalled {r['stalled_after']} (no ping for 15 s)" if r["stalled_after"] else "")
        + f"\n{pad}server cpu {r['server_cpu_percent']:.1f}% (user {r['server_cpu_user_percent']:.0f}%, "
        f"system {r['server_cpu_system_percent']:.0f}%), {r['server_cpu_ms_per_event']:.2f} ms per event "
        f"({r['server_cpu_ms_per_event_net']:.2f} above idle), rss {r['server_rss_mb']:.0f} MB\n"
        f"{pad}generator cpu {r['generator_cpu_percent']:.1f}% (loop lag p99 "
        f"{r['generator_loop_lag_p99_ms']:.1f} ms, max {r['generator_loop_lag_max_ms']:.0f} ms); machine "
        f"{r['machine_cpu_percent']:.0f}% of {100 * (os.cpu_count() or 1)}% (postgres "
        f"{r['postgres_cpu_percent']:.0f}%, others {r['other_cpu_percent']:.0f}%, stolen by the hypervisor "
        f"{r['stolen_cpu_percent']:.0f}%)\n"
        f"{pad}slowest seconds [second, p99 ms, deliveries]: {r['slowest_seconds']}"
    )


def _finite(value: Any) -> Any:
    """The summary as strict JSON: no NaN or infinity (an empty phase has no percentiles)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


# --- the run ------------------------------------------------------------------------------------


def machine_load(seconds: float = 2.0) -> float:
    """Percent of one core the machine is busy with (before the bench starts anything)."""
    before = _machine_busy()
    time.sleep(seconds)
    after = _machine_busy()
    return 100 * (after[0] - before[0]) / max(1.0, after[2] - before[2]) * (os.cpu_count() or 1)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Prepare the database, start the server, connect the clients, run both phases; see the docstring."""
    busy = machine_load()
    if busy > 20:
        print(
            f"warning               the machine is already {busy:.0f}% busy (of {100 * (os.cpu_count() or 1)}%) "
            "with other processes: the server shares its cores, so its figures are worse than on a quiet machine"
        )
    data = Path(tempfile.mkdtemp(prefix="jiayi-bench-signaling-"))
    log = data / "server.log"
    env = {
        **os.environ,
        "JIAYI_DATA_DIR": str(data),
        "JIAYI_SECRET_KEY": SECRET,
        "JIAYI_LOG_LEVEL": "WARNING",
    }
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    else:
        env.pop("DATABASE_URL", None)
    settings = from_env(env, demo=True)
    pairs = max(1, args.clients // 2)
    server: subprocess.Popen[bytes] | None = None
    gens: Generators | None = None
    ok = False
    try:
        started = time.monotonic()
        demo = subprocess.run(
            [sys.executable, "run.py", "demo"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
        if demo.returncode != 0:
            said = [line for line in (demo.stderr or demo.stdout).splitlines() if line.strip()]
            raise BenchError(
                "`run.py demo` could not prepare the database (it must be reachable and empty):\n  "
                + "\n  ".join(said[-3:])
            )
        population = asyncio.run(populate(settings, pairs))
        tokens = TokenIssuer(derive_key(settings.secret_key, "jiayi access tokens"), 4 * 3600)
        rooms = [
            Room(
                p.consult_id,
                p.conversation_id,
                (
                    Member(p.resident_user_id, tokens.issue(p.resident_user_id, "resident")),
                    Member(p.doctor_user_id, tokens.issue(p.doctor_user_id, "doctor")),
                ),
            )
            for p in population
        ]
        version = _server_version()
        print(
            f"server code           commit {version['server_commit']}"
            + (
                f", changed since: {', '.join(version['server_code_changed'])}"
                if version["server_code_changed"]
                else ", unchanged since"
            )
        )
        print(
            f"population            {pairs} consults in progress, {2 * pairs} accounts "
            f"({'postgresql' if args.database_url else 'sqlite'}) in {time.monotonic() - started:.1f} s"
        )

        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        server = start_server(env, port, log)
        up = wait_healthy(server, base, log)
        print(
            f"server                pid {server.pid} on {base}, up in {up:.1f} s, "
            f"rss {_status_mb(server.pid, 'VmRSS'):.0f} MB"
        )

        gens = Generators(base, rooms, args.workers)
        connect_within = 60 + 0.1 * len(rooms) * 2
        cpu0 = _cpu_seconds(server.pid)
        replies = gens.command(
            "connect",
            {"concurrency": max(4, args.connect_concurrency // len(gens.pipes)), "within": 30.0},
            connect_within,
        )
        connected = sum(r["connected"] for r in replies)
        ready = sum(r["ready"] for r in replies)
        failures: dict[str, int] = {}
        for r in replies:
            for what, n in r["failures"].items():
                failures[what] = failures.get(what, 0) + n
        first_failure = next((r["first_failure"] for r in replies if r["first_failure"]), None)
        connect_s = max(r["seconds"] for r in replies)
        print(
            f"connected             {connected}/{2 * pairs} clients, {ready} in their consult room, in "
            f"{connect_s:.1f} s ({2 * pairs / max(1e-9, connect_s):.0f}/s; server cpu "
            f"{_cpu_seconds(server.pid) - cpu0:.1f} s); rss {_status_mb(server.pid, 'VmRSS'):.0f} MB"
            + (f"; failures {failures}, first: {first_failure}" if failures else "")
        )
        if ready == 0:
            raise BenchError(f"no client got into its consult room; first failure: {first_failure}")
        settle(server.pid)  # the joins' presence broadcasts
        idle = idle_cpu_percent(server.pid)
        print(
            f"idle                  server cpu {idle:.1f}% with {connected} clients connected and quiet "
            "(pings, timers): the floor under every phase"
        )

        baseline = run_phase(gens, server.pid, "typing", args.rate, args.duration, connected, idle=idle)
        _print_phase("baseline: typing", baseline)
        settle(server.pid, idle + 10)
        chat = run_phase(
            gens, server.pid, "message", args.rate, args.duration, connected, args.profile, idle=idle
        )
        _print_phase("send_message", chat)

        logged, kinds = server_log_errors(log)
        if logged:
            print(f"server log            {logged} errors logged; most common:")
            for kind, n in kinds:
                print(f"{'':22} {n:6d} x {kind}")
        ratio = chat["p99_ms"] / baseline["p99_ms"] if baseline["p99_ms"] > 0 else float("nan")
        cost = chat["server_cpu_ms_per_event_net"] / max(1e-9, baseline["server_cpu_ms_per_event_net"])
        print(
            f"ratio                 send_message / typing: p99 x{ratio:.2f}, p50 "
            f"x{chat['p50_ms'] / max(1e-9, baseline['p50_ms']):.2f}, server cpu per event (above idle) x{cost:.2f}"
        )
        met = (
            connected >= TARGET["clients"]
            and chat["delivered_per_s"] >= 0.98 * TARGET["messages_per_s"]
            and chat["p99_ms"] <= TARGET["p99_ms"]
            and chat["lost"] == 0
            and chat["undelivered"] == 0
        )
        print(
            f"target                {TARGET['clients']} clients, p99 <= {TARGET['p99_ms']:.0f} ms at "
            f"{TARGET['messages_per_s']} msg/s, none lost: {'MET' if met else 'NOT MET'}"
            + (
                ""
                if args.clients >= TARGET["clients"] and args.rate >= TARGET["messages_per_s"]
                else " (this run is below the target's load)"
            )
        )
        ok = True
        return {
            **version,
            "machine_busy_before_percent": round(busy, 1),
            "backend": "postgresql" if args.database_url else "sqlite",
            "clients": connected,
            "clients_in_rooms": ready,
            "rate": args.rate,
            "duration_s": args.duration,
            "workers": len(gens.pipes),
            "messages_per_s": chat["delivered_per_s"],
            "p50_ms": chat["p50_ms"],
            "p95_ms": chat["p95_ms"],
            "p99_ms": chat["p99_ms"],
            "p99_is_lower_bound": chat["p99_is_lower_bound"],
            "lost": chat["lost"],
            "undelivered": chat["undelivered"],
            "unanswered": chat["unanswered"],
            "server_cpu_percent": chat["server_cpu_percent"],
            "server_cpu_ms_per_message": chat["server_cpu_ms_per_event"],
            "server_cpu_ms_per_message_net": chat["server_cpu_ms_per_event_net"],
            "server_idle_cpu_percent": round(idle, 1),
            "server_rss_mb": chat["server_rss_mb"],
            "server_peak_rss_mb": round(_status_mb(server.pid, "VmHWM"), 1),
            "generator_cpu_percent": chat["generator_cpu_percent"],
            "postgres_cpu_percent": chat["postgres_cpu_percent"],
            "other_cpu_percent": chat["other_cpu_percent"],
            "stolen_cpu_percent": chat["stolen_cpu_percent"],
            "connect_s": connect_s,
            "server_errors_logged": logged,
            "baseline_typing_per_s": baseline["delivered_per_s"],
            "baseline_typing_p99_ms": baseline["p99_ms"],
            "baseline_server_cpu_ms_per_event_net": baseline["server_cpu_ms_per_event_net"],
            "p99_vs_baseline": round(ratio, 2),
            "target_met": met,
            "phases": {
                "typing": {k: v for k, v in baseline.items() if k != "kind"},
                "send_message": {k: v for k, v in chat.items() if k != "kind"},
            },
        }
    finally:
        if gens is not None:
            gens.stop()
        if server is not None:
            stop_server(server)
        if ok and not args.keep_data:
            shutil.rmtree(data, ignore_errors=True)
        else:
            print(f"data folder kept: {data} (server log: {log})", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=None, help="connected clients (default 2000)")
    parser.add_argument(
        "--rate", type=float, default=None, help="messages a second, all clients (default 500)"
    )
    parser.add_argument("--duration", type=float, default=None, help="seconds per phase (default 20)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 200 clients, 100 msg/s, 5 s")
    parser.add_argument("--workers", type=int, default=2, help="generator processes (default 2)")
    parser.add_argument("--connect-concurrency", type=int, default=64, help="handshakes in flight")
    parser.add_argument(
        "--database-url", default=None, help="an empty PostgreSQL database to bench instead of SQLite"
    )
    parser.add_argument("--keep-data", action="store_true", help="keep the data folder and server log")
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="py-spy the server during the send_message phase into this file (.txt: collapsed stacks, "
        "else an SVG flame graph)",
    )
    args = parser.parse_args()
    quick = {"clients": 200, "rate": 100.0, "duration": 5.0}
    full = {"clients": 2000, "rate": 500.0, "duration": 20.0}
    for name, value in (quick if args.quick else full).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.clients < 2 or args.rate <= 0 or args.duration <= 0 or args.workers < 1:
        parser.error("--clients must be >= 2, --rate and --duration > 0, --workers >= 1")
    try:
        summary = run(args)
    except BenchError as err:
        print(f"bench/signaling.py: {err}", file=sys.stderr)
        sys.exit(1)
    print(json.dumps(_finite(summary), ensure_ascii=False, allow_nan=False))


if __name__ == "__main__":
    main()
