"""A live server per test and real python-socketio clients talking to it."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
import socketio
from aiohttp.test_utils import TestServer

from storage.demo import DEMO_PASSWORD
from tests.conftest import NOW, TIMEZONE, TODAY
from web.app import create_app
from web.settings import Settings

#: Short, so reconnect tests run in a second.
GRACE_S = 0.6


class Clock:
    """The app's clock, which a test may move (within the run's demo day)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set_local(self, hour: int, minute: int = 0) -> None:
        """Move to `hour:minute` service time on the run's demo day."""
        local = datetime(TODAY.year, TODAY.month, TODAY.day, hour, minute, tzinfo=ZoneInfo(TIMEZONE))
        self.now = local.astimezone(NOW.tzinfo)


@dataclass
class Client:
    """One user's Socket.IO connection, remembering every event it received."""

    sio: socketio.AsyncClient
    user: str
    token: str
    events: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))

    async def call(self, namespace: str, event: str, data: Any = None, within: float = 5) -> Any:
        """Send an event and return its ack."""
        return await self.sio.call(event, data, namespace=namespace, timeout=within)

    async def open_conversation(self, resident_id: int) -> int:
        """Open the resident's care-team conversation and return its id."""
        ack = await self.call("/chat", "open_conversation", {"resident_id": resident_id})
        return int(ack_ok(ack)["conversation"]["id"])

    async def say(self, conversation_id: int, text: str) -> dict[str, Any]:
        """Send a text message with a fresh client id and return the successful ack."""
        ack = await self.call(
            "/chat",
            "send_message",
            {"conversation_id": conversation_id, "client_msg_id": uuid.uuid4().hex, "text": text},
        )
        return ack_ok(ack)

    async def wait_for(
        self, event: str, predicate: Callable[[Any], bool] = lambda _: True, within: float = 5
    ) -> Any:
        """The first event of that name (received before or after the call) that satisfies `predicate`."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            for item in self.events[event]:
                if predicate(item):
                    return item
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{self.user} never received {event!r}; got {dict(self.events)}")
            await asyncio.sleep(0.02)


@dataclass
class Live:
    """A running node and a way to connect clients to it."""

    url: str
    clock: Clock
    app: Any
    clients: list[Client] = field(default_factory=list)

    async def token(self, username: str) -> str:
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{self.url}/api/auth/login", json={"username": username, "password": DEMO_PASSWORD}
            ) as resp:
                assert resp.status == 200, await resp.text()
                return str((await resp.json())["access_token"])

    async def http(self, method: str, path: str, token: str, **kwargs: Any) -> tuple[int, Any]:
        async with aiohttp.ClientSession() as http:
            async with http.request(
                method, f"{self.url}{path}", headers={"Authorization": f"Bearer {token}"}, **kwargs
            ) as resp:
                body = await resp.json() if resp.content_type.endswith("json") else await resp.read()
                return resp.status, body

    async def connect(self, username: str, token: str | None = None) -> Client:
        token = token or await self.token(username)
        sio = socketio.AsyncClient(reconnection=False)
        client = Client(sio, username, token)
        for namespace in ("/chat", "/consult"):
            for name in (
                "message",
                "read",
                "typing",
                "alert",
                "queue",
                "presence",
                "admitted",
                "ended",
                "removed",
                "recording",
            ):
                sio.on(name, _recorder(client, name), namespace=namespace)
        refusals: list[Any] = []
        for namespace in ("/chat", "/consult"):
            sio.on("connect_error", _collector(refusals), namespace=namespace)
        try:
            await sio.connect(
                self.url,
                namespaces=["/chat", "/consult"],
                auth={"token": token},
                transports=["websocket"],
                wait_timeout=5,
            )
        except socketio.exceptions.ConnectionError as err:
            raise AssertionError(f"{username} could not connect: {refusals}") from err
        self.clients.append(client)
        return client


def _collector(into: list[Any]) -> Callable[[Any], Awaitable[None]]:
    async def collect(data: Any = None) -> None:
        into.append(data)

    return collect


def _recorder(client: Client, name: str) -> Callable[[Any], Awaitable[None]]:
    async def record(data: Any = None) -> None:
        client.events[name].append(data)

    return record


def ack_ok(ack: Any) -> dict[str, Any]:
    """Assert an ack succeeded and return it."""
    assert isinstance(ack, dict) and ack.get("ok") is True, ack
    return ack


def ack_error(ack: Any) -> dict[str, Any]:
    """Assert an ack is an error and return its body."""
    assert isinstance(ack, dict) and "error" in ack, ack
    return dict(ack["error"])


async def serve_live(settings: Settings, aiohttp_server: Any, **changes: Any) -> AsyncIterator[Live]:
    """A node on `settings` (with the grace period `GRACE_S` and `changes`), clock at 10:00 on the demo
    day; its clients still connected are disconnected at the end. For fixtures: `async for`."""
    clock = Clock(NOW)
    clock.set_local(10)
    app = create_app(replace(settings, grace_period_s=GRACE_S, **changes), clock=clock)
    server: TestServer = await aiohttp_server(app)
    node = Live(str(server.make_url("")).rstrip("/"), clock, app)
    yield node
    for client in node.clients:
        if client.sio.connected:
            await client.sio.disconnect()


@pytest.fixture
async def live(settings: Settings, aiohttp_server: Any) -> AsyncIterator[Live]:
    """A node on this test's database (SQLite or PostgreSQL), clock at 10:00 on the demo day."""
    async for node in serve_live(settings, aiohttp_server):
        yield node
