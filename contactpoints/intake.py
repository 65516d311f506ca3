"""Parse and validate the three intake body shapes (contract §4) into stored alerts.

Hand-written rather than a DRF serializer: the intake is the hot path (thousands of alerts
a second), and each error still names its field, e.g. `alerts[3].labels.severity`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from contactpoints.models import Notification
from contactpoints.storable import UNSTORABLE_MESSAGE, first_unstorable

# Go's zero time.Time, which Alertmanager sends for "no end": unset here.
GO_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)
OUT_OF_RANGE_MESSAGE = "must be between 0001-01-01 and 9999-12-31 in UTC"
EXTERNAL_URL_MAX_LENGTH = Notification._meta.get_field("external_url").max_length
MAX_TRUNCATED_ALERTS = 2**31 - 1  # Notification.truncated_alerts is a PositiveIntegerField
_FRACTION = re.compile(r"(\.\d{6})\d+")


class IntakeError(ValueError):
    """A body that is not one of the accepted shapes; `errors` maps field paths to messages."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


@dataclass
class ParsedIntake:
    alerts: list[dict[str, Any]]
    source: str  # alertmanager | grafana | alerts | simple
    group_key: str = ""
    group_labels: dict[str, str] | None = None
    external_url: str = ""
    truncated_alerts: int = 0
    receiver: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return "firing" if any(a["status"] == "firing" for a in self.alerts) else "resolved"


