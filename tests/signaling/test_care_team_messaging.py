"""Off-duty auto-replies, red-flag alerts, sensitive words, attachments and tag broadcasts."""

from __future__ import annotations

import uuid

import aiohttp

from tests.signaling.conftest import Live, ack_error, ack_ok
from tests.web.helpers import table_counts

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n" + b"1 0 obj << >> endobj\n" * 20


def cid() -> str:
    return uuid.uuid4().hex


async def test_after_hours_message_is_delivered_with_one_auto_reply(live: Live) -> None:
    live.clock.set_local(22, 30)
    resident = await live.connect("resident")
    doctor = await live.connect("doctor")
    conversation_id = await resident.open_conversation(2)
    sent = await resident.say(conversation_id, "王医生，我的药快吃完了")
    await doctor.wait_for("message", lambda m: m["id"] == sent["message"]["id"])  # still delivered
    reply = await resident.wait_for("message", lambda m: m["kind"] == "auto_reply")
    assert "正在休息" in reply["text"]
    assert "120" in reply["text"] and "市第一人民医院急诊" in reply["text"]  # the team's emergency path
    assert "回复" in reply["text"]  # when the doctor is back
    await resident.say(conversation_id, "还有一个问题")
    synced = ack_ok(await resident.call("/chat", "sync_messages", {"conversation_id": conversation_id}))
    assert [m["kind"] for m in synced["messages"]].count("auto_reply") == 1


async def test_no_auto_reply_while_a_doctor_is_on_duty(live: Live) -> None:
    doctor_token = await live.token("doctor")
    status, body = await live.http("PUT", "/api/me/duty", doctor_token, json={"status": "on_duty"})
    assert status == 200 and body["on_duty_now"] is True
    live.clock.set_local(22, 30)
    resident = await live.connect("resident")
    conversation_id = await resident.open_conversation(2)
    await resident.say(conversation_id, "医生晚上好")
    synced = ack_ok(await resident.call("/chat", "sync_messages", {"conversation_id": conversation_id}))
    assert [m["kind"] for m in synced["messages"]] == ["text"]


async def test_red_flag_alerts_the_on_call_doctor(live: Live, database_url: str) -> None:
    token = await live.token("doctor")
    await live.http("PUT", "/api/me/duty", token, json={"status": "on_duty"})
    doctor = await live.connect("doctor", token)
    nurse = await live.connect("nurse")
    resident = await live.connect("resident")
    conversation_id = await resident.open_conversation(2)
    sent = await resident.say(conversation_id, "刚才突然胸痛，血压 190/115")
    alert = await doctor.wait_for("alert")
    assert alert["message_id"] == sent["message"]["id"] and alert["resident_name"] == "刘德明"
    assert set(alert["findings"]) == {"胸痛", "血压 190/115 mmHg"}
    assert "alert" not in nurse.events  # the on-call doctor, not everyone
    status, listing = await live.http("GET", "/api/alerts", token)
    assert status == 200 and listing["items"][0]["kind"] == "red_flag"
    alert_id = listing["items"][0]["id"]
    assert (await live.http("POST", f"/api/alerts/{alert_id}/acknowledge", resident.token))[0] == 403
    status, acked = await live.http("POST", f"/api/alerts/{alert_id}/acknowledge", token)
    assert status == 200 and acked["acknowledged_at"] is not None


async def test_dangerous_glucose_alerts_even_without_a_red_flag_word(live: Live) -> None:
    doctor = await live.connect("doctor")
    proxy = await live.connect("proxy")
    conversation_id = await proxy.open_conversation(1)
    await proxy.say(conversation_id, "妈妈早上测血糖 3.1，出冷汗")
    alert = await doctor.wait_for("alert")
    assert alert["kind"] == "reading" and alert["findings"] == ["血糖 3.1 mmol/L"]


async def test_sensitive_word_is_flagged_to_compliance(live: Live) -> None:
    admin = await live.token("admin")
    status, _ = await live.http("POST", "/api/sensitive-words", admin, json={"word": "红包"})
    assert status == 201
    status, body = await live.http("POST", "/api/sensitive-words", admin, json={"word": "红包"})
    assert (status, body["code"]) == (409, "word_listed")
    compliance = await live.connect("compliance")
    resident = await live.connect("resident")
    conversation_id = await resident.open_conversation(2)
    sent = await resident.say(conversation_id, "王医生，过年给您包个红包")
    flag = await compliance.wait_for("alert")
    assert flag["kind"] == "sensitive_word" and flag["findings"] == ["红包"]
    status, listing = await live.http("GET", "/api/alerts", compliance.token)
    assert listing["items"][0]["message_id"] == sent["message"]["id"]
    assert (await live.http("POST", "/api/sensitive-words", compliance.token, json={"word": "x"}))[0] == 403


