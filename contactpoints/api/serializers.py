"""Request and answer shapes of the API besides intake and provisioning.

The OpenAPI schema is generated from these, so each field says exactly what the view accepts.
"""

from __future__ import annotations

import copy
from typing import Any

from django.conf import settings
from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from contactpoints.models import (
    Attempt,
    ContactPoint,
    Delivery,
    DeliveryStatus,
    Integration,
    Provenance,
    TemplateSyntax,
)
from integrations.registry import UnknownIntegrationType
from integrations.values import pop_path

# -- shared ----------------------------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    """Every error answer: a message, and per-field errors when fields were at fault."""

    message = serializers.CharField(help_text="What went wrong, and what to change.")
    errors = serializers.DictField(
        required=False, help_text="Field path → what is wrong with it (a text or a list of texts)."
    )


class StrictStringField(serializers.CharField):
    """A string and nothing else: DRF's CharField would turn 5 into "5", but labels are strings."""

    def __init__(self, **kwargs: Any):
        super().__init__(allow_blank=True, trim_whitespace=False, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StringMapField(serializers.DictField):
    """An object of names to strings. DRF checks only the values; the names are checked here too,
    since neither PostgreSQL nor a JSON answer can carry a NUL or an unpaired surrogate."""

    child = StrictStringField()
    default_error_messages = {"bad_name": "Names must not contain NUL or unpaired surrogate characters."}

    def to_internal_value(self, data: Any) -> dict[str, str]:
        if isinstance(data, dict):
            names = StrictStringField()
            for name in data:
                try:
                    names.run_validation(name)
                except serializers.ValidationError:
                    self.fail("bad_name")  # not echoing the name: it may not even encode
        return super().to_internal_value(data)


def string_map(help_text: str) -> StringMapField:
    return StringMapField(required=False, help_text=help_text)


def go_duration(milliseconds: int) -> str:
    """Go's time.Duration.String() for whole milliseconds: "0s", "120ms", "1.5s", "2m3.04s", "1h0m0s"."""
    if milliseconds < 1000:
        return f"{milliseconds}ms" if milliseconds else "0s"
    hours, rest = divmod(milliseconds, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    whole, fraction = divmod(rest, 1000)
    seconds = f"{whole}" + (f".{fraction:03d}".rstrip("0") if fraction else "") + "s"
    if hours:
        return f"{hours}h{minutes}m{seconds}"
    return f"{minutes}m{seconds}" if minutes else seconds


# -- contact points (GET contact-points) -----------------------------------------------------


class IntegrationSerializer(serializers.ModelSerializer):
    """One integration as the contact point list shows it: secrets only as set or unset."""

    disableResolveMessage = serializers.BooleanField(source="disable_resolve_message")
    ratePerSecond = serializers.FloatField(
        source="rate_per_second",
        allow_null=True,
        min_value=0,
        help_text="The integration's own pace in messages per second; null: its provider's documented limit, "
        "0: not paced. Set through the provisioning API or the admin.",
    )
    settings = serializers.SerializerMethodField()
    secureFields = serializers.SerializerMethodField()
    provenance = serializers.ChoiceField(choices=Provenance.choices)
    lastNotifyAttempt = serializers.DateTimeField(
        source="last_attempt_at", allow_null=True, help_text="When the last delivery attempt started; null if never."
    )
    lastNotifyAttemptDuration = serializers.SerializerMethodField()
    lastNotifyAttemptError = serializers.CharField(
        source="last_attempt_error", help_text="The last attempt's error; empty when it succeeded."
    )
    unhealthySince = serializers.DateTimeField(
        source="unhealthy_since",
        allow_null=True,
        help_text="Our own: since when self-monitoring marks it unhealthy (it failed for good "
        "INTEGRATION_FAILURE_THRESHOLD times within INTEGRATION_FAILURE_WINDOW_SECONDS); null while healthy. "
        "Its next delivery clears it.",
    )

    class Meta:
        model = Integration
        fields = [
            "uid",
            "type",
            "settings",
            "secureFields",
            "disableResolveMessage",
            "ratePerSecond",
            "enabled",
            "paused",
            "provenance",
            "lastNotifyAttempt",
            "lastNotifyAttemptDuration",
            "lastNotifyAttemptError",
            "unhealthySince",
        ]

    def _secret_keys(self, integration: Integration) -> list[str]:
        try:
            return integration.integration_type.secret_keys()
        except UnknownIntegrationType:  # a type removed since: show what is stored, hide nothing known
            return []

    @extend_schema_field({"type": "object", "additionalProperties": True})
    def get_settings(self, integration: Integration) -> dict[str, Any]:
        """The plain settings; a secret that somehow sits among them is left out all the same."""
        shown = copy.deepcopy(integration.settings or {})
        for key in self._secret_keys(integration):
            pop_path(shown, key)
        return shown

    @extend_schema_field(
        {
            "type": "object",
            "additionalProperties": {"type": "boolean"},
            "description": "Secret setting key → whether it is set. Values are never returned.",
        }
    )
    def get_secureFields(self, integration: Integration) -> dict[str, bool]:
        if not self._secret_keys(integration):
            return {}
        return integration.secret_state()

    @extend_schema_field(
        {
            "type": "string",
            "nullable": True,
            "example": "120ms",
            "description": "The last attempt's duration as a Go duration; null if never.",
        }
    )
    def get_lastNotifyAttemptDuration(self, integration: Integration) -> str | None:
        if integration.last_attempt_duration_ms is None:
            return None
        return go_duration(integration.last_attempt_duration_ms)


FALLBACK_HELP = (
    "Our own: the uid of the contact point that also gets a notification, with the failure in its text, "
    "when an integration here fails for good; null for none. Never the contact point itself."
)


class ContactPointSerializer(serializers.ModelSerializer):
    fallback = serializers.SlugRelatedField(slug_field="uid", read_only=True, allow_null=True, help_text=FALLBACK_HELP)
    integrations = IntegrationSerializer(many=True)

    class Meta:
        model = ContactPoint
        fields = ["uid", "name", "description", "paused", "fallback", "integrations"]


class ContactPointChangeSerializer(serializers.ModelSerializer):
    """PATCH contact-points/<uid>: what is ours to change (Grafana's settings are provisioned)."""

    fallback = serializers.SlugRelatedField(
        slug_field="uid", queryset=ContactPoint.objects.all(), allow_null=True, help_text=FALLBACK_HELP
    )

    class Meta:
        model = ContactPoint
        fields = ["uid", "name", "fallback"]
        read_only_fields = ["uid", "name"]

    def validate_fallback(self, fallback: ContactPoint | None) -> ContactPoint | None:
        if fallback is not None and fallback.pk == self.instance.pk:
            raise serializers.ValidationError("A contact point cannot fall back to itself.", code="itself")
        return fallback


# -- test notifications (POST contact-points/<uid>/test) -------------------------------------


class TestNotificationSerializer(serializers.Serializer):
    labels = string_map("Labels added to the test alert (alertname defaults to TestAlert).")
    annotations = string_map("Annotations added to the test alert (summary, description, ...).")


class TestResultSerializer(serializers.Serializer):
    uid = serializers.CharField(help_text="The integration's uid.")
    type = serializers.CharField()
    status = serializers.ChoiceField(choices=["ok", "failed"])
    error = serializers.CharField(allow_blank=True, help_text="Why it failed; empty when ok.")
    durationMs = serializers.IntegerField(min_value=0)


# -- notification templates ------------------------------------------------------------------

# Not "preview": POST templates/preview is the preview, so a template of that name could not
# be addressed. No "/": every name must fit in one path segment.
RESERVED_TEMPLATE_NAMES = ("preview",)
# Spaces spelled out, not \s: Python and the ECMAScript regexes of JSON Schema differ on \s.
TEMPLATE_NAME_PATTERN = r"^[^/ \t\n\r\f\v]([^/]*[^/ \t\n\r\f\v])?$"


TEMPLATE_NAME_SCHEMA = {
    "type": "string",
    "maxLength": 190,
    "pattern": TEMPLATE_NAME_PATTERN,
    "description": 'The name other templates call it by: template("name"). No "/", no leading or trailing '
    "space, not " + ", ".join(f'"{n}"' for n in RESERVED_TEMPLATE_NAMES) + ".",
    "example": "team.title",
}


@extend_schema_field({**TEMPLATE_NAME_SCHEMA, "not": {"enum": list(RESERVED_TEMPLATE_NAMES)}})
class TemplateNameField(serializers.CharField):
    def __init__(self, **kwargs: Any):
        validator = RegexValidator(TEMPLATE_NAME_PATTERN, 'No "/" and no leading or trailing space.', code="invalid")
        super().__init__(max_length=190, trim_whitespace=False, validators=[validator], **kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        name = super().to_internal_value(data)
        if name in RESERVED_TEMPLATE_NAMES:
            raise serializers.ValidationError(f'"{name}" is reserved; choose another name.', code="reserved")
        return name


class TemplateContentField(serializers.CharField):
    def __init__(self, **kwargs: Any):
        super().__init__(trim_whitespace=False, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


TEMPLATE_CONTENT_HELP = "The template, over Grafana's template data, in its syntax."
TEMPLATE_SYNTAX_HELP = (
    "Which engine renders it: go (Grafana's Go text/template) or jinja (Jinja2). When left out it is "
    "detected from the content: go when it parses as Go and uses a form only Go has "
    "(`{{ .Field }}`, `$`, `if`/`range`/`define`/`template`, `{{/* */}}`), else jinja."
)


class NotificationTemplateSerializer(serializers.Serializer):
    name = TemplateNameField()
    content = TemplateContentField(help_text=TEMPLATE_CONTENT_HELP)
    syntax = serializers.ChoiceField(choices=TemplateSyntax.choices, required=False, help_text=TEMPLATE_SYNTAX_HELP)


class TemplateContentSerializer(serializers.Serializer):
    """PUT templates/<name>: the name is the path's."""

    content = TemplateContentField(help_text=TEMPLATE_CONTENT_HELP)
    syntax = serializers.ChoiceField(choices=TemplateSyntax.choices, required=False, help_text=TEMPLATE_SYNTAX_HELP)


class TemplateErrorSerializer(ErrorSerializer):
    line = serializers.IntegerField(
        required=False, allow_null=True, help_text="When the template does not parse: its line at fault, if known."
    )
    column = serializers.IntegerField(
        required=False, allow_null=True, help_text="And its column, when the engine says (Go does)."
    )


@extend_schema_field({"$ref": "#/components/schemas/Alert"})
class AlertField(serializers.JSONField):
    """One alert in any intake alert shape; contactpoints.intake checks it (the schema is in api/openapi.py)."""


class TemplatePreviewSerializer(serializers.Serializer):
    template = TemplateContentField(allow_blank=True, help_text="The template text to render.")
    alerts = serializers.ListField(
        child=AlertField(),
        required=False,
        max_length=settings.INTAKE_MAX_ALERTS,
        help_text="Alerts in Alertmanager API v2 shape ({labels, annotations?, startsAt?, endsAt?, "
        "generatorURL?, status?}); sample alerts when absent or empty.",
    )
    syntax = serializers.ChoiceField(
        choices=TemplateSyntax.choices,
        required=False,
        help_text="The engine to render with; absent: the one a templated setting with this text would use. "
        "A Go template that defines templates previews each of them, under its name.",
    )


class PreviewOutputSerializer(serializers.Serializer):
    output = serializers.CharField(allow_blank=True)
    syntax = serializers.ChoiceField(choices=TemplateSyntax.choices)


class PreviewErrorSerializer(serializers.Serializer):
    error = serializers.CharField()
    line = serializers.IntegerField(allow_null=True)
    column = serializers.IntegerField(required=False, help_text="Go templates only.")
    syntax = serializers.ChoiceField(choices=TemplateSyntax.choices)


# -- integration types (the catalogue forms are built from) ----------------------------------


class SettingFieldSerializer(serializers.Serializer):
    key = serializers.CharField(help_text='Settings key; dotted for nested objects ("hmacConfig.secret").')
    label = serializers.CharField()
    kind = serializers.ChoiceField(choices=["string", "text", "bool", "int", "choice", "map", "list"])
    required = serializers.BooleanField()
    secret = serializers.BooleanField(help_text="Write-only: the API shows it as set or unset, never its value.")
    default = serializers.JSONField(allow_null=True)
    choices = serializers.ListField(child=serializers.CharField())
    help = serializers.CharField(allow_blank=True)
    template = serializers.BooleanField(help_text="Rendered as a notification template before use.")
    placeholder = serializers.CharField(allow_blank=True)


class IntegrationTypeSerializer(serializers.Serializer):
    type = serializers.CharField()
    label = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    deprecated = serializers.BooleanField()
    canCreate = serializers.BooleanField()
    fields = SettingFieldSerializer(many=True)
    example = serializers.DictField(help_text="Example settings that validate.")
    preset = serializers.CharField(
        required=False, help_text="Only on presets: a provider offered under its own name, delivered by `type`."
    )


# -- deliveries ------------------------------------------------------------------------------


class DeliveryFilterSerializer(serializers.Serializer):
    """The query of GET deliveries; every filter is optional."""

    contact_point = serializers.CharField(required=False, allow_blank=True, help_text="A contact point's uid.")
    status = serializers.ChoiceField(choices=DeliveryStatus.choices, required=False, allow_blank=True)
    integration_type = serializers.CharField(
        required=False, allow_blank=True, help_text="An integration type, e.g. webhook."
    )


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = Attempt
        fields = ["number", "started_at", "duration_ms", "outcome", "http_status", "error"]


class DeliverySerializer(serializers.ModelSerializer):
    contact_point = serializers.CharField(source="integration.contact_point.uid")
    integration_uid = serializers.CharField(source="integration.uid")
    integration_type = serializers.CharField(source="integration.type")
    notification = serializers.UUIDField(source="notification_id")
    coalesced_into = serializers.UUIDField(
        source="coalesced_into_id",
        allow_null=True,
        help_text="Delivered within this delivery's digest (a storm to a paced destination); null: sent on its own.",
    )

    class Meta:
        model = Delivery
        fields = [
            "id",
            "notification",
            "contact_point",
            "integration_uid",
            "integration_type",
            "status",
            "attempts",
            "next_attempt_at",
            "last_error",
            "last_http_status",
            "created_at",
            "updated_at",
            "delivered_at",
            "coalesced_into",
        ]


class DeliveryDetailSerializer(DeliverySerializer):
    attempts_detail = AttemptSerializer(source="attempt_set", many=True)

    class Meta(DeliverySerializer.Meta):
        fields = [*DeliverySerializer.Meta.fields, "attempts_detail"]
