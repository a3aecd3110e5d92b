"""Real Chromium against the real app's live pages: a resident and their family doctor message each
other (text and a photo), then meet in a consult: check-in, the waiting room, admission, the room's
chat, and the end. Screenshots go to test-artifacts/ for a person to look at."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Browser, expect

from storage.demo import DEMO_PASSWORD
from tests.web.conftest import login_page, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("backend", ["sqlite"], indirect=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
#: The resident's photo: a small PNG whose width the doctor's browser must decode.
PHOTO_WIDTH, PHOTO_HEIGHT = 48, 32


def png(width: int, height: int) -> bytes:
    """A plain red PNG image of the given size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xc8\x3c\x3c" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


async def test_resident_and_doctor_message_then_meet_in_a_consult(
    browser: Browser, base_url: str, tmp_path: Path
) -> None:
    doctor = await login_page(browser, base_url, "doctor", DESKTOP)
    await doctor.wait_for_url(f"{base_url}/workbench")
    await doctor.get_by_test_id("inbox-link").click()
    await doctor.wait_for_url(f"{base_url}/inbox")
    await expect(doctor.get_by_test_id("queue")).to_contain_text("现在没有人候诊")

    # The resident writes from their phone: a question, then a photo from the camera button.
    resident = await login_page(browser, base_url, "resident", PHONE)
    await resident.wait_for_url(f"{base_url}/home")
    await resident.get_by_test_id("open-chat").click()
    await resident.wait_for_url(f"{base_url}/chat")
    await resident.get_by_test_id("message-input").fill("王医生，我这两天早上起来有点头晕。")
    await resident.get_by_test_id("send").click()
    question = resident.locator('[data-testid="message"][data-own="true"]').filter(has_text="头晕")
    await expect(question).to_be_visible()
    photo = tmp_path / "blood-pressure-meter.png"
    photo.write_bytes(png(PHOTO_WIDTH, PHOTO_HEIGHT))
    await resident.get_by_test_id("image-input").set_input_files(photo)
    await expect(
        resident.locator('[data-testid="message"][data-kind="image"][data-own="true"]')
    ).to_be_visible()

    # The doctor's inbox shows the unread conversation; opening it shows both, the photo decoded.
    row = doctor.get_by_test_id("conversation-row").filter(has_text="刘德明")
    await expect(row.get_by_test_id("unread")).to_be_visible()
    await expect(row).to_contain_text("[图片]")
    await row.get_by_role("button").click()
    panel = doctor.get_by_test_id("conversation-panel")
    await expect(panel.get_by_test_id("message").filter(has_text="头晕")).to_be_visible()
    image = panel.locator('[data-testid="message"][data-kind="image"] img')
    await expect(image).to_be_visible()
    await doctor.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=await image.element_handle()
    )
    assert await image.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [PHOTO_WIDTH, PHOTO_HEIGHT]
    await expect(row.get_by_test_id("unread")).to_have_count(0)
    await panel.get_by_test_id("message-input").fill(
        "收到照片了。头晕时先坐下休息，明天上午来社区量一次血压。"
    )
    await panel.get_by_test_id("send").click()
    await screenshot(doctor, "live-inbox-desktop")

    # The resident sees the reply on the left, and that the doctor has read their question.
    reply = resident.locator('[data-testid="message"][data-own="false"]').filter(has_text="明天上午来社区")
    await expect(reply).to_be_visible()
    await expect(question.get_by_test_id("receipt")).to_have_text("已读")
    await screenshot(resident, "live-chat-phone")

    # An on-demand consult: the resident checks in from the banner of their chat and waits.
    async with aiohttp.ClientSession(base_url) as http:
        login = await http.post("/api/auth/login", json={"username": "doctor", "password": DEMO_PASSWORD})
        auth = {"Authorization": f"Bearer {(await login.json())['access_token']}"}
        created = await http.post(
            "/api/consults", json={"resident_id": 2, "kind": "advice", "mode": "video"}, headers=auth
        )
        assert created.status == 201, await created.text()
        consult_id = (await created.json())["id"]

        await resident.reload()
        await resident.get_by_test_id("check-in").click()
        await resident.wait_for_url(f"{base_url}/consults/{consult_id}")
        await expect(resident.get_by_test_id("room-state-main")).to_have_text("正在等待医生接诊…")
        await expect(resident.get_by_test_id("queue-position")).to_contain_text("前面")
        await screenshot(resident, "live-room-waiting-phone")

        # The doctor sees them waiting, with the time ticking, and admits them.
        entry = doctor.get_by_test_id("queue-entry").filter(has_text="刘德明")
        await expect(entry).to_contain_text("咨询")
        await expect(entry.get_by_test_id("waited")).to_contain_text("已等")
        await entry.get_by_test_id("admit").click()
        await doctor.wait_for_url(f"{base_url}/consults/{consult_id}")

        # Both are in the room, see each other there, and talk in its chat.
        await expect(doctor.get_by_test_id("room-state-main")).to_have_text("已进入诊室")
        await expect(resident.get_by_test_id("room-state-main")).to_have_text("已进入诊室")
        present = doctor.get_by_test_id("presence-member").filter(has_text="刘德明")
        await expect(present).to_contain_text("在线")
        await expect(doctor.get_by_test_id("video-area")).to_be_visible()
        await resident.get_by_test_id("message-input").fill("王医生您好，我准备好了。")
        await resident.get_by_test_id("send").click()
        room_chat = doctor.get_by_test_id("room-chat")
        await expect(room_chat.get_by_test_id("message").filter(has_text="我准备好了")).to_be_visible()
        await room_chat.get_by_test_id("message-input").fill("好的，请把血压计放到镜头前。")
        await room_chat.get_by_test_id("send").click()
        await expect(resident.get_by_test_id("message").filter(has_text="血压计放到镜头前")).to_be_visible()
        await screenshot(doctor, "live-room-doctor-desktop")
        await screenshot(resident, "live-room-resident-phone")

        # Video is unavailable on this server (no media workers): the room's own button ends the
        # consult, the one such button on the page.
        await expect(doctor.get_by_test_id("call-state")).to_have_text(
            "视频通话暂时不可用，请用下面的文字聊天。"
        )
        await expect(doctor.get_by_role("button", name="结束问诊")).to_have_count(1)
        # The doctor ends it (after being asked once more); the resident is told, and so is the API.
        await doctor.get_by_test_id("end-consult").click()
        await doctor.get_by_test_id("end-consult-confirm").click()
        await expect(doctor.get_by_test_id("room-state-main")).to_have_text("问诊已结束")
        await expect(resident.get_by_test_id("room-state-main")).to_have_text("问诊已结束")
        await expect(resident.get_by_test_id("room-back")).to_be_visible()
        for page in (doctor, resident):
            await expect(page.get_by_test_id("error")).to_be_hidden()
        await screenshot(resident, "live-room-ended-phone")
        consult = await http.get(f"/api/consults/{consult_id}", headers=auth)
        assert (await consult.json())["status"] == "ended"
