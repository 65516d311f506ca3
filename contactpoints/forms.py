"""Admin forms. The integration form is built from the type's declared fields, never by hand."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

from django import forms
from django.urls import reverse
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString

from contactpoints.destination_rates import FORM_RATE_ERROR, default_rate_help
from contactpoints.models import ApiToken, Integration
from integrations.base import Field, IntegrationType, Kind, SettingsError
from integrations.values import as_bool, get_path, is_blank, pop_path, set_path

HELP_WHEN_SET = "Set; leave blank to keep."
HELP_WHEN_UNSET = "Not set."
CLEAR_SUFFIX = "__clear"
MAP_HELP = "One per line, as <code>name: value</code>."
PLAIN_INTEGER = re.compile(r"0|-?[1-9][0-9]*")
LIST_HELP = "A JSON list."
# Templates and PEM blocks are code: monospace, and no spell-checking squiggles.
MONOSPACE_ATTRS = {"class": "vLargeTextField", "style": "font-family: monospace", "spellcheck": "false"}
COMMON_FIELDS = ("contact_point", "enabled", "disable_resolve_message", "position", "rate_per_second")
# The admin view that renders a template against sample alerts (contactpoints/admin/previews.py).
PREVIEW_URL_NAME = "admin:contactpoints_integration_preview"


# -- widgets and fields for the setting kinds ------------------------------------------------


class WriteOnlyTextarea(forms.Textarea):
    """A textarea that never renders a value, not even the one just posted.

    Multi-line secrets (PEM keys) need a textarea: a password input drops line breaks.
    """

    def format_value(self, value: Any) -> None:
        return None


class TemplatePreviewMixin:
    """A templated setting's input followed by a Preview button.

    contactpoints/static/contactpoints/admin.js renders the value (or, when blank, the default
    shown as placeholder) against sample alerts and shows the text or the error with its line.
    """

    def render(self, name: str, value: Any, attrs: dict | None = None, renderer: Any = None) -> SafeString:
        html = super().render(name, value, attrs, renderer)
        input_id = (attrs or {}).get("id") or self.attrs.get("id", "")
        return format_html(
            '<div class="cp-templated">{}<button type="button" class="button cp-preview-button" '
            'data-preview-input="{}" data-preview-url="{}">Preview</button>'
            '<pre class="cp-preview-output" aria-live="polite" hidden></pre></div>',
            html,
            input_id,
            reverse(PREVIEW_URL_NAME),
        )


class TemplateTextInput(TemplatePreviewMixin, forms.TextInput):
    pass


class TemplateTextarea(TemplatePreviewMixin, forms.Textarea):
    pass


def parse_name_value_lines(text: str, separator: str = ":") -> dict[str, str]:
    """`name: value` per line → dict; split at the first separator so values may hold it (URLs)."""
    result: dict[str, str] = {}
    example = "name: value" if separator == ":" else f"name{separator}value"
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, found, value = line.partition(separator)
        name = name.strip()
        if not found or not name:
            raise forms.ValidationError(f"Line {number}: write it as {example}.", code="invalid")
        if name in result:
            raise forms.ValidationError(f"Line {number}: {name} is given twice.", code="duplicate")
        result[name] = value.strip()
    return result


def parse_label_lines(text: str) -> dict[str, str]:
    """`severity=critical` per line, as labels are written in PromQL; quotes around a value are dropped."""
    labels = parse_name_value_lines(text, separator="=")
    return {name: _unquoted(value) for name, value in labels.items()}


def _unquoted(value: str) -> str:
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value


class DecodeOnly:
    """A setting's input only decodes what the browser sent; the type's validate() judges the
    value, with the same texts as for the API (design.md: validation is written once). `required`
    still marks the label and the input; a missing value gets the spec's text from the type."""

    def validate(self, value: Any) -> None:
        pass


class SettingTextField(DecodeOnly, forms.CharField):
    """Text as typed: not stripped, since the API does not strip either."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strip=False, **kwargs)


class IntegerTextField(SettingTextField):
    """A number typed as text. A plain integer is stored as a number, as an API client sends it;
    any other text goes to the type as typed (some parse it, some ignore it: the spec's rule)."""

    def to_python(self, value: Any) -> Any:
        text = super().to_python(value)
        return int(text) if PLAIN_INTEGER.fullmatch(text) else text


class SettingChoiceField(DecodeOnly, forms.ChoiceField):
    """A select of the declared choices; whatever is posted goes to the type, which decides."""


class SwitchInput(forms.CheckboxInput):
    """A ticked box posts "on", an unticked one nothing. Any other text a client posts goes to
    the type as sent, just as it would through the API."""

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        if name not in data:
            return False
        value = data.get(name)
        return True if value == "on" else value


class SwitchField(DecodeOnly, forms.Field):
    widget = SwitchInput

    def to_python(self, value: Any) -> Any:
        return value


class NameValueLinesField(DecodeOnly, forms.CharField):
    """A map of names to values (headers, variables), typed as `name: value` lines. Its own
    errors are about that line syntax, which API clients (sending a JSON object) never meet."""

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, dict):
            return "\n".join(f"{name}: {item}" for name, item in value.items())
        return value

    def to_python(self, value: Any) -> dict[str, str]:
        if isinstance(value, dict):
            return value
        return parse_name_value_lines(super().to_python(value))


