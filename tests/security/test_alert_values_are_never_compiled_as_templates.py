"""What arrives with an alert is data, never template source (issue 9, finding 1).

Opsgenie rendered every common label value as a template: a label `{{ 7*7 }}` arrived as `49`, so
anyone holding an intake token could run templates. Every registered type is built here with
template syntax in every alert field (label names and values, annotations, the generator URL, the
dashboard and panel ids the links are made of, the value string, the external URL, the receiver,
the group labels and key), firing and resolved, and what the type would send must carry the
syntax as written: never what it evaluates to.
"""

from __future__ import annotations

import html
import json
from typing import Any
from urllib.parse import unquote_plus

import pytest

from integrations.base import HttpResponse, OutgoingRequest
from integrations.email import Email
from integrations.registry import all_types
from integrations.templating import TemplateRenderer, build_template_data
from tests.integrations.helpers import make_context

# (template syntax put into every alert field, texts that appear only if it was evaluated)
PAYLOADS = [
    pytest.param("ex{{ 7*7 }}pr", ["ex49pr", "expr"], id="expression"),
    pytest.param("lq{% for i in range(3) %}L{% endfor %}ql", ["lqLLLql", "lqql"], id="loop"),
    pytest.param('tc{{ template("default.title") }}ct', ["tc[", "tcct"], id="template-call"),
    pytest.param("go{{ .Status }}og", ["gofiringog", "goresolvedog", "goog"], id="go-syntax"),
    pytest.param("cm{# hidden #}mc", ["cmmc"], id="comment"),
]
STATUSES = ["firing", "resolved"]
TYPES = [pytest.param(cls, id=name) for name, cls in all_types().items()]


def hostile_alert(payload: str, status: str) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": payload, "team": payload, f"name{payload}": "v", "og_priority": payload},
        "annotations": {
            "summary": payload,
            "description": payload,
            "runbook_url": f"http://runbook.example/{payload}",
            "__dashboardUid__": payload,
            "__panelId__": payload,
            "__value_string__": payload,
        },
        "startsAt": "2024-05-01T10:00:00Z",
        "endsAt": "2024-05-01T11:00:00Z" if status == "resolved" else "",
        "generatorURL": f"http://grafana.example/{payload}",
    }


def hostile_context(cls: type, payload: str, status: str):
    """The type's example settings over template data whose every alert-supplied value is the payload."""
    alert = hostile_alert(payload, status)
    ctx = make_context(cls, dict(cls.example), [alert], receiver=payload, group_labels={"team": payload})
    data = build_template_data(
        [alert],
        receiver=payload,
        group_key=f"{{}}:{{team={payload}}}",
        group_labels={"team": payload},
        external_url=f"http://grafana.example/{payload}/",
    )
    renderer = TemplateRenderer(product_name=ctx.product_name, version=ctx.version)
    ctx.data, ctx.renderer = data, renderer
    ctx.render_template = lambda source: renderer.render(source, data)
    return ctx


def readable(text: str) -> list[str]:
    """The text and the forms a receiver would read it in: JSON strings, URL-decoded, HTML-unescaped."""
    forms = [text, unquote_plus(text), html.unescape(text)]
    try:
        forms.append(json.dumps(json.loads(text), ensure_ascii=False).encode().decode("unicode_escape"))
        forms += [value for value in _strings(json.loads(text))]
    except ValueError:
        pass
    return forms


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [text for item in value.items() for part in item for text in _strings(part)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return [value] if isinstance(value, str) else []


class RecordingTransport:
    """Stands where the network is: keeps each request a type sends and answers it with success."""

    def __init__(self) -> None:
        self.requests: list[OutgoingRequest] = []

    def send(self, request: OutgoingRequest) -> HttpResponse:
        self.requests.append(request)
        return HttpResponse(200, {"content-type": "application/json"}, b'{"ok":true,"errcode":0,"status":"ok"}')


def what_is_sent(cls: type, ctx) -> str:
    """Everything the type would send for this context, in every form a receiver could read it."""
    texts = []
    if cls is Email:
        for message in Email().build_messages(ctx):
            texts += [message.subject, message.body, *(content for content, _ in message.alternatives)]
    else:
        transport = RecordingTransport()
        assert cls().send(ctx, transport).ok
        for request in transport.requests:
            texts += [request.url, *request.headers.values(), (request.body or b"").decode("utf-8", "replace")]
            for _name, part in request.multipart or []:
                texts.append(part if isinstance(part, str) else part[1].decode("utf-8", "replace"))
    return "\n".join(form for text in texts for form in readable(text))


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize(("payload", "evaluated"), PAYLOADS)
@pytest.mark.parametrize("cls", TYPES)
def test_template_syntax_in_alert_fields_arrives_as_written(cls, payload, evaluated, status):
    sent = what_is_sent(cls, hostile_context(cls, payload, status))
    for text in evaluated:
        assert text not in sent, f"{cls.type} evaluated alert data {payload!r} into {text!r}"
    if status == "firing":  # a resolve may carry no alert data at all (Opsgenie's close, for one)
        assert payload in sent, f"{cls.type} lost alert data {payload!r}"


@pytest.mark.parametrize(("payload", "evaluated"), PAYLOADS)
def test_opsgenie_sends_label_values_as_tags_and_details_as_written(payload, evaluated):
    cls = all_types()["opsgenie"]
    ctx = hostile_context(cls, payload, "firing")
    ctx.config["sendTagsAs"] = "both"
    transport = RecordingTransport()
    cls().send(ctx, transport)
    body = json.loads(transport.requests[0].body)
    assert f"team:{payload}" in body["tags"]
    assert body["details"]["team"] == payload
