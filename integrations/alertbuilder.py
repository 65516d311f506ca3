"""Builds Grafana's template data from stored alerts: order, common labels, generated URLs.

The steps follow Grafana and Alertmanager so that the result matches theirs field for field:
Alertmanager's alert order, Grafana's extension of each alert (spec §2.1, §3.2, §3.3) and the
links it generates, built with Go's path and query rules (spec §2.7).
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cmp_to_key, lru_cache
from typing import Any
from urllib.parse import SplitResult, parse_qsl, quote, quote_plus, urlsplit, urlunsplit

from integrations.alertdata import (
    DASHBOARD_UID_ANNOTATION,
    FOLDER_TITLE_LABEL,
    KV,
    ORG_ID_ANNOTATION,
    PANEL_ID_ANNOTATION,
    RULE_UID_LABEL,
    VALUE_STRING_ANNOTATION,
    VALUES_ANNOTATION,
    Alert,
    AlertList,
    TemplateData,
    fingerprint,
    is_private,
)
from integrations.goformat import ZERO_TIME, GoFloat, GoMap, Time

# -- URLs ------------------------------------------------------------------------------------------


def _go_path_join(*elements: str) -> str:
    """Go's path.Join: join the non-empty elements and clean the result."""
    joined = "/".join(element for element in elements if element)
    if not joined:
        return ""
    cleaned = posixpath.normpath(joined)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


# Go's QueryEscape of each ASCII character: unreserved ones as they are, space as "+", the rest %XX.
_QUERY_ESCAPES = {code: quote_plus(chr(code), safe="") for code in range(128)}


def _query_escape(text: str) -> str:
    """quote_plus(text, safe=""), in one pass of str.translate for ASCII text (every alert's silence
    link escapes each of its labels)."""
    return text.translate(_QUERY_ESCAPES) if text.isascii() else quote_plus(text, safe="")


def _encode_query(params: Iterable[tuple[str, str]]) -> str:
    """Go's url.Values.Encode: keys sorted, values in insertion order, QueryEscape'd."""
    grouped: dict[str, list[str]] = {}
    for key, value in params:
        grouped.setdefault(key, []).append(value)
    return "&".join(f"{_query_escape(key)}={_query_escape(value)}" for key in sorted(grouped) for value in grouped[key])


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


@lru_cache(maxsize=256)
def _silence_page(base: str) -> tuple[SplitResult, tuple[tuple[str, str], ...]]:
    """The silence page's URL under `base`, split, with the query it already carries: the same for
    every alert of a Grafana (or an organisation of one), so worked out once."""
    parts = urlsplit(_join_url_path(base, "/alerting/silence/new"))
    return parts, tuple(parse_qsl(parts.query, keep_blank_values=True))


def _silence_url(base: str, labels: Mapping[str, str]) -> str:
    page, page_params = _silence_page(base)
    matchers = []
    rule_uid = labels.get(RULE_UID_LABEL, "")
    if rule_uid:
        matchers.append(("matcher", f"{RULE_UID_LABEL}={rule_uid}"))
    for pair in KV(labels).SortedPairs():
        # A rule UID identifies the rule more precisely than alertname and folder do.
        if is_private(pair.Name) or (rule_uid and pair.Name in ("alertname", FOLDER_TITLE_LABEL)):
            continue
        matchers.append(("matcher", f"{pair.Name}={pair.Value}"))
    return urlunsplit(page._replace(query=_encode_query([*page_params, ("alertmanager", "grafana"), *matchers])))


# -- building the data from stored alerts ------------------------------------------------------------


def _public(values: Mapping[str, str]) -> KV:
    return KV({name: value for name, value in values.items() if not is_private(name)})


def quote_meta(text: str) -> str:
    """Go's regexp.QuoteMeta."""
    return re.sub(r"([\\.+*?()|\[\]{}^$])", r"\\\1", text)


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
    merged_notifications: int = 0,
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
        MergedNotifications=merged_notifications,
    )
