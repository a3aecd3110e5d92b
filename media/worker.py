"""A media worker process: hosts many consults' media rooms and answers the hub over a WebSocket on 127.0.0.1.

**Process model.** One asyncio process uses one core, so the hub starts one worker per core
(media/pool.py) and places each consult's media on one of them (media/placement.py); all of a consult's
peer connections live in that worker, so relaying never crosses processes. A worker is started as

    python -m media.worker --host 127.0.0.1 --port 0 --settings '<MediaSettings JSON>'

with the shared secret in the environment (``JIAYI_MEDIA_WORKER_TOKEN``), prints one line of JSON when it
listens (``{"ready": true, "port": N, "pid": P}``), and exits, closing every peer connection, when its
standard input reaches end-of-file (the hub closed it, or the hub died: no orphan outlives its parent),
on SIGTERM or on SIGINT.

**RPC** (``GET /rpc``, a WebSocket; ``Authorization: Bearer <token>``). Text frames of JSON:

- request ``{"id": 7, "method": "offer", "params": {...}}`` → ``{"id": 7, "result": ...}`` or
  ``{"id": 7, "error": {"code": "invalid_sdp", "message": "..."}}`` (codes: media/errors.py).
- methods: ``join(consult_id, participant_id, user_id, role)``, ``offer(consult_id, participant_id, sdp)
  -> {"sdp"}``, ``answer(consult_id, participant_id, sdp)``, ``candidate(consult_id, participant_id,
  candidate)``, ``set_media(consult_id, participant_id, audio?, video?, receive_video?)``,
  ``leave(consult_id, participant_id)``, ``close(consult_id)``, ``load() -> {...}``,
  ``stats(consult_id?) -> {...}`` (without a consult: the worker's totals, with its garbage-collector pauses,
  media/gc_pauses.py). A room is created by its first ``join`` and closed by ``close`` or when
  its last participant leaves.
- events, from the worker: ``{"event": name, "consult_id": ..., "participant_id": ..., "data": {...}}`` with
  the room events of media/room.py (``offer``, ``media``, ``left``, ``connection``, ``error``), and
  ``{"event": "load", "data": {...}}`` every `LOAD_INTERVAL_S` (the same as ``GET /load``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hmac
import json
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import WSMsgType, web

from media import eventloop
from media.errors import InvalidRequest, MediaError, UnknownParticipant
from media.gc_pauses import GcPauses
from media.recorder import RecordingKey
from media.room import MediaRoom
from media.settings import MediaSettings

logger = logging.getLogger(__name__)

TOKEN_ENV = "JIAYI_MEDIA_WORKER_TOKEN"
LOAD_INTERVAL_S = 1.0
#: Events queued for a hub connection that does not read them before it is dropped.
MAX_QUEUED_EVENTS = 10_000
_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds() -> float:
    with open(f"/proc/{os.getpid()}/stat", "rb") as handle:
        fields = handle.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _text(params: dict[str, Any], name: str) -> str:
    value = params.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"params.{name} must be a non-empty string")
    return value


def _flag(params: dict[str, Any], name: str) -> bool | None:
    value = params.get(name)
    if value is not None and not isinstance(value, bool):
        raise InvalidRequest(f"params.{name} must be true, false or absent")
    return value


class WorkerHost:
    """The media rooms of this worker process and the hub connections that receive their events."""

    def __init__(self, settings: MediaSettings) -> None:
        self.settings = settings
        self.rooms: dict[str, MediaRoom] = {}
        self._queues: set[asyncio.Queue[str | None]] = set()
        self._cpu_mark = (time.monotonic(), _cpu_seconds())
        self._cpu_fraction = 0.0
        #: Garbage-collector pauses of this process (counted while the app runs).
        self.gc_pauses = GcPauses()
        self._methods: dict[str, Callable[[dict[str, Any]], Awaitable[Any]]] = {
            "join": self._join,
            "offer": self._offer,
            "answer": self._answer,
            "candidate": self._candidate,
            "set_media": self._set_media,
            "leave": self._leave,
            "close": self._close_room,
            "record_start": self._record_start,
            "record_pause": self._record_pause,
            "record_resume": self._record_resume,
            "record_stop": self._record_stop,
            "load": self._load,
            "stats": self._stats,
        }

    async def call(self, method: object, params: object) -> Any:
        """Run one RPC request; `MediaError`s carry the reply's error code."""
        handler = self._methods.get(method) if isinstance(method, str) else None
        if handler is None:
            raise InvalidRequest(f"unknown method {method!r}; known: {sorted(self._methods)}")
        if not isinstance(params, dict):
            raise InvalidRequest("params must be an object")
        return await handler(params)

    # --- events -------------------------------------------------------------------------------------------

    def subscribe(self) -> asyncio.Queue[str | None]:
        """A queue of serialized events for one hub connection."""
        queue: asyncio.Queue[str | None] = asyncio.Queue(MAX_QUEUED_EVENTS)
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[str | None]) -> None:
        """Stop queueing events for a connection."""
        self._queues.discard(queue)

    def publish(self, message: dict[str, Any]) -> None:
        """Send an event to every hub connection."""
        text = json.dumps(message)
        for queue in list(self._queues):
            try:
                queue.put_nowait(text)
            except asyncio.QueueFull:
                logger.warning("a hub connection is not reading its events: dropping it")
                self._queues.discard(queue)
                with contextlib.suppress(asyncio.QueueFull):
                    queue.get_nowait()
                    queue.put_nowait(None)

    def _room_event(self, consult_id: str) -> Callable[[str, str, dict[str, Any]], None]:
        def emit(participant_id: str, name: str, data: dict[str, Any]) -> None:
            self.publish(
                {"event": name, "consult_id": consult_id, "participant_id": participant_id, "data": data}
            )

        return emit

    # --- methods ------------------------------------------------------------------------------------------

    def _room(self, params: dict[str, Any]) -> MediaRoom:
        consult_id = _text(params, "consult_id")
        room = self.rooms.get(consult_id)
        if room is None:
            raise UnknownParticipant(f"consult {consult_id!r} has no media room on this worker")
        return room

    async def _join(self, params: dict[str, Any]) -> None:
        consult_id = _text(params, "consult_id")
        room = self.rooms.get(consult_id)
        if room is None:
            room = self.rooms[consult_id] = MediaRoom(consult_id, self.settings, self._room_event(consult_id))
        await room.join(_text(params, "participant_id"), _text(params, "user_id"), _text(params, "role"))

    async def _offer(self, params: dict[str, Any]) -> dict[str, str]:
        answer = await self._room(params).offer(_text(params, "participant_id"), params.get("sdp"))
        return {"sdp": answer}

    async def _answer(self, params: dict[str, Any]) -> None:
        await self._room(params).answer(_text(params, "participant_id"), params.get("sdp"))

    async def _candidate(self, params: dict[str, Any]) -> None:
        await self._room(params).add_ice_candidate(_text(params, "participant_id"), params.get("candidate"))

    async def _set_media(self, params: dict[str, Any]) -> None:
        await self._room(params).set_media(
            _text(params, "participant_id"),
            audio=_flag(params, "audio"),
            video=_flag(params, "video"),
            receive_video=_flag(params, "receive_video"),
        )

    async def _leave(self, params: dict[str, Any]) -> None:
        room = self._room(params)
        await room.leave(_text(params, "participant_id"))
        if not room.participant_ids:
            await self._drop_room(room.consult_id)

    async def _close_room(self, params: dict[str, Any]) -> None:
        await self._drop_room(_text(params, "consult_id"))

    async def _drop_room(self, consult_id: str) -> None:
        room = self.rooms.pop(consult_id, None)
        if room is not None:
            await room.close()

    async def _record_start(self, params: dict[str, Any]) -> None:
        try:
            data_key = base64.b64decode(_text(params, "data_key"), validate=True)
            recording_id = int(params["recording_id"])
            segment_s = float(params.get("segment_s") or self.settings.segment_s)
        except (KeyError, TypeError, ValueError) as err:
            raise InvalidRequest(f"record_start: {err}") from err
        key = RecordingKey(
            recording_id,
            _text(params, "key_id"),
            _text(params, "algorithm"),
            data_key,
            _text(params, "blob_root"),
        )
        self._room(params).start_recording(key, segment_s)

    async def _record_pause(self, params: dict[str, Any]) -> None:
        self._room(params).pause_recording()

    async def _record_resume(self, params: dict[str, Any]) -> None:
        self._room(params).resume_recording()

    async def _record_stop(self, params: dict[str, Any]) -> dict[str, int]:
        return await self._room(params).stop_recording()

    async def _load(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.load()

    async def _stats(self, params: dict[str, Any]) -> dict[str, float]:
        if params.get("consult_id") is not None:
            stats = self._room(params).stats()
            return dict(vars(stats))
        totals: dict[str, float] = {
            "rooms": len(self.rooms),
            "participants": 0,
            "peer_connections": 0,
            "tasks": 0,
            "publications": 0,
            "forwarded_tracks": 0,
        }
        for room in self.rooms.values():
            for key, value in vars(room.stats()).items():
                totals[key] = totals.get(key, 0) + value
        totals.update(self.gc_pauses.counters())
        return totals

    def load(self) -> dict[str, Any]:
        """How busy this worker is (placement reads ``rooms`` and ``forwarded_tracks``)."""
        now, cpu = time.monotonic(), _cpu_seconds()
        then, cpu_then = self._cpu_mark
        if now - then >= 0.5:
            self._cpu_fraction = (cpu - cpu_then) / (now - then)
            self._cpu_mark = (now, cpu)
        participants = forwarded = 0
        for room in self.rooms.values():
            stats = room.stats()
            participants += stats.participants
            forwarded += stats.forwarded_tracks
        return {
            "pid": os.getpid(),
            "rooms": len(self.rooms),
            "participants": participants,
            "forwarded_tracks": forwarded,
            "cpu": round(self._cpu_fraction, 3),
        }

    async def close(self) -> None:
        """Close every room (and so every peer connection) of this worker."""
        for consult_id in list(self.rooms):
            await self._drop_room(consult_id)
        for queue in list(self._queues):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)


