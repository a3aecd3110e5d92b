"""Resident listing and the record: each role sees exactly what it may, and every read is audited."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from storage.demo import demo_id_number
from tests.conftest import login
from tests.web.helpers import audit_rows, resident_id


async def test_doctor_lists_the_team_residents(client: TestClient) -> None:  # type: ignore[type-arg]
    headers = await login(client, "doctor")
    data = await (await client.get("/api/residents", headers=headers)).json()
    names = {i["name"] for i in data["items"]}
    assert names == {"赵秀兰", "刘德明", "孙美华", "吴国强", "周晓燕", "郑小宝"}
    assert data["total"] == 6
    assert all("*" in i["id_number_masked"] for i in data["items"])


async def test_search_by_tag_phone_and_id_number(client: TestClient) -> None:  # type: ignore[type-arg]
    headers = await login(client, "doctor")
    by_tag = await (await client.get("/api/residents", params={"tag": "糖尿病"}, headers=headers)).json()
    assert {i["name"] for i in by_tag["items"]} == {"赵秀兰", "吴国强"}
    by_q_tag = await (await client.get("/api/residents", params={"q": "糖尿病"}, headers=headers)).json()
    assert {i["name"] for i in by_q_tag["items"]} == {"赵秀兰", "吴国强"}
    by_phone = await (await client.get("/api/residents", params={"q": "13900000003"}, headers=headers)).json()
    assert [i["name"] for i in by_phone["items"]] == ["孙美华"]
    record = await (await client.get(f"/api/residents/{by_phone['items'][0]['id']}", headers=headers)).json()
    born = record["resident"]["birth_date"]
    from datetime import date

    # The demo's ID numbers are derived from birth date and a serial; search needs the exact number.
    id_number = demo_id_number(date.fromisoformat(born), 13 * 2)
    by_id = await (await client.get("/api/residents", params={"q": id_number}, headers=headers)).json()
    assert [i["name"] for i in by_id["items"]] == ["孙美华"]
    wrong = id_number[:-1] + ("0" if id_number[-1] != "0" else "1")
    assert (await (await client.get("/api/residents", params={"q": wrong}, headers=headers)).json())[
        "total"
    ] == 0


async def test_paging(client: TestClient) -> None:  # type: ignore[type-arg]
    headers = await login(client, "doctor")
    first = await (await client.get("/api/residents", params={"page_size": 4}, headers=headers)).json()
    second = await (
        await client.get("/api/residents", params={"page_size": 4, "page": 2}, headers=headers)
    ).json()
    assert len(first["items"]) == 4 and len(second["items"]) == 2
    assert not {i["id"] for i in first["items"]} & {i["id"] for i in second["items"]}


async def test_record_shows_contract_conditions_and_due_followup(
    client: TestClient, database_url: str
) -> None:  # type: ignore[type-arg]
    headers = await login(client, "doctor")
    rid = await resident_id(client, headers, "刘德明")
    resp = await client.get(f"/api/residents/{rid}", headers=headers)
    assert resp.status == 200
    record = await resp.json()
    assert record["access"] == "full"
    assert record["contract"]["status"] == "active"
    assert record["conditions"][0]["diagnosed_offline"] is True
    assert record["due_tasks"][0]["title"] == "高血压随访"
    assert record["due_tasks"][0]["overdue"] is True
    reads = await audit_rows(database_url, action="read", entity_type="resident", resident_id=rid)
    assert [(r.actor_username, r.outcome) for r in reads] == [("doctor", "success")]


async def test_resident_sees_own_record_but_not_another(client: TestClient, database_url: str) -> None:  # type: ignore[type-arg]
    doctor = await login(client, "doctor")
    liu = await resident_id(client, doctor, "刘德明")
    zhao = await resident_id(client, doctor, "赵秀兰")
    headers = await login(client, "resident")
    assert (await client.get(f"/api/residents/{liu}", headers=headers)).status == 200
    resp = await client.get(f"/api/residents/{zhao}", headers=headers)
    assert resp.status == 403
    assert resp.content_type == "application/problem+json"
    listing = await (await client.get("/api/residents", headers=headers)).json()
    assert [i["name"] for i in listing["items"]] == ["刘德明"]
    denied = await audit_rows(database_url, outcome="denied", resident_id=zhao)
    assert [r.actor_username for r in denied] == ["resident"]


async def test_proxy_sees_only_bound_resident(client: TestClient) -> None:  # type: ignore[type-arg]
    doctor = await login(client, "doctor")
    zhao = await resident_id(client, doctor, "赵秀兰")
    liu = await resident_id(client, doctor, "刘德明")
    headers = await login(client, "proxy")
    assert (await client.get(f"/api/residents/{zhao}", headers=headers)).status == 200
    assert (await client.get(f"/api/residents/{liu}", headers=headers)).status == 403


async def test_specialist_sees_only_what_the_referral_shares(client: TestClient) -> None:  # type: ignore[type-arg]
    doctor = await login(client, "doctor")
    zhao = await resident_id(client, doctor, "赵秀兰")
    liu = await resident_id(client, doctor, "刘德明")
    headers = await login(client, "specialist")
    record = await (await client.get(f"/api/residents/{zhao}", headers=headers)).json()
    assert record["access"] == "shared"
    assert [c["name"] for c in record["conditions"]] == ["原发性高血压"]  # diabetes was not shared
    assert record["contract"] is None and record["due_tasks"] == []
    assert record["referrals"][0]["shared_results"][0]["value"] == "168/96 mmHg"
    assert (await client.get(f"/api/residents/{liu}", headers=headers)).status == 403


async def test_compliance_and_admin_do_not_read_records(client: TestClient) -> None:  # type: ignore[type-arg]
    doctor = await login(client, "doctor")
    liu = await resident_id(client, doctor, "刘德明")
    for user in ("compliance", "admin"):
        headers = await login(client, user)
        assert (await client.get(f"/api/residents/{liu}", headers=headers)).status == 403


async def test_other_team_doctor_is_refused(client: TestClient, database_url: str) -> None:  # type: ignore[type-arg]
    """A doctor of another team sees none of this team's residents."""
    from storage.db import create_engine, create_sessionmaker
    from storage.models import CareTeamRow, PractitionerRow, TeamMembershipRow, UserRow
    from storage.passwords import hash_password
    from tests.conftest import TODAY

    engine = create_engine(database_url)
    async with create_sessionmaker(engine)() as session, session.begin():
        team = CareTeamRow(name="另一团队", organization_id=1)
        p = PractitionerRow(
            name="外队医生", kind="doctor", organization_id=1, years_of_practice=10, real_name_verified=True
        )
        session.add_all([team, p])
        await session.flush()
        session.add(TeamMembershipRow(team_id=team.id, practitioner_id=p.id, role="leader", joined_on=TODAY))
        session.add(
            UserRow(
                username="otherdoc",
                password_hash=hash_password("jiayi-demo"),
                role="doctor",
                display_name="外队医生",
                practitioner_id=p.id,
                organization_id=1,
            )
        )
    await engine.dispose()
    doctor = await login(client, "doctor")
    liu = await resident_id(client, doctor, "刘德明")
    headers = await login(client, "otherdoc")
    assert (await (await client.get("/api/residents", headers=headers)).json())["total"] == 0
    assert (await client.get(f"/api/residents/{liu}", headers=headers)).status == 403


