"""Opsgenie: Alert API v2, create and close by alias (https://docs.opsgenie.com/docs/alert-api)."""

from __future__ import annotations

from typing import Any

from integrations.alertbuilder import rule_url
from integrations.base import (
    Field,
    IntegrationType,
    Kind,
    OutgoingRequest,
    SendContext,
    SettingsError,
)
from integrations.templating import TemplateError, TemplateRenderer
from integrations.values import go_json, go_quote, trunc_runes

API_URL = "https://api.opsgenie.com/v2/alerts"
DEFAULT_MESSAGE = '{{ template("default.title") }}'
MAX_MESSAGE_RUNES = 130  # https://docs.opsgenie.com/docs/alert-api#create-alert
SEND_TAGS_AS = ("tags", "details", "both")
RESPONDER_TYPES = ("team", "teams", "user", "escalation", "schedule")
RESPONDER_KEYS = ("id", "name", "username", "type")  # the order Opsgenie's JSON lists them in
PRIORITIES = frozenset({"P1", "P2", "P3", "P4", "P5"})
PRIORITY_LABEL = "og_priority"
OMITTED_WHEN_EMPTY = ("description", "responders", "priority")


def responder_errors(index: int, responder: dict[str, str]) -> str | None:
    """Grafana's checks of one responder at save time, in its order."""
    prefix = f"responder at index [{index}]"
    if not (responder["id"] or responder["username"] or responder["name"]):
        return f"{prefix} must have at least one of id, username or name specified"
    kind = responder["type"]
    if "{{" in kind:
        try:
            TemplateRenderer().check(kind)
        except TemplateError as exc:
            return f"{prefix} type is not a valid template: {exc}"
    else:
        kind = kind.lower()
        if kind not in RESPONDER_TYPES:
            return f"{prefix} has unsupported type. Supported only: {','.join(RESPONDER_TYPES)}"
    if kind == "teams" and not responder["name"]:
        return f"{prefix} has type 'teams' but empty name. Must be comma-separated string of names"
    return None


