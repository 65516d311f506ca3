"""manage.py rotate_encryption_keys: re-encrypt every stored secret with the first key.

Rotation: put a new key first in ENCRYPTION_KEYS (keep the old ones after it), run this,
then remove the old keys.
"""

from django.core.management.base import BaseCommand
from django.db import connection, transaction

from contactpoints import crypto
from contactpoints.models import Integration


class Command(BaseCommand):
    help = "Re-encrypt all stored secrets with the first key of ENCRYPTION_KEYS."

    def handle(self, *args, **options):
        table = Integration._meta.db_table
        rotated = 0
        with transaction.atomic(), connection.cursor() as cursor:
            # Raw ciphertext: rotating must not need to understand the plaintext.
            cursor.execute(f"SELECT id, secure_settings FROM {table} WHERE secure_settings <> ''")  # noqa: S608
            for pk, token in cursor.fetchall():
                cursor.execute(f"UPDATE {table} SET secure_settings = %s WHERE id = %s", [crypto.rotate(token), pk])  # noqa: S608
                rotated += 1
        self.stdout.write(f"re-encrypted the secrets of {rotated} integrations with the first key")