class JsonValueField(DecodeOnly, forms.JSONField):
    """A list of objects (e.g. responders), typed as JSON; the type checks what it holds."""


def _choices(declared: Field) -> list[tuple[str, str]]:
    choices = [(value, value or "(none)") for value in declared.choices]
    if not declared.required and declared.default is None and "" not in declared.choices:
        choices.insert(0, ("", "---------"))
    return choices


def _placeholder(declared: Field) -> dict[str, str]:
    # Show the default as a placeholder rather than a value: a blank input then keeps following
    # the type's default instead of freezing today's default into the stored settings.
    text = declared.placeholder or (str(declared.default) if declared.default not in (None, "") else "")
    return {"placeholder": text} if text else {}


def _string_field(declared: Field, **common: Any) -> forms.Field:
    if declared.secret:
        widget = forms.PasswordInput(render_value=False, attrs={"class": "vTextField"})
        return SettingTextField(widget=widget, **common)
    widget = TemplateTextInput if declared.template else forms.TextInput
    return SettingTextField(widget=widget(attrs={"class": "vTextField", **_placeholder(declared)}), **common)


def _text_field(declared: Field, **common: Any) -> forms.Field:
    attrs = {**MONOSPACE_ATTRS, "rows": 4, **_placeholder(declared)}
    if declared.secret:
        widget = WriteOnlyTextarea(attrs=attrs)
    else:
        widget = TemplateTextarea(attrs=attrs) if declared.template else forms.Textarea(attrs=attrs)
    return SettingTextField(widget=widget, **common)


def _bool_field(declared: Field, **common: Any) -> forms.Field:
    common["required"] = False  # an unticked box is a value, not a missing one
    return SwitchField(**common)


def _int_field(declared: Field, **common: Any) -> forms.Field:
    attrs = {"inputmode": "numeric", "class": "vIntegerField", **_placeholder(declared)}
    return IntegerTextField(widget=forms.TextInput(attrs=attrs), **common)


def _choice_field(declared: Field, **common: Any) -> forms.Field:
    return SettingChoiceField(choices=_choices(declared), **common)


def _map_field(declared: Field, **common: Any) -> forms.Field:
    common["help_text"] = " ".join(filter(None, [common.get("help_text"), MAP_HELP]))
    return NameValueLinesField(strip=False, widget=forms.Textarea(attrs={**MONOSPACE_ATTRS, "rows": 3}), **common)


def _list_field(declared: Field, **common: Any) -> forms.Field:
    common["help_text"] = " ".join(filter(None, [common.get("help_text"), LIST_HELP]))
    return JsonValueField(widget=forms.Textarea(attrs={**MONOSPACE_ATTRS, "rows": 4}), **common)


FIELD_BUILDERS: dict[Kind, Callable[..., forms.Field]] = {
    Kind.STRING: _string_field,
    Kind.TEXT: _text_field,
    Kind.BOOL: _bool_field,
    Kind.INT: _int_field,
    Kind.CHOICE: _choice_field,
    Kind.MAP: _map_field,
    Kind.LIST: _list_field,
}


def form_field(declared: Field) -> forms.Field:
    """The form field for one declared setting. Secrets get their set/unset help per instance."""
    common = {
        "label": declared.label,
        "required": declared.required,
        # The admin renders help text as HTML; declarations are plain text.
        "help_text": escape(declared.help),
    }
    return FIELD_BUILDERS[declared.kind](declared, **common)


def clear_field_name(key: str) -> str:
    return key + CLEAR_SUFFIX


# -- the integration form --------------------------------------------------------------------


