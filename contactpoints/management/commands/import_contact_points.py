"""manage.py import_contact_points FILE [FILE ...]: apply Grafana provisioning files (spec §6):
contact points and notification templates, with their deletions."""

from django.core.management.base import BaseCommand, CommandError

from contactpoints.provisioning_files import ProvisioningFileError, import_paths


class Command(BaseCommand):
    help = (
        "Import contact points and notification templates from Grafana provisioning files (YAML or "
        "JSON; a folder reads its .yaml, .yml and .json files). All files apply together, or nothing "
        "does. Values may use $VAR or ${VAR} from the environment ($$ is a literal $), except in "
        "templates, as in Grafana. Templates are Go templates unless an entry says syntax: jinja. "
        "Imported integrations and templates are provisioned from a file: read-only in the admin."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", metavar="FILE", help="a provisioning file, or a folder of them")

    def handle(self, *args, paths: list[str], **options):
        try:
            summary = import_paths(paths)
        except ProvisioningFileError as exc:
            raise CommandError(f"nothing imported:\n{exc}") from None
        self.stdout.write(f"Contact points imported: {summary}.")
