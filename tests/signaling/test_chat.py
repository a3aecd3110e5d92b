"""Messaging over the hub with real python-socketio clients."""

from __future__ import annotations

import asyncio
import uuid

from tests.signaling.conftest import Live, ack_error, ack_ok
from tests.web.helpers import table_counts
from web import keys


def cid() -> str:
    return uuid.uuid4().hex


async def _conversation(live: Live, user: str, resident_id: int) -> int:
    client = await live.connect(user)
    ack = ack_ok(await client.call("/chat", "open_conversation", {"resident_id": resident_id}))
    return int(ack["conversation"]["id"])


async def test_bad_token_is_refused_with_a_reason(live: Live) -> None:
    import socketio

    reasons: list[object] = []
    sio = socketio.AsyncClient(reconnection=False)

    async def refused(data: object) -> None:
        reasons.append(data)

    sio.on("connect_error", refused, namespace="/chat")
    try:
        await sio.connect(
            live.url, namespaces=["/chat"], auth={"token": "forged"}, transports=["websocket"], wait_timeout=3
        )
    except socketio.exceptions.ConnectionError:
        pass
    assert not sio.connected
    assert reasons, "the refusal must say why"
    assert reasons[0]["data"]["code"] == "invalid_token"  # type: ignore[index]
    assert "invalid token" in reasons[0]["message"]  # type: ignore[index]
    await sio.disconnect()


async def test_resident_and_doctor_chat_with_ordered_ids_and_read_receipts(live: Live) -> None:
    resident = await live.connect("resident")  # 刘德明, resident 2
    doctor = await live.connect("doctor")
    conversation = ack_ok(await resident.call("/chat", "open_conversation", {"resident_id": 2}))[
        "conversation"
    ]
    sent = ack_ok(
        await resident.call(
            "/chat",
            "send_message",
            {
                "conversation_id": conversation["id"],
                "client_msg_id": cid(),
                "text": "王医生，我今天血压 150/95",
            },
        )
    )
    got = await doctor.wait_for("message", lambda m: m["id"] == sent["message"]["id"])
    assert got["text"] == "王医生，我今天血压 150/95"
    assert got["sender"]["role"] == "resident"
    reply = ack_ok(
        await doctor.call(
            "/chat",
            "send_message",
            {"conversation_id": conversation["id"], "client_msg_id": cid(), "text": "收到，明天来测一次"},
        )
    )
    assert reply["message"]["id"] > sent["message"]["id"]
    await resident.wait_for("message", lambda m: m["id"] == reply["message"]["id"])
    ack_ok(
        await doctor.call(
            "/chat", "mark_read", {"conversation_id": conversation["id"], "up_to_id": sent["message"]["id"]}
        )
    )
    receipt = await resident.wait_for("read")
    assert receipt["up_to_id"] == sent["message"]["id"]


async def test_retry_with_the_same_client_id_is_not_stored_twice(live: Live, database_url: str) -> None:
    resident = await live.connect("resident")
    conversation_id = await resident.open_conversation(2)
    payload = {"conversation_id": conversation_id, "client_msg_id": cid(), "text": "重发测试"}
    first = ack_ok(await resident.call("/chat", "send_message", payload))
    before = await table_counts(database_url)
    second = ack_ok(await resident.call("/chat", "send_message", payload))
    assert second["duplicate"] is True and second["message"]["id"] == first["message"]["id"]
    assert await table_counts(database_url) == before


async def test_offline_doctor_gets_what_was_missed(live: Live) -> None:
    resident = await live.connect("resident")
    conversation_id = await resident.open_conversation(2)
    sent = await resident.say(conversation_id, "医生您在吗")
    doctor = await live.connect("doctor")  # connects only now
    inbox = ack_ok(await doctor.call("/chat", "list_conversations"))["conversations"]
    mine = next(c for c in inbox if c["id"] == conversation_id)
    assert mine["unread"] == 1 and mine["last_message"]["text"] == "医生您在吗"
    synced = ack_ok(
        await doctor.call("/chat", "sync_messages", {"conversation_id": conversation_id, "after_id": 0})
    )
    assert [m["id"] for m in synced["messages"]] == [sent["message"]["id"]]


