"""Integrations: a type picker, then a form built from that type's declaration.

Secrets are write-only: the form never renders a stored value, only whether one is set.
Integrations provisioned through the API or a file are managed as code and shown read-only.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.admin.options import IS_POPUP_VAR
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.views.decorators.http import require_POST

from contactpoints.admin import operations
from contactpoints.admin.destinations import destinations_view
from contactpoints.admin.display import health, integration_state, integration_summary, pretty_json
from contactpoints.admin.filters import ContactPointFilter, IntegrationTypeFilter
from contactpoints.admin.previews import TemplatePreviewAdminMixin
from contactpoints.forms import IntegrationForm, clear_field_name, integration_form_class
from contactpoints.models import ContactPoint, Integration, Provenance
from integrations import registry
from integrations.base import IntegrationType
from integrations.values import REDACTED

MANAGED_PROVENANCES = (Provenance.API, Provenance.FILE)
TYPE_PICKER_TEMPLATE = "admin/contactpoints/integration/type_picker.html"


def lookup_type(name: str) -> type[IntegrationType] | None:
    try:
        return registry.get_type(name) if name else None
    except registry.UnknownIntegrationType:
        return None


def with_preset_help(form_class: type[IntegrationForm], preset: registry.Preset) -> type[IntegrationForm]:
    """The form with the preset's help texts (set per instance: form fields are shared by classes)."""

    class PresetForm(form_class):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            for key, text in preset.help.items():
                if key in self.fields:
                    self.fields[key].help_text = text

    return PresetForm


def is_managed(obj: Integration | None) -> bool:
    return obj is not None and obj.provenance in MANAGED_PROVENANCES


def settings_fieldsets(integration_type: type[IntegrationType], obj: Integration | None) -> list[tuple[str, dict]]:
    """Required settings first, optional ones in a collapsed fieldset; a secret's clear box follows it."""
    secret_set = obj.secret_state() if obj is not None else {}
    required: list[str] = []
    optional: list[str] = []
    for declared in integration_type.fields:
        names = required if declared.required else optional
        names.append(declared.key)
        if secret_set.get(declared.key):
            names.append(clear_field_name(declared.key))
    fieldsets = []
    if required:
        fieldsets.append((f"{integration_type.label} settings", {"fields": required}))
    if optional:
        # Folded away only behind required settings: a type whose rules are all conditional
        # (Slack: a token and recipient, or a webhook URL) must not open as an empty form.
        fieldsets.append(("Optional settings", {"fields": optional, "classes": ["collapse"] if required else []}))
    return fieldsets


