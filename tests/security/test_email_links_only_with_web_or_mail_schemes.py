"""The HTML email links only http, https and mailto URLs (issue 9, finding 10).

The runbook, source, silence, dashboard and panel links, the image and the Alerts-page button
are made of what the alert brings (`generatorURL`, annotations, `externalURL`). A `javascript:`
URL there became a clickable `href` in the recipient's mail client. Any other scheme now gives
no link (the label stays out); the plain-text part shows what came, as text.
"""

from __future__ import annotations

import html
import re

import pytest

from integrations.email import Email
from tests.integrations.helpers import make_context

HOSTILE = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "vbscript:msgbox(1)",
    "data:text/html,<script>alert(1)</script>",
    "//evil.example/x",
]
SAFE = ["http://grafana.example/a?b=1", "HTTPS://grafana.example/a", "mailto:oncall@example.com"]
ATTRIBUTES = re.compile(r'(?:href|src)="([^"]*)"')


def alert_with_links(url: str) -> dict:
    return {
        "status": "firing",
        "labels": {"alertname": "DiskFull"},
        "annotations": {"summary": "disk", "runbook_url": url, "__dashboardUid__": "abc", "__panelId__": "2"},
        "startsAt": "2024-05-01T10:00:00Z",
        "endsAt": "",
        "generatorURL": url,
    }


def email_html(url: str, external_url: str = "http://grafana.example/") -> str:
    ctx = make_context(Email, {"addresses": "oncall@example.com"}, [alert_with_links(url)])
    ctx.data.ExternalURL = external_url
    for alert in ctx.data.Alerts:  # the links derived from the external URL, and an image
        alert.SilenceURL = alert.DashboardURL = alert.PanelURL = alert.ImageURL = url
    (message,) = Email().build_messages(ctx)
    (content, _type), *_ = message.alternatives
    return content


def linked_urls(page: str) -> list[str]:
    return [html.unescape(url) for url in ATTRIBUTES.findall(page)]


@pytest.mark.parametrize("url", HOSTILE)
def test_alert_urls_with_other_schemes_give_no_link(url):
    page = email_html(url, external_url=url)
    linked = linked_urls(page)
    assert linked == [], f"{url!r} became a link: {linked}"
    for label in ("Runbook", "Source", "Silence", "Dashboard", "Panel", "Go to the Alerts page"):
        assert f">{label}</a>" not in page


@pytest.mark.parametrize("url", SAFE)
def test_web_and_mail_links_are_kept(url):
    linked = linked_urls(email_html(url))
    assert linked.count(url) == 6  # runbook, source, silence, dashboard, panel, image
    assert "http://grafana.example/alerting/list?alertState=firing&view=state" in linked