class IntegrationForm(forms.ModelForm):
    """Common fields; `integration_form_class` adds one field per declared setting."""

    integration_type: type[IntegrationType] | None = None
    # Judged by the API's rule (contactpoints.destination_rates), with one message for any refusal.
    rate_per_second = forms.FloatField(
        required=False,
        min_value=0,
        label=Integration._meta.get_field("rate_per_second").verbose_name.capitalize(),
        help_text=Integration._meta.get_field("rate_per_second").help_text,
        error_messages={"invalid": FORM_RATE_ERROR, "min_value": FORM_RATE_ERROR},
    )

    class Meta:
        model = Integration
        fields = COMMON_FIELDS
        labels = {"disable_resolve_message": "Disable resolved message"}
        help_texts = {
            "disable_resolve_message": "Do not send a notification when the alerts resolve.",
            "enabled": "Disabled integrations get no deliveries.",
            "position": "Order within the contact point.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None and "rate_per_second" in self.fields:
            self.fields["rate_per_second"].help_text = default_rate_help(self.instance)
        if self.integration_type is None:
            return
        if not self.instance.type:
            # Set before validation: the instance's secret helpers look the type up by name.
            self.instance.type = self.integration_type.type
        secret_state = self.instance.secret_state()
        for declared in self.integration_type.fields:
            if declared.secret:
                self._present_secret(declared, secret_state.get(declared.key, False))
            elif declared.key in self.fields and not self.is_bound:
                self.initial.setdefault(declared.key, self._stored_value(declared))

    def _present_secret(self, declared: Field, is_set: bool) -> None:
        field = self.fields[declared.key]
        state = HELP_WHEN_SET if is_set else HELP_WHEN_UNSET
        field.help_text = " ".join(filter(None, [state, field.help_text]))
        # A blank secret means "keep", so a stored one satisfies `required`.
        field.required = declared.required and not is_set
        if not is_set:
            self.fields.pop(clear_field_name(declared.key), None)

    def _stored_value(self, declared: Field) -> Any:
        value = get_path(self.instance.settings or {}, declared.key)
        if declared.kind is Kind.BOOL:
            return as_bool(value) if value is not None else bool(declared.default)
        if value is None and declared.kind is Kind.CHOICE:
            return declared.default
        if declared.kind is Kind.CHOICE and value not in declared.choices:
            # Keep an unknown stored value (from the API) selectable, so the type reports it.
            field = self.fields[declared.key]
            field.choices = [*field.choices, (value, value)]
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.integration_type is None or self._settings_fields_have_errors() or self._new_and_cleared(cleaned):
            return cleaned
        self.instance.assign_settings(self._settings_from(cleaned))
        for declared in self.integration_type.fields:
            if cleaned.get(clear_field_name(declared.key)):
                self.instance.set_secret(declared.key, None)
        try:
            config = self.integration_type.validate(self.instance.settings, self.instance.secure_settings)
        except SettingsError as exc:
            for key, message in exc.errors:
                self._add_settings_error(key, message)
            return cleaned
        self._store_switches_as_read(config)
        return cleaned

    def _settings_fields_have_errors(self) -> bool:
        # A field that did not parse is missing from cleaned_data: validating without it would
        # report misleading errors ("required") on top of the real one.
        return any(declared.key in self.errors for declared in self.integration_type.fields)

    def _new_and_cleared(self, cleaned: dict[str, Any]) -> bool:
        """A secret both typed and ticked to clear: ask rather than guess which was meant."""
        conflicting = [
            declared.key
            for declared in self.integration_type.fields
            if declared.secret and cleaned.get(declared.key) and cleaned.get(clear_field_name(declared.key))
        ]
        for key in conflicting:
            self.add_error(clear_field_name(key), "Enter a new value or clear it, not both.")
        return bool(conflicting)

    def _settings_from(self, cleaned: dict[str, Any]) -> dict[str, Any]:
        """The nested settings: undeclared keys kept, declared ones as entered, blanks left out."""
        settings = copy.deepcopy(self.instance.settings or {})
        for declared in self.integration_type.fields:
            value = cleaned.get(declared.key)
            if declared.secret:
                if value:  # blank = keep the stored secret (assign_settings)
                    set_path(settings, declared.key, value)
                continue
            pop_path(settings, declared.key)
            if declared.kind is Kind.BOOL or _worth_storing(value):
                set_path(settings, declared.key, value)
        return settings

    def _store_switches_as_read(self, config: dict[str, Any]) -> None:
        """Each switch stored as the type read it, and only when it differs from its default."""
        for declared in self.integration_type.fields:
            if declared.kind is Kind.BOOL:
                pop_path(self.instance.settings, declared.key)
                if config[declared.key] != bool(declared.default):
                    set_path(self.instance.settings, declared.key, config[declared.key])

    def _add_settings_error(self, key: str | None, message: str) -> None:
        if key in self.fields:
            self.add_error(key, message)
        else:
            self.add_error(None, f"{key}: {message}" if key else message)


def _worth_storing(value: Any) -> bool:
    # Blank inputs are left out, as Grafana's UI does: the type's default then applies, and an
    # empty nested object (hmacConfig) does not switch a feature on.
    return not is_blank(value) and value != []


def integration_form_class(integration_type: type[IntegrationType]) -> type[IntegrationForm]:
    """An IntegrationForm with one field per declared setting, named by its (dotted) key."""
    attrs: dict[str, Any] = {"integration_type": integration_type}
    for declared in integration_type.fields:
        attrs[declared.key] = form_field(declared)
        if declared.secret:
            attrs[clear_field_name(declared.key)] = forms.BooleanField(
                required=False, label=f"Clear {declared.label}", help_text="Remove the stored value."
            )
    return type(f"{integration_type.__name__}IntegrationForm", (IntegrationForm,), attrs)


# -- the other admin forms -------------------------------------------------------------------


class ApiTokenForm(forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ("name", "scope")