@admin.register(Integration)
class IntegrationAdmin(TemplatePreviewAdminMixin, admin.ModelAdmin):
    form = IntegrationForm
    list_display = ("__str__", "summary", "state", "disable_resolve_message", "provenance", "health")
    list_filter = (IntegrationTypeFilter, ContactPointFilter, "paused", "enabled", "provenance")
    list_select_related = ("contact_point",)
    search_fields = ("contact_point__name", "contact_point__uid", "uid")
    actions = ("pause_selected", "resume_selected")

    # -- which type, and may it be edited --------------------------------------------------

    def integration_type_for(self, request: HttpRequest, obj: Integration | None) -> type[IntegrationType] | None:
        """The stored type of an existing integration (never the query string's), else the chosen one."""
        return lookup_type(obj.type if obj is not None else request.GET.get("type", ""))

    def has_change_permission(self, request: HttpRequest, obj: Integration | None = None) -> bool:
        return not is_managed(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Integration | None = None) -> bool:
        return not is_managed(obj) and super().has_delete_permission(request, obj)

    def _editable(self, request: HttpRequest, obj: Integration | None) -> bool:
        if obj is None:
            return self.has_add_permission(request)
        return self.has_change_permission(request, obj)

    # -- the form --------------------------------------------------------------------------

    def get_fieldsets(self, request: HttpRequest, obj: Integration | None = None) -> list[tuple[str | None, dict]]:
        integration_type = self.integration_type_for(request, obj)
        if integration_type is None or not self._editable(request, obj):
            return self._read_only_fieldsets(obj)
        common = ["contact_point", "type_display", "enabled", "disable_resolve_message", "position", "rate_per_second"]
        if obj is not None:
            common.insert(1, "uid")
        return [(None, {"fields": common}), *settings_fieldsets(integration_type, obj)]

    def _read_only_fieldsets(self, obj: Integration | None) -> list[tuple[str | None, dict]]:
        description = None
        if is_managed(obj):
            description = (
                f"Managed as code (provisioned through the {obj.get_provenance_display()}): "
                "read-only here. Change it where it is provisioned."
            )
        common = [
            "contact_point",
            "uid",
            "type_display",
            "enabled",
            "disable_resolve_message",
            "position",
            "rate_per_second",
            "provenance",
        ]
        return [
            (None, {"fields": common, "description": description}),
            ("Settings", {"fields": ["settings_display"]}),
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Integration | None = None) -> tuple[str, ...]:
        return ("uid", "type_display", "provenance", "settings_display")

    def get_form(self, request: HttpRequest, obj: Integration | None = None, change: bool = False, **kwargs: Any):
        integration_type = self.integration_type_for(request, obj)
        if integration_type is not None and self._editable(request, obj):
            kwargs["form"] = integration_form_class(integration_type)
        form = super().get_form(request, obj, change, **kwargs)
        preset = self._preset(request, obj, integration_type)
        return with_preset_help(form, preset) if preset else form

    @staticmethod
    def _preset(request: HttpRequest, obj: Integration | None, integration_type) -> registry.Preset | None:
        preset = registry.get_preset(request.GET.get("preset", "")) if obj is None else None
        return preset if preset and integration_type and preset.type == integration_type.type else None

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        preset = self._preset(request, None, lookup_type(request.GET.get("type", "")))
        return {**preset.settings, **initial} if preset else initial

    # -- adding: pick a type first ---------------------------------------------------------

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: dict | None = None) -> HttpResponse:
        type_name = request.GET.get("type", "")
        if not type_name:
            return self.type_picker_view(request)
        integration_type = lookup_type(type_name)
        if integration_type is None or not integration_type.can_create:
            self.message_user(
                request, f"Cannot add an integration of type “{type_name}”: pick one below.", messages.ERROR
            )
            return HttpResponseRedirect(self._picker_url(request))
        preset = self._preset(request, None, integration_type)
        label = preset.label if preset else integration_type.label
        extra_context = {**(extra_context or {}), "title": f"Add {label} integration"}
        return super().add_view(request, form_url, extra_context)

    def _picker_url(self, request: HttpRequest) -> str:
        contact_point = request.GET.get("contact_point", "")
        return request.path + (f"?{urlencode({'contact_point': contact_point})}" if contact_point else "")

    def type_picker_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        contact_point_id = request.GET.get("contact_point", "")
        carried = {"contact_point": contact_point_id} if contact_point_id else {}
        types = [
            {
                "label": cls.label,
                "description": cls.description,
                "deprecated": cls.deprecated,
                # A deprecated type that can no longer be created is listed, without a link.
                "url": "?" + urlencode({"type": cls.type, **carried}) if cls.can_create else "",
            }
            for cls in registry.all_types().values()
        ]
        types += [
            {
                "label": preset.label,
                "description": f"{preset.description} (a {registry.get_type(preset.type).label} integration)",
                "deprecated": False,
                "url": "?" + urlencode({"type": preset.type, "preset": preset.key, **carried}),
            }
            for preset in registry.PRESETS
        ]
        types.sort(key=lambda entry: entry["label"].casefold())
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Choose an integration type",
            "types": types,
            "contact_point": self._contact_point(contact_point_id),
        }
        return TemplateResponse(request, TYPE_PICKER_TEMPLATE, context)

    @staticmethod
    def _contact_point(pk: str) -> ContactPoint | None:
        return ContactPoint.objects.filter(pk=pk).first() if pk.isdigit() else None

    # -- pausing: an operational switch, so also for integrations managed as code -------------

    def may_pause(self, request: HttpRequest) -> bool:
        return super().has_change_permission(request)  # the model permission, not the object's provenance

    has_pause_permission = may_pause

    @admin.action(description="Pause selected integrations", permissions=["pause"])
    def pause_selected(self, request: HttpRequest, queryset: QuerySet[Integration]) -> None:
        operations.set_paused(self, request, queryset, paused=True)

    @admin.action(description="Resume selected integrations", permissions=["pause"])
    def resume_selected(self, request: HttpRequest, queryset: QuerySet[Integration]) -> None:
        operations.set_paused(self, request, queryset, paused=False)

    def get_urls(self) -> list[URLPattern]:
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            # Before the object paths, which would take "destinations" for an id.
            path(
                "destinations/",
                self.admin_site.admin_view(self.destinations_view),
                name=f"{prefix}_destinations",
            ),
            path(
                "<path:object_id>/pause/",
                self.admin_site.admin_view(require_POST(self.pause_view)),
                name=f"{prefix}_pause",
            ),
            path(
                "<path:object_id>/resume/",
                self.admin_site.admin_view(require_POST(self.resume_view)),
                name=f"{prefix}_resume",
            ),
            *super().get_urls(),
        ]

    def destinations_view(self, request: HttpRequest) -> HttpResponse:
        return destinations_view(self, request)

    def pause_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._set_paused(request, object_id, paused=True)

    def resume_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._set_paused(request, object_id, paused=False)

    def _set_paused(self, request: HttpRequest, object_id: str, paused: bool) -> HttpResponse:
        integration = self.get_object(request, object_id)
        if integration is None:
            raise Http404("No such integration.")
        if not self.may_pause(request):
            raise PermissionDenied
        operations.set_paused(self, request, Integration.objects.filter(pk=integration.pk), paused)
        return operations.redirect_back(
            request, reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[integration.pk])
        )

    # -- the page: a banner while paused, tools, and back to the contact point after saving -----

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None) -> HttpResponse:
        integration = self.get_object(request, object_id)
        if integration is not None:
            extra_context = {
                "can_pause": self.may_pause(request),
                "paused_means": operations.PAUSED_MEANS,
                **(extra_context or {}),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def response_add(self, request: HttpRequest, obj: Integration, post_url_continue: str | None = None):
        return self._back_to_contact_point(request, obj) or super().response_add(request, obj, post_url_continue)

    def response_change(self, request: HttpRequest, obj: Integration):
        return self._back_to_contact_point(request, obj) or super().response_change(request, obj)

    def _back_to_contact_point(self, request: HttpRequest, obj: Integration) -> HttpResponse | None:
        """After "Save", the contact point's page: where its integrations, health and tools are."""
        if "_save" not in request.POST or IS_POPUP_VAR in request.POST:
            return None
        self.message_user(
            request, f"Saved the {obj.type_label} integration of “{obj.contact_point}”.", messages.SUCCESS
        )
        return HttpResponseRedirect(reverse("admin:contactpoints_contactpoint_change", args=[obj.contact_point_id]))

    # -- columns and read-only values ------------------------------------------------------

    @admin.display(description="type")
    def type_display(self, obj: Integration) -> str:
        return f"{obj.type_label} ({obj.type})" if obj.type else "-"

    @admin.display(description="settings")
    def settings_display(self, obj: Integration) -> str:
        try:
            # Set secrets show as [REDACTED], as in the provisioning API; their values never leave here.
            return pretty_json(obj.settings_with_secrets_masked(REDACTED))
        except registry.UnknownIntegrationType:
            return format_html("Unknown type “{}”: its settings are not shown.", obj.type)

    @admin.display(description="summary")
    def summary(self, obj: Integration) -> str:
        return integration_summary(obj)

    @admin.display(description="state", ordering="paused")
    def state(self, obj: Integration) -> SafeString:
        return integration_state(obj)

    @admin.display(description="health (last attempt)", ordering="last_attempt_at")
    def health(self, obj: Integration) -> SafeString:
        return health(obj)
