"""manage.py create_api_token NAME [--scope intake|admin]: prints a new token once."""

from django.core.management.base import BaseCommand

from contactpoints.models import ApiToken, TokenScope


class Command(BaseCommand):
    help = "Create an API token and print it once (only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--scope", choices=[s.value for s in TokenScope], default=TokenScope.INTAKE)

    def handle(self, *args, name: str, scope: str, **options):
        _, plain = ApiToken.issue(name, scope)
        self.stdout.write(plain)