HOST_KEY = web.AppKey("media_worker_host", WorkerHost)
TOKEN_KEY = web.AppKey("media_worker_token", str)


def _authorized(request: web.Request) -> bool:
    supplied = request.headers.get("Authorization", "")
    expected = f"Bearer {request.app[TOKEN_KEY]}"
    return hmac.compare_digest(supplied.encode(), expected.encode())


async def _rpc(request: web.Request) -> web.StreamResponse:
    if not _authorized(request):
        raise web.HTTPUnauthorized(text="media worker: wrong or missing token")
    host = request.app[HOST_KEY]
    ws = web.WebSocketResponse(heartbeat=10.0, max_msg_size=4 * host.settings.max_sdp_bytes)
    await ws.prepare(request)
    queue = host.subscribe()
    calls: set[asyncio.Task[None]] = set()

    async def write_events() -> None:
        while (text := await queue.get()) is not None:
            await ws.send_str(text)
        await ws.close()

    async def answer(message: dict[str, Any]) -> None:
        request_id = message.get("id")
        try:
            result = await host.call(message.get("method"), message.get("params", {}))
            reply: dict[str, Any] = {"id": request_id, "result": result}
        except MediaError as err:
            reply = {"id": request_id, "error": err.as_dict()}
        except Exception as err:
            logger.exception("media worker: %s failed", message.get("method"))
            reply = {
                "id": request_id,
                "error": {"code": "internal_error", "message": f"{type(err).__name__}"},
            }
        if not ws.closed:
            await ws.send_str(json.dumps(reply))

    writer = asyncio.get_running_loop().create_task(write_events(), name="media worker events")
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            try:
                message = json.loads(msg.data)
            except ValueError:
                await ws.send_str(json.dumps({"id": None, "error": InvalidRequest("not JSON").as_dict()}))
                continue
            if not isinstance(message, dict):
                await ws.send_str(
                    json.dumps({"id": None, "error": InvalidRequest("not an object").as_dict()})
                )
                continue
            task = asyncio.get_running_loop().create_task(
                answer(message), name=f"rpc {message.get('method')}"
            )
            calls.add(task)
            task.add_done_callback(calls.discard)
    finally:
        host.unsubscribe(queue)
        for task in [writer, *calls]:
            task.cancel()
        await asyncio.gather(writer, *calls, return_exceptions=True)
    return ws


