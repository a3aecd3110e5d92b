"""Reviewing recordings over HTTP: who may, audited before any byte, range requests, holds, exports."""

from __future__ import annotations

import io
from typing import Any

import av
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from consult.recording import CONSENT_TEXT_VERSION, ConsentRecord, Decision, RecordingStatus
from media.forwarding import EncodedFrame
from media.recorder import Segment, TrackRecorder
from storage import audit, recordings
from storage.models import ConsultRow, UserRow
from tests.conftest import NOW, login
from tests.media.test_recorder import OPUS, VP8, _encoded
from tests.web.helpers import audit_rows
from web import keys


def _segments(codec: Any, kind: str) -> list[Segment]:
    out: list[Segment] = []
    recorder = TrackRecorder(
        codec, recording_started=0.0, on_segment=out.append, request_keyframe=lambda: None, segment_s=1.0
    )
    for data, pts, key in _encoded(kind, 2.5):
        recorder.push(EncodedFrame(data, pts, key, pts / codec.clock_rate, 0))
    recorder.close()
    return out


async def _recording_of(client: TestClient, resident_username: str = "resident") -> int:  # type: ignore[type-arg]
    """A finished recording of a consult of that resident: the doctor's video and audio, 2.5 s."""
    app = client.server.app
    blobs = app[keys.BLOBS]
    async with app[keys.SESSIONS]() as session, session.begin():
        user = await session.scalar(select(UserRow).where(UserRow.username == resident_username))
        doctor = await session.scalar(select(UserRow).where(UserRow.username == "doctor"))
        assert user is not None and doctor is not None and user.resident_id is not None
        consult_id = await session.scalar(
            select(ConsultRow.id).where(ConsultRow.resident_id == user.resident_id).limit(1)
        )
        if consult_id is None:
            row = ConsultRow(
                kind="follow_up",
                mode="video",
                resident_id=user.resident_id,
                status="ended",
                created_by=doctor.id,
            )
            session.add(row)
            await session.flush()
            consult_id = row.id
        rec = await recordings.request(session, blobs, consult_id=consult_id, requested_by=doctor.id, now=NOW)
        for uid in (doctor.id, user.id):
            await recordings.add_consent(
                session, ConsentRecord(consult_id, uid, Decision.GRANTED, NOW, CONSENT_TEXT_VERSION), rec.id
            )
        for codec, kind in ((VP8, "video"), (OPUS, "audio")):
            track = await recordings.track(session, rec.id, doctor.id, kind, codec.name, "webm")
            for segment in _segments(codec, kind):
                blob = await blobs.put(session, segment.data, segment.content_type, key_id=rec.key_id)
                await recordings.add_segment(
                    session, track.id, segment.seq, blob.id, segment.start_ms, segment.duration_ms
                )
        rec.status, rec.complete, rec.ended_at = RecordingStatus.ENDED.value, True, NOW
        return rec.id


async def test_compliance_views_with_a_purpose_then_plays_with_ranges(client: TestClient) -> None:  # type: ignore[type-arg]
    recording_id = await _recording_of(client)
    officer = await login(client, "compliance")
    listed = await (await client.get("/api/recordings", headers=officer)).json()
    assert [i["id"] for i in listed["items"]] == [recording_id]
    assert listed["items"][0]["consent"] == "all_granted" and not listed["items"][0]["held"]
    detail = await (await client.get(f"/api/recordings/{recording_id}", headers=officer)).json()
    assert {t["kind"] for t in detail["tracks"]} == {"audio", "video"} and len(detail["consents"]) == 2

    no_purpose = await client.post(f"/api/recordings/{recording_id}/views", json={}, headers=officer)
    assert no_purpose.status == 422
    view = await client.post(
        f"/api/recordings/{recording_id}/views", json={"purpose": "投诉核查"}, headers=officer
    )
    assert view.status == 200
    grants = [r for r in await audit_rows(client.server.app[keys.SETTINGS].database_url, action="view")]
    assert [(g.entity_id, g.purpose) for g in grants] == [(str(recording_id), "投诉核查")]
    video_url = next(
        t["url"] for t in (await view.json())["tracks"] if t["track_id"] == detail["tracks"][0]["id"]
    )
    whole = await client.get(video_url)
    assert whole.status == 200 and whole.headers["Accept-Ranges"] == "bytes"
    data = await whole.read()
    with av.open(io.BytesIO(data)) as container:
        assert container.streams[0].codec_context.name == "vp8"
        assert sum(1 for _ in container.decode(container.streams[0])) == 75
    part = await client.get(video_url, headers={"Range": "bytes=100-199"})
    assert part.status == 206 and part.headers["Content-Range"] == f"bytes 100-199/{len(data)}"
    assert await part.read() == data[100:200]
    tail = await client.get(video_url, headers={"Range": "bytes=-10"})
    assert await tail.read() == data[-10:]
    assert (await client.get(video_url, headers={"Range": f"bytes={len(data)}-"})).status == 416

    # The access trail shows who viewed it, and why.
    detail = await (await client.get(f"/api/recordings/{recording_id}", headers=officer)).json()
    assert ("view", "投诉核查") in {(a["action"], a["purpose"]) for a in detail["access"]}


