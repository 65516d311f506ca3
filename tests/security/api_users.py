"""Staff users with exactly the given model permissions, signed in over HTTP Basic or the session."""

from __future__ import annotations

import base64
import itertools

from django.contrib.auth.models import Permission

PASSWORD = "user-pw-s3cr3t"
VIEW_EVERYTHING = (
    "view_contactpoint",
    "view_integration",
    "view_delivery",
    "view_notification",
    "view_notificationtemplate",
)
_numbers = itertools.count()


def staff_user(django_user_model, *codenames: str, superuser: bool = False):
    """A new active staff user holding these contactpoints permissions (codenames) and no others."""
    username = f"user{next(_numbers)}"
    user = django_user_model.objects.create_user(username, password=PASSWORD, is_staff=True, is_superuser=superuser)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="contactpoints", codename__in=codenames)
    )
    assert user.user_permissions.count() == len(set(codenames)), codenames
    return user


def basic_auth(user) -> dict[str, str]:
    pair = base64.b64encode(f"{user.username}:{PASSWORD}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {pair}"}


def signed_in(client, user, how: str) -> dict[str, str]:
    """Extra request headers for `user` signed in `how` ("basic" or "session")."""
    if how == "session":
        client.force_login(user)
        return {}
    return basic_auth(user)
