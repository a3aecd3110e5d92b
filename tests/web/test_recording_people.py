"""The review list's filters look people up on the server: every doctor who asked to record and every
resident recorded, not only the names a list already showed; compliance only."""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from storage import recordings, residents
from storage.models import ConsultRow, UserRow
from tests.conftest import NOW, login
from tests.web.helpers import audit_rows, table_counts
from tests.web.test_recordings_api import _recording_of
from web import keys


async def _second_recording(client: TestClient) -> str:  # type: ignore[type-arg]
    """A recording of another resident's consult, asked for by the second doctor; that resident's name."""
    app = client.server.app
    async with app[keys.SESSIONS]() as session, session.begin():
        liu = await session.scalar(select(UserRow.resident_id).where(UserRow.username == "resident"))
        doctor2 = await session.scalar(select(UserRow.id).where(UserRow.username == "doctor2"))
        consult = await session.scalar(select(ConsultRow).where(ConsultRow.resident_id != liu).limit(1))
        assert consult is not None and doctor2 is not None
        await recordings.request(
            session, app[keys.BLOBS], consult_id=consult.id, requested_by=doctor2, now=NOW
        )
        return (await residents.names(session, {consult.resident_id}))[consult.resident_id]


async def test_compliance_gets_everyone_the_recordings_name_and_narrows_by_name(
    client: TestClient,  # type: ignore[type-arg]
    database_url: str,
) -> None:
    await _recording_of(client)
    other = await _second_recording(client)
    officer = await login(client, "compliance")
    # A list filtered to 刘德明 shows only his recording; the menus still offer everyone.
    listed = await (await client.get("/api/recordings", params={"resident_id": 2}, headers=officer)).json()
    assert {i["resident_name"] for i in listed["items"]} == {"刘德明"}
    resp = await client.get("/api/recordings/people", headers=officer)
    assert resp.status == 200, await resp.text()
    people = await resp.json()
    assert [d["name"] for d in people["doctors"]] == sorted(["王建国 医生", "李敏 医生"])
    assert sorted(r["name"] for r in people["residents"]) == sorted(["刘德明", other])
    assert people["truncated"] is False
    narrowed = await (await client.get("/api/recordings/people", params={"q": "李"}, headers=officer)).json()
    assert [d["name"] for d in narrowed["doctors"]] == ["李敏 医生"]
    # The ids are the list's filter values.
    doctor2 = narrowed["doctors"][0]["id"]
    filtered = await (
        await client.get("/api/recordings", params={"doctor_id": doctor2}, headers=officer)
    ).json()
    assert [i["requested_by_name"] for i in filtered["items"]] == ["李敏 医生"]
    # A wildcard is a character, not a pattern.
    assert (await (await client.get("/api/recordings/people", params={"q": "%"}, headers=officer)).json())[
        "doctors"
    ] == []
    lookups = await audit_rows(database_url, action="lookup", entity_type="recording")
    assert [r.actor_username for r in lookups] == ["compliance"] * 3


async def test_nobody_else_looks_people_up(client: TestClient, database_url: str) -> None:  # type: ignore[type-arg]
    await _recording_of(client)
    before = await table_counts(database_url)
    for username in ("resident", "proxy", "doctor", "nurse", "admin"):
        resp = await client.get("/api/recordings/people", headers=await login(client, username))
        assert resp.status == 403, username
        assert resp.content_type == "application/problem+json"
    assert await table_counts(database_url) == before
    denied = await audit_rows(database_url, action="recording_people", outcome="denied")
    assert len(denied) == 5
