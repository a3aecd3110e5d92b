"""Real Chromium with a fake camera and microphone against the app with one media worker: video
consults through the server's relay, one browser context per participant.

A 1:1 follow-up (the resident checks in, the doctor admits, both see and hear each other, mute and
audio only show on the other side and audio only stops the video sent to the resident while the sound
goes on, the doctor documents the visit during the call and ends it, the next follow-up date shows) and a three-party
referral consult (the resident's son as proxy, the family doctor, a specialist from the invite link;
all three see each other; the specialist leaves and their tile disappears). Whether media arrives is
read from each page's `getStats()` (inbound-rtp framesDecoded, audio packetsReceived) and from the
tiles' <video> elements. Screenshots go to test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, Page, expect

from storage.demo import DEMO_PASSWORD
from tests.conftest import TODAY
from tests.web.conftest import login_page, screenshot

pytestmark = [pytest.mark.browser]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
#: Frames and audio packets each page must have received from each other participant.
FRAMES, PACKETS = 20, 20


@pytest.fixture
def backend() -> str:
    """The call pages do not depend on the database: SQLite only."""
    return "sqlite"


async def _api_token(http: aiohttp.ClientSession, username: str) -> dict[str, str]:
    login = await http.post("/api/auth/login", json={"username": username, "password": DEMO_PASSWORD})
    assert login.status == 200, await login.text()
    return {"Authorization": f"Bearer {(await login.json())['access_token']}"}


async def _new_consult(http: aiohttp.ClientSession, auth: dict[str, str], **body: Any) -> int:
    """A consult made by the doctor through the API; its id."""
    created = await http.post("/api/consults", json={"mode": "video", **body}, headers=auth)
    assert created.status == 201, await created.text()
    return int((await created.json())["id"])


async def _inbound(page: Page) -> dict[str, dict[str, Any]]:
    """What the page receives, by the sender's role: getStats inbound-rtp, summed per participant."""
    got = await page.evaluate("async () => window.jiayiCall ? await window.jiayiCall.inbound() : {}")
    return {entry["role"]: entry for entry in got.values()}


async def _receiving(page: Page, roles: set[str], *, within_s: float = 25) -> dict[str, dict[str, Any]]:
    """Poll until the page decodes video frames and gets audio packets from each of `roles`; then
    again until the frame counts have grown (the video keeps playing, not one stuck frame)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    first: dict[str, dict[str, Any]] = {}

    def enough(by_role: dict[str, dict[str, Any]], frames: dict[str, int]) -> bool:
        return all(
            role in by_role
            and by_role[role]["framesDecoded"] >= frames.get(role, FRAMES)
            and by_role[role]["audioPackets"] >= PACKETS
            for role in roles
        )

    while True:
        by_role = await _inbound(page)
        if not first and enough(by_role, {}):
            first = by_role
        if first and enough(by_role, {r: first[r]["framesDecoded"] + 10 for r in roles}):
            return by_role
        if loop.time() > deadline:
            status = await page.evaluate("() => window.jiayiCall?.status()")
            raise AssertionError(f"{page.url}: no media from {sorted(roles)} ({status}): {by_role}")
        await asyncio.sleep(0.25)


async def _tiles_show_video(page: Page, roles: set[str]) -> None:
    """Each of `roles` has a tile whose <video> has a picture (the page draws what it decodes)."""
    for role in roles:
        tile = page.locator(f'[data-testid="call-tile"][data-role="{role}"]')
        await expect(tile).to_have_count(1)
        await expect(tile).to_be_visible()
        width = await tile.locator("video").evaluate("v => v.videoWidth")
        assert width > 0, f"{page.url}: the {role}'s tile shows no picture"


async def _admit(doctor: Page, base_url: str, consult_id: int, name: str) -> None:
    """The doctor admits the waiting resident from the inbox's queue and lands in the consult."""
    await doctor.goto(f"{base_url}/inbox")
    entry = doctor.locator(f'[data-testid="queue-entry"][data-consult-id="{consult_id}"]')
    await expect(entry).to_contain_text(name)
    await entry.get_by_test_id("admit").click()
    await doctor.wait_for_url(f"{base_url}/consults/{consult_id}")


