"""Headless Chromium (Debian's, driven by Playwright) against pytest-django's live server.

Playwright's sync API runs an event loop in the test's thread, and Django's ORM refuses to run
where an event loop runs; the ORM calls here are plain synchronous ones, so that check is turned
off, for the browser tests only, while their browser is up.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 860}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PASSWORD = "oncall-s3cr3t-password"


@pytest.fixture(scope="module")
def browser() -> Iterator:
    if not shutil.which(CHROMIUM):
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (Debian package chromium)")
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def admin_user_for_browser(transactional_db, django_user_model):
    return django_user_model.objects.create_superuser("oncall", "oncall@example.com", PASSWORD)


@pytest.fixture
def page(browser, live_server, admin_user_for_browser) -> Iterator:
    """A 1280 px wide page, logged in through the admin's login form."""
    context = browser.new_context(viewport=DESKTOP, base_url=live_server.url)
    context.set_default_timeout(5_000)
    page = context.new_page()
    page.goto("/admin/")
    page.fill("#id_username", admin_user_for_browser.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
    yield page
    context.close()


@pytest.fixture
def screenshot(page):
    """screenshot("name") saves docs/screenshots/name.png (the README shows them), overwritten each run."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def save(name: str) -> None:
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True, animations="disabled")

    return save
