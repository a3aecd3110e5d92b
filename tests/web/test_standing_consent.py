"""Standing consent to recording follow-ups over HTTP: the resident's side gives and withdraws it,
the care team reads it on the record, everyone else is refused (audited, nothing written)."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import select

from consult.recording import CONSENT_TEXT_VERSION, STANDING_TEXT_VERSION, ConsentRecord, Decision
from storage import recordings
from storage.models import ContractRow, RecordingRow
from tests.conftest import NOW, login
from tests.web.helpers import audit_rows, table_counts
from tests.web.test_recordings_api import _recording_of
from web import keys

URL = "/api/residents/{}/standing-consent"


async def _me(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:  # type: ignore[type-arg]
    resp = await client.get("/api/me", headers=headers)
    assert resp.status == 200
    return dict(await resp.json())


async def test_the_resident_gives_and_withdraws_it_and_the_doctor_sees_it_on_the_record(
    client: TestClient,  # type: ignore[type-arg]
    database_url: str,
) -> None:
    resident = await login(client, "resident")
    liu = (await _me(client, resident))["resident_id"]
    shown = await client.get(URL.format(liu), headers=resident)
    assert shown.status == 200
    state = await shown.json()
    assert state["in_force"] is False and state["current"] is None and state["may_change"] is True
    assert state["text_version"] == STANDING_TEXT_VERSION and "3 年" in state["text"]["zh"]
    assert state["contract_id"] is not None

    given = await client.post(URL.format(liu), json={"text_version": state["text_version"]}, headers=resident)
    assert given.status == 201, await given.text()
    body = await given.json()
    assert body["in_force"] is True and body["current"]["given_by_role"] == "resident"
    assert (
        body["current"]["given_by_name"] == "刘德明"
        and body["current"]["text_version"] == STANDING_TEXT_VERSION
    )
    again = await client.post(URL.format(liu), json={"text_version": STANDING_TEXT_VERSION}, headers=resident)
    assert again.status == 409 and (await again.json())["code"] == "standing_consent_exists"

    doctor = await login(client, "doctor")
    record = await (await client.get(f"/api/residents/{liu}", headers=doctor)).json()
    assert record["standing_consent"]["id"] == body["current"]["id"]
    seen = await (await client.get(URL.format(liu), headers=doctor)).json()
    assert seen["in_force"] is True and seen["may_change"] is False

    withdrawn = await client.post(URL.format(liu) + "/withdraw", headers=resident)
    assert withdrawn.status == 200, await withdrawn.text()
    after = await withdrawn.json()
    assert after["in_force"] is False and after["current"] is None
    assert [h["withdrawn_by_name"] for h in after["history"]] == ["刘德明"]  # kept, not deleted
    record = await (await client.get(f"/api/residents/{liu}", headers=doctor)).json()
    assert record["standing_consent"] is None
    nothing = await client.post(URL.format(liu) + "/withdraw", headers=resident)
    assert nothing.status == 409 and (await nothing.json())["code"] == "no_standing_consent"

    actions = [
        (r.action, r.actor_username) for r in await audit_rows(database_url, entity_type="standing_consent")
    ]
    assert ("give", "resident") in actions and ("withdraw", "resident") in actions
    assert ("read", "doctor") in actions
    gave = await audit_rows(database_url, entity_type="standing_consent", action="give")
    assert gave[0].resident_id == liu and gave[0].detail["text_version"] == STANDING_TEXT_VERSION


async def test_a_family_member_with_the_consent_scope_gives_it_for_the_resident(
    client: TestClient,  # type: ignore[type-arg]
    database_url: str,
) -> None:
    proxy = await login(client, "proxy")
    zhao = (await _me(client, proxy))["proxy_for"][0]["resident_id"]
    given = await client.post(URL.format(zhao), json={"text_version": STANDING_TEXT_VERSION}, headers=proxy)
    assert given.status == 201, await given.text()
    current = (await given.json())["current"]
    assert current["given_by_role"] == "proxy" and current["given_by_name"].startswith("赵磊")
    (entry,) = await audit_rows(database_url, entity_type="standing_consent", action="give")
    assert entry.detail["on_behalf_of"] == zhao and entry.actor_username == "proxy"


async def test_nobody_else_gives_withdraws_or_reads_it_and_a_refusal_writes_nothing(
    client: TestClient,  # type: ignore[type-arg]
    database_url: str,
) -> None:
    resident = await login(client, "resident")
    liu = (await _me(client, resident))["resident_id"]
    before = await table_counts(database_url)
    for username in ("doctor", "nurse", "compliance", "specialist", "admin", "proxy"):
        headers = await login(client, username)
        given = await client.post(
            URL.format(liu), json={"text_version": STANDING_TEXT_VERSION}, headers=headers
        )
        assert given.status == 403, (username, await given.text())
        assert given.content_type == "application/problem+json"
        withdrawn = await client.post(URL.format(liu) + "/withdraw", headers=headers)
        assert withdrawn.status == 403, username
    doctor_refusal = await client.post(
        URL.format(liu), json={"text_version": STANDING_TEXT_VERSION}, headers=await login(client, "doctor")
    )
    assert (await doctor_refusal.json())["code"] == "resident_consents"
    for username in ("compliance", "specialist", "admin", "proxy"):
        read = await client.get(URL.format(liu), headers=await login(client, username))
        assert read.status == 403, username
    # The resident may not give it for someone else.
    other = await client.post(URL.format(1), json={"text_version": STANDING_TEXT_VERSION}, headers=resident)
    assert other.status == 403
    assert await table_counts(database_url) == before
    denied = await audit_rows(database_url, outcome="denied", entity_type="consent")
    assert {r.action for r in denied} == {
        "give_standing_consent",
        "withdraw_standing_consent",
        "get_standing_consent",
    }
    assert all(r.resident_id == liu for r in denied if r.actor_username != "resident")


async def test_the_text_shown_must_be_named_and_an_unknown_version_is_refused(
    client: TestClient,  # type: ignore[type-arg]
    database_url: str,
) -> None:
    resident = await login(client, "resident")
    liu = (await _me(client, resident))["resident_id"]
    before = await table_counts(database_url)
    missing = await client.post(URL.format(liu), json={}, headers=resident)
    assert missing.status == 422
    assert [e["field"] for e in (await missing.json())["errors"]] == ["text_version"]
    wrong = await client.post(URL.format(liu), json={"text_version": CONSENT_TEXT_VERSION}, headers=resident)
    assert wrong.status == 422, await wrong.text()
    problem = await wrong.json()
    assert problem["code"] == "rule_violation" and problem["errors"][0]["field"] == "text_version"
    assert await table_counts(database_url) == before


async def test_the_openapi_document_describes_it(client: TestClient) -> None:  # type: ignore[type-arg]
    doc = await (await client.get("/api/openapi.json")).json()
    path = doc["paths"]["/api/residents/{resident_id}/standing-consent"]
    assert path["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "StandingConsentIn"
    )
    assert "409" in path["post"]["responses"] and "403" in path["get"]["responses"]
    assert "standing_consent" in doc["components"]["schemas"]["RecordOut"]["properties"]


async def test_compliance_sees_a_consent_taken_from_it_in_the_review_and_the_fhir_export(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    resident = await login(client, "resident")
    me = await _me(client, resident)
    given = await client.post(
        URL.format(me["resident_id"]), json={"text_version": STANDING_TEXT_VERSION}, headers=resident
    )
    standing_id = (await given.json())["current"]["id"]
    recording_id = await _recording_of(client)
    app = client.server.app
    async with app[keys.SESSIONS]() as session, session.begin():
        row = await session.get(RecordingRow, recording_id)
        assert row is not None
        consult_id = row.consult_id
        # The hub's gate took the resident's answer from the standing consent (as in a follow-up).
        await recordings.add_consent(
            session,
            ConsentRecord(
                consult_id,
                me["id"],
                Decision.GRANTED,
                NOW,
                STANDING_TEXT_VERSION,
                standing_consent_id=standing_id,
            ),
            recording_id,
        )
    officer = await login(client, "compliance")
    detail = await (await client.get(f"/api/recordings/{recording_id}", headers=officer)).json()
    mine = [c for c in detail["consents"] if c["user_id"] == me["id"]]
    assert [(c["source"], c["text_version"]) for c in mine] == [
        ("in_call", CONSENT_TEXT_VERSION),
        ("standing", STANDING_TEXT_VERSION),
    ]
    assert mine[1]["standing_consent_id"] == standing_id

    resp = await client.get(
        f"/fhir/Encounter/{consult_id}/$everything", params={"purpose": "监管抽查"}, headers=officer
    )
    assert resp.status == 200
    bundle = Bundle.model_validate(await resp.json())
    consents = {e.resource.id: e.resource for e in bundle.entry if e.resource.__resource_type__ == "Consent"}
    standing = consents[f"standing-consent-{standing_id}"]
    assert standing.status == "active" and standing.policyRule.text == STANDING_TEXT_VERSION
    assert standing.provision.period.start is not None and standing.provision.period.end is None
    cited = [c for c in consents.values() if c.sourceReference is not None]
    assert [c.sourceReference.reference for c in cited] == [f"Consent/standing-consent-{standing_id}"]
    assert cited[0].provision.type == "permit"


async def test_a_consult_it_did_not_apply_to_exports_no_standing_consent(
    client: TestClient,  # type: ignore[type-arg]
) -> None:
    resident = await login(client, "resident")
    me = await _me(client, resident)
    await client.post(
        URL.format(me["resident_id"]), json={"text_version": STANDING_TEXT_VERSION}, headers=resident
    )
    recording_id = await _recording_of(client)
    async with client.server.app[keys.SESSIONS]() as session:
        consult_id = (await session.get(RecordingRow, recording_id)).consult_id  # type: ignore[union-attr]
    resp = await client.get(
        f"/fhir/Encounter/{consult_id}/$everything", params={"purpose": "本人查阅"}, headers=resident
    )
    bundle = Bundle.model_validate(await resp.json())
    ids = [e.resource.id for e in bundle.entry if e.resource.__resource_type__ == "Consent"]
    assert len(ids) == 2 and not any(i.startswith("standing-consent-") for i in ids)


async def test_without_a_contract_in_force_there_is_nothing_to_give_it_on(
    client: TestClient,  # type: ignore[type-arg]
    database_url: str,
) -> None:
    resident = await login(client, "resident")
    liu = (await _me(client, resident))["resident_id"]
    async with client.server.app[keys.SESSIONS]() as session, session.begin():
        for row in await session.scalars(select(ContractRow).where(ContractRow.resident_id == liu)):
            row.status = "cancelled"
    state = await (await client.get(URL.format(liu), headers=resident)).json()
    assert state["contract_id"] is None and state["in_force"] is False
    before = await table_counts(database_url)
    refused = await client.post(
        URL.format(liu), json={"text_version": STANDING_TEXT_VERSION}, headers=resident
    )
    assert refused.status == 409 and (await refused.json())["code"] == "no_contract"
    assert await table_counts(database_url) == before
