"""Issue 9 #4: the right to add API tokens is no way to an admin-scope token, and secrets in
clear (export with decrypt=true) are for superusers and admin-scope tokens only."""

from __future__ import annotations

import pytest
from django.urls import reverse

from contactpoints.models import ApiToken
from tests.security.api_users import VIEW_EVERYTHING, basic_auth, staff_user

pytestmark = pytest.mark.django_db

ADD_TOKEN = reverse("admin:contactpoints_apitoken_add")
EXPORT = "/api/v1/provisioning/contact-points/export?format=json&decrypt=true"
PASSWORD = "hook-pw-s3cr3t"


@pytest.mark.parametrize(
    ("superuser", "scope", "issued"),
    [
        (False, "intake", True),
        (False, "admin", False),
        (True, "intake", True),
        (True, "admin", True),
    ],
)
def test_only_superusers_issue_admin_scope_tokens_in_the_admin(client, django_user_model, superuser, scope, issued):
    client.force_login(staff_user(django_user_model, "add_apitoken", "view_apitoken", superuser=superuser))

    response = client.post(ADD_TOKEN, {"name": "ci", "scope": scope})

    assert ApiToken.objects.filter(name="ci", scope=scope).exists() == issued
    if not issued:
        assert response.status_code == 200  # the form again, with the reason
        assert "Only superusers may issue admin-scope tokens." in response.content.decode()


@pytest.mark.parametrize(("superuser", "offered"), [(False, ["intake"]), (True, ["intake", "admin"])])
def test_the_add_form_offers_the_admin_scope_to_superusers_only(client, django_user_model, superuser, offered):
    client.force_login(staff_user(django_user_model, "add_apitoken", "view_apitoken", superuser=superuser))

    form = client.get(ADD_TOKEN).context["adminform"].form

    assert [value for value, _ in form.fields["scope"].choices if value] == offered


@pytest.fixture
def webhook(make_contact_point):
    return make_contact_point("Ops", [("webhook", {"url": "http://127.0.0.1:9/", "password": PASSWORD})])


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("staff with every view and add permission", 403),
        ("superuser", 200),
        ("admin-scope token", 200),
        ("intake-scope token", 403),
    ],
)
def test_decrypted_export_is_for_superusers_and_admin_tokens(client, django_user_model, webhook, who, status):
    if who.endswith("token"):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {ApiToken.issue('t', who.split('-')[0])[1]}"}
    else:
        every = (*VIEW_EVERYTHING, "add_integration", "change_integration", "add_apitoken")
        headers = basic_auth(staff_user(django_user_model, *every, superuser=who == "superuser"))

    response = client.get(EXPORT, **headers)

    assert response.status_code == status
    assert (PASSWORD in response.content.decode()) == (status == 200)
