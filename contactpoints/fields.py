"""Model fields."""

from __future__ import annotations

from typing import Any

from django.db import models

from contactpoints import crypto


class EncryptedJSONField(models.TextField):
    """A JSON value stored as one Fernet token. Never shown in forms or the admin."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("editable", False)
        kwargs.setdefault("default", dict)
        super().__init__(*args, **kwargs)

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return {}
        return crypto.decrypt_json(value)

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str):
            return crypto.decrypt_json(value) if value else {}
        return value

    def get_prep_value(self, value: Any) -> str:
        return crypto.encrypt_json(value if value is not None else {})

    def value_to_string(self, obj: Any) -> str:
        # Serialisation (dumpdata) keeps the ciphertext, never the plain secret.
        return self.get_prep_value(self.value_from_object(obj))
