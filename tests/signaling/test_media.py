"""Video through the hub: offers, answers and candidates over `/consult`, media relayed by a worker process.

The participants are real aiortc peers on loopback (tests/media/peers.py); the hub is a full app with
one media worker, so every call goes browser stand-in → Socket.IO → hub → worker → relay and back.
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
from typing import Any

import av
import pytest
from sqlalchemy import select

from storage.models import RecordingRow, RecordingSegmentRow, RecordingTrackRow
from tests.media.peers import eventually
from tests.signaling.conftest import Client, Live, ack_error, ack_ok
from tests.signaling.media_node import media_live, media_peer
from tests.signaling.test_rooms import _in_room
from tests.web.helpers import audit_rows
from web import keys


@pytest.fixture
def backend() -> str:
    """The media path does not depend on the database: SQLite only."""
    return "sqlite"


#: Every test here runs on a node with one media worker.
live = media_live


async def test_resident_and_doctor_see_each_other_through_the_relay(live: Live) -> None:
    consult_id, doctor, resident = await _in_room(live)
    doctor_peer = await media_peer(doctor, consult_id, "blue")
    resident_peer = await media_peer(resident, consult_id, "red")
    peers = {"doctor": doctor_peer, "resident": resident_peer}
    try:
        await eventually(
            lambda: (
                doctor_peer.got(resident_peer.participant_id).video_frames >= 10
                and resident_peer.got(doctor_peer.participant_id).video_frames >= 10
            ),
            within_s=20,
            what="both sides decoding the other's video",
        )
        assert "red" in doctor_peer.got(resident_peer.participant_id).colours
        assert "blue" in resident_peer.got(doctor_peer.participant_id).colours
        await eventually(
            lambda: all(
                p.got(o.participant_id).audio_frames > 10
                for p in peers.values()
                for o in peers.values()
                if o is not p
            ),
            what="audio both ways",
        )
        # The doctor's offer told the resident's page whose tile it is.
        assert {t["role"] for t in resident_peer.tracks.values()} == {"doctor"}

        # The resident turns the camera off: the doctor is told and the video stops; audio goes on.
        ack_ok(await resident.call("/consult", "media_state", {"consult_id": consult_id, "video": False}))
        await eventually(
            lambda: any(n == "media" and p.get("video") is False for n, p in doctor_peer.events),
            what="the doctor told the resident's camera is off",
        )
        frames = doctor_peer.got(resident_peer.participant_id).video_frames
        audio = doctor_peer.got(resident_peer.participant_id).audio_frames
        await eventually(
            lambda: doctor_peer.got(resident_peer.participant_id).audio_frames > audio + 20,
            what="audio still flowing",
        )
        assert doctor_peer.got(resident_peer.participant_id).video_frames <= frames + 3

        # The doctor ends the consult: the media room closes with it.
        ack_ok(await doctor.call("/consult", "end", {"consult_id": consult_id}))
        pool = live.app[keys.HUB].media
        assert pool is not None
        await eventually(lambda: pool.worker_of(str(consult_id)) is None, what="the media room closed")
    finally:
        for peer in peers.values():
            await peer.close()


async def test_someone_with_no_camera_or_microphone_has_a_tile_on_the_others_pages(live: Live) -> None:
    consult_id, doctor, resident = await _in_room(live)
    # The resident refused the camera and microphone: their page only receives, and joins first.
    silent = await media_peer(resident, consult_id, None, audio=False)
    ack_ok(
        await resident.call(
            "/consult", "media_state", {"consult_id": consult_id, "audio": False, "video": False}
        )
    )
    doctor_peer = await media_peer(doctor, consult_id, "blue")
    try:
        # The doctor, who joined later, is told who is there though they send nothing ...
        def told(about: str) -> dict[str, Any] | None:
            heard = [p for n, p in doctor_peer.events if n == "media" and p["participant_id"] == about]
            return heard[-1] if heard else None

        await eventually(lambda: told(silent.participant_id) is not None, what="the doctor told")
        assert told(silent.participant_id) == {
            "consult_id": consult_id,
            "participant_id": silent.participant_id,
            "user_id": str((await live.http("GET", "/api/me", resident.token))[1]["id"]),
            "role": "resident",
            "audio": False,
            "video": False,
        }
        # ... and the resident sees and hears the doctor.
        await eventually(
            lambda: (
                silent.got(doctor_peer.participant_id).video_frames >= 10
                and silent.got(doctor_peer.participant_id).audio_frames >= 10
            ),
            within_s=20,
            what="the resident receiving the doctor",
        )
        assert silent.participants[doctor_peer.participant_id]["role"] == "doctor"
    finally:
        await silent.close()
        await doctor_peer.close()


async def test_media_is_for_those_in_the_room_and_bad_sdp_is_refused(live: Live) -> None:
    consult_id, doctor, resident = await _in_room(live)
    stranger = await live.connect("nurse")
    assert (
        ack_error(await stranger.call("/consult", "media_join", {"consult_id": consult_id}))["code"]
        == "not_in_room"
    )
    assert (
        ack_error(await doctor.call("/consult", "media_offer", {"consult_id": consult_id, "sdp": "v=0"}))[
            "code"
        ]
        == "media_not_joined"
    )
    ack_ok(await doctor.call("/consult", "media_join", {"consult_id": consult_id}))
    refused = ack_error(
        await doctor.call("/consult", "media_offer", {"consult_id": consult_id, "sdp": "garbage"})
    )
    assert refused["code"] == "invalid_sdp"
    oversized = "v=0\r\n" + "a=x\r\n" * 20_000
    assert ack_error(
        await doctor.call("/consult", "media_offer", {"consult_id": consult_id, "sdp": oversized})
    )["code"] in ("payload_too_large", "validation_failed")
    # The connection and the room still work.
    peer = await media_peer(resident, consult_id, "green")
    await peer.close()


async def test_a_dropped_resident_comes_back_within_grace_and_a_leaver_disappears(live: Live) -> None:
    consult_id, doctor, resident = await _in_room(live)
    doctor_peer = await media_peer(doctor, consult_id, "blue")
    first = await media_peer(resident, consult_id, "red")
    pid = first.participant_id
    await eventually(lambda: doctor_peer.got(pid).video_frames >= 5, within_s=20, what="the resident's video")

    # The phone drops off the network (no goodbye) and comes back on a new connection within the grace period.
    await resident.sio.disconnect()
    await first.close()
    back = await live.connect("resident", resident.token)
    ack_ok(await back.call("/consult", "join", {"consult_id": consult_id}))  # no re-admission needed
    second = await media_peer(back, consult_id, "green")
    await eventually(
        lambda: "green" in doctor_peer.got(pid).colours,
        within_s=20,
        what="the doctor seeing the resident again",
    )
    assert second.participant_id == pid  # the same tile, not a new one

    # Leaving the room on purpose takes the resident out of the video for the others.
    ack_ok(await back.call("/consult", "leave", {"consult_id": consult_id}))
    await eventually(
        lambda: any(n == "left" and p.get("participant_id") == pid for n, p in doctor_peer.events),
        what="the doctor told the resident left",
    )
    pool = live.app[keys.HUB].media
    assert pool is not None
    stats = await pool.room_for(str(consult_id)).stats()
    assert stats["participants"] == 1 and stats["peer_connections"] == 1
    await second.close()
    await doctor_peer.close()


async def _status(client: Client, consult_id: int, status: str, within: float = 5) -> dict[str, Any]:
    return await client.wait_for(
        "recording",
        lambda r: (
            r["consult_id"] == consult_id and r["status"] == status and r is client.events["recording"][-1]
        ),
        within,
    )


async def test_recording_runs_only_while_everyone_present_consents(live: Live) -> None:
    consult_id, doctor, resident = await _in_room(live)
    doctor_peer = await media_peer(doctor, consult_id, "blue")
    resident_peer = await media_peer(resident, consult_id, "red")
    try:
        await eventually(
            lambda: doctor_peer.got(resident_peer.participant_id).video_frames > 5, within_s=20, what="video"
        )
        asked = ack_ok(await doctor.call("/consult", "record_request", {"consult_id": consult_id}))
        assert "3 年" in asked["text"]["zh"]
        waiting = await resident.wait_for("recording", lambda r: r["status"] == "waiting")
        assert sorted(waiting["waiting_for"]) == sorted(
            [int(doctor_peer.participant_id), int(resident_peer.participant_id)]
        )
        version = asked["text_version"]
        for client in (doctor, resident):
            ack_ok(
                await client.call(
                    "/consult",
                    "record_consent",
                    {"consult_id": consult_id, "decision": "granted", "text_version": version},
                )
            )
        await _status(resident, consult_id, "running")

        # A newcomer who has not consented pauses it; declining keeps it paused; leaving lets it run again.
        nurse = await live.connect("nurse")
        ack_ok(await nurse.call("/consult", "join", {"consult_id": consult_id}))
        paused = await _status(doctor, consult_id, "paused")
        assert paused["waiting_for"] == [int((await live.http("GET", "/api/me", nurse.token))[1]["id"])]
        ack_ok(
            await nurse.call(
                "/consult",
                "record_consent",
                {"consult_id": consult_id, "decision": "refused", "text_version": version},
            )
        )
        ack_ok(await nurse.call("/consult", "leave", {"consult_id": consult_id}))
        await _status(doctor, consult_id, "running")
        await asyncio.sleep(2.5)  # a few segments

        # The resident withdraws: paused within 2 seconds.
        started = asyncio.get_running_loop().time()
        ack_ok(
            await resident.call(
                "/consult",
                "record_consent",
                {"consult_id": consult_id, "decision": "withdrawn", "text_version": version},
            )
        )
        await _status(doctor, consult_id, "paused", within=2)
        assert asyncio.get_running_loop().time() - started < 2

        ack_ok(await doctor.call("/consult", "end", {"consult_id": consult_id}))
        await _status(resident, consult_id, "ended")
    finally:
        await doctor_peer.close()
        await resident_peer.close()

    sessions = live.app[keys.SESSIONS]
    blobs = live.app[keys.BLOBS]
    async with sessions() as session:
        row = await session.scalar(select(RecordingRow).where(RecordingRow.consult_id == consult_id))
        assert row is not None and row.status == "ended" and row.complete and row.expires_on is not None
        kinds = [e["kind"] for e in row.timeline]
        assert (
            kinds[:2] == ["requested", "started"]
            and "paused" in kinds
            and "resumed" in kinds
            and kinds[-1] == "stopped"
        )
        segments = (
            await session.execute(
                select(RecordingTrackRow.kind, RecordingSegmentRow.blob_id, RecordingSegmentRow.duration_ms)
                .join(RecordingSegmentRow, RecordingSegmentRow.track_id == RecordingTrackRow.id)
                .where(RecordingTrackRow.recording_id == row.id)
            )
        ).all()
        assert {k for k, _, _ in segments} == {"audio", "video"}
        total = {k: sum(d for kk, _, d in segments if kk == k) for k in ("audio", "video")}
        # Two people, about 2.5-4 s each recorded: both kinds hold seconds of media, not a blip.
        assert total["audio"] >= 4000 and total["video"] >= 3000
        for kind, blob_id, _ in segments:
            data = await blobs.get(session, blob_id)
            assert b"\x1aE\xdf\xa3" not in blobs.path_of(blob_id).read_bytes()
            with av.open(io.BytesIO(data)) as container:
                stream = container.streams[0]
                assert stream.codec_context.name == ("vp8" if kind == "video" else "opus")
                assert sum(1 for _ in container.decode(stream)) > 0


async def test_a_worker_killed_mid_recording_leaves_it_incomplete_but_playable(live: Live) -> None:
    consult_id, doctor, resident = await _in_room(live)
    doctor_peer = await media_peer(doctor, consult_id, "blue")
    resident_peer = await media_peer(resident, consult_id, "red")
    pool = live.app[keys.HUB].media
    assert pool is not None
    sessions, blobs = live.app[keys.SESSIONS], live.app[keys.BLOBS]

    async def segments() -> list[tuple[str, str]]:
        async with sessions() as session:
            rows = await session.execute(
                select(RecordingTrackRow.kind, RecordingSegmentRow.blob_id).join(
                    RecordingSegmentRow, RecordingSegmentRow.track_id == RecordingTrackRow.id
                )
            )
            return [(k, b) for k, b in rows]

    try:
        await eventually(
            lambda: doctor_peer.got(resident_peer.participant_id).video_frames > 5, within_s=20, what="video"
        )
        asked = ack_ok(await doctor.call("/consult", "record_request", {"consult_id": consult_id}))
        for client in (doctor, resident):
            ack_ok(
                await client.call(
                    "/consult",
                    "record_consent",
                    {"consult_id": consult_id, "decision": "granted", "text_version": asked["text_version"]},
                )
            )
        await _status(resident, consult_id, "running")
        for _ in range(100):  # a few segments on disk and in the database
            if len({k for k, _ in await segments()}) == 2 and len(await segments()) >= 4:
                break
            await asyncio.sleep(0.1)
        written = await segments()
        assert len(written) >= 4
        pid = pool.worker_pids[0]
        os.kill(pid, signal.SIGKILL)
        for _ in range(100):
            async with sessions() as session:
                row = await session.scalar(select(RecordingRow).where(RecordingRow.consult_id == consult_id))
            if row is not None and row.status == "incomplete":
                break
            await asyncio.sleep(0.1)
        assert row is not None and row.status == "incomplete" and not row.complete
        await _status(doctor, consult_id, "incomplete")  # the pages are told
        assert row.timeline[-1]["kind"] == "failed"
        incomplete = await audit_rows(live.app[keys.SETTINGS].database_url, action="incomplete")
        assert [r.entity_id for r in incomplete] == [str(row.id)]
        async with sessions() as session:  # what was written before the crash still plays
            for kind, blob_id in written:
                with av.open(io.BytesIO(await blobs.get(session, blob_id))) as container:
                    stream = container.streams[0]
                    assert stream.codec_context.name == ("vp8" if kind == "video" else "opus")
                    assert sum(1 for _ in container.decode(stream)) > 0
        await eventually(
            lambda: pid not in pool.worker_pids and len(pool.worker_pids) == 1, what="a replacement worker"
        )
    finally:
        await doctor_peer.close()
        await resident_peer.close()
