"""Swagger UI at /api/docs/ in headless Chromium: it renders every operation with no credentials
and fetches nothing from outside this server (the machine it runs on may have no internet)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import DESKTOP, SCREENSHOTS, browser  # noqa: F401 - the shared Chromium fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_swagger_ui_renders_every_operation_from_this_server_alone(browser, live_server, client):  # noqa: F811
    schema = client.get("/api/schema/", {"format": "json"}).json()
    operations = sum(len(item) for item in schema["paths"].values())
    context = browser.new_context(viewport=DESKTOP, base_url=live_server.url)
    context.set_default_timeout(10_000)
    elsewhere = []

    def local_only(route) -> None:
        if urlsplit(route.request.url).netloc == urlsplit(live_server.url).netloc:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    context.route("**/*", local_only)
    page = context.new_page()
    page.goto("/api/docs/")
    page.wait_for_selector(".opblock")

    assert page.locator(".opblock").count() == operations
    assert "ContactPoints API" in page.locator(".title").inner_text()
    assert page.get_by_role("button", name="Authorize").is_visible()
    assert elsewhere == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "api-docs.png"), full_page=False, animations="disabled")
    context.close()
