"""Two server processes sharing the machine's PostgreSQL and Redis serve the same people and queues."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
import redis

from tests.media.peers import eventually
from tests.signaling.conftest import Client, Live, ack_ok
from tests.signaling.media_node import media_peer

pytestmark = [pytest.mark.redis, pytest.mark.parametrize("backend", ["postgres"], indirect=True)]

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("JIAYI_TEST_REDIS", "redis://127.0.0.1:6379/0")
SECRET = "two-node-test-secret-0123456789abcdef0123"


@pytest.fixture(scope="module")
def redis_up() -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as err:
        pytest.fail(
            f"Redis is not reachable at {REDIS_URL} ({err}). It runs on every developer's and CI's machine; start "
            "it with: redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save '' --appendonly no",
            pytrace=False,
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def nodes(redis_up: None, database_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two `run.py serve` processes on one database and one Redis (keys under a prefix of their own)."""
    prefix = f"jiayi-test-{uuid.uuid4().hex[:8]}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("JIAYI_")},
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "JIAYI_REDIS_PREFIX": prefix,
        "JIAYI_SECRET_KEY": SECRET,
        "JIAYI_DATA_DIR": str(tmp_path / "var"),
        "JIAYI_LOG_LEVEL": "WARNING",
        "JIAYI_MEDIA_WORKERS": "1",
    }
    ports = [_free_port(), _free_port()]
    procs = [
        subprocess.Popen(
            [sys.executable, "run.py", "serve", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for port in ports
    ]
    try:
        yield tuple(f"http://127.0.0.1:{p}" for p in ports)  # type: ignore[misc]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=15)
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(f"{prefix}:*"))
        if keys:
            client.delete(*keys)


async def _ready(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(150):
            try:
                async with http.get(f"{url}/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    pytest.fail(f"node {url} did not start")


@pytest.fixture
async def two(nodes: tuple[str, str]) -> AsyncIterator[tuple[Live, Live]]:
    await asyncio.gather(*(_ready(u) for u in nodes))
    a, b = Live(nodes[0], None, None), Live(nodes[1], None, None)  # type: ignore[arg-type]
    yield a, b
    for live in (a, b):
        for client in live.clients:
            if client.sio.connected:
                await client.sio.disconnect()


async def _advice_consult(node: Live, token: str) -> int:
    """An on-demand video advice consult for 刘德明, created through `node`'s API."""
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{node.url}/api/consults",
            headers={"Authorization": f"Bearer {token}"},
            json={"resident_id": 2, "kind": "advice", "mode": "video"},
        ) as resp:
            assert resp.status == 201, await resp.text()
            return int((await resp.json())["id"])


async def _in_room_across(a: Live, b: Live) -> tuple[int, Client, Client]:
    """A consult in progress with the doctor connected to `b` and the resident to `a`, both in the room."""
    token = await b.token("doctor")
    consult_id = await _advice_consult(b, token)
    doctor = await b.connect("doctor", token)
    resident = await a.connect("resident")
    ack_ok(await resident.call("/consult", "check_in", {"consult_id": consult_id}))
    ack_ok(await doctor.call("/consult", "admit", {"consult_id": consult_id}))
    ack_ok(await doctor.call("/consult", "join", {"consult_id": consult_id}))
    ack_ok(await resident.call("/consult", "join", {"consult_id": consult_id}))
    return consult_id, doctor, resident


async def test_resident_on_a_chats_with_doctor_on_b(two: tuple[Live, Live]) -> None:
    a, b = two
    resident = await a.connect("resident")
    doctor = await b.connect("doctor")
    conversation_id = await resident.open_conversation(2)
    sent = await resident.say(conversation_id, "A 节点发出")
    got = await doctor.wait_for("message", lambda m: m["id"] == sent["message"]["id"])
    assert got["text"] == "A 节点发出"
    reply = await doctor.say(conversation_id, "B 节点回复")
    await resident.wait_for("message", lambda m: m["id"] == reply["message"]["id"])


async def test_queue_on_b_shows_a_resident_who_checked_in_on_a(two: tuple[Live, Live]) -> None:
    a, b = two
    token = await b.token("doctor")
    consult_id = await _advice_consult(b, token)
    doctor = await b.connect("doctor", token)
    ack_ok(await doctor.call("/consult", "watch_queue"))
    resident = await a.connect("resident")
    ack_ok(await resident.call("/consult", "check_in", {"consult_id": consult_id}))
    update = await doctor.wait_for("queue", lambda q: any(e["consult_id"] == consult_id for e in q["queue"]))
    assert update["queue"][0]["resident_name"] == "刘德明"
    # A doctor connecting to B later reads the queue from Redis, not from B's memory.
    late = await b.connect("doctor", token)
    queue = ack_ok(await late.call("/consult", "watch_queue"))["queue"]
    assert [e["consult_id"] for e in queue] == [consult_id]
    ack_ok(await doctor.call("/consult", "admit", {"consult_id": consult_id}))
    await resident.wait_for("admitted", lambda e: e["consult_id"] == consult_id)


async def test_failed_logins_count_across_nodes(two: tuple[Live, Live]) -> None:
    a, b = two
    async with aiohttp.ClientSession() as http:
        for node in (a, b, a, b, a):
            async with http.post(
                f"{node.url}/api/auth/login", json={"username": "nurse", "password": "guess-guess"}
            ) as r:
                assert r.status == 401
        async with http.post(
            f"{b.url}/api/auth/login", json={"username": "nurse", "password": "jiayi-demo"}
        ) as r:
            assert r.status == 429


async def test_a_nurse_who_joins_on_a_chats_at_once_on_b(two: tuple[Live, Live]) -> None:
    """B has the consult chat's members cached; the nurse joining on A must reach B through Redis."""
    a, b = two
    token = await b.token("doctor")
    status, body = await b.http(
        "POST", "/api/consults", token, json={"resident_id": 2, "kind": "advice", "mode": "video"}
    )
    assert status == 201, body
    consult_id = body["id"]
    doctor = await b.connect("doctor", token)
    resident = await b.connect("resident")
    ack_ok(await resident.call("/consult", "check_in", {"consult_id": consult_id}))
    ack_ok(await doctor.call("/consult", "admit", {"consult_id": consult_id}))
    chat = ack_ok(await doctor.call("/chat", "open_consult_chat", {"consult_id": consult_id}))["conversation"]
    await doctor.say(chat["id"], "我们开始吧")  # B now knows the chat's members: doctor and resident
    nurse_token = await a.token("nurse")
    nurse_on_a = await a.connect("nurse", nurse_token)
    ack_ok(await nurse_on_a.call("/consult", "join", {"consult_id": consult_id}))
    nurse_on_b = await b.connect("nurse", nurse_token)
    sent = await nurse_on_b.say(chat["id"], "血压计已经校准好了")
    await resident.wait_for("message", lambda m: m["id"] == sent["message"]["id"])


async def test_a_resident_on_a_and_a_doctor_on_b_see_each_other(two: tuple[Live, Live]) -> None:
    """The consult's media lives on one node; the other routes its participant's signalling there."""
    consult_id, doctor, resident = await _in_room_across(*two)
    doctor_peer = await media_peer(doctor, consult_id, "blue")
    resident_peer = await media_peer(resident, consult_id, "red")
    try:
        await eventually(
            lambda: (
                "red" in doctor_peer.got(resident_peer.participant_id).colours
                and "blue" in resident_peer.got(doctor_peer.participant_id).colours
            ),
            within_s=30,
            what="each side decoding the other's video across nodes",
        )
        ack_ok(await doctor.call("/consult", "end", {"consult_id": consult_id}))
    finally:
        await doctor_peer.close()
        await resident_peer.close()


async def test_a_resident_on_a_removed_by_the_doctor_on_b_hears_no_more_of_the_room(
    two: tuple[Live, Live],
) -> None:
    a, _ = two
    consult_id, doctor, resident = await _in_room_across(*two)
    me = await resident.wait_for("presence", lambda r: len(r["members"]) == 2)
    resident_id = next(m["user_id"] for m in me["members"] if m["role"] == "resident")
    ack_ok(
        await doctor.call(
            "/consult", "remove_participant", {"consult_id": consult_id, "user_id": resident_id}
        )
    )
    await resident.wait_for("removed", lambda r: r["consult_id"] == consult_id)
    heard = len(resident.events["presence"])
    nurse = await a.connect("nurse")
    ack_ok(await nurse.call("/consult", "join", {"consult_id": consult_id}))
    await doctor.wait_for("presence", lambda r: any(m["role"] == "nurse" for m in r["members"]))
    await asyncio.sleep(0.3)
    assert resident.sio.connected
    assert len(resident.events["presence"]) == heard
