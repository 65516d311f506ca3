"""Grafana's template functions (spec §3.5) for the Go engine, in Go's argument order.

Alertmanager's (`toUpper`, `join`, `reReplaceAll`, `date`, `tz`, ...) and Grafana's gomplate-style
namespaces (`coll.Dict`, `data.JSON`, `time.Now`); `tmpl.Exec`/`tmpl.Inline` live in engine.py as
they need the template set. Regular expressions are the Jinja engine's (integrations/template_regex.py:
bounded in size, and in time by the render session's deadline).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote_plus, unquote_plus, urlsplit

import yaml

from integrations.alertdata import to_plain
from integrations.goformat import Time, in_time_zone
from integrations.gotemplate.printing import check_printable, is_list, value_text
from integrations.template_regex import regex_match, regex_replace_all
from integrations.template_sandbox import MAX_OUTPUT_BYTES
from integrations.values import escape_like_go_json
from integrations.values import go_json as struct_json


def title(text: str) -> str:
    """cases.Title(en-US): each word's first letter upper, the rest lower ("they're" stays one word)."""
    return re.sub(r"[^\W_]+(?:'[^\W_]+)*", lambda word: word[0][:1].upper() + word[0][1:].lower(), text)


def join(separator: str, items: Any) -> str:
    if not is_list(items):
        raise ValueError(f"wrong type for value; expected []string; got {type(items).__name__}")
    if len(separator) * len(items) > MAX_OUTPUT_BYTES:
        raise ValueError(f"result exceeds maximum size ({MAX_OUTPUT_BYTES} bytes)")
    check_printable(items)
    return separator.join(value_text(item) for item in items)


def as_time(value: Any) -> Time:
    if isinstance(value, Time):
        return value
    if isinstance(value, datetime):
        return Time.of(value)
    raise ValueError(f"wrong type for value; expected time.Time; got {type(value).__name__}")


def tz(name: str, value: Any) -> Time:
    try:
        return in_time_zone(as_time(value), name)
    except ValueError as exc:
        raise ValueError(f"unknown time zone {name}") from exc


def go_json(value: Any, indent: str | None = None) -> str:
    """encoding/json: maps sorted, HTML characters escaped, compact unless indented."""
    separators = (",", ": ") if indent is not None else (",", ":")
    check_printable(value)
    return escape_like_go_json(
        json.dumps(to_plain(value, value_text), ensure_ascii=False, indent=indent, separators=separators)
    )


def parse_data(text: str) -> Any:
    """data.JSON: JSON (numbers are float64, as in Go), or YAML when it is not JSON."""
    try:
        return json.loads(text, parse_int=float)
    except ValueError:
        pass
    if any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(text)):
        raise ValueError("YAML aliases are not supported")  # a few aliases can nest into billions of items
    return yaml.safe_load(text)


def coll_dict(*pairs: Any) -> dict[str, Any]:
    """coll.Dict k v ...: a map[string]interface{} (a key without a value maps to "")."""
    items = list(pairs) + ([""] if len(pairs) % 2 else [])
    return {value_text(items[i]): items[i + 1] for i in range(0, len(items), 2)}


def coll_append(value: Any, items: Any) -> list[Any]:
    if not is_list(items):
        raise ValueError(f"expected a slice, got {type(items).__name__}")
    return [*items, value]


def grafana_explore_url(grafana_url: str, datasource: str, start: str, end: str, expr: str) -> str:
    """Grafana's link to a Prometheus range query in Explore: the query as Go's JSON in `left`."""
    params = {
        "range": {"from": str(start), "to": str(end)},
        "queries": [
            {
                "datasource": {"type": "prometheus", "uid": str(datasource)},
                "expr": str(expr),
                "instant": False,
                "range": True,
                "refId": "A",
            }
        ],
    }
    # Go marshals a struct in field order (not sorted like a map): values.go_json keeps dict order.
    return f"{grafana_url}/explore?left={quote_plus(struct_json(params).decode(), safe='')}"


def query_from_generator_url(generator_url: str) -> str:
    """The PromQL of a Prometheus alert's generator URL (its `g0.expr`), decoded as Grafana does:
    once by the query parser, then once more."""
    values = parse_qs(urlsplit(str(generator_url)).query, keep_blank_values=True).get("g0.expr")
    if not values:
        raise ValueError("query not found in the generator URL")
    return unquote_plus(values[0])


def grafana_functions(*, tenant_id: Any = None) -> dict[str, Callable[..., Any]]:
    """The function table Grafana's notification templates see (spec §3.5)."""
    return {
        "toUpper": lambda text: str(text).upper(),
        "toLower": lambda text: str(text).lower(),
        "title": lambda text: title(str(text)),
        "trimSpace": lambda text: str(text).strip(" \t\n\r\v\f"),
        "join": join,
        "match": regex_match,
        "reReplaceAll": regex_replace_all,
        "safeHtml": lambda text: str(text),
        "stringSlice": lambda *items: [str(item) for item in items],
        "date": lambda layout, value: as_time(value).Format(str(layout)),
        "tz": tz,
        "coll.Dict": coll_dict,
        "coll.Slice": lambda *items: list(items),
        "coll.Append": coll_append,
        "data.JSON": lambda text: parse_data(str(text)),
        "data.ToJSON": lambda value: go_json(value),
        "data.ToJSONPretty": lambda indent, value: go_json(value, str(indent)),
        "time.Now": lambda: Time.of(datetime.now(UTC)),
        "tenantID": lambda: tenant_id,
        "grafanaExploreURL": grafana_explore_url,
        "queryFromGeneratorURL": query_from_generator_url,
    }
