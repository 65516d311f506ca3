"""Grafana's notification template data (ExtendedData / ExtendedAlert), built from stored alerts.

Attribute names are Go's so that templates read like Grafana's: `Alerts.Firing`, `CommonLabels`,
`alert.SilenceURL`. Facts (sort order, fingerprint, generated URLs, JSON keys) follow spec §2.1 and §3.
"""

from __future__ import annotations

import json
import math
import posixpath
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cmp_to_key
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit, urlunsplit

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


# -- time, printed and formatted the way Go does -----------------------------------------------


class Time(datetime):
    """A timezone-aware datetime that prints like Go's time.Time and offers its methods."""

    @classmethod
    def parse(cls, value: Any) -> Time:
        """ISO 8601 / RFC 3339 text (or a datetime) to a Time; empty or unreadable is the zero time."""
        if isinstance(value, datetime):
            parsed = value
        elif isinstance(value, str) and value.strip():
            try:
                parsed = datetime.fromisoformat(value.strip())
            except ValueError:
                return ZERO_TIME
        else:
            return ZERO_TIME
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return cls.of(parsed)

    @classmethod
    def of(cls, moment: datetime) -> Time:
        m = moment
        return cls(m.year, m.month, m.day, m.hour, m.minute, m.second, m.microsecond, tzinfo=m.tzinfo, fold=m.fold)

    def IsZero(self) -> bool:
        return self == ZERO_TIME

    def Unix(self) -> int:
        return math.floor(self.timestamp())

    def UnixMilli(self) -> int:
        return (self - _EPOCH) // timedelta(milliseconds=1)

    def Format(self, layout: str) -> str:
        return go_format_time(self, layout)

    def rfc3339(self) -> str:
        """Go's JSON form (RFC 3339 with nanoseconds, trailing zeros trimmed)."""
        return go_format_time(self, "2006-01-02T15:04:05.999999999Z07:00")

    def __str__(self) -> str:
        return go_format_time(self, "2006-01-02 15:04:05.999999999 -0700 MST")