async def test_follow_up_call_documented_during_the_call(media_base_url: str, media_browser: Browser) -> None:
    base_url = media_base_url
    async with aiohttp.ClientSession(base_url) as http:
        auth = await _api_token(http, "doctor")
        record = await (await http.get("/api/residents/2", headers=auth)).json()  # 刘德明
        condition = next(c for c in record["conditions"] if c["diagnosed_offline"])
        task = record["due_tasks"][0]
        consult_id = await _new_consult(
            http,
            auth,
            resident_id=2,
            kind="follow_up",
            condition_id=condition["id"],
            followup_task_id=task["id"],
        )

        # The resident opens the consult on their phone and waits; the doctor admits them.
        resident = await login_page(media_browser, base_url, "resident", PHONE)
        await resident.goto(f"{base_url}/consults/{consult_id}")
        await expect(resident.get_by_test_id("room-state-main")).to_have_text("正在等待医生接诊…")
        doctor = await login_page(media_browser, base_url, "doctor", DESKTOP)
        await _admit(doctor, base_url, consult_id, "刘德明")

        # Both see and hear each other through the relay.
        await expect(resident.get_by_test_id("call-state")).to_have_text("已接通", timeout=20_000)
        await expect(doctor.get_by_test_id("call-state")).to_have_text("已接通", timeout=20_000)
        await _receiving(resident, {"doctor"})
        await _receiving(doctor, {"resident"})
        await _tiles_show_video(resident, {"doctor"})
        await _tiles_show_video(doctor, {"resident"})
        await expect(resident.get_by_test_id("call-tile")).to_contain_text("王建国 医生")
        await expect(doctor.get_by_test_id("call-tile")).to_contain_text("刘德明")
        await expect(doctor.get_by_test_id("call-self")).to_be_visible()

        # The resident mutes: the doctor's tile of them says so.
        await resident.get_by_test_id("call-mic").click()
        await expect(resident.get_by_test_id("call-mic")).to_have_text("取消静音")
        await expect(doctor.get_by_test_id("call-tile").get_by_test_id("call-muted")).to_be_visible()
        await resident.get_by_test_id("call-mic").click()
        await expect(doctor.get_by_test_id("call-tile").get_by_test_id("call-muted")).to_have_count(0)

        # On a weak line the resident goes audio only: the doctor sees their camera is off, the server
        # stops sending them video, and they go on hearing the doctor; then video comes back.
        await resident.get_by_test_id("call-audio-only").click()
        await expect(doctor.get_by_test_id("call-tile").get_by_test_id("call-camera-off")).to_be_visible()
        await expect(resident.get_by_test_id("call-video-again")).to_be_visible()
        await asyncio.sleep(1.0)  # what was already on its way arrives
        before = (await _inbound(resident))["doctor"]
        await asyncio.sleep(2.0)
        after = (await _inbound(resident))["doctor"]
        assert after["framesDecoded"] - before["framesDecoded"] <= 2, (before, after)
        assert after["audioPackets"] - before["audioPackets"] >= 60, (before, after)  # Opus: 50 a second
        await resident.get_by_test_id("call-video-again").click()
        await expect(doctor.get_by_test_id("call-tile").get_by_test_id("call-camera-off")).to_have_count(0)
        await _receiving(resident, {"doctor"})

        # Beside the video: the resident's record in short; the doctor documents the visit.
        summary = doctor.get_by_test_id("call-record")
        await expect(summary.get_by_test_id("call-condition")).to_contain_text(condition["name"])
        await expect(summary.get_by_test_id("call-due-task")).to_be_visible()
        note = doctor.get_by_test_id("note")
        await note.get_by_test_id("note-subjective").fill("近两周早晨头晕，按时服药。")
        await note.get_by_test_id("note-systolic_mmhg").fill("400")
        await note.get_by_test_id("note-save").click()
        await expect(note.get_by_test_id("error-systolic_mmhg")).to_have_text("不能大于 300")
        await expect(note.get_by_test_id("note-saved")).to_have_count(0)
        await note.get_by_test_id("note-systolic_mmhg").fill("152")
        await note.get_by_test_id("note-diastolic_mmhg").fill("94")
        await note.get_by_test_id("note-heart_rate_bpm").fill("78")
        await note.get_by_test_id("note-assessment").fill("高血压，控制欠佳。")
        await note.get_by_test_id("note-plan").fill("氨氯地平加量，每日早晚自测血压。")
        next_visit = TODAY + timedelta(days=28)
        await note.get_by_test_id("note-next_visit_on").fill(next_visit.isoformat())
        await note.get_by_test_id("note-save").click()
        await expect(note.get_by_test_id("note-saved")).to_contain_text("已保存")
        await expect(note.get_by_test_id("error-systolic_mmhg")).to_have_count(0)
        # The call went on while the doctor wrote.
        await _receiving(doctor, {"resident"})
        await screenshot(doctor, "call-followup-doctor-desktop")
        await screenshot(resident, "call-followup-resident-phone")

        # One red button each: the call's (the room's own end and leave buttons are not shown too).
        await expect(doctor.get_by_role("button", name="结束问诊")).to_have_count(1)
        await expect(resident.get_by_role("button", name="挂断")).to_have_count(1)
        await expect(resident.get_by_test_id("leave")).to_have_count(0)
        # The doctor hangs up (asked once more): the follow-up is done and the next one is due.
        await doctor.get_by_test_id("hang-up").click()
        await doctor.get_by_test_id("hang-up-confirm").click()
        await expect(doctor.get_by_test_id("room-state-main")).to_have_text("问诊已结束")
        await expect(doctor.get_by_test_id("next-followup")).to_have_text(
            f"下次随访日期：{next_visit.isoformat()}"
        )
        await expect(resident.get_by_test_id("room-state-main")).to_have_text("问诊已结束")
        await expect(resident.get_by_test_id("next-followup")).to_contain_text(next_visit.isoformat())
        for page in (doctor, resident):
            await expect(page.get_by_test_id("error")).to_be_hidden()
            assert await page.evaluate("() => window.jiayiCall === undefined")  # all closed
        await screenshot(doctor, "call-followup-ended-doctor-desktop")
        await screenshot(resident, "call-followup-ended-resident-phone")

        saved = await (await http.get(f"/api/consults/{consult_id}", headers=auth)).json()
        assert saved["status"] == "ended"
        assert saved["note"]["vitals"]["systolic_mmhg"] == 152
        assert saved["note"]["vitals"]["diastolic_mmhg"] == 94


