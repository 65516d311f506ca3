"""API access (contract §3): Bearer tokens with scopes; HTTP Basic and the admin session for staff
users, who get what their Django model permissions give."""

from __future__ import annotations

import hashlib
import logging
import time

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Model
from django.utils import timezone
from rest_framework import authentication, exceptions, permissions

from contactpoints.models import ApiToken, Notification, TokenScope, hash_token
from contactpoints.ratelimit import Rate
from contactpoints.redis_client import REDIS_ERRORS, get_redis
from contactpoints.rows import get_one

logger = logging.getLogger(__name__)

# What a request needs of its token (the rest loads if ever touched).
TOKEN_FIELDS = ("id", "name", "scope", "token_hash", "last_used_at", "revoked_at")


class TokenUser:
    """The identity behind a token: authenticated, never staff, never a database user."""

    is_authenticated = True
    is_active = True
    is_staff = False
    is_superuser = False
    is_anonymous = False

    def __init__(self, token: ApiToken):
        self.token = token
        self.username = f"token:{token.name}"
        self.pk = None

    def __str__(self) -> str:
        return self.username


def bearer_token(authorization: str) -> str | None:
    """The token of a well-formed `Bearer <token>` header value, else None."""
    keyword, _, token = authorization.partition(" ")
    if keyword.lower() != "bearer" or not token or " " in token.strip():
        return None
    return token.strip() or None


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization header must be `Bearer <token>`")
        try:
            plain = header[1].decode()
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("invalid token") from None
        token = get_one(ApiToken, TOKEN_FIELDS, null=("revoked_at",), token_hash=hash_token(plain))
        if token is None:
            raise exceptions.AuthenticationFailed("invalid or revoked token")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > ApiToken.LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return TokenUser(token), token

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) when credentials are missing.
        return f'{self.keyword} realm="api"'


# -- HTTP Basic, with failed attempts throttled --------------------------------------------------

FAILED_LOGINS_KEY = "contactpoints:failed-basic-logins"


class TooManyFailedLogins(exceptions.Throttled):
    default_detail = "too many failed HTTP Basic logins from this address or for this user."
    extra_detail_singular = extra_detail_plural = "Try again in {wait} s."


