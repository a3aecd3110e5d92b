"""Real Chromium with a fake camera and microphone: recording a video consult with everyone's consent.

The resident (on a phone) and the family doctor are in a follow-up call; the doctor asks to record,
both pages show the consent card with the server's text, both agree, and both show "正在录像". It
records for about ten seconds; the resident withdraws and the doctor's page shows it paused within
two seconds; the doctor ends the consult. Then the stored recording is read back from the database
and the blob store: each track's encrypted segments decrypted, joined, and decoded with PyAV, and
each lasts about as long as the recording ran.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import replace
from typing import Any

import aiohttp
import av
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select

from media.playback import duration_s, join_segments
from media.settings import MediaSettings
from storage.models import RecordingRow, RecordingSegmentRow, RecordingTrackRow
from tests.conftest import NOW
from tests.web.conftest import login_page, screenshot
from tests.web.test_call_browser import DESKTOP, PHONE, _admit, _api_token, _receiving
from web import keys
from web.app import create_app
from web.settings import Settings

pytestmark = [pytest.mark.browser]

#: How long the recording runs with both consenting, in seconds.
RECORD_S = 10.0


@pytest.fixture
def backend() -> str:
    """The call pages do not depend on the database: SQLite only."""
    return "sqlite"


@pytest.fixture
async def recording_server(settings: Settings, aiohttp_server: Any) -> tuple[str, web.Application]:
    """Like conftest's `media_base_url`, with 2-second segments, and the app to read the recording back."""
    media = MediaSettings(host_addresses=("127.0.0.1",), workers=1, segment_s=2.0)
    app = create_app(replace(settings, media=media), clock=lambda: NOW)
    server: TestServer = await aiohttp_server(app)
    return str(server.make_url("")).rstrip("/"), app


def _decoded_seconds(data: bytes) -> tuple[str, float, int]:
    """Decode every frame of a joined track: its codec, its span in seconds (first to last frame) and
    how many frames decoded."""
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams[0]
        times = [
            float(frame.time)
            for frame in container.decode(stream)
            if isinstance(frame, av.AudioFrame | av.VideoFrame) and frame.time is not None
        ]
        assert times, "no frame decoded"
        return stream.codec_context.name, max(times) - min(times), len(times)


async def _recording_line(page: Page) -> str:
    return (await page.get_by_test_id("rec-state").inner_text()).strip()


