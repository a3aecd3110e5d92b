"""Real Chromium: the compliance officer's review filters offer every doctor and resident the
recordings name, even on a fresh tab whose first list is already filtered to one resident."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, expect
from sqlalchemy import select

from storage import recordings
from storage.models import ConsultRow, UserRow
from tests.conftest import NOW
from tests.web.conftest import login_page, screenshot
from web import keys
from web.app import create_app
from web.settings import Settings

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("backend", ["sqlite"], indirect=True)]


@pytest.fixture
async def two_recordings(settings: Settings, aiohttp_server: Any) -> tuple[str, int]:
    """The app with two recordings: 刘德明's asked for by 王建国, another resident's by 李敏.
    Returns the base URL and 刘德明's resident id."""
    server: TestServer = await aiohttp_server(create_app(settings, clock=lambda: NOW))
    app = server.app
    async with app[keys.SESSIONS]() as session, session.begin():
        users = {u.username: u for u in await session.scalars(select(UserRow))}
        liu = users["resident"].resident_id
        assert liu is not None
        for resident_id, doctor in ((liu, "doctor"), (None, "doctor2")):
            stmt = select(ConsultRow).where(
                ConsultRow.resident_id == resident_id if resident_id else ConsultRow.resident_id != liu
            )
            consult = await session.scalar(stmt.limit(1))
            if consult is None:
                consult = ConsultRow(
                    kind="follow_up",
                    mode="video",
                    resident_id=liu,
                    status="ended",
                    created_by=users[doctor].id,
                )
                session.add(consult)
                await session.flush()
            await recordings.request(
                session, app[keys.BLOBS], consult_id=consult.id, requested_by=users[doctor].id, now=NOW
            )
    return str(server.make_url("")).rstrip("/"), liu


async def test_the_filters_offer_people_no_list_has_shown_yet(
    browser: Browser, two_recordings: tuple[str, int]
) -> None:
    base_url, liu = two_recordings
    page = await login_page(browser, base_url, "compliance", {"width": 1280, "height": 900})
    await page.goto(f"{base_url}/review?resident_id={liu}")
    await expect(page.get_by_test_id("recording-row")).to_have_count(1)
    doctors = page.get_by_test_id("filter-doctor").locator("option")
    await expect(doctors).to_contain_text(["李敏 医生", "王建国 医生"])
    residents = page.get_by_test_id("filter-resident").locator("option")
    assert await residents.count() == 3  # "any", and the two residents recorded
    await page.get_by_test_id("filter-doctor").select_option(label="李敏 医生")
    await page.get_by_test_id("filter-resident").select_option(index=0)
    await page.get_by_test_id("filter-apply").click()
    await expect(page.get_by_test_id("recording-row")).to_have_count(1)
    await expect(page.get_by_test_id("recording-row")).to_contain_text("李敏")
    await screenshot(page, "review-filters-lookup")


async def test_a_name_search_narrows_the_menus_and_says_what_it_found(
    browser: Browser, two_recordings: tuple[str, int]
) -> None:
    base_url, _ = two_recordings
    page = await login_page(browser, base_url, "compliance", {"width": 1280, "height": 900})
    await page.goto(f"{base_url}/review")
    await expect(page.get_by_test_id("recording-row")).to_have_count(2)
    doctors = page.get_by_test_id("filter-doctor").locator("option")
    await expect(doctors).to_have_text(["全部", "李敏 医生", "王建国 医生"])
    note = page.get_by_test_id("people-note")

    await page.get_by_test_id("find-name").fill("李")
    await page.get_by_test_id("find-name").press("Enter")  # a search, not the list's filters
    await expect(doctors).to_have_text(["全部", "李敏 医生"])
    await expect(note).to_contain_text("找到医生 1 位")
    await expect(page.get_by_test_id("recording-row")).to_have_count(2)
    assert "doctor_id" not in page.url and "q=" not in page.url

    await page.get_by_test_id("find-name").fill("欧阳")
    await page.get_by_test_id("find-name-button").click()
    await expect(note).to_have_text("没有找到姓名含“欧阳”的医生或居民。")
    await expect(doctors).to_have_text(["全部"])

    await page.get_by_test_id("find-name").fill("")
    await page.get_by_test_id("find-name-button").click()
    await expect(doctors).to_have_text(["全部", "李敏 医生", "王建国 医生"])
    await expect(note).to_have_text("")
    await screenshot(page, "review-find-name")
