"""Consults: the 复诊 rule, scheduling, notes, ending a follow-up schedules the next, and who may do what."""

from __future__ import annotations

from datetime import timedelta

from aiohttp.test_utils import TestClient

from tests.conftest import NOW, TODAY, login
from tests.web.helpers import audit_rows, resident_id, table_counts


async def _record(client: TestClient, headers: dict[str, str], rid: int) -> dict:  # type: ignore[type-arg]
    return await (await client.get(f"/api/residents/{rid}", headers=headers)).json()  # type: ignore[no-any-return]


async def test_followup_consult_end_to_end_schedules_next_task(client: TestClient, database_url: str) -> None:  # type: ignore[type-arg]
    doctor = await login(client, "doctor")
    liu = await resident_id(client, doctor, "刘德明")
    record = await _record(client, doctor, liu)
    task = record["due_tasks"][0]
    condition = record["conditions"][0]["id"]
    resp = await client.post(
        "/api/consults",
        headers=doctor,
        json={
            "resident_id": liu,
            "kind": "follow_up",
            "mode": "video",
            "condition_id": condition,
            "followup_task_id": task["id"],
            "reason": "高血压季度随访",
        },
    )
    assert resp.status == 201, await resp.text()
    consult = await resp.json()
    assert (consult["kind"], consult["status"], consult["followup_task_id"]) == (
        "follow_up",
        "waiting",
        task["id"],
    )
    assert {p["role"] for p in consult["participants"]} == {"doctor", "resident"}

    assert (await client.post(f"/api/consults/{consult['id']}/start", headers=doctor)).status == 200
    next_visit = (TODAY + timedelta(days=60)).isoformat()
    resp = await client.put(
        f"/api/consults/{consult['id']}/note",
        headers=doctor,
        json={
            "subjective": "头晕减轻",
            "objective": "精神可",
            "assessment": "血压控制尚可",
            "plan": "继续氨氯地平 5mg qd",
            "vitals": {"systolic_mmhg": 138, "diastolic_mmhg": 86, "heart_rate_bpm": 72},
            "next_visit_on": next_visit,
        },
    )
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["note"]["vitals"]["systolic_mmhg"] == 138

    resp = await client.post(f"/api/consults/{consult['id']}/end", headers=doctor)
    assert resp.status == 200
    ended = await resp.json()
    assert ended["status"] == "ended"
    assert ended["duration_seconds"] == 0  # the fixed test clock does not move
    assert ended["next_task"]["due_date"] == next_visit

    record = await _record(client, doctor, liu)
    assert [t["due_date"] for t in record["due_tasks"]] == [next_visit]
    assert record["last_vitals"]["systolic_mmhg"] == 138
    assert record["consults"][0]["status"] == "ended"
    actions = [
        r.action for r in await audit_rows(database_url, entity_type="consult", entity_id=str(consult["id"]))
    ]
    assert actions == ["create", "start", "end"]
    edits = await audit_rows(database_url, entity_type="consult_note")
    assert edits[0].detail["changed"] == ["assessment", "objective", "plan", "subjective", "vitals"]


async def test_followup_for_condition_not_diagnosed_offline_is_refused(
    client: TestClient, database_url: str
) -> None:  # type: ignore[type-arg]
    doctor = await login(client, "doctor")
    zhou = await resident_id(client, doctor, "周晓燕")
    condition = (await _record(client, doctor, zhou))["conditions"][0]
    assert condition["diagnosed_offline"] is False
    before = await table_counts(database_url)
    resp = await client.post(
        "/api/consults",
        headers=doctor,
        json={
            "resident_id": zhou,
            "kind": "follow_up",
            "condition_id": condition["id"],
        },
    )
    assert resp.status == 422
    body = await resp.json()
    assert body["code"] == "first_visit_offline"
    assert body["errors"][0]["field"] == "condition_id"
    assert "offline" in body["detail"]
    assert await table_counts(database_url) == before

    resp = await client.post(
        "/api/consults",
        headers=doctor,
        json={
            "resident_id": zhou,
            "kind": "follow_up",
            "condition_id": condition["id"],
            "fall_back_to_advice": True,
        },
    )
    assert resp.status == 201
    assert (await resp.json())["kind"] == "advice"


