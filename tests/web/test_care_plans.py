"""Follow-up plans, referrals and contracts through the API."""

from __future__ import annotations

from datetime import timedelta

from aiohttp.test_utils import TestClient

from tests.conftest import TODAY, login
from tests.web.helpers import resident_id, table_counts


async def test_plan_creates_first_task_and_lists_due(client: TestClient) -> None:  # type: ignore[type-arg]
    nurse = await login(client, "nurse")
    zhou = await resident_id(client, nurse, "周晓燕")
    resp = await client.post(
        "/api/followup-plans",
        headers=nurse,
        json={
            "resident_id": zhou,
            "title": "孕期血糖监测",
            "interval_days": 14,
            "start_date": TODAY.isoformat(),
        },
    )
    assert resp.status == 201, await resp.text()
    created = await resp.json()
    assert created["first_task"]["due_date"] == (TODAY + timedelta(days=14)).isoformat()
    due = await (await client.get("/api/followup-tasks", params={"within_days": 14}, headers=nurse)).json()
    assert zhou in [t["resident_id"] for t in due["items"]]
    soon = await (await client.get("/api/followup-tasks", params={"within_days": 0}, headers=nurse)).json()
    assert zhou not in [t["resident_id"] for t in soon["items"]]
    assert all(t["overdue"] for t in soon["items"])


async def test_plan_bad_inputs_write_nothing(client: TestClient, database_url: str) -> None:  # type: ignore[type-arg]
    doctor = await login(client, "doctor")
    zhou = await resident_id(client, doctor, "周晓燕")
    before = await table_counts(database_url)
    cases = [
        (
            {"resident_id": zhou, "title": "x", "interval_days": 0, "start_date": TODAY.isoformat()},
            "interval_days",
        ),
        ({"resident_id": zhou, "title": "", "interval_days": 30, "start_date": TODAY.isoformat()}, "title"),
        ({"resident_id": zhou, "title": "x", "interval_days": 30}, "start_date"),
        ({"resident_id": zhou, "title": "x", "interval_days": 30, "start_date": "yesterday"}, "start_date"),
        (
            {
                "resident_id": zhou,
                "title": "x",
                "interval_days": 30,
                "start_date": TODAY.isoformat(),
                "condition_id": 1,
            },
            "condition_id",
        ),  # another resident's condition
    ]
    for body, field in cases:
        resp = await client.post("/api/followup-plans", headers=doctor, json=body)
        assert resp.status == 422, (body, await resp.text())
        assert field in [e["field"] for e in (await resp.json())["errors"]], body
    resp = await client.post(
        "/api/followup-plans",
        headers=doctor,
        json={"resident_id": 424242, "title": "x", "interval_days": 30, "start_date": TODAY.isoformat()},
    )
    assert resp.status == 404
    assert await table_counts(database_url) == before


async def test_resident_cannot_create_plans(client: TestClient) -> None:  # type: ignore[type-arg]
    headers = await login(client, "resident")
    me = await (await client.get("/api/me", headers=headers)).json()
    resp = await client.post(
        "/api/followup-plans",
        headers=headers,
        json={
            "resident_id": me["resident_id"],
            "title": "x",
            "interval_days": 30,
            "start_date": TODAY.isoformat(),
        },
    )
    assert resp.status == 403


async def test_referral_life_cycle(client: TestClient) -> None:  # type: ignore[type-arg]
    doctor = await login(client, "doctor")
    wu = await resident_id(client, doctor, "吴国强")
    record = await (await client.get(f"/api/residents/{wu}", headers=doctor)).json()
    me = await (await client.get("/api/me", headers=await login(client, "specialist"))).json()
    hospital, specialist_id = me["practitioner"]["organization_id"], me["practitioner"]["id"]
    resp = await client.post(
        "/api/referrals",
        headers=doctor,
        json={
            "resident_id": wu,
            "to_organization_id": hospital,
            "to_practitioner_id": specialist_id,
            "reason": "糖尿病足溃疡，请会诊",
            "shared_condition_ids": [record["conditions"][0]["id"]],
            "shared_results": [{"title": "空腹血糖", "value": "9.8 mmol/L"}],
        },
    )
    assert resp.status == 201, await resp.text()
    referral = await resp.json()
    specialist = await login(client, "specialist")
    shared = await (await client.get(f"/api/residents/{wu}", headers=specialist)).json()
    assert shared["access"] == "shared"
    # Completing needs an opinion; accepting first.
    resp = await client.post(
        f"/api/referrals/{referral['id']}/status", headers=specialist, json={"status": "completed"}
    )
    assert resp.status == 422
    assert (
        await client.post(
            f"/api/referrals/{referral['id']}/status", headers=specialist, json={"status": "accepted"}
        )
    ).status == 200
    resp = await client.post(
        f"/api/referrals/{referral['id']}/status",
        headers=specialist,
        json={"status": "completed", "specialist_opinion": "清创换药，加强血糖控制"},
    )
    assert resp.status == 200
    assert (await resp.json())["specialist_opinion"] == "清创换药，加强血糖控制"
    # Once the referral is closed the specialist no longer sees the record.
    assert (await client.get(f"/api/residents/{wu}", headers=specialist)).status == 403
    # The team cannot accept on the specialist's behalf.
    resp = await client.post(
        f"/api/referrals/{referral['id']}/status", headers=doctor, json={"status": "accepted"}
    )
    assert resp.status == 403


