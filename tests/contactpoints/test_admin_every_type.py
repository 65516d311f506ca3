"""Every registered type can be added in the admin from its own declaration."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from contactpoints.models import ContactPoint, Integration
from integrations.base import Kind
from integrations.registry import all_types
from integrations.values import get_path

pytestmark = pytest.mark.django_db

CREATABLE = [cls for cls in all_types().values() if cls.can_create]


def form_data(cls, contact_point: ContactPoint) -> dict[str, str]:
    """The type's example settings as a person would type them into the form."""
    data = {"contact_point": str(contact_point.pk), "enabled": "on", "position": "0"}
    for declared in cls.fields:
        value = get_path(cls.example, declared.key)
        if value is None and declared.kind in (Kind.CHOICE, Kind.BOOL):
            value = declared.default  # what the form shows (a default-on box renders checked)
        if value is None:
            continue
        if declared.kind is Kind.BOOL:
            if value:
                data[declared.key] = "on"
        elif declared.kind is Kind.MAP:
            data[declared.key] = "\n".join(f"{k}: {v}" for k, v in value.items())
        elif declared.kind is Kind.LIST:
            data[declared.key] = json.dumps(value)
        else:
            data[declared.key] = str(value)
    return data


@pytest.mark.parametrize("cls", CREATABLE, ids=lambda cls: cls.type)
def test_add_form_shows_the_types_fields_and_saves_its_example(admin_client, cls):
    contact_point = ContactPoint.objects.create(name="Everything")
    url = reverse("admin:contactpoints_integration_add") + f"?type={cls.type}"
    html = admin_client.get(url).content.decode()
    for declared in cls.fields:
        assert f'name="{declared.key}"' in html, declared.key
        if declared.kind is Kind.BOOL and declared.default:
            box = re.search(rf'<input type="checkbox" name="{re.escape(declared.key)}"[^>]*>', html).group(0)
            assert " checked" in box, declared.key

    response = admin_client.post(url, form_data(cls, contact_point))
    assert response.status_code == 302, response.content.decode()[:3000]
    integration = Integration.objects.get(contact_point=contact_point)
    assert integration.type == cls.type
    assert integration.validated_config() == cls.validate(cls.example)
    for key in cls.secret_keys():
        assert get_path(integration.settings, key) is None  # secrets only in the encrypted column
