"""Fixtures for the real-browser page tests: a live server and Debian's Chromium (and, for the video
call tests, the server with one media worker and a Chromium with a fake camera and microphone)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, async_playwright

from media.settings import MediaSettings
from storage.demo import DEMO_PASSWORD
from tests.conftest import NOW
from web.app import create_app
from web.settings import Settings

ARTIFACTS = Path(os.environ.get("ARTIFACTS", "test-artifacts")).resolve()
CHROMIUM = os.environ.get("JIAYI_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture
async def base_url(settings: Settings, aiohttp_server: object) -> str:
    """The app on this test's database, served on a loopback port, with the run's fixed clock."""
    server: TestServer = await aiohttp_server(create_app(settings, clock=lambda: NOW))  # type: ignore[operator]
    return str(server.make_url("")).rstrip("/")


@pytest.fixture
async def media_base_url(settings: Settings, aiohttp_server: object) -> str:
    """Like `base_url`, with video on: one media worker whose ICE host candidates are 127.0.0.1."""
    media = MediaSettings(host_addresses=("127.0.0.1",), workers=1)
    app = create_app(replace(settings, media=media), clock=lambda: NOW)
    server: TestServer = await aiohttp_server(app)  # type: ignore[operator]
    return str(server.make_url("")).rstrip("/")


BASE_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: A fake camera (a moving test pattern) and microphone (a beep), allowed without asking; ICE on
#: loopback, with real addresses rather than mDNS names (the server drops `.local` candidates); sound
#: that plays without a tap. See ../shared/WEBRTC-NOTES.md.
MEDIA_FLAGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
]


async def _chromium(args: list[str]) -> AsyncIterator[Browser]:
    if not os.path.exists(CHROMIUM):  # noqa: ASYNC240 - a single stat before launching the browser
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: `make test` installs it (apt-get install chromium)",
            pytrace=False,
        )
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=args)
        yield browser
        await browser.close()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium through Playwright (which never downloads a browser of its own here)."""
    async for launched in _chromium(BASE_FLAGS):
        yield launched


@pytest.fixture
async def media_browser() -> AsyncIterator[Browser]:
    """Chromium with a fake camera and microphone, for video calls (one context per participant)."""
    async for launched in _chromium([*BASE_FLAGS, *MEDIA_FLAGS]):
        yield launched


@pytest.fixture
async def denying_browser() -> AsyncIterator[Browser]:
    """Chromium whose camera and microphone permission is never given (no fake prompt that accepts
    it): what a resident who tapped "deny" gets."""
    flags = [f for f in MEDIA_FLAGS if f != "--use-fake-ui-for-media-stream"]
    async for launched in _chromium([*BASE_FLAGS, *flags]):
        yield launched


async def screenshot(page: Page, name: str) -> None:
    """Save a full-page screenshot to the test artifacts, for a person to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def login_page(browser: Browser, base_url: str, username: str, viewport: dict[str, int]) -> Page:
    """A new browser context (its own session storage and media) logged in as `username`, on the page
    the login sends them to."""
    context = await browser.new_context(viewport=viewport, locale="zh-CN")  # type: ignore[arg-type]
    page = await context.new_page()
    await page.goto(f"{base_url}/login")
    await page.get_by_test_id("username").fill(username)
    await page.get_by_test_id("password").fill(DEMO_PASSWORD)
    await page.get_by_test_id("login").click()
    await page.wait_for_url(lambda url: "/login" not in url)
    return page
