"""The hub's media: N local worker processes (media/worker.py), and a handle per consult's media room.

This is the whole interface `signaling/` needs:

    pool = MediaPool(settings, on_event)      # settings: MediaSettings; workers default to the core count
    await pool.start()                        # spawns the workers, waits until each listens, connects
    room = pool.room_for(consult_id)          # places the consult on the least-loaded worker (sticky)
    await room.join(participant_id, user_id, role)
    answer_sdp = await room.offer(participant_id, offer_sdp)
    await room.answer(participant_id, answer_sdp)           # to a server "offer" event
    await room.candidate(participant_id, candidate_json)    # RTCIceCandidate.toJSON(), or None at the end
    await room.set_media(participant_id, audio=..., video=..., receive_video=...)
    await room.leave(participant_id)
    await room.close()
    await pool.close()                        # closes every room, stops every worker; no orphans

``on_event(consult_id, participant_id, name, data)`` is called on the hub's event loop for every room
event (``offer``, ``media``, ``left``, ``connection``, ``error``: see media/room.py) and, with
``participant_id=None``, ``worker_lost`` (``{"worker_id", "pid", "returncode"}``) for each consult whose
worker died: those rooms are gone; the hub asks the participants to join again (the consult is placed on
a live worker, and a replacement worker is started). Every method raises a `MediaError` (media/errors.py)
whose ``code`` and message can go back to the client as they are.

Wiring it into the app: one `cleanup_ctx` that builds the pool from the settings, ``await pool.start()``,
stores it under a typed AppKey, yields, then ``await pool.close()``.

Workers are child processes of the hub (``python -m media.worker``) with a pipe on their standard input:
when the hub closes it, or dies, they close their rooms and exit. `close` closes that pipe, waits, then
terminates and finally kills a worker that does not stop, and reaps every child.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from media.client import WorkerClient
from media.errors import WorkerUnavailable
from media.placement import WorkerLoad, choose_worker
from media.settings import MediaSettings
from media.worker import TOKEN_ENV

logger = logging.getLogger(__name__)

PoolEventCallback = Callable[[str, str | None, str, dict[str, Any]], None]
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 5.0
_ROOT = Path(__file__).resolve().parents[1]


@dataclass
class _Worker:
    worker_id: str
    process: asyncio.subprocess.Process
    client: WorkerClient
    watcher: asyncio.Task[None] | None = None


class RoomHandle:
    """One consult's media room, wherever it lives; every call goes to the consult's worker."""

    def __init__(self, pool: MediaPool, consult_id: str) -> None:
        self._pool = pool
        self.consult_id = consult_id

    async def _call(self, method: str, **params: Any) -> Any:
        client = self._pool._client_for(self.consult_id)
        return await client.call(method, consult_id=self.consult_id, **params)

    async def join(self, participant_id: str, user_id: str, role: str) -> None:
        """Admit a participant (again, after a reconnect: their connection is replaced)."""
        await self._call("join", participant_id=participant_id, user_id=user_id, role=role)

    async def offer(self, participant_id: str, sdp: str) -> str:
        """Apply the client's offer; returns the answer SDP."""
        result = await self._call("offer", participant_id=participant_id, sdp=sdp)
        return str(result["sdp"])

    async def answer(self, participant_id: str, sdp: str) -> None:
        """Apply the client's answer to the server's last ``offer`` event."""
        await self._call("answer", participant_id=participant_id, sdp=sdp)

    async def candidate(self, participant_id: str, candidate: dict[str, Any] | None) -> None:
        """Add a trickled browser candidate (None: end of candidates)."""
        await self._call("candidate", participant_id=participant_id, candidate=candidate)

    async def set_media(
        self,
        participant_id: str,
        *,
        audio: bool | None = None,
        video: bool | None = None,
        receive_video: bool | None = None,
    ) -> None:
        """Microphone / camera on or off for the others; ``receive_video=False`` for audio only."""
        await self._call(
            "set_media", participant_id=participant_id, audio=audio, video=video, receive_video=receive_video
        )

    async def leave(self, participant_id: str) -> None:
        """Close the participant's connection; the room closes with its last participant."""
        await self._call("leave", participant_id=participant_id)

    async def close(self) -> None:
        """Close the room and every connection in it."""
        try:
            await self._call("close")
        finally:
            self._pool._placements.pop(self.consult_id, None)

    async def start_recording(
        self,
        recording_id: int,
        *,
        key_id: str,
        algorithm: str,
        data_key: bytes,
        blob_root: str,
        segment_s: float | None = None,
    ) -> None:
        """Record every participant's tracks into segments sealed with the recording's data key (sent
        to the worker over its local RPC and held in memory only); each written segment comes back as
        a ``segment`` event."""
        await self._call(
            "record_start",
            recording_id=recording_id,
            key_id=key_id,
            algorithm=algorithm,
            data_key=base64.b64encode(data_key).decode(),
            blob_root=blob_root,
            segment_s=segment_s,
        )

    async def pause_recording(self) -> None:
        """Record nothing until `resume_recording`."""
        await self._call("record_pause")

    async def resume_recording(self) -> None:
        """Record again."""
        await self._call("record_resume")

    async def stop_recording(self) -> dict[str, int]:
        """Finish the recording once its last segments are written: counts of segments and tracks."""
        result: dict[str, int] = await self._call("record_stop")
        return result

    async def stats(self) -> dict[str, int]:
        """Counts of what the room keeps alive (participants, peer_connections, tasks, ...)."""
        result: dict[str, int] = await self._call("stats")
        return result


