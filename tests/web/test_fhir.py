"""FHIR views of a consult: a valid Encounter (class VR) and a $everything Bundle, exported with a purpose."""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.encounter import Encounter
from sqlalchemy import select

from storage.models import RecordingRow
from tests.conftest import login
from tests.web.helpers import audit_rows
from tests.web.test_recordings_api import _recording_of
from web import keys


async def test_everything_about_a_recorded_consult_is_a_valid_bundle(client: TestClient) -> None:  # type: ignore[type-arg]
    recording_id = await _recording_of(client)
    async with client.server.app[keys.SESSIONS]() as session:
        row = await session.get(RecordingRow, recording_id)
        assert row is not None
        consult_id = row.consult_id
    officer = await login(client, "compliance")

    resp = await client.get(f"/fhir/Encounter/{consult_id}", headers=officer)
    assert resp.status == 200 and resp.content_type == "application/fhir+json"
    encounter = Encounter.model_validate(await resp.json())
    assert encounter.class_fhir.code == "VR"

    assert (await client.get(f"/fhir/Encounter/{consult_id}/$everything", headers=officer)).status == 422
    resp = await client.get(
        f"/fhir/Encounter/{consult_id}/$everything", params={"purpose": "监管抽查"}, headers=officer
    )
    assert resp.status == 200
    bundle = Bundle.model_validate(await resp.json())
    kinds = [e.resource.__resource_type__ for e in bundle.entry]
    assert kinds[0] == "Encounter"
    assert {"Patient", "Practitioner", "Consent", "Media", "AuditEvent"} <= set(kinds)
    assert kinds.count("Consent") == 2 and kinds.count("Media") == 2  # two decisions, two tracks
    media = [e.resource for e in bundle.entry if e.resource.__resource_type__ == "Media"]
    assert all(m.content.url == f"/api/recordings/{recording_id}" and m.content.data is None for m in media)
    exports = await audit_rows(client.server.app[keys.SETTINGS].database_url, action="export")
    assert [(e.entity_id, e.purpose) for e in exports] == [(str(consult_id), "监管抽查")]


async def test_another_resident_s_consult_is_not_readable(client: TestClient) -> None:  # type: ignore[type-arg]
    recording_id = await _recording_of(client, "resident")
    async with client.server.app[keys.SESSIONS]() as session:
        consult_id = await session.scalar(
            select(RecordingRow.consult_id).where(RecordingRow.id == recording_id)
        )
    for other in ("proxy", "doctor", "specialist"):
        headers = await login(client, other)
        assert (await client.get(f"/fhir/Encounter/{consult_id}", headers=headers)).status == 403
    assert (
        await client.get(f"/fhir/Encounter/{consult_id}", headers=await login(client, "resident"))
    ).status == 200
    assert (
        await client.get("/fhir/Encounter/999999", headers=await login(client, "compliance"))
    ).status == 404