async def test_messages_survive_a_server_restart(
    live: Live, settings: object, aiohttp_server: object
) -> None:
    """Nothing acknowledged is lost: a second node on the same database serves what the first stored."""
    from dataclasses import replace

    from tests.signaling.conftest import Clock
    from web.app import create_app

    resident = await live.connect("resident")
    conversation_id = await resident.open_conversation(2)
    sent = await resident.say(conversation_id, "重启前的消息")
    await resident.sio.disconnect()
    await live.app.shutdown()
    await live.app.cleanup()
    clock = Clock(live.clock.now)
    server = await aiohttp_server(create_app(replace(settings, grace_period_s=0.6), clock=clock))  # type: ignore[arg-type,operator]
    restarted = Live(str(server.make_url("")).rstrip("/"), clock, server.app)
    doctor = await restarted.connect("doctor")
    synced = ack_ok(await doctor.call("/chat", "sync_messages", {"conversation_id": conversation_id}))
    assert sent["message"]["id"] in [m["id"] for m in synced["messages"]]
    await doctor.sio.disconnect()


async def test_proxy_writes_for_the_bound_parent_and_is_shown_as_such(live: Live) -> None:
    proxy = await live.connect("proxy")
    doctor = await live.connect("doctor")
    conversation_id = await proxy.open_conversation(1)
    sent = await proxy.say(conversation_id, "我妈妈这两天头晕")
    got = await doctor.wait_for("message", lambda m: m["id"] == sent["message"]["id"])
    assert got["sender"]["role"] == "proxy" and got["on_behalf_of_resident_id"] == 1


async def test_strangers_cannot_open_or_write_anothers_conversation(live: Live, database_url: str) -> None:
    owner = await live.connect("proxy")
    conversation_id = await owner.open_conversation(1)
    resident = await live.connect("resident")
    before = await table_counts(database_url)
    assert (
        ack_error(await resident.call("/chat", "open_conversation", {"resident_id": 1}))["code"]
        == "forbidden"
    )
    err = ack_error(
        await resident.call(
            "/chat",
            "send_message",
            {"conversation_id": conversation_id, "client_msg_id": cid(), "text": "hi"},
        )
    )
    assert err["code"] == "forbidden"
    assert (
        ack_error(await resident.call("/chat", "sync_messages", {"conversation_id": conversation_id}))["code"]
        == "forbidden"
    )
    assert await table_counts(database_url) == before


async def test_malformed_and_oversized_events_are_refused_and_the_connection_keeps_working(
    live: Live,
) -> None:
    resident = await live.connect("resident")
    conversation_id = await resident.open_conversation(2)
    cases = [
        ({"conversation_id": conversation_id}, "client_msg_id"),
        ({"conversation_id": "two", "client_msg_id": cid(), "text": "x"}, "conversation_id"),
        ({"conversation_id": conversation_id, "client_msg_id": cid(), "text": "x", "extra": 1}, "extra"),
        ({"conversation_id": conversation_id, "client_msg_id": cid(), "text": "   "}, "text"),
        (
            {"conversation_id": conversation_id, "client_msg_id": cid(), "kind": "auto_reply", "text": "x"},
            "kind",
        ),
        ({"conversation_id": conversation_id, "client_msg_id": cid(), "kind": "image"}, "attachment_id"),
        ("not an object", None),
    ]
    for payload, field in cases:
        err = ack_error(await resident.call("/chat", "send_message", payload))
        assert err["code"] in ("validation_failed", "rule_violation"), (payload, err)
        if field:
            assert field in (err.get("field") or "") + err["message"], (payload, err)
    err = ack_error(
        await resident.call(
            "/chat",
            "send_message",
            {"conversation_id": conversation_id, "client_msg_id": cid(), "text": "长" * 20000},
        )
    )
    assert err["code"] == "payload_too_large"
    assert (
        ack_error(
            await resident.call(
                "/chat", "send_message", {"conversation_id": 999999, "client_msg_id": cid(), "text": "x"}
            )
        )["code"]
        == "not_found"
    )
    ok = await resident.say(conversation_id, "还能发")
    assert ok["message"]["text"] == "还能发"