ZERO_TIME = Time(1, 1, 1, tzinfo=UTC)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_MONTHS = ["January", "February", "March", "April", "May", "June"]
_MONTHS += ["July", "August", "September", "October", "November", "December"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
# Go's reference-time layout tokens (time.Format), longest alternatives first.
_GO_LAYOUT_TOKEN = re.compile(
    r"January|Jan(?![a-z])|Monday|Mon(?![a-z])|MST|2006|__2|_2|002|15|0[1-6]|[1-5]|"
    r"[-Z]07:00:00|[-Z]070000|[-Z]07:00|[-Z]0700|[-Z]07|PM|pm|[.,](?:0+|9+)(?![0-9])"
)


def _zone_offset(moment: datetime, token: str) -> str:
    offset = moment.utcoffset() or timedelta(0)
    if token.startswith("Z") and not offset:
        return "Z"
    seconds = int(offset.total_seconds())
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    colon = ":" if ":" in token else ""
    text = f"{sign}{hours:02d}"
    if len(token.lstrip("-Z").replace(":", "")) >= 4:
        text += f"{colon}{minutes:02d}"
    if len(token.lstrip("-Z").replace(":", "")) == 6:
        text += f"{colon}{secs:02d}"
    return text


def _zone_name(moment: datetime) -> str:
    name = moment.tzname() or ""
    offset = moment.utcoffset() or timedelta(0)
    if not offset and name in ("UTC", "UTC+00:00", ""):
        return "UTC"
    if name.startswith("UTC") or not name:
        return _zone_offset(moment, "-0700")  # Go prints a nameless fixed zone as its offset
    return name


def _layout_value(moment: datetime, token: str) -> str:
    hour12 = moment.hour % 12 or 12
    simple = {
        "January": _MONTHS[moment.month - 1],
        "Jan": _MONTHS[moment.month - 1][:3],
        "Monday": _DAYS[moment.weekday()],
        "Mon": _DAYS[moment.weekday()][:3],
        "MST": _zone_name(moment),
        "2006": f"{moment.year:04d}",
        "06": f"{moment.year % 100:02d}",
        "01": f"{moment.month:02d}",
        "1": str(moment.month),
        "02": f"{moment.day:02d}",
        "_2": f"{moment.day:2d}",
        "2": str(moment.day),
        "002": f"{moment.timetuple().tm_yday:03d}",
        "__2": f"{moment.timetuple().tm_yday:3d}",
        "15": f"{moment.hour:02d}",
        "03": f"{hour12:02d}",
        "3": str(hour12),
        "04": f"{moment.minute:02d}",
        "4": str(moment.minute),
        "05": f"{moment.second:02d}",
        "5": str(moment.second),
        "PM": "PM" if moment.hour >= 12 else "AM",
        "pm": "pm" if moment.hour >= 12 else "am",
    }
    if token in simple:
        return simple[token]
    if token[0] in "-Z":
        return _zone_offset(moment, token)
    digits = f"{moment.microsecond:06d}000"  # fractional seconds (.000 fixed, .999 trimmed)
    if token[1] == "0":
        return token[0] + digits[: len(token) - 1]
    trimmed = digits[: len(token) - 1].rstrip("0")
    return token[0] + trimmed if trimmed else ""


def go_format_time(moment: datetime, layout: str) -> str:
    """Go's time.Format with a reference-time layout such as "2006-01-02 15:04:05"."""
    return _GO_LAYOUT_TOKEN.sub(lambda match: _layout_value(moment, match.group(0)), layout)


# -- numbers ---------------------------------------------------------------------------------------


class GoFloat(float):
    """A float that prints like Go's %v (shortest form; exponent when exp < -4 or >= 21)."""

    def __str__(self) -> str:
        return go_float_text(self)


def go_float_text(number: float) -> str:
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    shortest = Decimal(repr(float(number)))
    exponent = shortest.adjusted()
    if exponent < -4 or exponent >= 21:
        mantissa, _, power = f"{shortest:e}".partition("e")
        mantissa = mantissa.rstrip("0").rstrip(".") if "." in mantissa else mantissa
        return f"{mantissa}e{int(power):+03d}"
    text = f"{shortest:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


class GoMap(dict):
    """A map that prints like Go's fmt: `map[A:1 B:2.5]`, keys sorted."""

    def __str__(self) -> str:
        return "map[" + " ".join(f"{key}:{self[key]}" for key in sorted(self)) + "]"


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


def _public(values: Mapping[str, str]) -> KV:
    return KV({name: value for name, value in values.items() if not is_private(name)})


def fingerprint(labels: Mapping[str, str]) -> str:
    """Prometheus' label-set fingerprint: FNV-1a-64 over sorted name, 0xFF, value, 0xFF."""
    digest = _FNV_OFFSET
    for name in sorted(labels):
        for byte in name.encode() + b"\xff" + str(labels[name]).encode() + b"\xff":
            digest = ((digest ^ byte) * _FNV_PRIME) & _MASK_64
    return f"{digest:016x}"


def quote_meta(text: str) -> str:
    """Go's regexp.QuoteMeta."""
    return re.sub(r"([\\.+*?()|\[\]{}^$])", r"\\\1", text)


# -- URLs ------------------------------------------------------------------------------------------


def _go_path_join(*elements: str) -> str:
    """Go's path.Join: join the non-empty elements and clean the result."""
    joined = "/".join(element for element in elements if element)
    if not joined:
        return ""
    cleaned = posixpath.normpath(joined)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def _encode_query(params: Iterable[tuple[str, str]]) -> str:
    """Go's url.Values.Encode: keys sorted, values in insertion order, QueryEscape'd."""
    grouped: dict[str, list[str]] = {}
    for key, value in params:
        grouped.setdefault(key, []).append(value)
    return "&".join(
        f"{quote_plus(key, safe='')}={quote_plus(value, safe='')}" for key in sorted(grouped) for value in grouped[key]
    )


def _with_query(
    url: str, *, set_params: Mapping[str, str] | None = None, add_params: Iterable[tuple[str, str]] = ()
) -> str:
    """Go's q := u.Query(); q.Set/q.Add ...; u.RawQuery = q.Encode()."""
    set_params = set_params or {}
    parts = urlsplit(url)
    params = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in set_params]
    params += [*set_params.items(), *add_params]
    return urlunsplit(parts._replace(query=_encode_query(params)))


