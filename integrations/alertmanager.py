"""Alertmanager: Prometheus Alertmanager API v2, `POST /api/v2/alerts` (https://prometheus.io/docs/alerting/latest/clients/)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from integrations.alertdata import fingerprint
from integrations.base import (
    Field,
    IntegrationType,
    Outcome,
    OutgoingRequest,
    Result,
    SendContext,
    SettingsError,
    TransportError,
)
from integrations.goformat import Time
from integrations.gourl import go_url_parse_error
from integrations.http import safe_location
from integrations.values import go_json, scrub

if TYPE_CHECKING:
    from integrations.http import HttpTransport

logger = logging.getLogger(__name__)

API_PATH = "/api/v2/alerts"


def alertmanager_urls(value: str) -> list[str]:
    """Grafana's list: split on `,`, trimmed, empties skipped, one trailing `/` cut, the API path added."""
    return [piece.strip().removesuffix("/") + API_PATH for piece in (value or "").split(",") if piece.strip()]


class Alertmanager(IntegrationType):
    type = "prometheus-alertmanager"
    label = "Alertmanager"
    description = "Forwards the alerts, labels and annotations untouched, to one or more Prometheus Alertmanagers."
    example = {"url": "https://alertmanager.example.com:9093"}
    fields = (
        Field(
            "url",
            "URL",
            required=True,
            required_error="could not find url property in settings",
            help="The Alertmanager's root URL; several, separated by commas, for an HA cluster. "
            f"`{API_PATH}` is appended to each.",
            placeholder="http://localhost:9093",
        ),
        Field("basicAuthUser", "Basic Auth User", help="Sent only when a password is set as well."),
        Field("basicAuthPassword", "Basic Auth Password", secret=True),
    )

    @classmethod
    def clean(cls, config: dict[str, Any]) -> None:
        urls = alertmanager_urls(config["url"])
        for url in urls:
            if reason := go_url_parse_error(url):
                raise SettingsError.single("url", f"invalid url property in settings: {reason}")
        if not urls:
            raise SettingsError.single("url", "could not find url property in settings")

    def send(self, ctx: SendContext, transport: HttpTransport) -> Outcome:
        """Post the same body to every URL; one 2xx answer is enough (Grafana's HA semantics)."""
        alerts = self.alerts(ctx)
        if not alerts:
            return Outcome.success()
        body = go_json(alerts)
        config = ctx.config
        user, password = config["basicAuthUser"], config["basicAuthPassword"]
        basic_auth = (user, password) if user and password else None
        successes: list[Outcome] = []
        failures: list[Outcome] = []
        # Every URL gets the alerts, even after a success: each member of an HA cluster must hear them.
        for url in alertmanager_urls(config["url"]):
            request = OutgoingRequest(
                "POST", url, headers={"Content-Type": "application/json"}, body=body, basic_auth=basic_auth
            )
            outcome = self.post(transport, request)
            if outcome.ok:
                successes.append(outcome)
            else:
                # Logged before the delivery scrubs its error: the receiver may echo the password.
                echoed = scrub(outcome.error, [password] if password else [])
                logger.warning("failed to send to Alertmanager at %s: %s", safe_location(url), echoed)
                failures.append(outcome)
        return successes[0] if successes else self.all_failed(failures)

    @staticmethod
    def post(transport: HttpTransport, request: OutgoingRequest) -> Outcome:
        """One POST with the simple sender's rules: any 2xx succeeds, the rest is an error."""
        try:
            response = transport.send(request)
        except TransportError as exc:
            return Outcome.from_transport_error(exc)
        if 200 <= response.status <= 299:
            return Outcome.success(response.status)
        return IntegrationType.http_error(response, f"failed to send HTTP request - status code {response.status}")

    @staticmethod
    def all_failed(failures: list[Outcome]) -> Outcome:
        """Every URL failed: the last error, retried when any failure was transient."""
        last = failures[-1]
        retry_after = [f.retry_after_seconds for f in failures if f.retry_after_seconds is not None]
        return Outcome(
            Result.RETRY if any(f.result is Result.RETRY for f in failures) else Result.FAILED,
            error=f"failed to send alert to Alertmanager: {last.error}",
            http_status=last.http_status,
            retry_after_seconds=max(retry_after) if retry_after else None,
        )

    @staticmethod
    def alerts(ctx: SendContext) -> list[dict[str, Any]]:
        """Go's JSON of Alertmanager's types.Alert, one per stored alert, in the batch's order.

        Built from the stored alerts: unlike the template data they keep private labels and
        annotations (`__alert_rule_uid__`, `__dashboardUid__`, …) and the real end time.
        Images (spec §3.6, the `image` annotation) are not produced here.
        """
        now = Time.of(datetime.now(UTC))
        if not ctx.raw_alerts:
            # A context without the stored alerts (older callers): the data's alerts are all
            # there is, without their private labels.
            return [
                _alert_json(
                    {
                        "status": alert.Status,
                        "labels": alert.Labels,
                        "annotations": alert.Annotations,
                        "startsAt": alert.StartsAt,
                        "endsAt": alert.EndsAt,
                        "generatorURL": alert.GeneratorURL,
                    },
                    now,
                )
                for alert in ctx.data.Alerts
            ]
        # The template data holds the batch in Alertmanager's order (spec §2.1); follow it.
        position: dict[str, int] = {}
        for index, alert in enumerate(ctx.data.Alerts):
            position.setdefault(alert.Fingerprint, index)
        ordered = sorted(
            ctx.raw_alerts,
            key=lambda raw: position.get(fingerprint(_strings(raw.get("labels"))), len(position)),
        )
        return [_alert_json(raw, now) for raw in ordered]


def _strings(values: Any) -> dict[str, str]:
    """A label or annotation set as Go's map[string]string prints it: keys sorted."""
    return {str(name): str(value) for name, value in sorted((values or {}).items())}


def _alert_json(raw: dict[str, Any], now: Time) -> dict[str, Any]:
    ends_at = Time.parse(raw.get("endsAt"))
    if raw.get("status") == "resolved" and ends_at.IsZero():
        # A resolved alert without an end would read as firing forever; it ended by now.
        ends_at = now
    return {
        "labels": _strings(raw.get("labels")),
        "annotations": _strings(raw.get("annotations")),
        "startsAt": Time.parse(raw.get("startsAt")).rfc3339(),
        "endsAt": ends_at.rfc3339(),
        "generatorURL": str(raw.get("generatorURL") or ""),
        # Alertmanager's own bookkeeping fields; its API ignores them on input. This service
        # has no receive time per alert, so UpdatedAt is the moment of sending.
        "UpdatedAt": now.rfc3339(),
        "Timeout": False,
    }