def _failed_login_keys(request, username: str, rate: Rate) -> tuple[list[str], float]:
    """The counters of this client address and this username in the current window, and the
    seconds until the window ends."""
    now = time.time()
    window = int(now // rate.period_seconds)
    address = request.META.get("REMOTE_ADDR", "") if request is not None else ""
    # Hashed: a username is any text, and Redis keys are better without it.
    user = hashlib.sha256(username.encode()).hexdigest()[:32]
    keys = [f"{FAILED_LOGINS_KEY}:address:{address}:{window}", f"{FAILED_LOGINS_KEY}:user:{user}:{window}"]
    return keys, (window + 1) * rate.period_seconds - now


def _refuse_if_too_many_failures(request, username: str) -> None:
    rate = Rate.parse(settings.BASIC_AUTH_FAILURE_LIMIT)
    keys, seconds_left = _failed_login_keys(request, username, rate)
    try:
        counts = get_redis().mget(keys)
    except REDIS_ERRORS as exc:  # fails open, like the intake rate limit
        logger.debug("failed logins not checked: %s", exc)
        return
    if any(int(count or 0) >= rate.count for count in counts):
        raise TooManyFailedLogins(wait=max(1.0, seconds_left))


def _count_failed_login(request, username: str) -> None:
    rate = Rate.parse(settings.BASIC_AUTH_FAILURE_LIMIT)
    keys, _ = _failed_login_keys(request, username, rate)
    try:
        pipe = get_redis().pipeline(transaction=False)
        for key in keys:
            pipe.incr(key)
            pipe.expire(key, rate.period_seconds + 1)
        pipe.execute()
    except REDIS_ERRORS as exc:
        logger.debug("failed login not counted: %s", exc)


class StaffBasicAuthentication(authentication.BasicAuthentication):
    """HTTP Basic, for staff users only. After BASIC_AUTH_FAILURE_LIMIT failures from one address
    or for one username, every attempt gets 429 until the window ends, before any password
    hashing: guessing costs the attacker time and the server nothing. Successes are not counted."""

    def authenticate_credentials(self, userid, password, request=None):
        _refuse_if_too_many_failures(request, userid)
        try:
            user, auth = super().authenticate_credentials(userid, password, request)
            if not user.is_staff:
                raise exceptions.AuthenticationFailed("only staff users may use the API with a password")
        except exceptions.AuthenticationFailed:
            _count_failed_login(request, userid)
            raise
        return user, auth

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


# -- what a request may do: a token by its scope, a user by Django's model permissions -----------

# The model permission each method needs by default (DRF's DjangoModelPermissions, plus view).
ACTION_OF_METHOD = {
    "GET": "view",
    "HEAD": "view",
    "OPTIONS": "view",
    "POST": "add",
    "PUT": "change",
    "PATCH": "change",
    "DELETE": "delete",
}


def permission_name(action: str, model: type[Model]) -> str:
    return f"{model._meta.app_label}.{action}_{model._meta.model_name}"


def missing_permissions_message(missing: list[tuple[str, type[Model]]]) -> str:
    """E.g. "You need the 'change contact point' permission (contactpoints.change_contactpoint)."."""
    named = [(f"'{action} {model._meta.verbose_name}'", permission_name(action, model)) for action, model in missing]
    if len(named) == 1:
        words, code = named[0]
        return f"You need the {words} permission ({code})."
    return "You need the " + " and ".join(f"{words} ({code})" for words, code in named) + " permissions."


def acts_as_superuser(request) -> bool:
    """An admin-scope token acts as a superuser through the API (contract §3)."""
    if isinstance(request.auth, ApiToken):
        return request.auth.allows(TokenScope.ADMIN)
    user = request.user
    return bool(user and user.is_authenticated and user.is_staff and user.is_superuser)


def require_model_permission(request, action: str, model: type[Model]) -> None:
    """For what a view decides itself (creating by PUT): 403 unless the user has this permission.
    A token got this far by its scope, which already allows the endpoint."""
    if isinstance(request.auth, ApiToken) or request.user.has_perm(permission_name(action, model)):
        return
    raise exceptions.PermissionDenied(missing_permissions_message([(action, model)]))


class ModelPermissionsOrAdminScope(permissions.BasePermission):
    """The API's default: a token needs the admin scope; a session or Basic user must be staff
    and hold the model permissions of the method (view to read, add/change/delete to write).

    A view names its model(s) in `permission_model` (or has a `queryset`), and may map a method
    to another action in `permission_actions` (a retry changes a delivery, a preview only reads)."""

    scope = TokenScope.ADMIN

    def has_permission(self, request, view) -> bool:
        if isinstance(request.auth, ApiToken):
            return self._token_allows(request.auth)
        user = request.user
        if not (user and user.is_authenticated):
            return False  # DRF answers 401
        if not user.is_staff:
            self.message = "Only staff users may use the API with a password or the admin session."
            return False
        missing = [(a, m) for a, m in self.needed(request, view) if not user.has_perm(permission_name(a, m))]
        if missing:
            self.message = missing_permissions_message(missing)
        return not missing

    def _token_allows(self, token: ApiToken) -> bool:
        if token.allows(self.scope):
            return True
        have, need = TokenScope(token.scope).value, TokenScope(self.scope).value
        self.message = f"This token's scope is {have}; this endpoint needs an {need}-scope token."
        return False

    def needed(self, request, view) -> list[tuple[str, type[Model]]]:
        action = getattr(view, "permission_actions", {}).get(request.method) or ACTION_OF_METHOD.get(request.method)
        if action is None:
            raise exceptions.MethodNotAllowed(request.method)
        return [(action, model) for model in _models_of(view)]


def _models_of(view) -> tuple[type[Model], ...]:
    declared = getattr(view, "permission_model", None)
    if declared is None and getattr(view, "queryset", None) is not None:
        declared = view.queryset.model
    if declared is None:
        raise ImproperlyConfigured(f"{type(view).__name__} names no permission_model or queryset")
    return declared if isinstance(declared, tuple) else (declared,)


class IntakeScope(ModelPermissionsOrAdminScope):
    """Posting alerts: a token of scope intake (or admin), or a user who may add notifications."""

    scope = TokenScope.INTAKE

    def needed(self, request, view) -> list[tuple[str, type[Model]]]:
        return [("add", Notification)]
