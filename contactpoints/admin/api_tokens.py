"""API tokens: issued here (the plain token is shown once), revoked by an action; hashes stay hidden."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.utils import timezone

from contactpoints.forms import ApiTokenForm
from contactpoints.models import ApiToken, TokenScope

# The hash is deliberately absent from every list below.
DETAIL_FIELDS = ("name", "scope", "hint", "created_by", "created_at", "last_used_at", "revoked_at")


def may_issue(request: HttpRequest, scope: str) -> bool:
    """An admin-scope token acts as a superuser through the API (decrypted export included):
    issuing one is for superusers, or the right to add tokens would be a way up."""
    return scope != TokenScope.ADMIN or request.user.is_superuser


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    form = ApiTokenForm
    list_display = ("name", "scope", "hint", "created_at", "last_used_at", "revoked_at")
    list_filter = ("scope", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "hint")
    actions = ("revoke_tokens",)

    def get_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> tuple[str, ...]:
        return ("name", "scope") if obj is None else DETAIL_FIELDS

    def formfield_for_choice_field(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "scope" and not request.user.is_superuser:
            kwargs["choices"] = [(scope, label) for scope, label in TokenScope.choices if may_issue(request, scope)]
            kwargs["help_text"] = "Only superusers may issue admin-scope tokens."
            kwargs["error_messages"] = {"invalid_choice": "Only superusers may issue admin-scope tokens."}
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> tuple[str, ...]:
        # A token's scope is fixed once issued: more power means a new token, not a silent upgrade.
        return () if obj is None else DETAIL_FIELDS[1:]

    def save_form(self, request: HttpRequest, form: ModelForm, change: bool) -> ApiToken:
        unsaved = super().save_form(request, form, change)
        if change:
            return unsaved
        if not may_issue(request, unsaved.scope):  # the form offers no such choice; a forged POST
            raise PermissionDenied
        token, plain = ApiToken.issue(unsaved.name, unsaved.scope, created_by=request.user)
        self.message_user(
            request,
            f"The new token for “{token.name}” is {plain} — copy it now: it is not shown again.",
            messages.SUCCESS,
        )
        return token

    def save_model(self, request: HttpRequest, obj: ApiToken, form: ModelForm, change: bool) -> None:
        if change:  # a new token was already saved by ApiToken.issue in save_form
            super().save_model(request, obj, form, change)

    @admin.action(description="Revoke selected tokens", permissions=["change"])
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        revoked = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {revoked} token{'s' if revoked != 1 else ''}.", messages.SUCCESS)
