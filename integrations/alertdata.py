"""Grafana's notification template data (ExtendedData / ExtendedAlert): types, label sets, JSON form.

Attribute names are Go's so that templates read like Grafana's: `Alerts.Firing`, `CommonLabels`,
`alert.SilenceURL`. Facts (fingerprint, JSON keys) follow spec §2.1 and §3; the data is built from
stored alerts in integrations/alertbuilder.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from integrations.goformat import GoMap, Time

# Annotations and labels Grafana attaches to its alerts (spec §3.2, §3.3).
ORG_ID_ANNOTATION = "__orgId__"
VALUES_ANNOTATION = "__values__"
VALUE_STRING_ANNOTATION = "__value_string__"
DASHBOARD_UID_ANNOTATION = "__dashboardUid__"
PANEL_ID_ANNOTATION = "__panelId__"
RULE_UID_LABEL = "__alert_rule_uid__"
FOLDER_TITLE_LABEL = "grafana_folder"

_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_MASK_64 = (1 << 64) - 1


# -- label sets ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    Name: str
    Value: str


class Pairs(list):
    """Alertmanager's Pairs: a list of Pair with Names/Values/String."""

    def Names(self) -> list[str]:
        return [pair.Name for pair in self]

    def Values(self) -> list[str]:
        return [pair.Value for pair in self]

    def String(self) -> str:
        return ", ".join(f"{pair.Name}={pair.Value}" for pair in self)

    def __str__(self) -> str:
        return self.String()


class KV(dict):
    """Alertmanager's KV: a label or annotation set. Prints as `a=b, c=d`, like Go's KV.String."""

    def SortedPairs(self) -> Pairs:
        names = sorted(name for name in self if name != "alertname")
        if "alertname" in self:
            names.insert(0, "alertname")  # Alertmanager puts alertname first
        return Pairs(Pair(name, self[name]) for name in names)

    def Names(self) -> list[str]:
        return self.SortedPairs().Names()

    def Values(self) -> list[str]:
        return self.SortedPairs().Values()

    def Remove(self, keys: Iterable[str]) -> KV:
        drop = set(keys)
        return KV({name: value for name, value in self.items() if name not in drop})

    def String(self) -> str:
        return self.SortedPairs().String()

    def __str__(self) -> str:
        return self.String()


def is_private(name: str) -> bool:
    return name.startswith("__") and name.endswith("__")


def fingerprint(labels: Mapping[str, str]) -> str:
    """Prometheus' label-set fingerprint: FNV-1a-64 over sorted name, 0xFF, value, 0xFF."""
    digest = _FNV_OFFSET
    for name in sorted(labels):
        for byte in name.encode() + b"\xff" + str(labels[name]).encode() + b"\xff":
            digest = ((digest ^ byte) * _FNV_PRIME) & _MASK_64
    return f"{digest:016x}"


# -- the data model ----------------------------------------------------------------------------------


@dataclass
class Alert:
    """Grafana's ExtendedAlert."""

    Status: str
    Labels: KV
    Annotations: KV
    StartsAt: Time
    EndsAt: Time
    GeneratorURL: str = ""
    Fingerprint: str = ""
    SilenceURL: str = ""
    DashboardURL: str = ""
    PanelURL: str = ""
    RuleUID: str = ""
    Values: GoMap | None = None
    ValueString: str = ""
    ImageURL: str = ""
    EmbeddedImage: str = ""
    OrgID: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The alert object of Grafana's webhook payload (spec §3.2)."""
        out: dict[str, Any] = {
            "status": self.Status,
            "labels": to_plain(self.Labels),
            "annotations": to_plain(self.Annotations),
            "startsAt": self.StartsAt.rfc3339(),
            "endsAt": self.EndsAt.rfc3339(),
            "generatorURL": self.GeneratorURL,
            "fingerprint": self.Fingerprint,
            "silenceURL": self.SilenceURL,
            "dashboardURL": self.DashboardURL,
            "panelURL": self.PanelURL,
        }
        if self.RuleUID:
            out["ruleUID"] = self.RuleUID
        out["values"] = to_plain(self.Values)
        out["valueString"] = self.ValueString
        optional = {"imageURL": self.ImageURL, "embeddedImage": self.EmbeddedImage, "orgId": self.OrgID}
        out.update({key: value for key, value in optional.items() if value not in ("", None)})
        return out


class AlertList(list):
    """Grafana's ExtendedAlerts: `Alerts.Firing` and `Alerts.Resolved` are the subsets."""

    @property
    def Firing(self) -> AlertList:
        return AlertList(alert for alert in self if alert.Status == "firing")

    @property
    def Resolved(self) -> AlertList:
        return AlertList(alert for alert in self if alert.Status == "resolved")


