"""Real Chromium reviews a real recording: the compliance officer finds it in /review, states a purpose,
plays the participants' tracks in sync, seeks from the timeline, sets a legal hold, and sees the view in
the access trail. Screenshots go to test-artifacts/ for a person to look at."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select

from consult.recording import (
    CONSENT_TEXT_VERSION,
    ConsentRecord,
    Decision,
    RecordingStatus,
    TimelineEntry,
    TimelineKind,
)
from media.forwarding import EncodedFrame
from media.recorder import Segment, TrackRecorder
from storage import recordings
from storage.models import ConsultRow, UserRow
from tests.conftest import NOW
from tests.media.test_recorder import OPUS, VP8, _encoded
from tests.web.conftest import login_page, screenshot
from web import keys
from web.app import create_app
from web.settings import Settings

pytestmark = pytest.mark.browser

SECONDS = 5.0
#: When the recording started, well before the run's clock (the app's "now").
STARTED = NOW - timedelta(minutes=20)


@pytest.fixture
def backend() -> str:
    """Playback does not depend on the database: SQLite only."""
    return "sqlite"


def _segments(codec: Any, kind: str) -> list[Segment]:
    out: list[Segment] = []
    recorder = TrackRecorder(
        codec, recording_started=0.0, on_segment=out.append, request_keyframe=lambda: None, segment_s=1.0
    )
    for data, pts, key in _encoded(kind, SECONDS):
        recorder.push(EncodedFrame(data, pts, key, pts / codec.clock_rate, 0))
    recorder.close()
    return out


async def _recording(app: web.Application) -> tuple[int, str]:
    """A finished 5 s recording of a consult of the demo resident: the doctor's and the resident's
    video and audio, with a pause on its timeline. Returns its id and the resident's name."""
    blobs = app[keys.BLOBS]
    async with app[keys.SESSIONS]() as session, session.begin():
        user = await session.scalar(select(UserRow).where(UserRow.username == "resident"))
        doctor = await session.scalar(select(UserRow).where(UserRow.username == "doctor"))
        assert user is not None and doctor is not None and user.resident_id is not None
        row = ConsultRow(
            kind="follow_up", mode="video", resident_id=user.resident_id, status="ended", created_by=doctor.id
        )
        session.add(row)
        await session.flush()
        rec = await recordings.request(
            session, blobs, consult_id=row.id, requested_by=doctor.id, now=STARTED - timedelta(seconds=20)
        )
        for uid in (doctor.id, user.id):
            await recordings.add_consent(
                session, ConsentRecord(row.id, uid, Decision.GRANTED, STARTED, CONSENT_TEXT_VERSION), rec.id
            )
        marks = [
            (RecordingStatus.RUNNING, TimelineKind.STARTED, 0.0, ""),
            (RecordingStatus.PAUSED, TimelineKind.PAUSED, 2.0, "居民网络中断"),
            (RecordingStatus.RUNNING, TimelineKind.RESUMED, 3.0, ""),
            (RecordingStatus.ENDED, TimelineKind.STOPPED, SECONDS, "问诊结束"),
        ]
        for status, mark, at_s, reason in marks:
            recordings.mark(rec, status, TimelineEntry(STARTED + timedelta(seconds=at_s), mark, reason))
        for uid in (doctor.id, user.id):
            for codec, kind in ((VP8, "video"), (OPUS, "audio")):
                track = await recordings.track(session, rec.id, uid, kind, codec.name, "webm")
                for segment in _segments(codec, kind):
                    blob = await blobs.put(session, segment.data, segment.content_type, key_id=rec.key_id)
                    await recordings.add_segment(
                        session, track.id, segment.seq, blob.id, segment.start_ms, segment.duration_ms
                    )
        rec.complete, rec.ended_at = True, STARTED + timedelta(seconds=SECONDS)
        name = await session.scalar(select(UserRow.display_name).where(UserRow.id == user.id))
        return rec.id, str(name or "")


@pytest.fixture
async def review_server(settings: Settings, aiohttp_server: Any) -> tuple[str, int, str]:
    """The app on this test's database (the run's fixed clock), holding one recording."""
    server: TestServer = await aiohttp_server(create_app(settings, clock=lambda: NOW))
    recording_id, resident_name = await _recording(server.app)
    return str(server.make_url("")).rstrip("/"), recording_id, resident_name


async def _login(browser: Browser, base_url: str, username: str, home: str = "/review") -> Page:
    page = await login_page(browser, base_url, username, {"width": 1440, "height": 1000})
    await page.wait_for_url(f"{base_url}{home}")
    return page


#: currentTime of every media element of the player, and the video's readyState.
MEDIA_STATE = """() => {
  const all = [...document.querySelectorAll('#player video, #player audio')];
  return {
    times: all.map((el) => el.currentTime),
    kinds: all.map((el) => el.tagName.toLowerCase()),
    paused: all.map((el) => el.paused),
    ready: Math.min(...all.filter((el) => el.tagName === 'VIDEO').map((el) => el.readyState)),
  };
}"""


