"""Finding 14: the admin form and the API give one verdict for the same value of any setting.

Every field of every registered type gets the same raw values through both doors: the admin's
own form class for the type, bound with what a browser posts (strings; a ticked box is "on", an
unticked one is not sent; a select posts its option; maps as `name: value` lines; lists as JSON
text), and the provisioning API with the JSON a client sends. Both accept, or both refuse with
the same message on the same field. The cases are generated from the registry, so a new type or
field is covered without touching this file.
"""

from __future__ import annotations

import contextlib
import copy
import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib import admin
from django.test import RequestFactory

from contactpoints.destination_rates import API_RATE_ERROR, FORM_RATE_ERROR
from contactpoints.models import ContactPoint, Integration
from integrations import registry
from integrations.base import Field, IntegrationType, Kind
from integrations.values import get_path, set_path

pytestmark = pytest.mark.django_db

PROVISIONING = "/api/v1/provisioning/contact-points"
HEADER_NAME = "X-Test"  # a name every map accepts (webhook headers restrict some names)

# The raw values of the finding, as a person or a script would type them.
RAW_VALUES = {
    "empty": "",
    "whitespace": "   ",
    "word": "abc",
    "zero": "0",
    "negative": "-1",
    "fraction": "1.5",
    "huge": "99999999999",
    "true": "true",
    "method": "GET",
    "go template": "{{ .X }}",
    "jinja template": "{{ x }}",
    "long": "x" * 5000,
    "invalid url": "http://[invalid",
}

# A value that makes sense for a field the type's example leaves out.
EXAMPLE_BY_KIND = {
    Kind.STRING: "example",
    Kind.TEXT: "example\ntext",
    Kind.INT: 1,
    Kind.BOOL: True,
    Kind.MAP: {HEADER_NAME: "1"},
    Kind.LIST: [],
}


@dataclass(frozen=True)
class Case:
    type: str
    key: str
    label: str  # which raw value, and how the API carries it
    api_value: Any  # the JSON value the API gets; the browser posts its form encoding

    def __str__(self) -> str:
        return f"{self.type}-{self.key}-{self.label}"


def valid_example(integration_type: type[IntegrationType], declared: Field) -> Any:
    example = get_path(integration_type.example, declared.key)
    if example is not None:
        return example
    if declared.kind is Kind.CHOICE:
        return declared.default if declared.default is not None else declared.choices[0]
    return EXAMPLE_BY_KIND[declared.kind]


def api_values(declared: Field, raw: str) -> list[tuple[str, Any]]:
    """The JSON values that carry `raw` for this kind of field, each with how it is carried."""
    if declared.kind is Kind.MAP:
        return [("as a value", {HEADER_NAME: raw})]  # the line `X-Test: raw` in the admin
    if declared.kind is Kind.LIST:
        values = [("as a name", [{"type": "team", "name": raw}]), ("as a type", [{"type": raw, "name": "ops"}])]
        # Text that is not JSON gets the admin's "Enter a valid JSON." first; the API cannot send it.
        with contextlib.suppress(ValueError):
            values.append(("as json", json.loads(raw)))
        return values
    values = [("as text", raw)]
    if declared.kind is Kind.INT:
        try:
            number = json.loads(raw)
        except ValueError:
            number = None
        if isinstance(number, int | float) and not isinstance(number, bool):
            values.append(("as a number", number))
    return values


def all_cases() -> list[Case]:
    cases = []
    for integration_type in registry.all_types().values():
        for declared in integration_type.fields:
            for name, raw in RAW_VALUES.items():
                cases += [
                    Case(integration_type.type, declared.key, f"{name} {how}", v)
                    for how, v in api_values(declared, raw)
                ]
            cases.append(
                Case(integration_type.type, declared.key, "valid example", valid_example(integration_type, declared))
            )
            if declared.kind is Kind.BOOL:
                cases += [Case(integration_type.type, declared.key, f"json {v}", v) for v in (True, False)]
    return cases


# -- the browser's side ----------------------------------------------------------------------


def browser_value(declared: Field, value: Any) -> str | None:
    """What a browser posts for a field showing `value` (None: nothing is posted)."""
    if declared.kind is Kind.BOOL:
        shown = declared.default if value is None else value
        if isinstance(shown, bool) or shown is None:
            return "on" if shown else None  # an unticked box is not sent at all
        return str(shown)  # a value a client posts by hand
    if value is None:
        # A select always posts its selected option: the default, which the form preselects.
        return str(declared.default) if declared.kind is Kind.CHOICE and declared.default is not None else ""
    if declared.kind is Kind.MAP and isinstance(value, dict):
        return "\n".join(f"{name}: {item}" for name, item in value.items())
    if declared.kind is Kind.LIST:
        return json.dumps(value)
    return value if isinstance(value, str) else json.dumps(value)  # a number as typed