async def _load(request: web.Request) -> web.Response:
    if not _authorized(request):
        raise web.HTTPUnauthorized(text="media worker: wrong or missing token")
    return web.json_response(request.app[HOST_KEY].load())


async def _load_heartbeat(app: web.Application) -> AsyncIterator[None]:
    host = app[HOST_KEY]

    async def beat() -> None:
        while True:
            await asyncio.sleep(LOAD_INTERVAL_S)
            host.publish({"event": "load", "data": host.load()})

    task = asyncio.get_running_loop().create_task(beat(), name="media worker load")
    host.gc_pauses.install()
    yield
    host.gc_pauses.uninstall()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await host.close()


def create_worker_app(settings: MediaSettings, token: str) -> web.Application:
    """The worker's aiohttp application: ``/rpc`` and ``/load``, the rooms closed on cleanup."""
    if len(token) < 16:
        raise ValueError("the worker token must be at least 16 characters")
    app = web.Application()
    app[HOST_KEY] = WorkerHost(settings)
    app[TOKEN_KEY] = token
    app.router.add_get("/rpc", _rpc)
    app.router.add_get("/load", _load)
    app.cleanup_ctx.append(_load_heartbeat)
    return app


async def serve(settings: MediaSettings, host: str, port: int, token: str) -> None:
    """Serve until standard input closes or a signal asks to stop; print the ready line once listening."""
    runner = web.AppRunner(create_worker_app(settings, token), handle_signals=False)
    await runner.setup()
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    await web.SockSite(runner, sock).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # The parent holds our standard input: end-of-file means it closed it or died.
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    async def watch_stdin() -> None:
        while await reader.read(4096):
            pass
        stop.set()

    watcher = loop.create_task(watch_stdin(), name="media worker stdin")
    # What the worker imported and set up lives as long as the process: keep it out of the collector's full
    # passes, which stall every stream of the worker while they run (media/gc_pauses.py counts them). Only
    # these start-up objects are frozen; what calls create later is collected as usual.
    runner.app[HOST_KEY].gc_pauses.freeze()
    print(json.dumps({"ready": True, "port": bound_port, "pid": os.getpid()}), flush=True)
    logger.info("media worker %s listening on %s:%s", os.getpid(), host, bound_port)
    try:
        await stop.wait()
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        await runner.cleanup()
        logger.info("media worker %s stopped", os.getpid())


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m media.worker``."""
    parser = argparse.ArgumentParser(prog="python -m media.worker", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--settings", default="{}", help="MediaSettings as JSON (MediaSettings.to_json)")
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    token = os.environ.get(TOKEN_ENV, "")
    if not token:
        parser.error(f"{TOKEN_ENV} must hold the hub's shared secret")
    settings = MediaSettings.from_json(args.settings)
    # The loop whose selector runs the media sockets' readers itself (media/eventloop.py).
    with asyncio.Runner(loop_factory=eventloop.new_event_loop) as runner:
        runner.run(serve(settings, args.host, args.port, token))
    return 0


if __name__ == "__main__":
    sys.exit(main())
