"""Real Chromium: the resident gives standing consent to recording follow-ups on their home page (a
large, plain card, Chinese first), the doctor sees it on the record, the resident withdraws it; a
family member gives it for the person they act for. Screenshots go to test-artifacts/."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, expect
from sqlalchemy import select

from consult.recording import (
    CONSENT_TEXT_VERSION,
    STANDING_TEXT_VERSION,
    ConsentRecord,
    Decision,
    RecordingStatus,
    TimelineEntry,
    TimelineKind,
    standing_mark,
)
from storage import recordings, standing_consents
from storage.models import ConsultRow, UserRow
from tests.conftest import NOW, TODAY
from tests.web.conftest import login_page, screenshot
from tests.web.helpers import audit_rows
from web import keys
from web.app import create_app
from web.settings import Settings

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("backend", ["sqlite"], indirect=True)]

PHONE = {"width": 390, "height": 844}


async def test_the_resident_gives_and_withdraws_it_and_the_doctor_sees_it(
    browser: Browser, base_url: str, settings: Settings
) -> None:
    page = await login_page(browser, base_url, "resident", PHONE)
    await page.wait_for_url(f"{base_url}/home")
    card = page.get_by_test_id("standing-consent")
    await expect(card.get_by_test_id("standing-status")).to_have_attribute("data-in-force", "false")
    await expect(card.get_by_test_id("standing-text")).to_contain_text("3 年后销毁")
    await expect(card.get_by_test_id("standing-text")).to_contain_text("质控人员")
    give = card.get_by_test_id("standing-give")
    await expect(give).to_have_text("我同意随访录像")
    # Large enough for an elderly reader's thumb and eyes.
    box = await give.bounding_box()
    assert box is not None and box["height"] >= 48
    size = await card.get_by_test_id("standing-text").evaluate(
        "e => parseFloat(getComputedStyle(e).fontSize)"
    )
    assert size >= 20
    await give.click()
    await expect(card.get_by_test_id("standing-status")).to_have_attribute("data-in-force", "true")
    await expect(card.get_by_test_id("standing-status")).to_contain_text(TODAY.isoformat())
    await expect(card.get_by_test_id("standing-done")).to_contain_text("已记录您的同意")
    await screenshot(page, "resident-standing-consent-given")

    doctor = await login_page(browser, base_url, "doctor", {"width": 1280, "height": 900})
    resident_id = (await audit_rows(settings.database_url, action="give"))[0].resident_id
    await doctor.goto(f"{base_url}/residents/{resident_id}")
    badge = doctor.get_by_test_id("record-standing")
    await expect(badge).to_have_attribute("data-in-force", "true")
    await expect(badge).to_contain_text("已同意")
    await screenshot(doctor, "doctor-record-standing-consent")

    await card.get_by_test_id("standing-withdraw").click()
    await expect(card.get_by_test_id("standing-status")).to_have_attribute("data-in-force", "false")
    await expect(card.get_by_test_id("standing-done")).to_contain_text("以后每次随访录像前都会先问您")
    await doctor.reload()
    await expect(doctor.get_by_test_id("record-standing")).to_have_attribute("data-in-force", "false")
    await page.get_by_test_id("lang-switch").click()
    await expect(card.get_by_test_id("standing-give")).to_have_text("I agree to my follow-ups being recorded")
    await expect(card.get_by_test_id("standing-text")).to_contain_text("3 years")


async def test_a_family_member_gives_it_for_the_person_they_act_for(browser: Browser, base_url: str) -> None:
    page = await login_page(browser, base_url, "proxy", PHONE)
    await page.wait_for_url(f"{base_url}/home")
    card = page.get_by_test_id("standing-consent")
    await expect(card).to_contain_text("赵秀兰的随访录像")
    await card.get_by_test_id("standing-give").click()
    await expect(card.get_by_test_id("standing-status")).to_have_attribute("data-in-force", "true")
    await expect(card.get_by_test_id("standing-status")).to_contain_text("由赵磊")
    await expect(card.get_by_test_id("standing-withdraw")).to_contain_text("替赵秀兰取消")
    await screenshot(page, "proxy-standing-consent-given")


@pytest.fixture
async def standing_recording(settings: Settings, aiohttp_server: Any) -> tuple[str, int]:
    """The app with a recording of 刘德明's follow-up whose resident answer came from his standing consent."""
    server: TestServer = await aiohttp_server(create_app(settings, clock=lambda: NOW))
    app = server.app
    async with app[keys.SESSIONS]() as session, session.begin():
        user = await session.scalar(select(UserRow).where(UserRow.username == "resident"))
        doctor = await session.scalar(select(UserRow).where(UserRow.username == "doctor"))
        assert user is not None and doctor is not None and user.resident_id is not None
        contract_id = await standing_consents.contract_in_force(session, user.resident_id, TODAY)
        assert contract_id is not None
        given = await standing_consents.give(
            session,
            resident_id=user.resident_id,
            contract_id=contract_id,
            by_user_id=user.id,
            text_version=STANDING_TEXT_VERSION,
            now=NOW - timedelta(days=7),
        )
        consult = ConsultRow(
            kind="follow_up", mode="video", resident_id=user.resident_id, status="ended", created_by=doctor.id
        )
        session.add(consult)
        await session.flush()
        rec = await recordings.request(
            session, app[keys.BLOBS], consult_id=consult.id, requested_by=doctor.id, now=NOW
        )
        await recordings.add_consent(
            session, ConsentRecord(consult.id, doctor.id, Decision.GRANTED, NOW, CONSENT_TEXT_VERSION), rec.id
        )
        taken = ConsentRecord(
            consult.id, user.id, Decision.GRANTED, NOW, STANDING_TEXT_VERSION, standing_consent_id=given.id
        )
        await recordings.add_consent(session, taken, rec.id)
        recordings.mark(rec, RecordingStatus.WAITING, standing_mark(taken))
        recordings.mark(rec, RecordingStatus.ENDED, TimelineEntry(NOW, TimelineKind.STOPPED, "问诊结束"))
        rec.ended_at, rec.complete = NOW, True
    return str(server.make_url("")).rstrip("/"), rec.id


async def test_compliance_sees_which_consent_came_from_the_standing_consent(
    browser: Browser, standing_recording: tuple[str, int]
) -> None:
    base_url, recording_id = standing_recording
    page = await login_page(browser, base_url, "compliance", {"width": 1280, "height": 900})
    await page.goto(f"{base_url}/review/{recording_id}")
    rows = page.get_by_test_id("consent-row")
    await expect(rows).to_have_count(2)
    resident_row = rows.filter(has_text="刘德明")
    await expect(resident_row).to_contain_text(STANDING_TEXT_VERSION)
    await expect(resident_row.get_by_test_id("consent-standing")).to_have_text("签约长期同意")
    await expect(rows.filter(has_text="王建国").get_by_test_id("consent-standing")).to_have_count(0)
    mark = page.locator('[data-testid="timeline-mark"][data-kind="standing_consent"]')
    await expect(mark).to_contain_text("按签约长期同意")
    await expect(mark).to_contain_text("刘德明")
    await screenshot(page, "review-standing-consent")