def browser_post(integration_type: type[IntegrationType], settings: dict[str, Any], contact_point) -> dict[str, str]:
    post = {"contact_point": str(contact_point.pk), "enabled": "on", "position": "0"}
    for declared in integration_type.fields:
        value = browser_value(declared, get_path(settings, declared.key))
        if value is not None:
            post[declared.key] = value
    return post


def admin_verdict(admin_user, integration_type, settings) -> dict[str, list[str]]:
    """The admin's own form for the type, bound as on "Save": {} when it saves, else its errors."""
    request = RequestFactory().get("/", {"type": integration_type.type})
    request.user = admin_user
    form_class = admin.site._registry[Integration].get_form(request)
    contact_point = ContactPoint.objects.create(name="Admin door")
    form = form_class(data=browser_post(integration_type, settings, contact_point))
    return {} if form.is_valid() else {field: list(messages) for field, messages in form.errors.items()}


def api_verdict(api, token, integration_type, settings) -> str | None:
    """None when the API creates it, else its message."""
    body = {"name": "API door", "type": integration_type.type, "settings": settings}
    response = api.post(PROVISIONING, body, token=token)
    assert response.status_code in (202, 400), response.content
    return None if response.status_code == 202 else response.json()["message"]


@pytest.mark.parametrize("case", all_cases(), ids=str)
def test_the_admin_form_and_the_api_give_one_verdict(case, api, admin_token, admin_user):
    integration_type = registry.get_type(case.type)
    settings = copy.deepcopy(integration_type.example)
    set_path(settings, case.key, case.api_value)

    api_message = api_verdict(api, admin_token, integration_type, settings)
    admin_errors = admin_verdict(admin_user, integration_type, settings)

    if api_message is None:
        assert admin_errors == {}
    else:
        # The API answers Grafana's one string; the admin shows that string next to the field.
        assert admin_errors == {case.key: [api_message]}


# The cases of the finding, each decided by the spec (§4): None = both doors accept it.
FINDING_CASES = [
    ("webhook", "httpMethod", "GET", None),  # accepted; Grafana fails it at send time
    ("webhook", "maxAlerts", "abc", None),  # non-numeric silently means no limit
    ("wecom", "msgtype", "news", None),  # any other type means markdown
    ("dingding", "msgType", "{{ 'actionCard' if Status == 'firing' else 'link' }}", None),  # templated
    ("telegram", "parse_mode", "markdownv2", None),  # case-insensitive
    ("telegram", "message_thread_id", "abc", "message thread id must be an integer"),
    ("telegram", "message_thread_id", "2147483648", "message thread id must be an int32"),
    ("kafka", "apiVersion", "v4", "unsupported api version: v4"),
]


@pytest.mark.parametrize(("type_name", "key", "value", "message"), FINDING_CASES)
def test_the_findings_cases_get_the_specs_verdict_at_both_doors(
    api, admin_token, admin_user, type_name, key, value, message
):
    integration_type = registry.get_type(type_name)
    settings = {**copy.deepcopy(integration_type.example), key: value}

    assert api_verdict(api, admin_token, integration_type, settings) == message
    assert admin_verdict(admin_user, integration_type, settings) == ({key: [message]} if message else {})


# -- the integration's own rate: our field beside the settings, one rule at both doors ---------

# As typed in the admin's rate field; the API gets the JSON text itself (null for empty).
RATE_VALUES = ["", "0", "0.5", "12", "1e3", "-1", "-0.001", "abc", "1e999", "nan", "inf", "true", "[1]"]


def rate_json(raw: str) -> str:
    """The JSON an API client writes for a typed rate: null for nothing, the text when it is JSON
    (1e999 stays as written: it reads as infinity), else the text as a string."""
    if not raw:
        return "null"
    try:
        json.loads(raw)
    except ValueError:
        return json.dumps(raw)
    return raw


@pytest.mark.parametrize("raw", RATE_VALUES)
def test_the_admin_form_and_the_api_judge_a_rate_alike(api, admin_token, admin_user, raw):
    integration_type = registry.get_type("webhook")
    body = {"name": "API door", "type": "webhook", "settings": integration_type.example, "ratePerSecond": "RATE"}
    text = json.dumps(body).replace('"RATE"', rate_json(raw))
    response = api.post(PROVISIONING, raw=text, token=admin_token)

    request = RequestFactory().get("/", {"type": "webhook"})
    request.user = admin_user
    form_class = admin.site._registry[Integration].get_form(request)
    post = browser_post(integration_type, integration_type.example, ContactPoint.objects.create(name="Admin door"))
    form = form_class(data={**post, "rate_per_second": raw})

    if response.status_code == 202:
        assert form.is_valid(), form.errors
        assert (
            form.cleaned_data["rate_per_second"] == Integration.objects.get(uid=response.json()["uid"]).rate_per_second
        )
    else:
        assert (response.status_code, response.json()["message"]) == (400, API_RATE_ERROR)
        assert form.errors == {"rate_per_second": [FORM_RATE_ERROR]}
