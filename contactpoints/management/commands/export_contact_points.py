"""manage.py export_contact_points [--format yaml|json] [--decrypt]: Grafana's provisioning file
with the contact points and (unless --name picks one contact point) the notification templates."""

from pathlib import Path

from django.core.management.base import BaseCommand

from contactpoints.provisioning import dump, export_document, exported_contact_points
from contactpoints.template_provisioning import export_templates


class Command(BaseCommand):
    help = (
        "Print the contact points and notification templates as a Grafana provisioning file, which "
        'import_contact_points reads back. Secrets read "[REDACTED]" (which an import reads as "keep '
        'the stored secret") unless --decrypt is given. Jinja2 templates carry "syntax: jinja" (our '
        "own key; Grafana reads only Go templates)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=["yaml", "json"], default="yaml", dest="fmt")
        parser.add_argument("--decrypt", action="store_true", help="write secrets in clear")
        parser.add_argument("--name", help="only the contact point with this name")
        parser.add_argument("--output", "-o", help="write to this file instead of standard output")

    def handle(self, *args, fmt: str, decrypt: bool, name: str | None, output: str | None, **options):
        document = export_document(exported_contact_points(name), decrypt=decrypt)
        templates = [] if name else export_templates()
        if templates:
            document["templates"] = templates
        text = dump(document, fmt)
        if output:
            Path(output).write_text(text, encoding="utf-8")
        else:
            self.stdout.write(text, ending="")