async def test_referral_to_a_community_centre_is_refused(client: TestClient) -> None:  # type: ignore[type-arg]
    doctor = await login(client, "doctor")
    wu = await resident_id(client, doctor, "吴国强")
    resp = await client.post(
        "/api/referrals", headers=doctor, json={"resident_id": wu, "to_organization_id": 1, "reason": "test"}
    )
    assert resp.status == 422
    assert (await resp.json())["code"] == "not_a_referral_hospital"


async def test_contract_one_team_at_a_time_and_pending_sign_up(client: TestClient, database_url: str) -> None:  # type: ignore[type-arg]
    doctor = await login(client, "doctor")
    team_id = (await (await client.get("/api/me", headers=doctor)).json())["team_ids"][0]
    liu = await resident_id(client, doctor, "刘德明")
    before = await table_counts(database_url)
    resp = await client.post(
        "/api/contracts",
        headers=doctor,
        json={"resident_id": liu, "team_id": team_id, "start_date": TODAY.isoformat()},
    )
    assert resp.status == 409
    assert (await resp.json())["code"] == "contract_overlap"
    assert await table_counts(database_url) == before
    contracts = await (await client.get(f"/api/residents/{liu}/contracts", headers=doctor)).json()
    current = contracts["items"][0]
    resp = await client.post(
        "/api/contracts",
        headers=doctor,
        json={
            "resident_id": liu,
            "team_id": team_id,
            "start_date": current["end_date"],
            "package": "personalised",
        },
    )
    assert resp.status == 201, await resp.text()
    renewal = await resp.json()
    assert renewal["status"] == "active" and renewal["package"] == "personalised"

    zheng = await resident_id(client, doctor, "郑小宝")
    pending = (await (await client.get(f"/api/residents/{zheng}/contracts", headers=doctor)).json())["items"][
        0
    ]
    assert pending["status"] == "pending"
    resp = await client.post(
        f"/api/contracts/{pending['id']}/status", headers=doctor, json={"status": "unable_to_sign"}
    )
    assert resp.status == 422
    assert (await resp.json())["code"] == "reason_required"
    resp = await client.post(
        f"/api/contracts/{pending['id']}/status",
        headers=doctor,
        json={"status": "unable_to_sign", "unable_reason": "moved_away", "note": "已迁往外省"},
    )
    assert resp.status == 200
    assert (await resp.json())["status"] == "unable_to_sign"


async def test_nurse_cannot_sign_contracts(client: TestClient) -> None:  # type: ignore[type-arg]
    nurse = await login(client, "nurse")
    team_id = (await (await client.get("/api/me", headers=nurse)).json())["team_ids"][0]
    zheng = await resident_id(client, nurse, "郑小宝")
    resp = await client.post(
        "/api/contracts",
        headers=nurse,
        json={"resident_id": zheng, "team_id": team_id, "start_date": TODAY.isoformat()},
    )
    assert resp.status == 403


async def test_get_referral_for_team_and_addressee_only(client: TestClient) -> None:  # type: ignore[type-arg]
    doctor = await login(client, "doctor")
    referral = (await (await client.get("/api/referrals", headers=doctor)).json())["items"][0]
    resp = await client.get(f"/api/referrals/{referral['id']}", headers=doctor)
    assert resp.status == 200
    assert (await resp.json())["reason"].startswith("血压控制不佳")
    specialist = await login(client, "specialist")
    assert (await client.get(f"/api/referrals/{referral['id']}", headers=specialist)).status == 200
    for user in ("resident", "proxy", "compliance"):
        headers = await login(client, user)
        assert (await client.get(f"/api/referrals/{referral['id']}", headers=headers)).status == 403, user
    assert (await client.get("/api/referrals/9999", headers=doctor)).status == 404