async def test_resident_asks_for_advice_and_cannot_open_for_others(client: TestClient) -> None:  # type: ignore[type-arg]
    doctor = await login(client, "doctor")
    liu = await resident_id(client, doctor, "刘德明")
    zhao = await resident_id(client, doctor, "赵秀兰")
    headers = await login(client, "resident")
    resp = await client.post(
        "/api/consults", headers=headers, json={"resident_id": liu, "kind": "advice", "mode": "text"}
    )
    assert resp.status == 201
    mine = await (await client.get("/api/consults", headers=headers)).json()
    assert [c["resident_name"] for c in mine["items"]] == ["刘德明"]
    resp = await client.post("/api/consults", headers=headers, json={"resident_id": zhao, "kind": "advice"})
    assert resp.status == 403
    # The resident cannot start or write the note of their own consult.
    cid = mine["items"][0]["id"]
    assert (await client.post(f"/api/consults/{cid}/start", headers=headers)).status == 403
    assert (await client.put(f"/api/consults/{cid}/note", headers=headers, json={"plan": "x"})).status == 403


async def test_proxy_books_for_bound_parent(client: TestClient) -> None:  # type: ignore[type-arg]
    doctor = await login(client, "doctor")
    zhao = await resident_id(client, doctor, "赵秀兰")
    headers = await login(client, "proxy")
    at = (NOW + timedelta(days=2)).isoformat()
    resp = await client.post(
        "/api/consults",
        headers=headers,
        json={"resident_id": zhao, "kind": "advice", "mode": "video", "scheduled_at": at},
    )
    assert resp.status == 201, await resp.text()
    consult = await resp.json()
    assert consult["status"] == "scheduled"
    assert {p["role"] for p in consult["participants"]} == {"proxy"}
    resp = await client.post(
        f"/api/consults/{consult['id']}/cancel", headers=headers, json={"reason": "改天"}
    )
    assert resp.status == 200
    assert (await resp.json())["status"] == "cancelled"


async def test_scheduling_in_the_past_or_with_a_naive_time_is_refused(client: TestClient) -> None:  # type: ignore[type-arg]
    doctor = await login(client, "doctor")
    liu = await resident_id(client, doctor, "刘德明")
    resp = await client.post(
        "/api/consults",
        headers=doctor,
        json={"resident_id": liu, "kind": "advice", "scheduled_at": (NOW - timedelta(days=1)).isoformat()},
    )
    assert resp.status == 422
    assert (await resp.json())["errors"][0]["field"] == "scheduled_at"
    resp = await client.post(
        "/api/consults",
        headers=doctor,
        json={"resident_id": liu, "kind": "advice", "scheduled_at": "2030-01-01T09:00:00"},
    )
    assert resp.status == 422
    assert (await resp.json())["errors"][0]["field"] == "scheduled_at"


async def test_implausible_vitals_are_refused_with_nothing_written(
    client: TestClient, database_url: str
) -> None:  # type: ignore[type-arg]
    doctor = await login(client, "doctor")
    consults = await (await client.get("/api/consults", headers=doctor)).json()
    cid = consults["items"][0]["id"]
    before = await table_counts(database_url)
    resp = await client.put(
        f"/api/consults/{cid}/note",
        headers=doctor,
        json={"vitals": {"systolic_mmhg": 80, "diastolic_mmhg": 120}},
    )
    assert resp.status == 422
    assert "diastolic" in (await resp.json())["errors"][0]["message"]
    resp = await client.put(
        f"/api/consults/{cid}/note", headers=doctor, json={"vitals": {"systolic_mmhg": "high"}}
    )
    assert resp.status == 422
    assert (await resp.json())["errors"][0]["field"] == "vitals.systolic_mmhg"
    assert await table_counts(database_url) == before


