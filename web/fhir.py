"""FHIR views of a consult: `GET /fhir/Encounter/{id}` and `GET /fhir/Encounter/{id}/$everything`.

The consult is an Encounter of class VR (virtual, v3 ActCode); `$everything` returns a `collection`
Bundle with it, the Patient, the Practitioners who took part, one Consent per recording decision (and
one for the resident's standing consent when an answer was taken from it: the answer's Consent names
it as its `sourceReference`), one Communication per chat message, one Media per recorded track (with a link to the review API, never
the bytes) and the AuditEvents about the consult and its recordings. Every resource is checked
against the R4B models of `fhir.resources` (the maintained Python FHIR models; R4B is R4's technical
correction and reads the same for these resources) before it is sent, so a shape error fails here,
not at the receiver.

Who: compliance officers, and the resident's side (a resident, or a family member with the
view-records scope) for their own consults. `$everything` is an export: it needs a stated
`purpose` (query parameter) and is audited.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from fhir.resources.R4B.auditevent import AuditEvent
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.communication import Communication
from fhir.resources.R4B.consent import Consent
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.media import Media
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.practitioner import Practitioner
from pydantic import ValidationError
from sqlalchemy import or_, select

from consult.errors import AccessDenied, NotFound, RuleViolation
from consult.recording import may_view_recording
from storage import residents
from storage.models import (
    AuditEventRow,
    ConsentRow,
    ConsultRow,
    ConversationRow,
    MessageRow,
    RecordingRow,
    RecordingTrackRow,
    StandingConsentRow,
    UserRow,
)
from web.api import Api, RequestContext

api = Api()

FHIR_JSON = "application/fhir+json"
_STATUS = {
    "scheduled": "planned",
    "waiting": "arrived",
    "in_progress": "in-progress",
    "ended": "finished",
    "cancelled": "cancelled",
    "no_show": "cancelled",
}
_SEX = {"male": "male", "female": "female"}


def _check(model: Any, resource: dict[str, Any]) -> dict[str, Any]:
    """The resource, once the FHIR model accepts it."""
    try:
        model.model_validate(resource)
    except ValidationError as err:
        raise RuntimeError(f"FHIR {resource.get('resourceType')} would be invalid: {err}") from err
    return resource


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


async def _consult(ctx: RequestContext) -> ConsultRow:
    consult_id = ctx.path_int("encounter_id")
    row = await ctx.session.get(ConsultRow, consult_id)
    if row is None:
        raise NotFound(f"no Encounter {consult_id}")
    if not may_view_recording(ctx.me, row.resident_id):
        raise AccessDenied("compliance officers and the resident's side read consults as FHIR")
    return row


def encounter(row: ConsultRow) -> dict[str, Any]:
    """The consult as an Encounter (class VR)."""
    resource: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": str(row.id),
        "status": _STATUS.get(row.status, "unknown"),
        "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": "VR",
            "display": "virtual",
        },
        "type": [{"text": row.kind}],
        "subject": {"reference": f"Patient/{row.resident_id}"},
    }
    if row.started_at or row.ended_at:
        resource["period"] = {
            k: v for k, v in (("start", _iso(row.started_at)), ("end", _iso(row.ended_at))) if v
        }
    if row.reason:
        resource["reasonCode"] = [{"text": row.reason}]
    return _check(Encounter, resource)


@api.operation(
    "GET",
    "/fhir/Encounter/{encounter_id}",
    summary="A consult as a FHIR R4 Encounter (class VR)",
    tag="fhir",
    errors=(404,),
)
async def get_encounter(ctx: RequestContext) -> web.Response:
    row = await _consult(ctx)
    await ctx.audit("read", "consult", row.id, resident_id=row.resident_id, detail={"as": "fhir"})
    return web.json_response(encounter(row), content_type=FHIR_JSON)


@api.operation(
    "GET",
    "/fhir/Encounter/{encounter_id}/$everything",
    summary="Everything about a consult as a FHIR R4 Bundle (an export: `purpose` required, audited)",
    tag="fhir",
    errors=(404, 422),
)
async def encounter_everything(ctx: RequestContext) -> web.Response:
    purpose = (ctx.request.query.get("purpose") or "").strip()
    if len(purpose) < 2:
        raise RuleViolation("an export needs a stated purpose (?purpose=…)", field="purpose")
    row = await _consult(ctx)
    await ctx.audit(
        "export", "consult", row.id, resident_id=row.resident_id, purpose=purpose, detail={"as": "fhir"}
    )
    resident = await residents.get(ctx.session, row.resident_id)
    entries: list[dict[str, Any]] = [encounter(row)]
    if resident is not None:
        entries.append(
            _check(
                Patient,
                {
                    "resourceType": "Patient",
                    "id": str(resident.id),
                    "name": [{"text": resident.name}],
                    "gender": _SEX.get(resident.sex.value, "unknown"),
                    "birthDate": resident.birth_date.isoformat(),
                },
            )
        )
    recordings = list(
        await ctx.session.scalars(select(RecordingRow).where(RecordingRow.consult_id == row.id))
    )
    recording_ids = [r.id for r in recordings]
    tracks = list(
        await ctx.session.scalars(
            select(RecordingTrackRow).where(RecordingTrackRow.recording_id.in_(recording_ids))
        )
    )
    consents = list(
        await ctx.session.scalars(
            select(ConsentRow).where(ConsentRow.consult_id == row.id).order_by(ConsentRow.id)
        )
    )
    messages = list(
        await ctx.session.scalars(
            select(MessageRow)
            .join(ConversationRow, ConversationRow.id == MessageRow.conversation_id)
            .where(ConversationRow.consult_id == row.id)
            .order_by(MessageRow.id)
        )
    )
    standing_ids = {c.standing_consent_id for c in consents if c.standing_consent_id is not None}
    standing = list(
        await ctx.session.scalars(
            select(StandingConsentRow)
            .where(StandingConsentRow.id.in_(standing_ids))
            .order_by(StandingConsentRow.id)
        )
    )
    user_ids = (
        {t.user_id for t in tracks}
        | {c.user_id for c in consents}
        | {s.given_by_user_id for s in standing}
        | {m.sender_user_id for m in messages if m.sender_user_id}
    )
    users = {u.id: u for u in await ctx.session.scalars(select(UserRow).where(UserRow.id.in_(user_ids)))}
    for user in users.values():
        if user.practitioner_id is not None:
            entries.append(
                _check(
                    Practitioner,
                    {
                        "resourceType": "Practitioner",
                        "id": str(user.practitioner_id),
                        "name": [{"text": user.display_name}],
                    },
                )
            )

    def who(user_id: int | None) -> dict[str, Any]:
        user = users.get(user_id or 0)
        if user is not None and user.practitioner_id is not None:
            return {"reference": f"Practitioner/{user.practitioner_id}", "display": user.display_name}
        if user is not None and user.resident_id is not None:
            return {"reference": f"Patient/{user.resident_id}", "display": user.display_name}
        return {"display": user.display_name if user else "system"}

    for given in standing:
        period = {"start": _iso(given.given_at)}
        if given.withdrawn_at is not None:
            period["end"] = _iso(given.withdrawn_at)
        entries.append(
            _check(
                Consent,
                {
                    "resourceType": "Consent",
                    "id": f"standing-consent-{given.id}",
                    # Withdrawn since: no longer in force (it was when the answers citing it were taken).
                    "status": "active" if given.withdrawn_at is None else "inactive",
                    "scope": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                                "code": "patient-privacy",
                            }
                        ]
                    },
                    "category": [{"text": "standing consent to recording follow-up teleconsultations"}],
                    "patient": {"reference": f"Patient/{row.resident_id}"},
                    "dateTime": _iso(given.given_at),
                    "performer": [who(given.given_by_user_id)],
                    "policyRule": {"text": given.text_version},
                    "provision": {
                        "type": "permit",
                        "period": period,
                        "data": [
                            {
                                "meaning": "related",
                                "reference": {"reference": f"Contract/{given.contract_id}"},
                            }
                        ],
                    },
                },
            )
        )
    for consent in consents:
        source = (
            {"sourceReference": {"reference": f"Consent/standing-consent-{consent.standing_consent_id}"}}
            if consent.standing_consent_id is not None
            else {}
        )
        entries.append(
            _check(
                Consent,
                {
                    **source,
                    "resourceType": "Consent",
                    "id": f"consent-{consent.id}",
                    "status": "active" if consent.decision == "granted" else "inactive",
                    "scope": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                                "code": "patient-privacy",
                            }
                        ]
                    },
                    "category": [{"text": "recording of a teleconsultation"}],
                    "patient": {"reference": f"Patient/{row.resident_id}"},
                    "dateTime": _iso(consent.decided_at),
                    "performer": [who(consent.user_id)],
                    "policyRule": {"text": consent.text_version},
                    "provision": {
                        "type": "permit" if consent.decision == "granted" else "deny",
                        "data": [{"meaning": "related", "reference": {"reference": f"Encounter/{row.id}"}}],
                    },
                },
            )
        )
    for message in messages:
        entries.append(
            _check(
                Communication,
                {
                    "resourceType": "Communication",
                    "id": f"message-{message.id}",
                    "status": "completed",
                    "subject": {"reference": f"Patient/{row.resident_id}"},
                    "encounter": {"reference": f"Encounter/{row.id}"},
                    "sent": _iso(message.created_at),
                    "sender": who(message.sender_user_id),
                    "payload": [{"contentString": message.text or f"[{message.kind}]"}],
                },
            )
        )
    for track in tracks:
        entries.append(
            _check(
                Media,
                {
                    "resourceType": "Media",
                    "id": f"track-{track.id}",
                    "status": "completed",
                    "type": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/media-type",
                                "code": "video" if track.kind == "video" else "audio",
                            }
                        ]
                    },
                    "subject": {"reference": f"Patient/{row.resident_id}"},
                    "encounter": {"reference": f"Encounter/{row.id}"},
                    "operator": who(track.user_id),
                    "content": {
                        "contentType": f"{track.kind}/webm",
                        # A link, never the bytes: playing it goes through the audited review API.
                        "url": f"/api/recordings/{track.recording_id}",
                        "title": f"{track.kind} of {users[track.user_id].display_name if track.user_id in users else track.user_id}",
                    },
                },
            )
        )
    audits = await ctx.session.scalars(
        select(AuditEventRow)
        .where(
            or_(
                (AuditEventRow.entity_type == "consult") & (AuditEventRow.entity_id == str(row.id)),
                (AuditEventRow.entity_type == "recording")
                & AuditEventRow.entity_id.in_([str(i) for i in recording_ids]),
            )
        )
        .order_by(AuditEventRow.seq)
    )
    for event in audits:
        agent: dict[str, Any] = {"requestor": True, "who": {"display": event.actor_username or "system"}}
        if event.actor_role:
            agent["role"] = [{"text": event.actor_role}]
        entries.append(
            _check(
                AuditEvent,
                {
                    "resourceType": "AuditEvent",
                    "id": f"audit-{event.seq}",
                    "type": {
                        "system": "http://dicom.nema.org/resources/ontology/DCM",
                        "code": "110110",
                        "display": "Patient Record",
                    },
                    "subtype": [{"code": event.action}],
                    "recorded": _iso(event.at),
                    "outcome": "0" if event.outcome == "success" else "4",
                    "outcomeDesc": event.outcome,
                    "purposeOfEvent": [{"text": event.purpose}] if event.purpose else None,
                    "agent": [agent],
                    "source": {"observer": {"display": "Jiayi"}},
                    "entity": [{"what": {"reference": f"Encounter/{row.id}"}}],
                },
            )
        )
    for entry in entries:
        for key in [k for k, v in entry.items() if v is None]:
            del entry[key]
    bundle = _check(
        Bundle,
        {
            "resourceType": "Bundle",
            "type": "collection",
            "timestamp": _iso(ctx.now),
            "entry": [
                {"fullUrl": f"urn:jiayi:{e['resourceType']}/{e['id']}", "resource": e} for e in entries
            ],
        },
    )
    return web.json_response(bundle, content_type=FHIR_JSON)