async def test_image_upload_checked_by_content_and_sent(live: Live, database_url: str) -> None:
    resident = await live.connect("resident")
    doctor = await live.connect("doctor")
    conversation_id = await resident.open_conversation(2)

    async def upload(
        data: bytes, name: str, token: str, conversation: int = conversation_id
    ) -> tuple[int, dict]:  # type: ignore[type-arg]
        form = aiohttp.FormData()
        form.add_field("file", data, filename=name, content_type="image/png")
        return await live.http("POST", f"/api/conversations/{conversation}/attachments", token, data=form)  # type: ignore[return-value]

    before = await table_counts(database_url)
    status, body = await upload(b"MZ\x90\x00 not an image at all", "report.png", resident.token)
    assert status == 415 and body["code"] == "file_type"
    assert await table_counts(database_url) == before
    status, body = await upload(PNG, "血压记录.png", resident.token)
    assert status == 201, body
    assert body["content_type"] == "image/png"
    sent = ack_ok(
        await resident.call(
            "/chat",
            "send_message",
            {
                "conversation_id": conversation_id,
                "client_msg_id": cid(),
                "kind": "image",
                "attachment_id": body["id"],
            },
        )
    )
    got = await doctor.wait_for("message", lambda m: m["id"] == sent["message"]["id"])
    status, data = await live.http("GET", got["attachment"]["url"], doctor.token)
    assert status == 200 and data == PNG
    stranger = await live.token("proxy")  # bound to 赵秀兰, not 刘德明
    assert (await live.http("GET", got["attachment"]["url"], stranger))[0] == 403
    status, pdf = await upload(PDF, "化验单.pdf", resident.token)
    err = ack_error(
        await resident.call(
            "/chat",
            "send_message",
            {
                "conversation_id": conversation_id,
                "client_msg_id": cid(),
                "kind": "image",
                "attachment_id": pdf["id"],
            },
        )
    )
    assert err["field"] == "attachment_id"


async def test_broadcast_by_tag_reaches_each_conversation_with_counts(live: Live) -> None:
    doctor = await live.token("doctor")
    resident = await live.connect("resident")  # 刘德明 is tagged 高血压
    proxy = await live.connect("proxy")  # 赵秀兰 is tagged 高血压 too
    audience = {"tags": ["高血压"], "age_min": 60}
    status, preview = await live.http(
        "POST", "/api/broadcasts", doctor, json={"audience": audience, "dry_run": True, "text": "x"}
    )
    assert status == 201 and preview["recipients"] == 3  # 赵秀兰, 刘德明, 孙美华
    status, body = await live.http(
        "POST",
        "/api/broadcasts",
        doctor,
        json={"audience": audience, "text": "流感季节到了，65岁以上老人请预约接种流感疫苗。"},
    )
    assert status == 201, body
    assert body["recipients"] == 3
    got = await resident.wait_for("message", lambda m: "流感" in m["text"])
    await proxy.wait_for("message", lambda m: "流感" in m["text"])
    ack_ok(
        await resident.call(
            "/chat", "mark_read", {"conversation_id": got["conversation_id"], "up_to_id": got["id"]}
        )
    )
    status, stats = await live.http("GET", f"/api/broadcasts/{body['id']}", doctor)
    assert (stats["recipients"], stats["read"]) == (3, 1)
    assert stats["delivered"] >= 1
    status, body = await live.http("POST", "/api/broadcasts", doctor, json={"audience": {}, "text": "x"})
    assert status == 422
    resident_token = resident.token
    assert (
        await live.http(
            "POST", "/api/broadcasts", resident_token, json={"audience": {"all_residents": True}, "text": "x"}
        )
    )[0] == 403


async def test_team_leader_sets_red_flags_and_the_emergency_path(live: Live) -> None:
    leader = await live.token("doctor")
    other = await live.token("doctor2")
    team_id = (await live.http("GET", "/api/me", leader))[1]["team_ids"][0]
    settings = {"off_duty_message": "急症请拨 120，或去第五人民医院急诊。", "red_flags": ["头痛欲裂"]}
    assert (await live.http("PUT", f"/api/teams/{team_id}/settings", other, json=settings))[0] == 403
    status, body = await live.http("PUT", f"/api/teams/{team_id}/settings", leader, json=settings)
    assert status == 200 and body["red_flags"] == ["头痛欲裂"]
    await live.http("PUT", "/api/me/duty", leader, json={"status": "off_duty"})
    await live.http("PUT", "/api/me/duty", other, json={"status": "off_duty"})
    doctor = await live.connect("doctor", leader)
    resident = await live.connect("resident")
    conversation_id = await resident.open_conversation(2)
    await resident.say(conversation_id, "今天头痛欲裂")
    reply = await resident.wait_for("message", lambda m: m["kind"] == "auto_reply")
    assert "第五人民医院急诊" in reply["text"]
    alert = await doctor.wait_for("alert")  # nobody on duty: the leader is alerted
    assert alert["findings"] == ["头痛欲裂"]