async def test_compliance_reviews_plays_in_sync_and_holds_a_recording(
    browser: Browser, review_server: tuple[str, int, str]
) -> None:
    base_url, recording_id, resident = review_server
    page = await _login(browser, base_url, "compliance")

    # The list: the recording's row with its badges.
    await page.goto(f"{base_url}/review")
    row = page.locator(f'[data-testid="recording-row"][data-recording-id="{recording_id}"]')
    await expect(row).to_contain_text(resident)
    await expect(row).to_contain_text("复诊")
    await expect(row.get_by_test_id("consent-badge")).to_have_text("均已同意")
    await expect(row.get_by_test_id("hold-badge")).to_have_attribute("data-held", "false")
    await expect(row.get_by_test_id("complete-badge")).to_have_text("完整")
    await expect(row).to_contain_text("0:05")
    await screenshot(page, "review-list")

    # Filters live in the URL: held=true finds nothing yet.
    await page.get_by_test_id("filter-held").select_option("true")
    await page.get_by_test_id("filter-apply").click()
    await page.wait_for_url(f"{base_url}/review?held=true")
    await expect(page.get_by_test_id("empty")).to_be_visible()
    await page.go_back()
    await expect(row).to_be_visible()

    # One recording: a purpose before anything plays.
    await row.get_by_test_id("open-recording").click()
    await page.wait_for_url(f"{base_url}/review/{recording_id}")
    await expect(page.get_by_test_id("purpose-note")).to_contain_text("每次查看都会记录目的和查看人")
    await expect(page.locator("#player video")).to_have_count(0)
    await page.get_by_test_id("start-view").click()
    await expect(page.get_by_test_id("purpose-error")).to_be_visible()
    await expect(page.locator("#player video")).to_have_count(0)
    await page.get_by_test_id("purpose").fill("投诉核查")
    await page.get_by_test_id("start-view").click()
    await expect(page.locator("#player video")).to_have_count(2)
    await expect(page.locator("#player audio")).to_have_count(2)
    await expect(page.get_by_test_id("viewing")).to_contain_text("投诉核查")

    # Play: the videos have frames and time moves on.
    await page.get_by_test_id("play").click()
    await page.wait_for_function(
        "() => [...document.querySelectorAll('#player video')].every(v => v.readyState >= 2 && v.currentTime > 0.4)",
        timeout=10_000,
    )
    state = await page.evaluate(MEDIA_STATE)
    assert state["ready"] >= 2 and not any(state["paused"]), state
    first = max(state["times"])
    await page.wait_for_timeout(300)
    assert max((await page.evaluate(MEDIA_STATE))["times"]) > first

    # Seek from the timeline (the pause mark, 2 s in): every element follows and they stay together.
    marks = page.get_by_test_id("timeline-mark")
    await expect(marks).to_have_count(5)
    await (
        page.locator('[data-testid="timeline-mark"][data-kind="paused"]')
        .get_by_test_id("timeline-seek")
        .click()
    )
    await page.wait_for_timeout(600)
    state = await page.evaluate(MEDIA_STATE)
    assert all(2.0 <= t < SECONDS for t in state["times"]), state
    assert max(state["times"]) - min(state["times"]) <= 0.15, state
    assert not any(state["paused"]), state
    await page.get_by_test_id("play").click()  # pause
    await screenshot(page, "review-recording-playing")

    # A legal hold needs a reason; then the badge says held.
    await page.get_by_test_id("set-hold").click()
    await expect(page.get_by_test_id("hold-error")).to_be_visible()
    await page.get_by_test_id("hold-reason").fill("投诉 2026-031 调查中")
    await page.get_by_test_id("set-hold").click()
    await expect(page.get_by_test_id("hold-badge")).to_have_attribute("data-held", "true")
    await expect(page.get_by_test_id("hold-badge")).to_have_text("保留中")
    await expect(page.get_by_test_id("hold-row")).to_contain_text("投诉 2026-031 调查中")

    # The access trail lists the view with its purpose, and the hold.
    views = page.locator('[data-testid="access-row"][data-action="view"]')
    await expect(views).to_have_count(1)
    await expect(views).to_contain_text("投诉核查")
    await expect(views).to_contain_text("compliance")
    await expect(page.locator('[data-testid="access-row"][data-action="hold"]')).to_have_count(1)
    await expect(page.get_by_test_id("consent-row")).to_have_count(2)
    await screenshot(page, "review-recording")

    await page.get_by_test_id("lang-switch").click()
    await expect(page.get_by_test_id("hold-badge")).to_have_text("On hold")
    await screenshot(page, "review-recording-en")

    # Back in the list, the held filter now finds it.
    await page.goto(f"{base_url}/review?held=true")
    await expect(row.get_by_test_id("hold-badge")).to_have_attribute("data-held", "true")
    await expect(page.get_by_test_id("filter-held")).to_have_value("true")


async def test_a_resident_sees_their_recording_without_the_compliance_parts(
    browser: Browser, review_server: tuple[str, int, str]
) -> None:
    base_url, recording_id, resident = review_server
    page = await _login(browser, base_url, "resident", home="/home")
    await page.goto(f"{base_url}/review")
    row = page.locator(f'[data-testid="recording-row"][data-recording-id="{recording_id}"]')
    await expect(row).to_contain_text(resident)
    await row.get_by_test_id("open-recording").click()
    await page.wait_for_url(f"{base_url}/review/{recording_id}")
    await expect(page.get_by_test_id("recording-title")).to_contain_text(resident)
    await expect(page.get_by_test_id("purpose-note")).to_be_visible()
    await expect(page.get_by_test_id("consent-row")).to_have_count(2)
    for part in ("holds", "export", "access"):
        await expect(page.get_by_test_id(part)).to_be_hidden()
    await expect(page.get_by_test_id("set-hold")).to_have_count(0)
    await screenshot(page, "review-recording-resident")
