"""What on-call engineers do to contact points and integrations besides editing them:
pause and resume, duplicate, export. Used by admin actions (many at once) and page buttons (one).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from contactpoints import provisioning
from contactpoints.models import UID_MAX_LENGTH, ContactPoint, Integration, uid_from_name

PAUSED_MEANS = "alerts are still accepted and recorded, but nothing is sent until it is resumed"
NAME_MAX_LENGTH = ContactPoint._meta.get_field("name").max_length


def names(objects) -> str:
    return ", ".join(f"“{obj}”" for obj in objects)


def set_paused(model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet, paused: bool) -> None:
    """Pause or resume contact points or integrations, note it in their history, and say what it means."""
    changing = list(queryset.exclude(paused=paused))
    queryset.filter(pk__in=[obj.pk for obj in changing]).update(paused=paused, updated_at=timezone.now())
    for obj in changing:
        model_admin.log_change(request, obj, "Paused." if paused else "Resumed.")
    if not changing:
        state = "paused" if paused else "active"
        model_admin.message_user(request, f"Nothing changed: already {state}.", messages.INFO)
    elif paused:
        model_admin.message_user(request, f"Paused {names(changing)}: {PAUSED_MEANS}.", messages.WARNING)
    else:
        model_admin.message_user(
            request,
            f"Resumed {names(changing)}: new alerts are sent again. Deliveries recorded while paused stay "
            "in the delivery history, where they can be sent by hand.",
            messages.SUCCESS,
        )


def redirect_back(request: HttpRequest, fallback: str) -> HttpResponseRedirect:
    """Back to the page the button was on (`next`), if it is one of ours."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    safe = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return HttpResponseRedirect(target if safe and target else fallback)


# -- duplicate -------------------------------------------------------------------------------


def _copy_name(original: str) -> str:
    """`<name> (copy)`, else `<name> (copy 2)`, `(copy 3)`…, within the name's length."""
    for number in range(1, 1000):
        suffix = " (copy)" if number == 1 else f" (copy {number})"
        candidate = original[: NAME_MAX_LENGTH - len(suffix)] + suffix
        if not ContactPoint.objects.filter(name=candidate).exists():
            return candidate
    raise ValueError("no free name")


def _free_uid(base: str) -> str:
    for number in range(1, 1000):
        suffix = f"-{number}" if number > 1 else ""
        candidate = base[: UID_MAX_LENGTH - len(suffix)] + suffix
        if not ContactPoint.objects.filter(uid=candidate).exists():
            return candidate
    raise ValueError("no free uid")


def duplicate_contact_point(original: ContactPoint) -> ContactPoint:
    """A copy named "<name> (copy)" with copies of its integrations, secrets included, under new uids.

    The copy is edited in the admin, so it is not managed as code whatever the original was.
    """
    with transaction.atomic():
        name = _copy_name(original.name)
        copy = ContactPoint.objects.create(
            name=name,
            uid=_free_uid(uid_from_name(name)),
            description=original.description,
            paused=original.paused,
            fallback=original.fallback,
        )
        Integration.objects.bulk_create(
            Integration(
                contact_point=copy,
                type=integration.type,
                settings=integration.settings,
                secure_settings=integration.secure_settings,
                disable_resolve_message=integration.disable_resolve_message,
                rate_per_second=integration.rate_per_second,
                enabled=integration.enabled,
                paused=integration.paused,
                position=integration.position,
            )
            for integration in original.integrations.all()
        )
    return copy


# -- export ----------------------------------------------------------------------------------

EXPORT_FORMATS = {"yaml": "application/yaml", "json": "application/json"}


def export_response(contact_points: QuerySet[ContactPoint], fmt: str, filename: str) -> HttpResponse:
    """Grafana's provisioning file for these contact points, as a download; secrets "[REDACTED]"."""
    fmt = fmt if fmt in EXPORT_FORMATS else "yaml"
    document = provisioning.export_document(contact_points.prefetch_related("integrations"), decrypt=False)
    response = HttpResponse(provisioning.dump(document, fmt), content_type=f"{EXPORT_FORMATS[fmt]}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    return response