class Opsgenie(IntegrationType):
    type = "opsgenie"
    label = "OpsGenie"
    description = "Creates an Opsgenie alert per alert group and closes it when the group resolves."
    error_prefix = "send notification to Opsgenie: "
    example = {"apiKey": "00000000-0000-0000-0000-000000000000", "apiUrl": API_URL}
    fields = (
        Field(
            "apiKey",
            "API Key",
            required=True,
            secret=True,
            required_error="could not find api key property in settings",
            help="The API key of an Opsgenie API integration.",
        ),
        Field(
            "apiUrl",
            "Alert API Url",
            default=API_URL,
            template=True,
            help=f"The Alert API endpoint, {API_URL} by default (https://api.eu.opsgenie.com/v2/alerts in the EU). "
            "Templated when creating alerts; closing uses the value as written.",
            placeholder=API_URL,
        ),
        Field(
            "message",
            "Message",
            Kind.TEXT,
            default=DEFAULT_MESSAGE,
            template=True,
            help="Alert text limited to 130 characters.",
        ),
        Field(
            "description",
            "Description",
            Kind.TEXT,
            template=True,
            help="A description of the incident. When it renders empty, the default title, the alert list URL "
            "and the default message are sent.",
        ),
        Field(
            "autoClose",
            "Auto close incidents",
            Kind.BOOL,
            default=True,
            help="Automatically close the alert in Opsgenie once the alert group resolves.",
        ),
        Field(
            "overridePriority",
            "Override priority",
            Kind.BOOL,
            default=True,
            help="Allow the alert priority to be set with the og_priority label (P1 to P5).",
        ),
        Field(
            "sendTagsAs",
            "Send notification tags as",
            Kind.CHOICE,
            default="tags",
            choices=SEND_TAGS_AS,
            help="Send the common labels to Opsgenie as tags, as extra properties (details), or both.",
        ),
        Field(
            "responders",
            "Responders",
            Kind.LIST,
            help="Teams, users, escalations and schedules the alert is routed to: a list of "
            "{type, id, name, username}. Each field is templated; type 'teams' takes comma-separated team names.",
        ),
    )

    @classmethod
    def clean(cls, config: dict[str, Any]) -> None:
        if config["sendTagsAs"] not in SEND_TAGS_AS:
            raise SettingsError.single("sendTagsAs", f"invalid value for sendTagsAs: {go_quote(config['sendTagsAs'])}")
        responders = []
        for index, item in enumerate(config["responders"] or []):
            if not isinstance(item, dict):
                raise SettingsError.single("responders", f"responder at index [{index}] must be an object")
            responder = {key: "" if item.get(key) is None else str(item[key]) for key in RESPONDER_KEYS}
            if error := responder_errors(index, responder):
                raise SettingsError.single("responders", error)
            responders.append(responder)
        config["responders"] = responders

    def build(self, ctx: SendContext) -> OutgoingRequest | None:
        config = ctx.config
        headers = {"Content-Type": "application/json", "Authorization": f"GenieKey {config['apiKey']}"}
        if ctx.data.Status == "resolved":
            if not config["autoClose"]:
                return None  # nothing to close: the alert stays open in Opsgenie
            url = f"{config['apiUrl']}/{ctx.dedup_key}/close?identifierType=alias"
            return OutgoingRequest("POST", url, headers=headers, body=go_json({"source": ctx.product_name}))
        try:
            url = ctx.render_template(config["apiUrl"])
        except Exception:  # noqa: BLE001 - Grafana falls back to the URL as written
            url = config["apiUrl"]
        return OutgoingRequest("POST", url, headers=headers, body=go_json(self.alert(ctx)))

    def alert(self, ctx: SendContext) -> dict[str, Any]:
        """The create-alert body, in the order Opsgenie's documentation lists the fields."""
        config = ctx.config
        alert_list_url = rule_url(ctx.data.ExternalURL)
        description = ctx.render("description")
        if not description.strip():
            title = ctx.render('{{ template("default.title") }}', is_key=False)
            message = ctx.render('{{ template("default.message") }}', is_key=False)
            description = f"{title}\n{alert_list_url}\n\n{message}"
        # Label values come with the alert: sent as they are, never run as templates (Grafana runs
        # each one through its template engine, which lets whoever sends alerts run templates).
        labels = dict(ctx.data.CommonLabels.items())
        details: dict[str, Any] = {"url": alert_list_url}
        if config["sendTagsAs"] in ("details", "both"):
            details.update(labels)  # images (spec §3.6) are skipped: no "image_urls"
        tags = sorted(f"{name}:{value}" for name, value in labels.items()) if config["sendTagsAs"] != "details" else []
        body: dict[str, Any] = {
            "alias": ctx.dedup_key,
            "message": trunc_runes(ctx.render("message"), MAX_MESSAGE_RUNES),
            "description": description,
            "details": dict(sorted(details.items())),  # Go encodes map keys sorted
            "source": ctx.product_name,
            "responders": self.responders(ctx),
            "tags": tags,
            "priority": self.priority(ctx),
        }
        return {key: value for key, value in body.items() if value or key not in OMITTED_WHEN_EMPTY}

    @staticmethod
    def priority(ctx: SendContext) -> str:
        """P1..P5 from the og_priority common label, when allowed."""
        value = ctx.data.CommonLabels.get(PRIORITY_LABEL, "")
        return value if ctx.config["overridePriority"] and value in PRIORITIES else ""

    @staticmethod
    def responders(ctx: SendContext) -> list[dict[str, str]]:
        """Each responder templated; fully empty ones skipped, type 'teams' expanded to one per team."""
        out: list[dict[str, str]] = []
        for declared in ctx.config["responders"]:
            responder = {key: ctx.render(declared[key], is_key=False) for key in RESPONDER_KEYS}
            if not any(responder.values()):
                continue  # lets responders come from labels that may be absent
            if responder["type"] == "teams":
                out += [{"name": team, "type": "team"} for team in responder["name"].split(",") if team]
                continue
            out.append({key: value for key, value in responder.items() if value or key == "type"})
        return out
