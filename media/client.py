"""The hub's side of one media worker's RPC (media/worker.py): requests with time-outs, events, reconnects.

`WorkerClient.call(method, **params)` sends ``{"id", "method", "params"}`` and waits for the reply with the
same id; an error reply is raised as the `MediaError` subclass of its code. Worker events go to the
``on_event(message)`` callback (``load`` events also update `WorkerClient.load`). When the connection drops,
pending calls fail with `WorkerUnavailable` and the client reconnects with capped backoff until `close`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections.abc import Callable
from typing import Any

import aiohttp

from media.errors import WorkerCallTimeout, WorkerUnavailable, error_from_dict

logger = logging.getLogger(__name__)

EventHandler = Callable[[dict[str, Any]], None]
RECONNECT_MIN_S = 0.1
RECONNECT_MAX_S = 2.0


class WorkerClient:
    """A connection to one media worker's ``/rpc`` endpoint."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        on_event: EventHandler | None = None,
        call_timeout_s: float = 10.0,
        name: str = "",
    ) -> None:
        self.url = url
        self.name = name or url
        self._token = token
        self._on_event = on_event
        self._timeout = call_timeout_s
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._closed = False
        #: The worker's last reported load (see `WorkerHost.load`).
        self.load: dict[str, Any] = {}

    @property
    def connected(self) -> bool:
        """Whether the WebSocket is open."""
        return self._ws is not None and not self._ws.closed

    async def connect(self, timeout_s: float = 10.0) -> None:
        """Open the connection (and keep it open until `close`); raise `WorkerUnavailable` if it cannot."""
        if self._session is None:
            self._session = aiohttp.ClientSession(headers={"Authorization": f"Bearer {self._token}"})
        await self._open()
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"media worker client {self.name}"
        )
        try:
            await asyncio.wait_for(self._connected.wait(), timeout_s)
        except TimeoutError as err:
            raise WorkerUnavailable(f"media worker {self.name} did not accept the connection") from err

    async def _open(self) -> None:
        assert self._session is not None
        try:
            self._ws = await self._session.ws_connect(self.url, heartbeat=10.0, max_msg_size=8 * 1024 * 1024)
        except (aiohttp.ClientError, OSError) as err:
            raise WorkerUnavailable(f"media worker {self.name} is unreachable: {err}") from err
        self._connected.set()

    async def _run(self) -> None:
        backoff = RECONNECT_MIN_S
        while not self._closed:
            ws = self._ws
            if ws is not None and not ws.closed:
                backoff = RECONNECT_MIN_S
                await self._read(ws)
            self._connected.clear()
            self._fail_pending(WorkerUnavailable(f"the connection to media worker {self.name} was lost"))
            if self._closed:
                return
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, RECONNECT_MAX_S)
            with contextlib.suppress(WorkerUnavailable):
                await self._open()
                logger.info("media worker %s: reconnected", self.name)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            try:
                message = json.loads(msg.data)
            except ValueError:
                logger.warning("media worker %s sent a frame that is not JSON", self.name)
                continue
            if not isinstance(message, dict):
                continue
            if "event" in message:
                if message["event"] == "load" and isinstance(message.get("data"), dict):
                    self.load = message["data"]
                if self._on_event is not None:
                    try:
                        self._on_event(message)
                    except Exception:
                        logger.exception("media worker %s: event handler failed", self.name)
                continue
            future = self._pending.pop(message.get("id"), None)  # type: ignore[arg-type]
            if future is None or future.done():
                continue
            if "error" in message and isinstance(message["error"], dict):
                future.set_exception(error_from_dict(message["error"]))
            else:
                future.set_result(message.get("result"))

    def _fail_pending(self, error: Exception) -> None:
        pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(error)

    async def call(self, method: str, *, timeout_s: float | None = None, **params: Any) -> Any:
        """Run `method` on the worker and return its result, or raise the `MediaError` it replied with."""
        ws = self._ws
        if self._closed or ws is None or ws.closed:
            raise WorkerUnavailable(f"media worker {self.name} is not connected")
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            await ws.send_str(json.dumps({"id": request_id, "method": method, "params": params}))
            return await asyncio.wait_for(future, timeout_s if timeout_s is not None else self._timeout)
        except TimeoutError as err:
            raise WorkerCallTimeout(f"media worker {self.name} did not answer {method} in time") from err
        except (ConnectionError, aiohttp.ClientError) as err:
            raise WorkerUnavailable(f"media worker {self.name}: {method} not sent: {err}") from err
        finally:
            self._pending.pop(request_id, None)

    async def close(self) -> None:
        """Close the connection for good; pending calls fail with `WorkerUnavailable`."""
        self._closed = True
        if self._ws is not None:
            await self._ws.close()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self._fail_pending(WorkerUnavailable(f"the client of media worker {self.name} is closed"))
        if self._session is not None:
            await self._session.close()
            self._session = None
