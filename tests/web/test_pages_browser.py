"""Real Chromium against the real app: the doctor finds a follow-up due; a resident is kept out of
another resident's record. Screenshots go to test-artifacts/ for a person to look at."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.async_api import Browser, expect

from tests.conftest import TODAY
from tests.web.conftest import login_page, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("backend", ["sqlite"], indirect=True)]


async def test_doctor_opens_a_record_and_sees_the_followup_due(browser: Browser, base_url: str) -> None:
    page = await login_page(browser, base_url, "doctor", {"width": 1280, "height": 900})
    await page.wait_for_url(f"{base_url}/workbench")
    due = page.get_by_test_id("due-list")
    await expect(due).to_contain_text("刘德明")
    await expect(page.get_by_test_id("consult-list")).to_contain_text("吴国强")
    await screenshot(page, "doctor-workbench")
    await due.get_by_text("刘德明").first.click()
    await page.wait_for_url(f"{base_url}/residents/*")
    await expect(page.get_by_test_id("record-name")).to_contain_text("刘德明")
    task = page.get_by_test_id("due-task").first
    await expect(task).to_contain_text("高血压随访")
    # Liu's first task fell due ten days before the run's "today" (plan started 100 days ago, every 90).
    await expect(task).to_contain_text((TODAY - timedelta(days=10)).isoformat())
    await screenshot(page, "doctor-record")
    await page.get_by_test_id("lang-switch").click()
    await expect(page.get_by_test_id("due-task").first).to_contain_text("Overdue")
    await screenshot(page, "doctor-record-en")


async def test_resident_cannot_open_another_residents_record(browser: Browser, base_url: str) -> None:
    page = await login_page(browser, base_url, "resident", {"width": 390, "height": 844})
    await page.wait_for_url(f"{base_url}/home")
    await expect(page.locator("main")).to_contain_text("刘德明")
    await expect(page.get_by_test_id("next-followup-date")).to_contain_text(
        (TODAY - timedelta(days=10)).isoformat()
    )
    await screenshot(page, "resident-home-phone")
    # 赵秀兰 is resident 1 in the demo data; 刘德明 is resident 2.
    await page.goto(f"{base_url}/residents/1")
    await expect(page.get_by_test_id("error")).to_be_visible()
    await expect(page.get_by_test_id("error")).to_contain_text("无权")
    await expect(page.get_by_text("赵秀兰")).to_have_count(0)
    await screenshot(page, "resident-refused-phone")
