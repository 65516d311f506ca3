"""API access (contract §3): Bearer tokens with scopes, HTTP Basic for staff, the admin session."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions, permissions

from contactpoints.models import ApiToken, TokenScope, hash_token
from contactpoints.rows import get_one

# last_used_at is written at most this often per token: the intake is a hot path.
LAST_USED_RESOLUTION = timedelta(minutes=1)
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
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return TokenUser(token), token

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) when credentials are missing.
        return f'{self.keyword} realm="api"'


class StaffBasicAuthentication(authentication.BasicAuthentication):
    """HTTP Basic, for staff users only."""

    def authenticate_credentials(self, userid, password, request=None):
        user, auth = super().authenticate_credentials(userid, password, request)
        if not user.is_staff:
            raise exceptions.AuthenticationFailed("only staff users may use the API with a password")
        return user, auth

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class _ScopePermission(permissions.BasePermission):
    scope: str

    def has_permission(self, request, view) -> bool:
        if isinstance(request.auth, ApiToken):
            if request.auth.allows(self.scope):
                return True
            self.message = f"this token's scope does not allow this; it needs scope {self.scope!r}"
            return False
        user = request.user
        return bool(user and user.is_authenticated and user.is_staff)


class IntakeScope(_ScopePermission):
    scope = TokenScope.INTAKE


class AdminScope(_ScopePermission):
    scope = TokenScope.ADMIN
