"""Pushover: Message API (https://pushover.net/api), POST /1/messages.json as a multipart form."""

from __future__ import annotations

import json
import re
from typing import Any

from integrations.alertbuilder import rule_url
from integrations.base import Field, IntegrationType, Kind, OutgoingRequest, SendContext, SettingsError, template_field
from integrations.values import go_quote, trunc_runes

# https://pushover.net/api#limits
MAX_TITLE_RUNES = 250
MAX_MESSAGE_RUNES = 1024
MAX_URL_RUNES = 512
EMERGENCY_PRIORITY = 2  # the only priority that takes retry and expire
URL_TITLE = "Show alert rule"
EMPTY_MESSAGE = "(no details)"  # Pushover rejects an empty message
SOUNDS = (
    "default",
    "pushover",
    "bike",
    "bugle",
    "cashregister",
    "classical",
    "cosmic",
    "falling",
    "gamelan",
    "incoming",
    "intermission",
    "magic",
    "mechanical",
    "pianobar",
    "siren",
    "spacealarm",
    "tugboat",
    "alien",
    "climb",
    "persistent",
    "echo",
    "updown",
    "none",
)
SOUND_HELP = "Templated; one of " + ", ".join(SOUNDS) + ". Empty uses the user's default sound."
PRIORITY_HELP = "2 emergency, 1 high, 0 normal, -1 low, -2 lowest."
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
GO_INTEGER = re.compile(r"[+-]?[0-9]+")  # strconv.ParseInt, base 10: no spaces, no underscores


def go_parse_int64(value: Any) -> tuple[int, str | None]:
    """strconv.ParseInt(s, 10, 64) over Grafana's OptionalNumber: (value, error text or None).

    As in Go, a syntax error gives 0 and an out-of-range number the nearest int64.
    """
    if value is None or value == "":
        return 0, None
    text = value if isinstance(value, str) else json.dumps(value)  # a JSON number keeps its text
    if not GO_INTEGER.fullmatch(text):
        return 0, f"strconv.ParseInt: parsing {go_quote(text)}: invalid syntax"
    number = int(text)
    if not INT64_MIN <= number <= INT64_MAX:
        return min(max(number, INT64_MIN), INT64_MAX), f"strconv.ParseInt: parsing {go_quote(text)}: value out of range"
    return number, None


class Pushover(IntegrationType):
    type = "pushover"
    label = "Pushover"
    description = "Sends push notifications to phones and desktops through Pushover."
    example = {"userKey": "uQiRzpo4DXghDmr9QzzfQu27cmVRsG", "apiToken": "azGDORePK8gMaC0QOYAMyEEuzJnyUi"}
    # userKey before apiToken: Grafana checks them in this order, and the first error is the answer.
    fields = (
        Field(
            "userKey",
            "User key(s)",
            required=True,
            secret=True,
            template=True,
            required_error="user key not found",
            help="Your Pushover user or group key; several as a comma-separated list.",
            placeholder="comma-separated list",
        ),
        Field(
            "apiToken",
            "API Token",
            required=True,
            secret=True,
            required_error="API token not found",
            help="The API token of your Pushover application.",
            placeholder="Application token",
        ),
        Field(
            "device",
            "Device(s) (optional)",
            template=True,
            help="Templated; a comma-separated list of device names. Leave empty to send to all devices.",
            placeholder="comma-separated list; leave empty to send to all devices",
        ),
        Field("priority", "Alerting priority", Kind.INT, default=0, help=PRIORITY_HELP),
        Field("okPriority", "OK priority", Kind.INT, default=0, help=PRIORITY_HELP),
        Field(
            "retry",
            "Retry (Only used for Emergency Priority)",
            Kind.INT,
            default=0,
            help="How often (in seconds) the Pushover servers will send the same alerting or OK notification "
            "to the user.",
            placeholder="minimum 30 seconds",
        ),
        Field(
            "expire",
            "Expire (Only used for Emergency Priority)",
            Kind.INT,
            default=0,
            help="How many seconds the alerting or OK notification will continue to be retried.",
            placeholder="maximum 10800 seconds",
        ),
        Field("sound", "Alerting sound", template=True, help=SOUND_HELP),
        Field("okSound", "OK sound", template=True, help=SOUND_HELP),
        Field(
            "uploadImage",
            "Upload image",
            Kind.BOOL,
            default=True,
            help="Upload an image with the notification (images are not produced by this application yet).",
        ),
        template_field("title", "Title", "default.title", help="Templated title; cut to 250 characters."),
        template_field(
            "message", "Message", "default.message", help="Templated message, sent as HTML; cut to 1024 characters."
        ),
    )

    @classmethod
    def clean(cls, config: dict[str, Any]) -> None:
        errors: list[tuple[str | None, str]] = []
        for key, name in (("priority", "alerting priority"), ("okPriority", "OK priority")):
            config[key], error = go_parse_int64(config[key])
            if error:
                errors.append((key, f"failed to convert {name} to integer: {error}"))
        if errors:
            raise SettingsError(errors)
        for key in ("retry", "expire"):
            config[key], _ignored = go_parse_int64(config[key])  # Grafana ignores these parse errors

    def build(self, ctx: SendContext) -> OutgoingRequest:
        config = ctx.config
        resolved = ctx.data.Status == "resolved"
        priority = config["okPriority"] if resolved else config["priority"]
        fields = [("user", ctx.render("userKey")), ("token", config["apiToken"]), ("priority", str(priority))]
        if priority == EMERGENCY_PRIORITY:
            fields += [("retry", str(config["retry"])), ("expire", str(config["expire"]))]
        if config["device"]:
            fields.append(("device", ctx.render("device")))
        message = trunc_runes(ctx.render("message"), MAX_MESSAGE_RUNES).strip() or EMPTY_MESSAGE
        fields += [
            ("title", trunc_runes(ctx.render("title"), MAX_TITLE_RUNES)),
            ("url", trunc_runes(rule_url(ctx.data.ExternalURL), MAX_URL_RUNES)),
            ("url_title", URL_TITLE),
            ("message", message),
        ]
        # Grafana attaches the first alert image here (`attachment`, when uploadImage is on);
        # images are optional (spec §3.6) and not produced here.
        sound = ctx.render("okSound" if resolved else "sound")
        if sound != "default":  # an unset sound is sent, empty
            fields.append(("sound", sound))
        fields.append(("html", "1"))
        # Imported here: at module level the registry's scan of the module would load Django settings.
        from django.conf import settings

        url = f"{settings.PUSHOVER_API_URL.rstrip('/')}/1/messages.json"
        return OutgoingRequest("POST", url, multipart=fields, credentials_in_body=True)