async def test_referral_consult_with_three_and_a_leaver(media_base_url: str, media_browser: Browser) -> None:
    base_url = media_base_url
    async with aiohttp.ClientSession(base_url) as http:
        auth = await _api_token(http, "doctor")
        record = await (await http.get("/api/residents/1", headers=auth)).json()  # 赵秀兰
        referral = record["referrals"][0]
        consult_id = await _new_consult(
            http, auth, resident_id=1, kind="referral", referral_id=referral["id"]
        )

    # 赵秀兰's son checks in for her from his phone; the family doctor admits him.
    proxy = await login_page(media_browser, base_url, "proxy", PHONE)
    await proxy.goto(f"{base_url}/consults/{consult_id}")
    await expect(proxy.get_by_test_id("room-state-main")).to_have_text("正在等待医生接诊…")
    doctor = await login_page(media_browser, base_url, "doctor", DESKTOP)
    await _admit(doctor, base_url, consult_id, "赵秀兰")

    # The doctor's page makes the invite link; the specialist's page opens it and joins.
    await doctor.get_by_test_id("invite-button").click()
    link = await doctor.get_by_test_id("invite-link").input_value()
    assert f"{base_url}/join/" in link
    specialist = await login_page(media_browser, base_url, "specialist", DESKTOP)
    await specialist.goto(link)
    await specialist.wait_for_url(f"{base_url}/consults/{consult_id}")

    # All three see and hear each other.
    pages = {"proxy": proxy, "doctor": doctor, "specialist": specialist}
    for role, page in pages.items():
        others = set(pages) - {role}
        await _receiving(page, others, within_s=30)
        await _tiles_show_video(page, others)
        await expect(page.get_by_test_id("call-state")).to_have_text("已接通")
    await expect(specialist.get_by_test_id("call-tile").filter(has_text="赵磊")).to_be_visible()
    # The specialist has the part of the record the referral shares.
    await expect(specialist.get_by_test_id("call-record").get_by_test_id("call-referral")).to_contain_text(
        "血压控制不佳"
    )
    await expect(specialist.get_by_test_id("note")).to_have_count(0)
    await screenshot(proxy, "call-referral-proxy-phone")
    await screenshot(doctor, "call-referral-doctor-desktop")
    await screenshot(specialist, "call-referral-specialist-desktop")

    # The specialist hangs up and leaves: their tile disappears from the others' pages.
    await specialist.get_by_test_id("hang-up").click()
    await specialist.get_by_test_id("hang-up-confirm").click()
    await expect(specialist.get_by_test_id("room-state-main")).to_have_text("您已离开问诊")
    for page in (proxy, doctor):
        await expect(page.locator('[data-testid="call-tile"][data-role="specialist"]')).to_have_count(0)
        await expect(page.get_by_test_id("call-tile")).to_have_count(1)
    # The two left keep talking.
    await _receiving(proxy, {"doctor"})
    await _receiving(doctor, {"proxy"})
    await screenshot(proxy, "call-referral-after-leave-proxy-phone")
    await screenshot(doctor, "call-referral-after-leave-doctor-desktop")


