"""Real Chromium with a fake camera and microphone: a follow-up call recorded on the resident's standing
consent. The resident gave it on the home page; in the call the doctor asks to record, only the doctor
is asked, and once the doctor agrees both pages show "正在录像". The resident's page says why they were
not asked and keeps the withdraw button; withdrawing pauses it on the doctor's page within 2 seconds."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from playwright.async_api import Browser, expect

from consult.recording import STANDING_TEXT_VERSION
from tests.web.conftest import login_page, screenshot
from tests.web.test_call_browser import DESKTOP, PHONE, _admit, _api_token, _receiving

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("backend", ["sqlite"], indirect=True)]


async def test_a_follow_up_recorded_on_the_standing_consent_can_still_be_withdrawn(
    media_base_url: str, media_browser: Browser
) -> None:
    base_url = media_base_url
    async with aiohttp.ClientSession(base_url) as http:
        resident_auth = await _api_token(http, "resident")
        me = await (await http.get("/api/me", headers=resident_auth)).json()
        given = await http.post(
            f"/api/residents/{me['resident_id']}/standing-consent",
            json={"text_version": STANDING_TEXT_VERSION},
            headers=resident_auth,
        )
        assert given.status == 201, await given.text()
        auth = await _api_token(http, "doctor")
        record = await (await http.get(f"/api/residents/{me['resident_id']}", headers=auth)).json()
        condition = next(c for c in record["conditions"] if c["diagnosed_offline"])
        created = await http.post(
            "/api/consults",
            json={
                "resident_id": me["resident_id"],
                "kind": "follow_up",
                "mode": "video",
                "condition_id": condition["id"],
            },
            headers=auth,
        )
        assert created.status == 201, await created.text()
        consult_id = (await created.json())["id"]

    resident = await login_page(media_browser, base_url, "resident", PHONE)
    await resident.goto(f"{base_url}/consults/{consult_id}")
    doctor = await login_page(media_browser, base_url, "doctor", DESKTOP)
    await _admit(doctor, base_url, consult_id, "刘德明")
    await _receiving(resident, {"doctor"})

    await doctor.get_by_test_id("rec-start").click()
    # Only the doctor is asked; the resident's page names whom it waits for, and why it did not ask.
    await expect(doctor.get_by_test_id("rec-consent")).to_be_visible()
    await expect(resident.get_by_test_id("rec-state")).to_contain_text("正在征求同意：等待 王建国")
    await expect(resident.get_by_test_id("rec-consent")).to_have_count(0)
    await expect(resident.get_by_test_id("rec-standing-note")).to_contain_text("您在签约时已同意随访录像")
    await doctor.get_by_test_id("rec-agree").click()
    for page in (doctor, resident):
        await expect(page.get_by_test_id("rec-state")).to_have_text("正在录像")
    withdraw = resident.get_by_test_id("rec-withdraw")
    await expect(withdraw).to_have_text("撤回同意")
    box = await withdraw.bounding_box()
    assert box is not None and box["height"] >= 48, box
    await screenshot(resident, "recording-standing-consent-resident-phone")

    await withdraw.click()
    withdrawn = asyncio.get_running_loop().time()
    await expect(doctor.get_by_test_id("rec-state")).to_have_text(
        "录像已暂停：等待 刘德明 同意", timeout=2_000
    )
    assert asyncio.get_running_loop().time() - withdrawn < 2
    await expect(resident.get_by_test_id("rec-note")).to_contain_text("您已撤回同意")
    await expect(resident.get_by_test_id("rec-standing-note")).to_have_count(0)