async def test_no_ticket_no_bytes_and_no_audit_no_ticket(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[type-arg]
    recording_id = await _recording_of(client)
    officer = await login(client, "compliance")
    detail = await (await client.get(f"/api/recordings/{recording_id}", headers=officer)).json()
    track = detail["tracks"][0]["id"]
    for ticket in ("", "not-a-ticket"):
        resp = await client.get(f"/api/recordings/{recording_id}/tracks/{track}/media?ticket={ticket}")
        assert resp.status == 403 and (await resp.json())["code"] == "invalid_ticket"
    real = audit.append

    async def failing(*args: Any, **kwargs: Any) -> Any:
        record = args[1]
        if record.action == "view":
            raise RuntimeError("audit store unavailable")
        return await real(*args, **kwargs)

    monkeypatch.setattr(audit, "append", failing)
    resp = await client.post(
        f"/api/recordings/{recording_id}/views", json={"purpose": "抽查"}, headers=officer
    )
    assert resp.status == 500 and "url" not in await resp.text()


async def test_a_resident_sees_their_own_recordings_only(client: TestClient) -> None:  # type: ignore[type-arg]
    mine = await _recording_of(client, "resident")
    resident = await login(client, "resident")
    listed = await (await client.get("/api/recordings", headers=resident)).json()
    assert [i["id"] for i in listed["items"]] == [mine]
    view = await client.post(f"/api/recordings/{mine}/views", json={"purpose": "本人查看"}, headers=resident)
    assert view.status == 200
    # The proxy acts for 赵秀兰, not for 刘德明; doctors do not review recordings.
    for other in ("proxy", "doctor"):
        headers = await login(client, other)
        resp = await client.get(f"/api/recordings/{mine}", headers=headers)
        assert resp.status == 403
        ticket = await client.post(f"/api/recordings/{mine}/views", json={"purpose": "看看"}, headers=headers)
        assert ticket.status == 403


async def test_holds_block_purge_until_released(client: TestClient) -> None:  # type: ignore[type-arg]
    recording_id = await _recording_of(client)
    officer = await login(client, "compliance")
    assert (
        await client.post(f"/api/recordings/{recording_id}/holds", json={}, headers=officer)
    ).status == 422
    doctor = await login(client, "doctor")
    assert (
        await client.post(f"/api/recordings/{recording_id}/holds", json={"reason": "x" * 5}, headers=doctor)
    ).status == 403
    hold = await client.post(
        f"/api/recordings/{recording_id}/holds", json={"reason": "患者投诉，待调查"}, headers=officer
    )
    assert hold.status == 201
    hold_id = (await hold.json())["id"]
    listed = await (await client.get("/api/recordings", params={"held": "true"}, headers=officer)).json()
    assert [i["id"] for i in listed["items"]] == [recording_id]
    released = await client.post(f"/api/recordings/{recording_id}/holds/{hold_id}/release", headers=officer)
    assert released.status == 200 and (await released.json())["released_at"]
    again = await client.post(f"/api/recordings/{recording_id}/holds/{hold_id}/release", headers=officer)
    assert again.status == 404