@dataclass
class TemplateData:
    """Grafana's ExtendedData: the top-level variables of every notification template."""

    Receiver: str
    Status: str
    Alerts: AlertList
    GroupLabels: KV
    CommonLabels: KV
    CommonAnnotations: KV
    ExternalURL: str
    GroupKey: str
    TruncatedAlerts: int = 0
    AppVersion: str = ""
    Vars: dict[str, str] = field(default_factory=dict)
    # Ours, not Grafana's: how many notifications a digest merged (0: not a digest). Not serialised.
    MergedNotifications: int = 0

    def to_json(self) -> dict[str, Any]:
        """The JSON object of spec §3.1 (Vars is not serialised)."""
        out: dict[str, Any] = {
            "receiver": self.Receiver,
            "status": self.Status,
            "alerts": [alert.to_json() for alert in self.Alerts],
            "groupLabels": to_plain(self.GroupLabels),
            "commonLabels": to_plain(self.CommonLabels),
            "commonAnnotations": to_plain(self.CommonAnnotations),
            "externalURL": self.ExternalURL,
        }
        if self.AppVersion:
            out["appVersion"] = self.AppVersion
        out["groupKey"] = self.GroupKey
        out["truncatedAlerts"] = self.TruncatedAlerts
        return out


_PLAIN_TYPES = frozenset({str, int, bool, type(None)})


def to_plain(value: Any, fallback: Callable[[Any], Any] = str) -> Any:
    """JSON-ready form with Go's encoding choices: maps sorted, structs in field order, 1.0 as 1.

    `fallback` converts anything else (the template engine maps its undefined values to None).
    """
    if type(value) in _PLAIN_TYPES:  # most values (label and annotation texts): no isinstance chain
        return value
    if isinstance(value, TemplateData | Alert):
        return value.to_json()
    if isinstance(value, datetime):
        return Time.of(value).rfc3339()
    if isinstance(value, Pair):
        return {"Name": value.Name, "Value": value.Value}
    if isinstance(value, Mapping):
        return {str(key): to_plain(value[key], fallback) for key in sorted(value, key=str)}
    if isinstance(value, list | tuple):
        return [to_plain(item, fallback) for item in value]
    if isinstance(value, float) and math.isfinite(value) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    if isinstance(value, float):
        return float(value)
    if value is None or isinstance(value, bool | int | str):
        return value
    return fallback(value)


# -- synthetic alerts --------------------------------------------------------------------------------


def test_alert(labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    """Spec §3.8: the firing alert a "test contact point" sends, user labels/annotations merged over."""
    return {
        "status": "firing",
        "labels": {"alertname": "TestAlert", "instance": "Grafana", **(labels or {})},
        "annotations": {
            "summary": "Notification test",
            VALUE_STRING_ANNOTATION: "[ metric='foo' labels={instance=bar} value=10 ]",
            **(annotations or {}),
        },
        "startsAt": datetime.now(UTC).isoformat(),
        "endsAt": "",
        "generatorURL": "",
    }


test_alert.__test__ = False  # a factory, not a pytest test


def sample_alerts() -> list[dict[str, Any]]:
    """Example alerts for template previews: one firing with values and links, one resolved."""
    now = datetime.now(UTC).replace(microsecond=0)
    return [
        {
            "status": "firing",
            "labels": {"alertname": "HighCPU", "instance": "web-1", "severity": "critical", "team": "ops"},
            "annotations": {
                "summary": "CPU usage above 90% on web-1",
                "description": "CPU usage has been above 90% for 5 minutes.",
                "runbook_url": "https://example.com/runbooks/high-cpu",
                VALUES_ANNOTATION: '{"A": 93.5, "B": 1}',
                DASHBOARD_UID_ANNOTATION: "cpu-dash",
                PANEL_ID_ANNOTATION: "4",
            },
            "startsAt": (now - timedelta(minutes=5)).isoformat(),
            "endsAt": "",
            "generatorURL": "https://example.com/alerting/grafana/cpu-rule/view",
        },
        {
            "status": "resolved",
            "labels": {"alertname": "HighCPU", "instance": "web-2", "severity": "critical", "team": "ops"},
            "annotations": {"summary": "CPU usage above 90% on web-2", VALUES_ANNOTATION: '{"A": 42, "B": 0}'},
            "startsAt": (now - timedelta(hours=1)).isoformat(),
            "endsAt": (now - timedelta(minutes=2)).isoformat(),
            "generatorURL": "https://example.com/alerting/grafana/cpu-rule/view",
        },
    ]
