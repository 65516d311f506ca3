"""Issue 9 #10: a 403 says in words what is missing (no `TokenScope.ADMIN`)."""

from __future__ import annotations

import pytest

from contactpoints.models import ApiToken
from tests.security.api_users import VIEW_EVERYTHING, basic_auth, staff_user

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("who", "method", "path", "message"),
    [
        (
            "intake token",
            "get",
            "/api/v1/deliveries",
            "This token's scope is intake; this endpoint needs an admin-scope token.",
        ),
        (
            "staff",
            "get",
            "/api/v1/deliveries",
            "You need the 'view delivery' permission (contactpoints.view_delivery).",
        ),
        (
            "viewer",
            "post",
            "/api/v1/contact-points/ops/test",
            "You need the 'change contact point' permission (contactpoints.change_contactpoint).",
        ),
        (
            "staff",
            "get",
            "/api/v1/contact-points",
            "You need the 'view contact point' (contactpoints.view_contactpoint) and 'view integration' "
            "(contactpoints.view_integration) permissions.",
        ),
        (
            "viewer",
            "put",
            "/api/v1/templates/new",
            "You need the 'change notification template' permission (contactpoints.change_notificationtemplate).",
        ),
        (
            "staff",
            "post",
            "/api/v1/intake/ops",
            "You need the 'add notification' permission (contactpoints.add_notification).",
        ),
    ],
)
def test_forbidden_answers_say_what_is_needed(client, django_user_model, who, method, path, message):
    if who == "intake token":
        headers = {"HTTP_AUTHORIZATION": f"Bearer {ApiToken.issue('t', 'intake')[1]}"}
    else:
        headers = basic_auth(staff_user(django_user_model, *(VIEW_EVERYTHING if who == "viewer" else ())))

    response = client.generic(method.upper(), path, "{}", content_type="application/json", **headers)

    assert (response.status_code, response.json()) == (403, {"message": message})


def test_creating_a_template_by_put_names_the_add_permission(client, django_user_model):
    user = staff_user(django_user_model, "change_notificationtemplate")

    response = client.put(
        "/api/v1/templates/new", '{"content": "x"}', content_type="application/json", **basic_auth(user)
    )

    assert (response.status_code, response.json()) == (
        403,
        {"message": "You need the 'add notification template' permission (contactpoints.add_notificationtemplate)."},
    )