def parse_time(value: Any, path: str, errors: dict[str, str]) -> datetime | None:
    """RFC 3339 (Go writes nanoseconds); Go's zero time and empty mean unset."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        errors[path] = "must be an RFC 3339 timestamp string"
        return None
    try:
        # RFC 3339 allows a lower-case `t` and `z`; fromisoformat does not.
        parsed = datetime.fromisoformat(_FRACTION.sub(r"\1", value.strip().upper()))
    except ValueError:
        errors[path] = f"{value!r} is not an RFC 3339 timestamp"
        return None
    try:
        # Stored and compared in UTC: 9999-12-31T23:59:59-23:59 lies past the last day a datetime holds.
        in_utc = parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except OverflowError:
        errors[path] = OUT_OF_RANGE_MESSAGE
        return None
    return None if in_utc == GO_ZERO_TIME else in_utc


def string_map(value: Any, path: str, errors: dict[str, str], *, required: bool = False) -> dict[str, str]:
    if value is None:
        if required:
            errors[path] = "is required"
        return {}
    if not isinstance(value, dict):
        errors[path] = "must be an object of names to strings"
        return {}
    for name, item in value.items():
        if not isinstance(item, str):
            errors[f"{path}.{name}"] = "must be a string"
    return value


def _format_time(moment: datetime | None) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else ""


def parse_alert(raw: Any, path: str, errors: dict[str, str], now: datetime) -> dict[str, Any] | None:
    """One alert in either Alertmanager shape → the stored alert dict."""
    if not isinstance(raw, dict):
        errors[path] = "must be an object"
        return None
    labels = string_map(raw.get("labels"), f"{path}.labels", errors, required=True)
    if isinstance(raw.get("labels"), dict) and not labels:
        errors[f"{path}.labels"] = "must hold at least one label"
    annotations = string_map(raw.get("annotations"), f"{path}.annotations", errors)
    starts_at = parse_time(raw.get("startsAt"), f"{path}.startsAt", errors) or now
    ends_at = parse_time(raw.get("endsAt"), f"{path}.endsAt", errors)
    generator_url = raw.get("generatorURL")
    if generator_url is None:
        generator_url = ""
    elif not isinstance(generator_url, str):
        errors[f"{path}.generatorURL"] = "must be a string"
    status = raw.get("status")
    if status not in (None, "firing", "resolved"):
        errors[f"{path}.status"] = 'must be "firing" or "resolved"'
    if status is None:
        # The API v2 shape has no status: an alert whose end lies in the past is resolved.
        status = "resolved" if ends_at is not None and ends_at <= now else "firing"
    annotations = _keep_grafana_values(raw, annotations)
    return {
        "status": status,
        "labels": labels,
        "annotations": annotations,
        "startsAt": _format_time(starts_at),
        "endsAt": _format_time(ends_at),
        "generatorURL": generator_url if isinstance(generator_url, str) else "",
    }


def _keep_grafana_values(raw: dict[str, Any], annotations: dict[str, str]) -> dict[str, str]:
    """A Grafana webhook sends `values`/`valueString`; keep them where templates look (§3.2)."""
    extra = {}
    if isinstance(raw.get("values"), dict) and raw["values"]:
        extra["__values__"] = json.dumps(raw["values"])
    if isinstance(raw.get("valueString"), str) and raw["valueString"]:
        extra["__value_string__"] = raw["valueString"]
    return {**annotations, **extra} if extra else annotations


def _parse_alert_list(items: list[Any], prefix: str, max_alerts: int) -> tuple[list[dict[str, Any]], dict[str, str]]:
    if len(items) > max_alerts:
        raise TooManyAlerts(len(items), max_alerts)
    if not items:
        return [], {prefix.rstrip(".") or "alerts": "must hold at least one alert"}
    errors: dict[str, str] = {}
    now = datetime.now(UTC)
    alerts = [parse_alert(item, f"{prefix}[{i}]", errors, now) for i, item in enumerate(items)]
    return [a for a in alerts if a is not None], errors


class TooManyAlerts(ValueError):
    def __init__(self, count: int, limit: int):
        super().__init__(f"{count} alerts in one request; at most {limit} are accepted (INTAKE_MAX_ALERTS)")


def parse_intake(body: Any, *, max_alerts: int) -> ParsedIntake:
    """Recognise the shape and parse it. Raises IntakeError or TooManyAlerts."""
    if (bad := first_unstorable(body)) is not None:
        raise IntakeError({bad.removeprefix("body.") or "body": UNSTORABLE_MESSAGE})
    if isinstance(body, list):
        alerts, errors = _parse_alert_list(body, "", max_alerts)
        _raise_if(errors)
        return ParsedIntake(alerts=alerts, source="alerts")
    if not isinstance(body, dict):
        raise IntakeError({"body": "must be a JSON object or an array of alerts"})
    if "alerts" in body:
        return _parse_webhook_payload(body, max_alerts)
    if "title" in body or "message" in body:
        return _parse_simple_message(body)
    raise IntakeError(
        {
            "body": "expected an Alertmanager or Grafana webhook payload (with alerts), an array of alerts, "
            "or a simple message (with title and message)"
        }
    )


def _raise_if(errors: dict[str, str]) -> None:
    if errors:
        raise IntakeError(errors)


def _parse_webhook_payload(body: dict[str, Any], max_alerts: int) -> ParsedIntake:
    raw_alerts = body["alerts"]
    if not isinstance(raw_alerts, list):
        raise IntakeError({"alerts": "must be an array of alerts"})
    alerts, errors = _parse_alert_list(raw_alerts, "alerts", max_alerts)
    for key in ("receiver", "groupKey", "externalURL", "status", "version"):
        if body.get(key) is not None and not isinstance(body[key], str):
            errors[key] = "must be a string"
    if isinstance(body.get("externalURL"), str) and len(body["externalURL"]) > EXTERNAL_URL_MAX_LENGTH:
        errors["externalURL"] = f"must be at most {EXTERNAL_URL_MAX_LENGTH} characters"
    group_labels = string_map(body.get("groupLabels"), "groupLabels", errors) if "groupLabels" in body else None
    for key in ("commonLabels", "commonAnnotations"):
        string_map(body.get(key), key, errors)  # recomputed from the alerts, but checked
    truncated = body.get("truncatedAlerts")
    truncated = 0 if truncated is None else truncated
    if not isinstance(truncated, int) or isinstance(truncated, bool) or not 0 <= truncated <= MAX_TRUNCATED_ALERTS:
        errors["truncatedAlerts"] = f"must be a whole number from 0 to {MAX_TRUNCATED_ALERTS}"
        truncated = 0
    _raise_if(errors)
    return ParsedIntake(
        alerts=alerts,
        source="grafana" if body.get("version") == "1" else "alertmanager",
        group_key=body.get("groupKey") or "",
        group_labels=group_labels or None,
        external_url=body.get("externalURL") or "",
        truncated_alerts=truncated,
        receiver=body.get("receiver") or "",
    )


def _parse_simple_message(body: dict[str, Any]) -> ParsedIntake:
    errors: dict[str, str] = {}
    title, message = body.get("title"), body.get("message", "")
    if not isinstance(title, str) or not title.strip():
        errors["title"] = "is required and must be a non-empty string"
    if not isinstance(message, str):
        errors["message"] = "must be a string"
    status = body.get("status", "firing")
    if status not in ("firing", "resolved"):
        errors["status"] = 'must be "firing" or "resolved"'
    labels = string_map(body.get("labels"), "labels", errors)
    _raise_if(errors)
    now = datetime.now(UTC)
    alert = {
        "status": status,
        "labels": {**labels, "alertname": title},
        "annotations": {"summary": title, "description": message},
        "startsAt": _format_time(now),
        "endsAt": _format_time(now) if status == "resolved" else "",
        "generatorURL": "",
    }
    return ParsedIntake(alerts=[alert], source="simple")