async def test_a_flood_is_limited_without_disturbing_others(live: Live) -> None:
    flooder = await live.connect("resident")
    doctor = await live.connect("doctor")
    conversation_id = await flooder.open_conversation(2)
    acks = await asyncio.gather(
        *(flooder.call("/chat", "typing", {"conversation_id": conversation_id}) for _ in range(80))
    )
    limited = [a for a in acks if "error" in a and a["error"]["code"] == "rate_limited"]
    assert limited, "80 events at once must hit the limit"
    ack_ok(await doctor.call("/chat", "list_conversations"))


async def test_card_is_for_the_team_only(live: Live) -> None:
    resident = await live.connect("resident")
    doctor = await live.connect("doctor")
    conversation_id = await doctor.open_conversation(2)
    card = {
        "type": "booking_link",
        "title": "心内科专家门诊预约",
        "url": "https://hospital.example/booking/123",
    }
    sent = ack_ok(
        await doctor.call(
            "/chat",
            "send_message",
            {"conversation_id": conversation_id, "client_msg_id": cid(), "kind": "card", "card": card},
        )
    )
    got = await resident.wait_for("message", lambda m: m["id"] == sent["message"]["id"])
    assert got["card"]["title"] == "心内科专家门诊预约"
    err = ack_error(
        await resident.call(
            "/chat",
            "send_message",
            {"conversation_id": conversation_id, "client_msg_id": cid(), "kind": "card", "card": card},
        )
    )
    assert err["code"] == "cards_by_team"
    bad = dict(card, url="javascript:alert(1)")
    err = ack_error(
        await doctor.call(
            "/chat",
            "send_message",
            {"conversation_id": conversation_id, "client_msg_id": cid(), "kind": "card", "card": bad},
        )
    )
    assert err["field"] == "card"


async def test_metrics_count_connections_and_events(live: Live) -> None:
    import aiohttp

    resident = await live.connect("resident")
    await resident.call("/chat", "list_conversations")
    await resident.call("/chat", "sync_messages", {"conversation_id": "x"})
    async with aiohttp.ClientSession() as http, http.get(f"{live.url}/metrics") as resp:
        text = await resp.text()
    assert 'jiayi_socketio_connections{namespace="/chat"} 1.0' in text
    assert (
        'jiayi_socketio_events_total{event="list_conversations",namespace="/chat",outcome="ok"} 1.0' in text
    )
    assert (
        'jiayi_socketio_events_total{event="sync_messages",namespace="/chat",outcome="validation_failed"} 1.0'
        in text
    )


async def test_racing_retries_store_one_message(live: Live) -> None:
    """A retry sent on a second connection before the first ack arrives is still one message."""
    first = await live.connect("resident")
    second = await live.connect("resident", first.token)
    conversation_id = await first.open_conversation(2)
    payload = {"conversation_id": conversation_id, "client_msg_id": cid(), "text": "网络不好，可能发了两次"}
    acks = await asyncio.gather(
        *(c.call("/chat", "send_message", payload) for c in (first, second, first, second))
    )
    ids = {ack_ok(a)["message"]["id"] for a in acks}
    assert len(ids) == 1
    assert sorted(a["duplicate"] for a in acks) == [False, True, True, True]


async def test_messages_are_stored_while_every_pooled_connection_is_busy(live: Live) -> None:
    """Events that wait for the message writer may hold the pool's connections; the writer has its own."""
    resident = await live.connect("resident")
    doctor = await live.connect("doctor")
    conversation_id = await resident.open_conversation(2)
    await resident.say(conversation_id, "先发一条")  # caches warm: the next send needs no query of its own
    engine = live.app[keys.ENGINE]
    pool_size = engine.pool.size() + engine.pool._max_overflow  # type: ignore[attr-defined]
    held = [await engine.connect() for _ in range(pool_size)]
    try:
        sent = await resident.say(conversation_id, "连接池满了也要送到")
        await doctor.wait_for("message", lambda m: m["id"] == sent["message"]["id"], within=5)
    finally:
        for connection in held:
            await connection.close()
