"""Real Chromium: the resident gives standing consent to recording follow-ups on their home page (a
large, plain card, Chinese first), the doctor sees it on the record, the resident withdraws it; a
family member gives it for the person they act for. Screenshots go to test-artifacts/."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from tests.conftest import TODAY
from tests.web.conftest import login_page, screenshot
from tests.web.helpers import audit_rows
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