async def test_unverified_practitioner_cannot_act(client: TestClient, database_url: str) -> None:  # type: ignore[type-arg]
    from sqlalchemy import update

    from storage.db import create_engine, create_sessionmaker
    from storage.models import PractitionerRow

    engine = create_engine(database_url)
    async with create_sessionmaker(engine)() as session, session.begin():
        await session.execute(
            update(PractitionerRow).where(PractitionerRow.name == "王建国").values(real_name_verified=False)
        )
    await engine.dispose()
    headers = await login(client, "doctor")
    resp = await client.get("/api/residents", headers=headers)
    assert resp.status == 403
    assert (await resp.json())["code"] == "practitioner_unverified"
    assert (await client.get("/api/workbench", headers=headers)).status == 403


async def test_unknown_and_malformed_resident_ids_are_404(client: TestClient) -> None:  # type: ignore[type-arg]
    headers = await login(client, "doctor")
    for path in ("/api/residents/9999", "/api/residents/abc", "/api/residents/99999999999999999999999"):
        resp = await client.get(path, headers=headers)
        assert resp.status in (403, 404), path
        assert resp.content_type == "application/problem+json"


async def test_bad_query_parameters_name_the_field(client: TestClient) -> None:  # type: ignore[type-arg]
    headers = await login(client, "doctor")
    resp = await client.get("/api/residents", params={"page_size": "1000"}, headers=headers)
    assert resp.status == 422
    body = await resp.json()
    assert body["errors"][0]["field"] == "query.page_size"
    resp = await client.get("/api/residents", params={"nonsense": "1"}, headers=headers)
    assert resp.status == 422


async def test_workbench_lists_followups_due_and_todays_consults(client: TestClient) -> None:  # type: ignore[type-arg]
    from datetime import timedelta

    from tests.conftest import TODAY

    headers = await login(client, "doctor")
    data = await (await client.get("/api/workbench", headers=headers)).json()
    assert data["today"] == TODAY.isoformat()
    due = [(t["resident_name"], t["due_date"], t["overdue"]) for t in data["due_tasks"]]
    # Overdue first; 赵秀兰's next follow-up is a month away, beyond the week the workbench shows.
    assert due == [
        ("刘德明", (TODAY - timedelta(days=10)).isoformat(), True),
        ("吴国强", (TODAY + timedelta(days=2)).isoformat(), False),
        ("孙美华", (TODAY + timedelta(days=3)).isoformat(), False),
    ]
    assert [(c["resident_name"], c["kind"]) for c in data["consults_today"]] == [("吴国强", "follow_up")]
    for user in ("resident", "proxy", "compliance"):
        assert (await client.get("/api/workbench", headers=await login(client, user))).status == 403, user


async def test_contract_history_is_not_shared_with_the_specialist(client: TestClient) -> None:  # type: ignore[type-arg]
    doctor = await login(client, "doctor")
    zhao = await resident_id(client, doctor, "赵秀兰")
    assert (await client.get(f"/api/residents/{zhao}/contracts", headers=doctor)).status == 200
    specialist = await login(client, "specialist")
    assert (await client.get(f"/api/residents/{zhao}/contracts", headers=specialist)).status == 403
