"""Fixtures for the real-browser page tests: a live server and Debian's Chromium."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, async_playwright

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
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium through Playwright (which never downloads a browser of its own here)."""
    if not os.path.exists(CHROMIUM):  # noqa: ASYNC240 - a single stat before launching the browser
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: `make test` installs it (apt-get install chromium)",
            pytrace=False,
        )
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        await browser.close()


async def screenshot(page: Page, name: str) -> None:
    """Save a full-page screenshot to the test artifacts, for a person to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
