"""The load generator of `bench/signaling.py`: one process driving a share of the Socket.IO clients.

Each process owns whole consult rooms (both participants of a room are here), so a message's send
time and its receive time are read from the same clock. The parent drives the processes through a
pipe, one command at a time: connect, run a phase, close. Every wait is bounded.

A phase is open-loop: sends are scheduled at the process's share of the global rate whatever the
server's answers, so a server that falls behind shows as growing latency, not as a lower offered rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import random
import resource
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import socketio

CHAT = "/chat"
CONSULT = "/consult"


@dataclass(frozen=True)
class Member:
    """One bench account: who it is and the access token it connects with."""

    user_id: int
    token: str


@dataclass(frozen=True)
class Room:
    """One consult in progress, its chat, and its two participants (a resident and a doctor)."""

    consult_id: int
    conversation_id: int
    members: tuple[Member, Member]


@dataclass
class Pending:
    """A message sent, waiting for its ack and for its delivery to the other participant."""

    sent_at: float
    recipient: int
    acked: bool = False
    refused: bool = False
    received: bool = False


@dataclass
class Client:
    """One Socket.IO connection (both namespaces) of one member."""

    member: Member
    room: Room
    peer: Member
    sio: socketio.AsyncClient
    disconnects: int = 0


def usable(client: Client) -> bool:
    """Connected and still able to send: the engine.io client stops writing for good when the server
    sends no ping for 15 s (an overloaded server), while it still looks connected."""
    task = getattr(client.sio.eio, "write_loop_task", None)
    return bool(client.sio.connected and task is not None and not task.done())


@dataclass
class Phase:
    """Counters of one phase in this process."""

    kind: str
    latencies_ms: list[float] = field(default_factory=list)
    ack_ms: list[float] = field(default_factory=list)
    sent: int = 0
    acked: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    received: int = 0
    duplicates: int = 0
    last_received_at: float = 0.0
    pending: dict[str, Pending] = field(default_factory=dict)
    typing_sent: dict[int, deque[float]] = field(default_factory=dict)
    #: (sent at, latency) of every delivery, to see when slow ones happen.
    timeline: list[tuple[float, float]] = field(default_factory=list)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


class LoadProcess:
    """The clients of one generator process and the phases they run."""

    def __init__(self, url: str, rooms: list[Room], index: int) -> None:
        self.url = url
        self.rooms = rooms
        self.index = index
        self.clients: list[Client] = []
        self.phase: Phase | None = None
        self._seq = 0
        #: This process's garbage-collection pauses (ms): a pause here delays what it receives.
        self.gc_pauses: list[float] = []
        self._gc_started = 0.0
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.gc_pauses.append((time.perf_counter() - self._gc_started) * 1000)

    # --- connecting -----------------------------------------------------------------------------

    def _handlers(self, client: Client) -> None:
        me = client.member.user_id

        def on_message(data: Any) -> None:
            phase = self.phase
            if phase is None or phase.kind != "message" or not isinstance(data, dict):
                return
            pending = phase.pending.get(str(data.get("client_msg_id")))
            if pending is None or pending.recipient != me:
                return  # the sender's own copy, or a message of another phase
            if pending.received:
                phase.duplicates += 1
                return
            now = time.monotonic()
            pending.received = True
            phase.received += 1
            phase.last_received_at = now
            phase.latencies_ms.append((now - pending.sent_at) * 1000)
            phase.timeline.append((pending.sent_at, phase.latencies_ms[-1]))

        def on_typing(data: Any) -> None:
            phase = self.phase
            if phase is None or phase.kind != "typing" or not isinstance(data, dict):
                return
            sent = phase.typing_sent.get(int(data.get("user_id", 0)))
            if not sent:
                phase.duplicates += 1
                return
            now = time.monotonic()
            sent_at = sent.popleft()
            phase.received += 1
            phase.last_received_at = now
            phase.latencies_ms.append((now - sent_at) * 1000)
            phase.timeline.append((sent_at, phase.latencies_ms[-1]))

        def on_disconnect(*_: Any) -> None:
            client.disconnects += 1

        client.sio.on("message", on_message, namespace=CHAT)
        client.sio.on("typing", on_typing, namespace=CHAT)
        client.sio.on("disconnect", on_disconnect, namespace=CHAT)

    async def _connect_one(self, client: Client, within: float) -> str | None:
        """Connect to both namespaces and join the consult room; None, or what went wrong."""
        try:
            await asyncio.wait_for(
                client.sio.connect(
                    self.url,
                    namespaces=[CHAT, CONSULT],
                    auth={"token": client.member.token},
                    transports=["websocket"],
                    wait_timeout=within,
                ),
                within + 1,
            )
        except Exception as err:  # a timeout too: every failure is counted, not raised
            return f"connect: {type(err).__name__}: {err}"
        try:
            ack = await client.sio.call(
                "join", {"consult_id": client.room.consult_id}, namespace=CONSULT, timeout=within
            )
        except Exception as err:  # a timeout too: every failure is counted, not raised
            return f"join: {type(err).__name__}: {err}"
        if not isinstance(ack, dict) or not ack.get("ok"):
            return f"join refused: {ack}"
        try:  # as the consult page does once in the room
            ack = await client.sio.call(
                "open_consult_chat", {"consult_id": client.room.consult_id}, namespace=CHAT, timeout=within
            )
        except Exception as err:  # a timeout too: every failure is counted, not raised
            return f"open_consult_chat: {type(err).__name__}: {err}"
        if not isinstance(ack, dict) or not ack.get("ok"):
            return f"open_consult_chat refused: {ack}"
        return None

    async def connect(self, concurrency: int, within: float) -> dict[str, Any]:
        """Connect every client (at most `concurrency` handshakes at a time) and join its room."""
        for room in self.rooms:
            a, b = room.members
            for member, peer in ((a, b), (b, a)):
                sio = socketio.AsyncClient(reconnection=False, handle_sigint=False, request_timeout=within)
                client = Client(member, room, peer, sio)
                self._handlers(client)
                self.clients.append(client)
        gate = asyncio.Semaphore(concurrency)
        started = time.monotonic()

        async def one(client: Client) -> str | None:
            async with gate:
                return await self._connect_one(client, within)

        outcomes = await asyncio.gather(*(one(c) for c in self.clients))
        # Thousands of long-lived client objects make every full collection slow; a generator pausing
        # for it would add its pause to the latencies it measures.
        gc.collect()
        gc.freeze()
        failures = Counter(o.split(":")[0] if o else "ok" for o in outcomes)
        return {
            "clients": len(self.clients),
            "connected": sum(1 for c in self.clients if c.sio.connected),
            "ready": failures.pop("ok", 0),
            "failures": dict(failures),
            "first_failure": next((o for o in outcomes if o), None),
            "seconds": round(time.monotonic() - started, 2),
        }

    # --- a phase --------------------------------------------------------------------------------

    def _client_msg_id(self) -> str:
        self._seq += 1
        return f"bench{self.index:02d}x{self._seq:010d}"

    def _on_ack(self, phase: Phase, sent_at: float, pending: Pending | None) -> Callable[..., None]:
        def ack(*args: Any) -> None:
            answer = args[0] if args else None
            if isinstance(answer, dict) and "error" not in answer:
                phase.acked += 1
                phase.ack_ms.append((time.monotonic() - sent_at) * 1000)
                if pending is not None:
                    pending.acked = True
            else:
                code = answer["error"].get("code") if isinstance(answer, dict) else repr(answer)
                phase.errors[str(code)] += 1
                if pending is not None:
                    pending.refused = True

        return ack

    async def _send(self, phase: Phase, client: Client) -> None:
        now = time.monotonic()
        if phase.kind == "message":
            msg_id = self._client_msg_id()
            pending = Pending(now, client.peer.user_id)
            phase.pending[msg_id] = pending
            event, data = (
                "send_message",
                {
                    "conversation_id": client.room.conversation_id,
                    "client_msg_id": msg_id,
                    "text": f"压测消息 {self._seq}：今天血压已量，按时服药。",
                },
            )
        else:
            pending = None
            phase.typing_sent.setdefault(client.member.user_id, deque()).append(now)
            event, data = "typing", {"conversation_id": client.room.conversation_id, "typing": True}
        phase.sent += 1
        try:
            await client.sio.emit(event, data, namespace=CHAT, callback=self._on_ack(phase, now, pending))
        except Exception as err:
            phase.errors[f"emit: {type(err).__name__}"] += 1

    async def run(
        self, kind: str, rate: float, start_at: float, duration: float, drain: float
    ) -> dict[str, Any]:
        """Send `kind` events at `rate` a second from `start_at` (monotonic) for `duration`, then wait
        up to `drain` seconds for the answers and deliveries still under way."""
        phase = Phase(kind)
        self.phase = phase
        live = [c for c in self.clients if usable(c)]
        random.Random(self.index).shuffle(live)
        lag: list[float] = []
        disconnects_before = sum(c.disconnects for c in self.clients)
        self.gc_pauses.clear()
        await asyncio.sleep(max(0.0, start_at - time.monotonic()))
        # No collection pauses in here while measuring (a phase's garbage is small; collected after).
        gc.disable()
        cpu_before, wall_before = time.process_time(), time.monotonic()
        end = start_at + duration
        interval = 1.0 / rate if rate > 0 else duration
        due = start_at
        turn = 0
        while live and due < end:
            now = time.monotonic()
            if due > now:
                await asyncio.sleep(due - now)
                lag.append((time.monotonic() - due) * 1000)  # how late this loop wakes up
            while due <= time.monotonic() and due < end:
                await self._send(phase, live[turn % len(live)])
                turn += 1
                due += interval
        sent_until = time.monotonic()
        deadline = sent_until + drain
        while time.monotonic() < deadline:
            answered = phase.acked + sum(phase.errors.values())
            if answered >= phase.sent and phase.received >= phase.acked:
                break
            await asyncio.sleep(0.05)
        cpu = time.process_time() - cpu_before
        gave_up = time.monotonic()
        gc_pause_max = max(self.gc_pauses, default=0.0)
        gc.enable()
        gc.collect()
        wall = gave_up - wall_before
        self.phase = None
        # What never arrived waited at least until now: kept as a lower bound, so the percentiles of
        # an overloaded server are not computed over the lucky few that got through.
        if kind == "message":
            lost = sum(1 for p in phase.pending.values() if p.acked and not p.received)
            waiting = [p.sent_at for p in phase.pending.values() if not p.received and not p.refused]
        else:
            lost = max(0, phase.acked - phase.received)
            waiting = sorted(t for sent in phase.typing_sent.values() for t in sent)
            waiting = waiting[: max(0, len(waiting) - sum(phase.errors.values()))]
        censored = [(gave_up - t) * 1000 for t in waiting]
        return {
            "kind": kind,
            "sent": phase.sent,
            "acked": phase.acked,
            "errors": dict(phase.errors),
            "unanswered": phase.sent - phase.acked - sum(phase.errors.values()),
            "received": phase.received,
            "lost": lost,
            "duplicates": phase.duplicates,
            "latencies_ms": phase.latencies_ms,
            "undelivered_ms": censored,
            "ack_ms": phase.ack_ms,
            "first_sent_at": start_at,
            "last_sent_at": sent_until,
            "last_received_at": phase.last_received_at,
            "cpu_s": cpu,
            "wall_s": wall,
            "loop_lag_p99_ms": round(_percentile(lag, 0.99), 2),
            "loop_lag_max_ms": round(max(lag, default=0.0), 2),
            "gc_pause_max_ms": round(gc_pause_max, 2),
            "timeline": [(t - start_at, ms) for t, ms in phase.timeline],
            "disconnects": sum(c.disconnects for c in self.clients) - disconnects_before,
            "connected": sum(1 for c in self.clients if c.sio.connected),
            "senders": len(live),
            "stalled_after": sum(1 for c in self.clients if c.sio.connected and not usable(c)),
        }

    async def close(self, within: float) -> dict[str, Any]:
        """Disconnect every client."""

        async def one(client: Client) -> None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.sio.disconnect(), within)

        await asyncio.gather(*(one(c) for c in self.clients))
        return {"closed": len(self.clients)}


async def _serve(conn: Connection, url: str, rooms: list[Room], index: int) -> None:
    load = LoadProcess(url, rooms, index)
    loop = asyncio.get_running_loop()
    try:
        while True:
            command, args = await loop.run_in_executor(None, conn.recv)
            started_cpu = time.process_time()
            if command == "connect":
                reply = await load.connect(**args)
            elif command == "run":
                reply = await load.run(**args)
            elif command == "close":
                reply = await load.close(**args)
                conn.send(reply)
                return
            else:
                reply = {"error": f"unknown command {command!r}"}
            reply.setdefault("cpu_s", time.process_time() - started_cpu)
            reply["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            conn.send(reply)
    finally:
        await load.close(2.0)


def worker_main(conn: Connection, url: str, rooms: list[Room], index: int) -> None:
    """Entry point of a generator process (multiprocessing target)."""
    try:
        asyncio.run(_serve(conn, url, rooms, index))
    except (EOFError, KeyboardInterrupt):
        pass
    except Exception as err:  # tell the parent why, rather than leaving it to time out
        with contextlib.suppress(Exception):
            conn.send({"error": f"{type(err).__name__}: {err}"})
        raise