class MediaPool:
    """Local media worker processes and the placement of consults on them."""

    def __init__(self, settings: MediaSettings, on_event: PoolEventCallback | None = None) -> None:
        self.settings = settings
        self._on_event = on_event
        self._workers: dict[str, _Worker] = {}
        self._placements: dict[str, str] = {}
        self._token = secrets.token_urlsafe(32)
        self._closing = False
        self._spawns = 0

    async def start(self) -> None:
        """Start `settings.worker_count` workers and wait until each answers."""
        count = self.settings.worker_count
        results = await asyncio.gather(*(self._spawn() for _ in range(count)), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            await self.close()
            raise WorkerUnavailable(f"{len(failures)} of {count} media workers did not start: {failures[0]}")
        logger.info("media pool: %d workers (pids %s)", count, self.worker_pids)

    async def _spawn(self) -> _Worker:
        self._spawns += 1
        worker_id = f"w{self._spawns}"
        env = dict(os.environ)
        env[TOKEN_ENV] = self._token
        env["PYTHONPATH"] = os.pathsep.join([str(_ROOT), *filter(None, [env.get("PYTHONPATH")])])
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "media.worker",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--settings",
            self.settings.to_json(),
            "--log-level",
            logging.getLevelName(logging.getLogger("media").getEffectiveLevel()),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
            cwd=str(_ROOT),
        )
        try:
            assert process.stdout is not None
            line = await asyncio.wait_for(process.stdout.readline(), READY_TIMEOUT_S)
            ready = json.loads(line)
            port = int(ready["port"])
            client = WorkerClient(
                f"http://127.0.0.1:{port}/rpc",
                self._token,
                on_event=lambda message: self._forward(worker_id, message),
                call_timeout_s=self.settings.call_timeout_s,
                name=f"{worker_id} (pid {process.pid})",
            )
            await client.connect()
        except (TimeoutError, ValueError, KeyError, TypeError, WorkerUnavailable) as err:
            await _stop_process(process)
            raise WorkerUnavailable(f"media worker {worker_id} did not start: {err!r}") from err
        worker = _Worker(worker_id, process, client)
        worker.watcher = asyncio.get_running_loop().create_task(
            self._watch(worker), name=f"media worker {worker_id} watcher"
        )
        self._workers[worker_id] = worker
        return worker

    def _forward(self, worker_id: str, message: dict[str, Any]) -> None:
        name = message.get("event")
        if name == "load" or self._on_event is None or not isinstance(name, str):
            return
        consult_id = message.get("consult_id")
        if isinstance(consult_id, str):
            data = message.get("data")
            self._on_event(
                consult_id, message.get("participant_id"), name, data if isinstance(data, dict) else {}
            )

    async def _watch(self, worker: _Worker) -> None:
        returncode = await worker.process.wait()
        if self._closing:
            return
        logger.error(
            "media worker %s (pid %s) exited with %s", worker.worker_id, worker.process.pid, returncode
        )
        self._workers.pop(worker.worker_id, None)
        await worker.client.close()
        lost = [c for c, w in self._placements.items() if w == worker.worker_id]
        for consult_id in lost:
            del self._placements[consult_id]
            if self._on_event is not None:
                self._on_event(
                    consult_id,
                    None,
                    "worker_lost",
                    {"worker_id": worker.worker_id, "pid": worker.process.pid, "returncode": returncode},
                )
        with contextlib.suppress(WorkerUnavailable):
            await self._spawn()

    def room_for(self, consult_id: str) -> RoomHandle:
        """The handle of `consult_id`'s media room (placed on a worker by its first call)."""
        if not isinstance(consult_id, str) or not consult_id:
            raise ValueError("consult_id must be a non-empty string")
        return RoomHandle(self, consult_id)

    def _client_for(self, consult_id: str) -> WorkerClient:
        if self._closing:
            raise WorkerUnavailable("the media pool is closed")
        worker_id = choose_worker(consult_id, self.loads(), self._placements)
        self._placements[consult_id] = worker_id
        return self._workers[worker_id].client

    def loads(self) -> list[WorkerLoad]:
        """What placement sees of each worker."""
        placed: dict[str, int] = {}
        for worker_id in self._placements.values():
            placed[worker_id] = placed.get(worker_id, 0) + 1
        return [
            WorkerLoad(
                worker_id=w.worker_id,
                consults=placed.get(w.worker_id, 0),
                forwarded_tracks=int(w.client.load.get("forwarded_tracks", 0)),
                alive=w.process.returncode is None and w.client.connected,
            )
            for w in self._workers.values()
        ]

    def endpoints(self) -> list[tuple[int, str]]:
        """(pid, RPC URL) of each running worker, for tools that drive workers directly (bench/relay.py)."""
        return [(w.process.pid, w.client.url) for w in self._workers.values()]

    @property
    def rpc_token(self) -> str:
        """The secret the workers' RPC expects (``Authorization: Bearer``); never leaves this machine."""
        return self._token

    @property
    def worker_pids(self) -> list[int]:
        """Process ids of the running workers."""
        return [w.process.pid for w in self._workers.values()]

    def worker_of(self, consult_id: str) -> int | None:
        """The pid of the worker that holds `consult_id`, if placed."""
        worker = self._workers.get(self._placements.get(consult_id, ""))
        return worker.process.pid if worker else None

    async def close(self) -> None:
        """Stop every worker (their rooms close with them) and reap the processes."""
        self._closing = True
        workers = list(self._workers.values())
        self._workers.clear()
        self._placements.clear()
        for worker in workers:
            await worker.client.close()
        await asyncio.gather(*(_stop_process(w.process) for w in workers))
        for worker in workers:
            if worker.watcher is not None:
                worker.watcher.cancel()
        await asyncio.gather(*(w.watcher for w in workers if w.watcher is not None), return_exceptions=True)


async def _stop_process(process: asyncio.subprocess.Process) -> None:
    """Close the worker's standard input (it then stops), then terminate, then kill; always reap it."""
    if process.stdin is not None and not process.stdin.is_closing():
        process.stdin.close()
    for step in (None, process.terminate, process.kill):
        if step is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                step()
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
            return
        except TimeoutError:
            continue
