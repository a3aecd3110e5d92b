"""The waiting room and consult rooms: check-in, queue, admit, presence, reconnects, invites, ending."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from tests.signaling.conftest import GRACE_S, Client, Live, ack_error, ack_ok
from web import keys


async def _on_demand_consult(live: Live, resident_id: int = 2, kind: str = "advice", **extra: object) -> int:
    token = await live.token("doctor")
    status, body = await live.http(
        "POST",
        "/api/consults",
        token,
        json={"resident_id": resident_id, "kind": kind, "mode": "video", **extra},
    )
    assert status == 201, body
    return int(body["id"])


async def test_check_in_queue_admit_chat_end(live: Live) -> None:
    consult_id = await _on_demand_consult(live)
    doctor = await live.connect("doctor")
    queue = ack_ok(await doctor.call("/consult", "watch_queue"))["queue"]
    assert consult_id not in [e["consult_id"] for e in queue]
    resident = await live.connect("resident")
    checked = ack_ok(await resident.call("/consult", "check_in", {"consult_id": consult_id}))
    assert checked["position"] == 1
    update = await doctor.wait_for("queue", lambda q: any(e["consult_id"] == consult_id for e in q["queue"]))
    entry = next(e for e in update["queue"] if e["consult_id"] == consult_id)
    assert entry["resident_name"] == "刘德明" and entry["waited_seconds"] >= 0
    live.clock.now += timedelta(minutes=4)
    queue = ack_ok(await doctor.call("/consult", "watch_queue"))["queue"]
    assert queue[0]["waited_seconds"] == 240

    # Not admitted yet: the resident cannot enter the room.
    assert (
        ack_error(await resident.call("/consult", "join", {"consult_id": consult_id}))["code"]
        == "not_admitted"
    )
    ack_ok(await doctor.call("/consult", "admit", {"consult_id": consult_id}))
    await resident.wait_for("admitted", lambda a: a["consult_id"] == consult_id)
    await doctor.wait_for("queue", lambda q: all(e["consult_id"] != consult_id for e in q["queue"]))
    ack_ok(await doctor.call("/consult", "join", {"consult_id": consult_id}))
    ack_ok(await resident.call("/consult", "join", {"consult_id": consult_id}))
    presence = await doctor.wait_for("presence", lambda p: len(p["members"]) == 2)
    assert {(m["role"], m["presence"]) for m in presence["members"]} == {
        ("doctor", "connected"),
        ("resident", "connected"),
    }
    chat = ack_ok(await resident.call("/chat", "open_consult_chat", {"consult_id": consult_id}))[
        "conversation"
    ]
    sent = ack_ok(
        await resident.call(
            "/chat",
            "send_message",
            {"conversation_id": chat["id"], "client_msg_id": uuid.uuid4().hex, "text": "我把血压计拿来了"},
        )
    )
    await doctor.wait_for("message", lambda m: m["id"] == sent["message"]["id"])

    live.clock.now += timedelta(minutes=12)
    ack_ok(await doctor.call("/consult", "end", {"consult_id": consult_id}))
    ended = await resident.wait_for("ended", lambda e: e["consult_id"] == consult_id)
    assert ended["next_task_due"] is None  # advice, not a follow-up: nothing scheduled
    status, record = await live.http("GET", f"/api/consults/{consult_id}", doctor.token)
    assert (status, record["status"]) == (200, "ended")
    assert record["duration_seconds"] == 12 * 60
    assert {p["role"] for p in record["participants"]} == {"doctor", "resident"}
    assert all(p["left_at"] for p in record["participants"])


async def test_a_resident_cannot_enter_someone_elses_consult(live: Live) -> None:
    consult_id = await _on_demand_consult(live, resident_id=1)  # 赵秀兰's
    resident = await live.connect("resident")  # 刘德明
    assert (
        ack_error(await resident.call("/consult", "check_in", {"consult_id": consult_id}))["code"]
        == "forbidden"
    )
    assert (
        ack_error(await resident.call("/consult", "join", {"consult_id": consult_id}))["code"]
        == "not_admitted"
    )
    assert (
        ack_error(await resident.call("/chat", "open_consult_chat", {"consult_id": consult_id}))["code"]
        == "forbidden"
    )
    assert ack_error(await resident.call("/consult", "admit", {"consult_id": consult_id}))["code"] in (
        "forbidden",
        "not_a_practitioner",
    )
    assert ack_error(await resident.call("/consult", "watch_queue"))["code"] == "forbidden"


async def test_specialist_invite_works_once_and_expires(live: Live) -> None:
    consult_id = await _on_demand_consult(live, resident_id=1, kind="referral", referral_id=1)
    doctor = await live.connect("doctor")
    invite = ack_ok(await doctor.call("/consult", "invite", {"consult_id": consult_id}))
    assert invite["url"] == f"/join/{invite['token']}"
    specialist = await live.token("specialist")
    nurse = await live.token("nurse")
    status, body = await live.http("POST", f"/api/invites/{invite['token']}/accept", nurse)
    assert (status, body["code"]) == (403, "invite_wrong_role")
    status, body = await live.http("POST", f"/api/invites/{invite['token']}/accept", specialist)
    assert status == 200 and body["consult_id"] == consult_id
    status, body = await live.http("POST", f"/api/invites/{invite['token']}/accept", specialist)
    assert (status, body["code"]) == (403, "invite_used")
    second = ack_ok(await doctor.call("/consult", "invite", {"consult_id": consult_id}))
    live.clock.now += timedelta(hours=25)
    status, body = await live.http(
        "POST", f"/api/invites/{second['token']}/accept", await live.token("specialist")
    )
    assert (status, body["code"]) == (403, "invite_expired")
    status, body = await live.http("POST", "/api/invites/not-a-real-token/accept", specialist)
    assert status in (401, 403)
    advice = await _on_demand_consult(live, resident_id=1)
    assert (
        ack_error(await doctor.call("/consult", "invite", {"consult_id": advice}))["code"] == "not_a_referral"
    )


async def _in_room(live: Live) -> tuple[int, Client, Client]:
    consult_id = await _on_demand_consult(live)
    doctor = await live.connect("doctor")
    resident = await live.connect("resident")
    ack_ok(await resident.call("/consult", "check_in", {"consult_id": consult_id}))
    ack_ok(await doctor.call("/consult", "admit", {"consult_id": consult_id}))
    ack_ok(await doctor.call("/consult", "join", {"consult_id": consult_id}))
    ack_ok(await resident.call("/consult", "join", {"consult_id": consult_id}))
    return consult_id, doctor, resident


async def test_a_nurse_who_joins_a_running_consult_chats_in_it_at_once(live: Live) -> None:
    consult_id, doctor, resident = await _in_room(live)
    chat = ack_ok(await doctor.call("/chat", "open_consult_chat", {"consult_id": consult_id}))["conversation"]
    await doctor.say(chat["id"], "我们开始吧")  # the hub now knows the chat's members: doctor and resident
    nurse = await live.connect("nurse")
    refused = await nurse.call(
        "/chat",
        "send_message",
        {"conversation_id": chat["id"], "client_msg_id": uuid.uuid4().hex, "text": "早"},
    )
    assert ack_error(refused)["code"] == "forbidden"
    ack_ok(await nurse.call("/consult", "join", {"consult_id": consult_id}))
    sent = await nurse.say(chat["id"], "血压计已经校准好了")
    for other in (doctor, resident):
        got = await other.wait_for("message", lambda m: m["id"] == sent["message"]["id"])  # type: ignore[attr-defined]
        assert got["sender"]["role"] == "nurse"


async def test_reconnect_within_grace_returns_without_readmission(live: Live) -> None:
    consult_id, doctor, resident = await _in_room(live)
    await resident.sio.disconnect()  # type: ignore[attr-defined]
    await doctor.wait_for(
        "presence",
        lambda p: any(
            m["role"] == "resident" and m["presence"] == "reconnecting"  # type: ignore[attr-defined]
            for m in p["members"]
        ),
    )
    back = await live.connect("resident", resident.token)  # type: ignore[attr-defined]
    ack_ok(await back.call("/consult", "join", {"consult_id": consult_id}))
    await asyncio.sleep(GRACE_S + 0.3)  # past the grace period: coming back in time must have counted
    latest = doctor.events["presence"][-1]["members"]  # type: ignore[attr-defined]
    assert {m["role"]: m["presence"] for m in latest}["resident"] == "connected"
    assert live.app[keys.HUB].timer_count == 0  # the grace timer was cancelled, not left running


async def test_after_the_grace_period_the_resident_must_be_admitted_again(live: Live) -> None:
    consult_id, doctor, resident = await _in_room(live)
    await resident.sio.disconnect()  # type: ignore[attr-defined]
    await doctor.wait_for(
        "presence",
        lambda p: any(
            m["role"] == "resident" and m["presence"] == "left"  # type: ignore[attr-defined]
            for m in p["members"]
        ),
        within=GRACE_S + 3,
    )
    back = await live.connect("resident", resident.token)  # type: ignore[attr-defined]
    assert (
        ack_error(await back.call("/consult", "join", {"consult_id": consult_id}))["code"] == "not_admitted"
    )


async def test_waiting_resident_keeps_their_place_across_a_quick_reconnect(live: Live) -> None:
    first = await _on_demand_consult(live, resident_id=2)
    doctor = await live.connect("doctor")
    ack_ok(await doctor.call("/consult", "watch_queue"))
    resident = await live.connect("resident")
    checked = ack_ok(await resident.call("/consult", "check_in", {"consult_id": first}))
    live.clock.now += timedelta(minutes=3)
    await resident.sio.disconnect()
    await doctor.wait_for("queue", lambda q: any(e["presence"] == "reconnecting" for e in q["queue"]))
    back = await live.connect("resident", resident.token)
    again = ack_ok(await back.call("/consult", "check_in", {"consult_id": first}))
    assert again["position"] == checked["position"] == 1
    queue = ack_ok(await doctor.call("/consult", "watch_queue"))["queue"]
    assert queue[0]["waited_seconds"] == 180  # the original check-in time was kept
    await back.sio.disconnect()
    await doctor.wait_for(
        "queue", lambda q: all(e["consult_id"] != first for e in q["queue"]), within=GRACE_S + 3
    )


async def test_doctor_removes_a_participant(live: Live) -> None:
    consult_id, doctor, resident = await _in_room(live)
    resident_user = (await live.http("GET", "/api/me", resident.token))[1]["id"]  # type: ignore[attr-defined]
    ack_ok(
        await doctor.call(
            "/consult", "remove_participant", {"consult_id": consult_id, "user_id": resident_user}
        )
    )  # type: ignore[attr-defined]
    await resident.wait_for("removed", lambda r: r["consult_id"] == consult_id)  # type: ignore[attr-defined]
    heard = len(resident.events["presence"])
    # The room goes on without them: a nurse joins, the doctor sees it, the removed resident's still
    # open connection hears nothing of the room any more.
    nurse = await live.connect("nurse")
    ack_ok(await nurse.call("/consult", "join", {"consult_id": consult_id}))  # type: ignore[attr-defined]
    await doctor.wait_for(  # type: ignore[attr-defined]
        "presence", lambda r: any(m["role"] == "nurse" for m in r["members"])
    )
    await asyncio.sleep(0.3)
    assert resident.sio.connected
    assert len(resident.events["presence"]) == heard
    assert (
        ack_error(await resident.call("/consult", "join", {"consult_id": consult_id}))["code"]
        == "not_admitted"
    )  # type: ignore[attr-defined]


async def test_a_resident_who_left_checks_in_again_and_is_let_back_in(live: Live) -> None:
    consult_id, doctor, resident = await _in_room(live)
    ack_ok(await resident.call("/consult", "leave", {"consult_id": consult_id}))  # type: ignore[attr-defined]
    assert (
        ack_error(await resident.call("/consult", "join", {"consult_id": consult_id}))["code"]
        == "not_admitted"
    )  # type: ignore[attr-defined]
    ack_ok(await doctor.call("/consult", "watch_queue"))  # type: ignore[attr-defined]
    ack_ok(await resident.call("/consult", "check_in", {"consult_id": consult_id}))  # type: ignore[attr-defined]
    await doctor.wait_for("queue", lambda q: any(e["consult_id"] == consult_id for e in q["queue"]))  # type: ignore[attr-defined]
    ack_ok(await doctor.call("/consult", "admit", {"consult_id": consult_id}))  # type: ignore[attr-defined]
    ack_ok(await resident.call("/consult", "join", {"consult_id": consult_id}))  # type: ignore[attr-defined]
    status, record = await live.http("GET", f"/api/consults/{consult_id}", doctor.token)  # type: ignore[attr-defined]
    assert (status, record["status"]) == (200, "in_progress")
