"""Create the `admin` superuser when there is no superuser yet (`make run` calls this)."""

from __future__ import annotations

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

ADMIN_USERNAME = "admin"


class Command(BaseCommand):
    help = "Create the superuser 'admin' when none exists (password: DJANGO_SUPERUSER_PASSWORD, else generated)."

    def handle(self, *args: object, **options: object) -> None:
        users = get_user_model()
        if users.objects.filter(is_superuser=True).exists():
            return
        if users.objects.filter(username=ADMIN_USERNAME).exists():
            # Someone made a plain user called admin: promoting it silently would be a surprise.
            self.stderr.write(
                f"A user named '{ADMIN_USERNAME}' exists but no superuser does; "
                "run `python manage.py createsuperuser` to make one."
            )
            return
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD") or ""
        generated = not password
        if generated:
            password = secrets.token_urlsafe(16)
        users.objects.create_superuser(username=ADMIN_USERNAME, email="", password=password)
        self.stdout.write(self._created_message(password if generated else None))

    def _created_message(self, generated_password: str | None) -> str:
        if generated_password is None:
            return f"Created the admin user '{ADMIN_USERNAME}' with the password from DJANGO_SUPERUSER_PASSWORD."
        rule = "=" * 64
        # Only a hash is stored, so this is the one chance to see it.
        return (
            f"{rule}\n"
            f"  Created the admin user.\n"
            f"    username: {ADMIN_USERNAME}\n"
            f"    password: {generated_password}\n"
            f"  This password is shown only now. Change it in the admin.\n"
            f"{rule}"
        )