def _join_url_path(url: str, *elements: str) -> str:
    parts = urlsplit(url)
    path = _go_path_join(parts.path or "/", *elements)
    if elements and elements[-1].endswith("/") and not path.endswith("/"):
        path += "/"
    return urlunsplit(parts._replace(path=path))


def rule_url(external_url: str) -> str:
    """Spec §2.7 ruleURL: ExternalURL with `/alerting/list` joined to its path, query kept."""
    try:
        parts = urlsplit(external_url)
    except ValueError:
        return external_url.rstrip("/") + "/alerting/list"
    return urlunsplit(parts._replace(path=_go_path_join(parts.path, "/alerting/list")))


def _base_url(external_url: str, org_id: str) -> str | None:
    if not external_url:
        return None
    try:
        urlsplit(external_url)
    except ValueError:
        return None
    return _with_query(external_url, set_params={"orgId": org_id}) if org_id else external_url


def _dashboard_url(base: str, annotations: Mapping[str, str], starts_at: Time, ends_at: Time, now: datetime) -> str:
    dashboard_uid = annotations.get(DASHBOARD_UID_ANNOTATION, "")
    if not dashboard_uid:
        return ""
    url = _join_url_path(base, "/d/", quote(dashboard_uid, safe="!$&'()*+,;=:@-._~"))
    if starts_at.IsZero():
        return url
    until = now if ends_at.IsZero() else ends_at
    window = {"from": str(Time.of(starts_at - timedelta(hours=1)).UnixMilli()), "to": str(Time.of(until).UnixMilli())}
    return _with_query(url, set_params=window)


def _silence_url(base: str, labels: Mapping[str, str]) -> str:
    matchers = []
    rule_uid = labels.get(RULE_UID_LABEL, "")
    if rule_uid:
        matchers.append(("matcher", f"{RULE_UID_LABEL}={rule_uid}"))
    for pair in KV(labels).SortedPairs():
        # A rule UID identifies the rule more precisely than alertname and folder do.
        if is_private(pair.Name) or (rule_uid and pair.Name in ("alertname", FOLDER_TITLE_LABEL)):
            continue
        matchers.append(("matcher", f"{pair.Name}={pair.Value}"))
    url = _join_url_path(base, "/alerting/silence/new")
    return _with_query(url, add_params=[("alertmanager", "grafana"), *matchers])


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


def to_plain(value: Any, fallback: Callable[[Any], Any] = str) -> Any:
    """JSON-ready form with Go's encoding choices: maps sorted, structs in field order, 1.0 as 1.

    `fallback` converts anything else (the template engine maps its undefined values to None).
    """
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


# -- building the data from stored alerts ------------------------------------------------------------


@dataclass
class _StoredAlert:
    status: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: Time
    ends_at: Time
    generator_url: str

    @classmethod
    def read(cls, alert: Mapping[str, Any], now: datetime) -> _StoredAlert:
        ends_at = Time.parse(alert.get("endsAt"))
        status = alert.get("status")
        if status not in ("firing", "resolved"):  # as Alertmanager: resolved once EndsAt has passed
            status = "resolved" if not ends_at.IsZero() and ends_at <= now else "firing"
        return cls(
            status=status,
            labels={str(k): str(v) for k, v in (alert.get("labels") or {}).items()},
            annotations={str(k): str(v) for k, v in (alert.get("annotations") or {}).items()},
            starts_at=Time.parse(alert.get("startsAt")),
            ends_at=ZERO_TIME if status == "firing" else ends_at,  # firing alerts expose a zero EndsAt
            generator_url=str(alert.get("generatorURL") or ""),
        )


def _labels_before(left: Mapping[str, str], right: Mapping[str, str]) -> bool:
    """Prometheus' LabelSet.Before: fewer labels first, then by the sorted names and values."""
    if len(left) != len(right):
        return len(left) < len(right)
    for name in sorted([*left, *right]):
        if name not in left:
            return True
        if name not in right:
            return False
        if left[name] != right[name]:
            return left[name] < right[name]
    return False


