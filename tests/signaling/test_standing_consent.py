"""The recording gate and the resident's standing consent: in a follow-up it counts for the resident
without asking them (they still see the recording and may withdraw); a referral still asks them; a
withdrawal, in the call or on the home page, pauses it; one withdrawn before the consult no longer counts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from consult.recording import CONSENT_TEXT_VERSION, STANDING_TEXT_VERSION
from storage.models import ConsentRow, RecordingRow
from tests.signaling.conftest import Client, Live, ack_ok
from tests.web.helpers import audit_rows
from web import keys


async def _ids(live: Live) -> tuple[int, int, int]:
    """刘德明's resident id, his user id, and the doctor's user id."""
    _, me = await live.http("GET", "/api/me", await live.token("resident"))
    _, doctor = await live.http("GET", "/api/me", await live.token("doctor"))
    return int(me["resident_id"]), int(me["id"]), int(doctor["id"])


async def _give(live: Live, resident_id: int) -> None:
    status, body = await live.http(
        "POST",
        f"/api/residents/{resident_id}/standing-consent",
        await live.token("resident"),
        json={"text_version": STANDING_TEXT_VERSION},
    )
    assert status == 201, body


async def _withdraw(live: Live, resident_id: int) -> None:
    status, body = await live.http(
        "POST", f"/api/residents/{resident_id}/standing-consent/withdraw", await live.token("resident")
    )
    assert status == 200, body


async def _consult(live: Live, resident_id: int, kind: str) -> int:
    doctor = await live.token("doctor")
    extra: dict[str, Any] = {}
    if kind == "follow_up":
        _, record = await live.http("GET", f"/api/residents/{resident_id}", doctor)
        extra["condition_id"] = next(c["id"] for c in record["conditions"] if c["diagnosed_offline"])
    if kind == "referral":
        _, specialist = await live.http("GET", "/api/me", await live.token("specialist"))
        status, referral = await live.http(
            "POST",
            "/api/referrals",
            doctor,
            json={
                "resident_id": resident_id,
                "to_organization_id": specialist["practitioner"]["organization_id"],
                "reason": "血压控制不佳，请心内科会诊",
            },
        )
        assert status == 201, referral
        extra["referral_id"] = referral["id"]
    status, body = await live.http(
        "POST", "/api/consults", doctor, json={"resident_id": resident_id, "kind": kind, **extra}
    )
    assert status == 201, body
    return int(body["id"])


async def _room(live: Live, consult_id: int) -> tuple[Client, Client]:
    doctor = await live.connect("doctor")
    resident = await live.connect("resident")
    ack_ok(await resident.call("/consult", "check_in", {"consult_id": consult_id}))
    ack_ok(await doctor.call("/consult", "admit", {"consult_id": consult_id}))
    ack_ok(await doctor.call("/consult", "join", {"consult_id": consult_id}))
    ack_ok(await resident.call("/consult", "join", {"consult_id": consult_id}))
    return doctor, resident


async def _latest(client: Client, status: str, within: float = 5) -> dict[str, Any]:
    """Wait until the latest `recording` event this page got has `status`."""
    return await client.wait_for(
        "recording", lambda r: r is client.events["recording"][-1] and r["status"] == status, within
    )


async def _consent(client: Client, consult_id: int, decision: str) -> None:
    ack_ok(
        await client.call(
            "/consult",
            "record_consent",
            {"consult_id": consult_id, "decision": decision, "text_version": CONSENT_TEXT_VERSION},
        )
    )


async def _consents(live: Live, consult_id: int) -> list[ConsentRow]:
    async with live.app[keys.SESSIONS]() as session:
        return list(
            await session.scalars(
                select(ConsentRow).where(ConsentRow.consult_id == consult_id).order_by(ConsentRow.id)
            )
        )


async def test_a_follow_up_records_on_the_standing_consent_and_an_in_call_withdrawal_pauses_it(
    live: Live,
) -> None:
    liu, liu_user, doctor_user = await _ids(live)
    await _give(live, liu)
    consult_id = await _consult(live, liu, "follow_up")
    doctor, resident = await _room(live, consult_id)

    ack_ok(await doctor.call("/consult", "record_request", {"consult_id": consult_id}))
    waiting = await _latest(resident, "waiting")
    assert waiting["waiting_for"] == [doctor_user]  # the resident is not asked
    assert waiting["standing"] == [liu_user]
    await _consent(doctor, consult_id, "granted")
    running = await _latest(resident, "running")  # as soon as everyone else consented
    assert running["standing"] == [liu_user] and running["waiting_for"] == []
    assert all(liu_user not in e["waiting_for"] for e in resident.events["recording"])

    # The per-consult record says where the resident's consent came from, and which text it named.
    rows = await _consents(live, consult_id)
    taken = [r for r in rows if r.user_id == liu_user]
    assert [(r.decision, r.text_version, r.standing_consent_id is not None) for r in taken] == [
        ("granted", STANDING_TEXT_VERSION, True)
    ]
    entries = await audit_rows(live.app[keys.SETTINGS].database_url, action="consent")
    assert any(e.detail.get("standing_consent_id") == taken[0].standing_consent_id for e in entries)

    # The resident still sees it runs and withdraws in the call: paused, and not resumed by the
    # standing consent.
    await _consent(resident, consult_id, "withdrawn")
    paused = await _latest(doctor, "paused")
    assert paused["waiting_for"] == [liu_user] and paused["standing"] == []
    ack_ok(await doctor.call("/consult", "record_stop", {"consult_id": consult_id}))
    await _latest(doctor, "ended")
    # Asking again in the same consult asks the resident: their withdrawal here overrides it.
    ack_ok(await doctor.call("/consult", "record_request", {"consult_id": consult_id}))
    again = await doctor.wait_for(
        "recording",
        lambda r: r["status"] == "waiting" and r["recording_id"] != running["recording_id"],
    )
    assert sorted(again["waiting_for"]) == sorted([doctor_user, liu_user]) and again["standing"] == []

    async with live.app[keys.SESSIONS]() as session:
        first = await session.get(RecordingRow, running["recording_id"])
        assert first is not None
        marks = [m["kind"] for m in first.timeline]
    assert marks[:3] == ["requested", "standing_consent", "started"] and "paused" in marks


async def test_withdrawing_on_the_home_page_pauses_a_recording_that_runs_on_it(live: Live) -> None:
    liu, liu_user, _ = await _ids(live)
    await _give(live, liu)
    consult_id = await _consult(live, liu, "follow_up")
    doctor, resident = await _room(live, consult_id)
    ack_ok(await doctor.call("/consult", "record_request", {"consult_id": consult_id}))
    await _consent(doctor, consult_id, "granted")
    await _latest(resident, "running")
    await _withdraw(live, liu)
    paused = await _latest(doctor, "paused")
    assert paused["waiting_for"] == [liu_user]
    decisions = [(r.decision, r.standing_consent_id is not None) for r in await _consents(live, consult_id)]
    assert decisions[-1] == ("withdrawn", True)
    # Answering in the call now resumes it.
    await _consent(resident, consult_id, "granted")
    await _latest(doctor, "running")


async def test_a_referral_consult_still_asks_the_resident(live: Live) -> None:
    liu, liu_user, doctor_user = await _ids(live)
    await _give(live, liu)
    consult_id = await _consult(live, liu, "referral")
    doctor, resident = await _room(live, consult_id)
    ack_ok(await doctor.call("/consult", "record_request", {"consult_id": consult_id}))
    asked = await _latest(resident, "waiting")
    assert sorted(asked["waiting_for"]) == sorted([doctor_user, liu_user]) and asked["standing"] == []
    await _consent(doctor, consult_id, "granted")
    await resident.wait_for("recording", lambda r: r["waiting_for"] == [liu_user])
    assert all(r.standing_consent_id is None for r in await _consents(live, consult_id))
    await _consent(resident, consult_id, "granted")
    await _latest(doctor, "running")


async def test_a_standing_consent_withdrawn_before_the_consult_no_longer_counts(live: Live) -> None:
    liu, liu_user, doctor_user = await _ids(live)
    await _give(live, liu)
    await _withdraw(live, liu)
    consult_id = await _consult(live, liu, "follow_up")
    doctor, resident = await _room(live, consult_id)
    ack_ok(await doctor.call("/consult", "record_request", {"consult_id": consult_id}))
    waiting = await _latest(resident, "waiting")
    assert sorted(waiting["waiting_for"]) == sorted([doctor_user, liu_user]) and waiting["standing"] == []
    await _consent(doctor, consult_id, "granted")
    await resident.wait_for("recording", lambda r: r["waiting_for"] == [liu_user])
    assert resident.events["recording"][-1]["status"] == "waiting"