async def test_compliance_sees_metadata_and_note_only_when_reviewing(
    client: TestClient, database_url: str
) -> None:  # type: ignore[type-arg]
    doctor = await login(client, "doctor")
    cid = (await (await client.get("/api/consults", headers=doctor)).json())["items"][0]["id"]
    await client.put(f"/api/consults/{cid}/note", headers=doctor, json={"assessment": "血糖控制欠佳"})
    headers = await login(client, "compliance")
    listing = await (await client.get("/api/consults", headers=headers)).json()
    assert cid in [c["id"] for c in listing["items"]]
    plain = await (await client.get(f"/api/consults/{cid}", headers=headers)).json()
    assert plain["note"] is None
    reviewed = await (
        await client.get(f"/api/consults/{cid}", params={"purpose": "投诉核查 #2026-17"}, headers=headers)
    ).json()
    assert reviewed["note"]["assessment"] == "血糖控制欠佳"
    reviews = await audit_rows(database_url, action="review", entity_id=str(cid))
    assert [(r.actor_username, r.purpose) for r in reviews] == [("compliance", "投诉核查 #2026-17")]


async def test_referral_consult_brings_the_specialist(client: TestClient) -> None:  # type: ignore[type-arg]
    doctor = await login(client, "doctor")
    zhao = await resident_id(client, doctor, "赵秀兰")
    referral = (await (await client.get("/api/referrals", headers=doctor)).json())["items"][0]
    resp = await client.post(
        "/api/consults",
        headers=doctor,
        json={
            "resident_id": zhao,
            "kind": "referral",
            "referral_id": referral["id"],
            "scheduled_at": (NOW + timedelta(hours=3)).isoformat(),
        },
    )
    assert resp.status == 201, await resp.text()
    consult = await resp.json()
    assert {p["role"] for p in consult["participants"]} == {
        "doctor",
        "specialist",
    }  # 赵秀兰 has no account: her son acts
    specialist = await login(client, "specialist")
    mine = await (await client.get("/api/consults", headers=specialist)).json()
    assert [c["id"] for c in mine["items"]] == [consult["id"]]
    resp = await client.put(
        f"/api/consults/{consult['id']}/note",
        headers=specialist,
        json={"assessment": "建议加用 ARB", "plan": "缬沙坦 80mg qd"},
    )
    assert resp.status == 200
    resp = await client.post("/api/consults", headers=doctor, json={"resident_id": zhao, "kind": "referral"})
    assert resp.status == 422
    assert (await resp.json())["code"] == "referral_required"


async def test_ended_consult_cannot_be_ended_again(client: TestClient) -> None:  # type: ignore[type-arg]
    doctor = await login(client, "doctor")
    liu = await resident_id(client, doctor, "刘德明")
    cid = (
        await (
            await client.post("/api/consults", headers=doctor, json={"resident_id": liu, "kind": "advice"})
        ).json()
    )["id"]
    assert (await client.post(f"/api/consults/{cid}/end", headers=doctor)).status == 200
    resp = await client.post(f"/api/consults/{cid}/end", headers=doctor)
    assert resp.status == 422
    assert (await resp.json())["code"] == "invalid_transition"
    resp = await client.post(f"/api/consults/{cid}/cancel", headers=doctor, json={})
    assert resp.status == 409


async def test_consult_is_hidden_from_other_residents_and_no_show_is_the_teams_call(
    client: TestClient,
) -> None:  # type: ignore[type-arg]
    doctor = await login(client, "doctor")
    consult = (await (await client.get("/api/consults", headers=doctor)).json())["items"][0]
    assert consult["resident_name"] == "吴国强"
    resident = await login(client, "resident")  # 刘德明
    assert (await client.get(f"/api/consults/{consult['id']}", headers=resident)).status == 403
    resp = await client.post(
        f"/api/consults/{consult['id']}/cancel", headers=resident, json={"status": "no_show"}
    )
    assert resp.status == 403
    resp = await client.post(
        f"/api/consults/{consult['id']}/cancel",
        headers=doctor,
        json={"status": "no_show", "reason": "未接通"},
    )
    assert resp.status == 200
    assert (await resp.json())["status"] == "no_show"
    # The follow-up task it served is due again, for another consult.
    wu = consult["resident_id"]
    record = await (await client.get(f"/api/residents/{wu}", headers=doctor)).json()
    assert record["due_tasks"][0]["consult_id"] is None
    assert (await client.get("/api/consults/424242", headers=doctor)).status == 404