async def test_recording_with_both_consenting(
    recording_server: tuple[str, web.Application], media_browser: Browser
) -> None:
    base_url, app = recording_server
    async with aiohttp.ClientSession(base_url) as http:
        auth = await _api_token(http, "doctor")
        record = await (await http.get("/api/residents/2", headers=auth)).json()  # 刘德明
        condition = next(c for c in record["conditions"] if c["diagnosed_offline"])
        created = await http.post(
            "/api/consults",
            json={"resident_id": 2, "kind": "follow_up", "mode": "video", "condition_id": condition["id"]},
            headers=auth,
        )
        assert created.status == 201, await created.text()
        consult_id = (await created.json())["id"]

    resident = await login_page(media_browser, base_url, "resident", PHONE)
    await resident.goto(f"{base_url}/consults/{consult_id}")
    await expect(resident.get_by_test_id("room-state-main")).to_have_text("正在等待医生接诊…")
    doctor = await login_page(media_browser, base_url, "doctor", DESKTOP)
    await _admit(doctor, base_url, consult_id, "刘德明")
    await _receiving(resident, {"doctor"})
    await _receiving(doctor, {"resident"})

    # Only the doctor may ask; nothing is recorded and nobody is asked yet.
    await expect(resident.get_by_test_id("rec-start")).to_have_count(0)
    for page in (doctor, resident):
        await expect(page.get_by_test_id("rec-state")).to_be_hidden()
        await expect(page.get_by_test_id("rec-consent")).to_have_count(0)

    # The doctor asks: both pages show the card with the server's words, and who is being asked.
    await doctor.get_by_test_id("rec-start").click()
    for page in (doctor, resident):
        card = page.get_by_test_id("rec-consent")
        await expect(card).to_be_visible()
        await expect(card).to_contain_text("医生想为本次问诊录像")
        await expect(card.get_by_test_id("rec-consent-text")).to_contain_text("加密保存 3 年")
        await expect(page.get_by_test_id("rec-state")).to_contain_text("正在征求同意")
        await expect(page.get_by_test_id("rec-agree")).to_have_text("同意")
        await expect(page.get_by_test_id("rec-refuse")).to_have_text("不同意")
    await expect(doctor.get_by_test_id("rec-stop")).to_have_text("停止录像")
    await expect(doctor.get_by_test_id("rec-start")).to_have_count(0)
    # The phone's answer buttons are big enough for an elderly finger.
    box = await resident.get_by_test_id("rec-agree").bounding_box()
    assert box is not None and box["height"] >= 48, box
    await screenshot(resident, "recording-consent-resident-phone")
    await screenshot(doctor, "recording-consent-doctor-desktop")

    # In English, the card shows the server's English words; back to Chinese.
    await resident.get_by_test_id("lang-switch").click()
    await expect(resident.get_by_test_id("rec-consent-text")).to_contain_text("kept encrypted for 3 years")
    await expect(resident.get_by_test_id("rec-agree")).to_have_text("I agree")
    await resident.get_by_test_id("lang-switch").click()
    await expect(resident.get_by_test_id("rec-agree")).to_have_text("同意")

    # The doctor agrees first: the resident's page names whom it still waits for (the resident).
    await doctor.get_by_test_id("rec-agree").click()
    await expect(doctor.get_by_test_id("rec-consent")).to_have_count(0)
    await expect(doctor.get_by_test_id("rec-state")).to_have_text("正在征求同意：等待 刘德明")
    await expect(doctor.get_by_test_id("rec-state")).not_to_contain_text("正在录像")
    await resident.get_by_test_id("rec-agree").click()
    started = asyncio.get_running_loop().time()
    for page in (doctor, resident):
        await expect(page.get_by_test_id("rec-state")).to_have_text("正在录像")
        await expect(page.locator('[data-testid="rec-state"] .rec-dot')).to_be_visible()
        await expect(page.get_by_test_id("rec-consent")).to_have_count(0)
        await expect(page.get_by_test_id("rec-withdraw")).to_have_text("撤回同意")
    await screenshot(resident, "recording-running-resident-phone")
    await screenshot(doctor, "recording-running-doctor-desktop")

    # It records, and the call goes on meanwhile.
    await _receiving(doctor, {"resident"})
    await asyncio.sleep(max(0.0, RECORD_S - (asyncio.get_running_loop().time() - started)))
    assert await _recording_line(resident) == "正在录像"

    # The resident withdraws: the doctor's page says it is paused, and for whom, within 2 seconds.
    await resident.get_by_test_id("rec-withdraw").click()
    withdrawn = asyncio.get_running_loop().time()
    await expect(doctor.get_by_test_id("rec-state")).to_have_text(
        "录像已暂停：等待 刘德明 同意", timeout=2_000
    )
    recorded_s = asyncio.get_running_loop().time() - started
    assert asyncio.get_running_loop().time() - withdrawn < 2
    await expect(resident.get_by_test_id("rec-state")).to_contain_text("录像已暂停")
    await expect(resident.get_by_test_id("rec-note")).to_contain_text("您已撤回同意")
    await expect(resident.get_by_test_id("rec-agree")).to_have_text("改为同意")
    await screenshot(doctor, "recording-paused-doctor-desktop")
    await screenshot(resident, "recording-paused-resident-phone")

    # The doctor ends the consult, which ends the recording.
    await doctor.get_by_test_id("hang-up").click()
    await doctor.get_by_test_id("hang-up-confirm").click()
    await expect(doctor.get_by_test_id("room-state-main")).to_have_text("问诊已结束")
    await expect(resident.get_by_test_id("room-state-main")).to_have_text("问诊已结束")
    for page in (doctor, resident):
        await expect(page.get_by_test_id("error")).to_be_hidden()

    # What was stored: every participant's audio and video, encrypted, decodable, ~as long as it ran.
    sessions, blobs = app[keys.SESSIONS], app[keys.BLOBS]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while True:  # the end of the consult stops the recording once the last segments are written
        async with sessions() as session:
            row = await session.scalar(select(RecordingRow).where(RecordingRow.consult_id == consult_id))
        if row is not None and row.status == "ended":
            break
        assert loop.time() < deadline, f"the recording did not end: {row and row.status}"
        await asyncio.sleep(0.2)
    assert row.complete, row.timeline
    kinds = [entry["kind"] for entry in row.timeline]
    assert kinds[:2] == ["requested", "started"] and "paused" in kinds and kinds[-1] == "stopped", kinds

    async with sessions() as session:
        tracks = (
            await session.scalars(select(RecordingTrackRow).where(RecordingTrackRow.recording_id == row.id))
        ).all()
        assert sorted(t.kind for t in tracks) == ["audio", "audio", "video", "video"], [
            (t.user_id, t.kind) for t in tracks
        ]
        assert len({t.user_id for t in tracks}) == 2
        for track in tracks:
            segments = (
                await session.scalars(
                    select(RecordingSegmentRow)
                    .where(RecordingSegmentRow.track_id == track.id)
                    .order_by(RecordingSegmentRow.seq)
                )
            ).all()
            assert len(segments) >= 3, f"{track.kind} of user {track.user_id}: {len(segments)} segments"
            pieces = [(s.start_ms, await blobs.get(session, s.blob_id)) for s in segments]
            joined = join_segments(pieces)
            codec, span_s, frames = _decoded_seconds(joined)
            assert codec == ("vp8" if track.kind == "video" else "opus")
            what = f"{track.kind} of user {track.user_id}: {span_s:.1f} s, {frames} frames"
            assert 7 <= span_s <= 14, what
            assert 7 <= duration_s(joined) <= 14, f"{what}; the container says {duration_s(joined):.1f} s"
            assert abs(span_s - recorded_s) < 4, f"{what}; recorded for about {recorded_s:.1f} s"
            # Frames throughout, not a few at each end: audio every 20 ms, video at several per second.
            assert frames >= span_s * (30 if track.kind == "audio" else 4), what