def _compare_alerts(left: _StoredAlert, right: _StoredAlert) -> int:
    """Alertmanager's AlertSlice order: label job, then instance, then the full label set."""
    for key in ("job", "instance"):
        in_left, in_right = key in left.labels, key in right.labels
        if not in_left and not in_right:
            continue
        if in_left != in_right:
            return -1 if in_left else 1  # alerts carrying the label come first
        if left.labels[key] != right.labels[key]:
            return -1 if left.labels[key] < right.labels[key] else 1
    if _labels_before(left.labels, right.labels):
        return -1
    return 1 if _labels_before(right.labels, left.labels) else 0


def _parse_values(text: str | None) -> GoMap | None:
    if text is None:
        return None
    try:
        parsed = json.loads(text, parse_constant=lambda name: None)
    except ValueError:
        return None
    if not isinstance(parsed, dict):
        return None
    numbers = {k: v for k, v in parsed.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    return GoMap({key: GoFloat(numbers[key]) for key in sorted(numbers)})


def _parse_org_id(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def _extend(stored: _StoredAlert, external_url: str, now: datetime) -> Alert:
    annotations = stored.annotations
    org_id = annotations.get(ORG_ID_ANNOTATION, "")
    alert = Alert(
        Status=stored.status,
        Labels=_public(stored.labels),
        Annotations=_public(annotations),
        StartsAt=stored.starts_at,
        EndsAt=stored.ends_at,
        GeneratorURL=stored.generator_url,
        Fingerprint=fingerprint(stored.labels),
        RuleUID=stored.labels.get(RULE_UID_LABEL, ""),
        Values=_parse_values(annotations.get(VALUES_ANNOTATION)),
        ValueString=annotations.get(VALUE_STRING_ANNOTATION, ""),
        OrgID=_parse_org_id(org_id) if org_id else None,
    )
    if org_id and alert.GeneratorURL:
        alert.GeneratorURL = _with_query(alert.GeneratorURL, set_params={"orgId": org_id})
    base = _base_url(external_url, org_id)
    if base is None:
        return alert
    alert.DashboardURL = _dashboard_url(base, annotations, stored.starts_at, stored.ends_at, now)
    if alert.DashboardURL and annotations.get(PANEL_ID_ANNOTATION):
        alert.PanelURL = _with_query(alert.DashboardURL, set_params={"viewPanel": annotations[PANEL_ID_ANNOTATION]})
    alert.SilenceURL = _silence_url(base, stored.labels)
    return alert


def _common(sets: list[dict[str, str]]) -> KV:
    """The pairs equal across all sets (a missing name counts as the empty value, as in Go)."""
    if not sets:
        return KV()
    common = dict(sets[0])
    for other in sets[1:]:
        common = {name: value for name, value in common.items() if other.get(name, "") == value}
    return _public(common)


def build_template_data(
    alerts: list[dict[str, Any]],
    *,
    receiver: str,
    group_key: str,
    group_labels: Mapping[str, str],
    external_url: str,
    truncated_alerts: int = 0,
    app_version: str = "",
) -> TemplateData:
    """Grafana's template data for one notification of stored alerts (spec §3.1-§3.3)."""
    now = datetime.now(UTC)
    stored = sorted((_StoredAlert.read(alert, now) for alert in alerts), key=cmp_to_key(_compare_alerts))
    extended = AlertList(_extend(alert, external_url, now) for alert in stored)
    return TemplateData(
        Receiver=quote_meta(receiver),
        Status="firing" if extended.Firing else "resolved",
        Alerts=extended,
        GroupLabels=KV({str(k): str(v) for k, v in group_labels.items()}),
        CommonLabels=_common([alert.labels for alert in stored]),
        CommonAnnotations=_common([alert.annotations for alert in stored]),
        ExternalURL=external_url,
        GroupKey=group_key,
        TruncatedAlerts=truncated_alerts,
        AppVersion=app_version,
    )


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
