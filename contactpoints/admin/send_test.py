"""Send a test notification from the admin: to a contact point, or to some of its integrations.

The page shows the result per integration (ok, or the error text, and the duration) under the
form, so a second try is one click away. Nothing is stored: a test is not a delivery.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from contactpoints.admin.display import integration_summary
from contactpoints.forms import MONOSPACE_ATTRS, parse_label_lines
from contactpoints.models import ContactPoint, Integration
from contactpoints.sending import send_test_notification

SEND_TEST_TEMPLATE = "admin/contactpoints/contactpoint/send_test.html"


class LabelLinesField(forms.CharField):
    """Labels or annotations for the test alert, typed as `name=value` lines."""

    def __init__(self, **kwargs: Any) -> None:
        attrs = {**MONOSPACE_ATTRS, "rows": 3, "placeholder": kwargs.pop("placeholder", "")}
        super().__init__(required=False, widget=forms.Textarea(attrs=attrs), **kwargs)

    def to_python(self, value: Any) -> dict[str, str]:
        return parse_label_lines(super().to_python(value))


def integration_choice_label(integration: Integration) -> str:
    notes = [
        note for note, applies in (("paused", integration.paused), ("disabled", not integration.enabled)) if applies
    ]
    summary = integration_summary(integration)
    return " ".join([integration.type_label, *([f"— {summary}"] if summary else []), *(f"({n})" for n in notes)])


class SendTestForm(forms.Form):
    """Which integrations get the test alert (spec §3.8), and what to add to it."""

    integrations = forms.ModelMultipleChoiceField(
        queryset=Integration.objects.none(),
        to_field_name="uid",
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one integration."},
        help_text="Ticked integrations get the test even when paused or disabled: a test is sent on request.",
    )
    labels = LabelLinesField(
        placeholder="severity=critical",
        help_text="Added to the test alert's labels, one per line as <code>name=value</code>.",
    )
    annotations = LabelLinesField(
        placeholder="summary=Checking the pager",
        help_text="Added to its annotations, one per line as <code>name=value</code>.",
    )

    def __init__(self, *args: Any, contact_point: ContactPoint, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["integrations"]
        field.queryset = contact_point.integrations.select_related("contact_point")
        field.label_from_instance = integration_choice_label


def default_choice(contact_point: ContactPoint, integration_uid: str) -> list[str]:
    """The integration asked for, else every one that would get a real notification now."""
    integrations = list(contact_point.integrations.all())
    if any(integration.uid == integration_uid for integration in integrations):
        return [integration_uid]
    return [i.uid for i in integrations if i.enabled and not i.paused and not contact_point.paused]


def send(form: SendTestForm, contact_point: ContactPoint) -> list[dict[str, Any]]:
    """Send the test and pair each result with its integration, in the contact point's order."""
    chosen = list(form.cleaned_data["integrations"])
    results = send_test_notification(
        contact_point,
        integrations=chosen,
        labels=form.cleaned_data["labels"] or None,
        annotations=form.cleaned_data["annotations"] or None,
    )
    by_uid = {integration.uid: integration for integration in chosen}
    return [
        {**result, "integration": by_uid[result["uid"]], "summary": integration_summary(by_uid[result["uid"]])}
        for result in results
    ]


def send_test_view(model_admin: admin.ModelAdmin, request: HttpRequest, object_id: str) -> HttpResponse:
    contact_point = model_admin.get_object(request, object_id)
    if contact_point is None:
        raise Http404("No such contact point.")
    if not model_admin.has_change_permission(request, contact_point):
        raise PermissionDenied  # a test pages real people: viewing is not enough
    results = None
    if request.method == "POST":
        form = SendTestForm(request.POST, contact_point=contact_point)
        if form.is_valid():
            results = send(form, contact_point)
    else:
        initial = {"integrations": default_choice(contact_point, request.GET.get("integration", ""))}
        form = SendTestForm(initial=initial, contact_point=contact_point)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "original": contact_point,
        "title": f"Send a test notification to {contact_point}",
        "form": form,
        "results": results,
        "failed": sum(result["status"] != "ok" for result in results or []),
    }
    return TemplateResponse(request, SEND_TEST_TEMPLATE, context)