async def test_a_resident_who_denies_camera_and_microphone_still_sees_and_hears_the_doctor(
    media_base_url: str, media_browser: Browser, denying_browser: Browser
) -> None:
    base_url = media_base_url
    async with aiohttp.ClientSession(base_url) as http:
        auth = await _api_token(http, "doctor")
        consult_id = await _new_consult(http, auth, resident_id=2, kind="advice")

    resident = await login_page(denying_browser, base_url, "resident", PHONE)
    await resident.goto(f"{base_url}/consults/{consult_id}")
    await expect(resident.get_by_test_id("room-state-main")).to_have_text("正在等待医生接诊…")
    doctor = await login_page(media_browser, base_url, "doctor", DESKTOP)
    await _admit(doctor, base_url, consult_id, "刘德明")

    # The page says plainly what happened and what to do; the call goes on one way.
    await expect(resident.get_by_test_id("call-device-note")).to_contain_text(
        "没有得到摄像头和麦克风的使用许可", timeout=20_000
    )
    await _receiving(resident, {"doctor"})
    await _tiles_show_video(resident, {"doctor"})
    # The doctor sees that the resident sends neither sound nor picture, and can write to them.
    tile = doctor.locator('[data-testid="call-tile"][data-role="resident"]')
    await expect(tile.get_by_test_id("call-muted")).to_be_visible(timeout=20_000)
    await expect(tile.get_by_test_id("call-camera-off")).to_be_visible()
    await expect(resident.get_by_test_id("call-mic")).to_be_disabled()
    await screenshot(resident, "call-denied-devices-resident-phone")
    await screenshot(doctor, "call-denied-devices-doctor-desktop")
