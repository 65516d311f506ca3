"""Templates in Grafana provisioning files: `templates:` and `deleteTemplates:` next to contact
points, applied in one go and all or nothing, and the round trip through export_contact_points."""

from __future__ import annotations

import pytest
import yaml
from django.core.management import CommandError

from contactpoints.models import ContactPoint, Integration, NotificationTemplate, Provenance, TemplateSyntax
from tests.contactpoints.test_provisioning_files import export, import_file, write

pytestmark = pytest.mark.django_db

TEAM_TITLE = '{{ define "team.title" }}[{{ .Status | toUpper }}] {{ .CommonLabels.team }}{{ end }}'
# As Grafana exports it: contact points whose settings call Go templates, then the templates.
GRAFANA_EXPORT = """\
apiVersion: 1
contactPoints:
    - orgId: 1
      name: Ops
      receivers:
        - uid: ops-hook
          type: webhook
          settings:
            url: http://127.0.0.1:9/hook
            title: '{{ template "team.title" . }}'
            message: '{{ len .Alerts.Firing }} firing'
          disableResolveMessage: false
templates:
    - orgId: 1
      name: team.title
      template: |-
        {{ define "team.title" }}[{{ .Status | toUpper }}] {{ .CommonLabels.team }}{{ end }}
    - orgId: 1
      name: team.list
      template: |
        {{ define "team.list" }}{{ range $i, $a := .Alerts }}{{ $i }}: {{ $a.Labels.alertname }} {{ end }}{{ end }}
"""
TEAM_LIST = (
    '{{ define "team.list" }}{{ range $i, $a := .Alerts }}{{ $i }}: {{ $a.Labels.alertname }} {{ end }}{{ end }}'
)


def templates() -> dict[str, tuple[str, str, str]]:
    return {t.name: (t.content, t.syntax, t.provenance) for t in NotificationTemplate.objects.order_by("name")}


def test_a_grafana_file_with_contact_points_and_templates_imports_in_one_go(tmp_path):
    output = import_file(write(tmp_path, GRAFANA_EXPORT))

    assert "1 created" in output and "templates: 2 created, 0 updated, 0 unchanged, 0 deleted" in output
    (hook,) = Integration.objects.all()
    assert (hook.contact_point.name, hook.provenance) == ("Ops", Provenance.FILE)
    assert hook.settings["title"] == '{{ template "team.title" . }}'
    # Trimmed, `$` left alone (template text is not interpolated, as in Grafana), provenance file.
    assert templates() == {
        "team.list": (TEAM_LIST, TemplateSyntax.GO, Provenance.FILE),
        "team.title": (TEAM_TITLE, TemplateSyntax.GO, Provenance.FILE),
    }


def test_importing_the_same_templates_twice_changes_nothing(tmp_path):
    path = write(tmp_path, GRAFANA_EXPORT)
    import_file(path)
    before = list(NotificationTemplate.objects.values_list("name", "updated_at"))
    assert "templates: 0 created, 0 updated, 2 unchanged, 0 deleted" in import_file(path)
    assert list(NotificationTemplate.objects.values_list("name", "updated_at")) == before


@pytest.mark.parametrize(
    ("entry", "stored"),
    [
        (
            "name: plain\n  template: 'Hello {{ .Status }}'",
            ('{{ define "plain" }}\n  Hello {{ .Status }}\n{{ end }}', "go"),
        ),
        ("name: j\n  syntax: jinja\n  template: 'Hi {{ Status }}'", ("Hi {{ Status }}", "jinja")),  # our own key
    ],
)
def test_a_template_entry_is_stored_as_grafana_would(tmp_path, entry, stored):
    import_file(write(tmp_path, f"apiVersion: 1\ntemplates:\n- {entry}\n"))
    ((content, syntax, _provenance),) = templates().values()
    assert (content, syntax) == stored


def test_delete_templates_removes_by_name(tmp_path):
    NotificationTemplate.objects.create(name="old", content="x", syntax="jinja", provenance=Provenance.FILE)
    NotificationTemplate.objects.create(name="kept", content="y", syntax="jinja")
    file = "apiVersion: 1\ndeleteTemplates:\n  - orgId: 1\n    name: old\n  - name: never-was\n"
    assert "templates: 0 created, 0 updated, 0 unchanged, 1 deleted" in import_file(write(tmp_path, file))
    assert list(templates()) == ["kept"]


BAD_TEMPLATE = (
    GRAFANA_EXPORT
    + """\
    - orgId: 1
      name: broken
      template: '{{ define "broken" }}{{ nope .Status }}{{ end }}'
"""
)


@pytest.mark.parametrize(
    ("file", "error"),
    [
        (BAD_TEMPLATE, 'template broken: Go template: line 1, column 25: function "nope" not defined'),
        ("apiVersion: 1\ntemplates:\n  - name: x\n", "template x: template must have content"),
        ("apiVersion: 1\ntemplates:\n  - template: '{{ .Status }}'\n", "templates[0]: template must have a name"),
        (
            "apiVersion: 1\ntemplates:\n  - name: x\n    template: a\n    syntax: erb\n",
            "template x: syntax must be one of go, jinja, not 'erb'",
        ),
        ("apiVersion: 1\ntemplates: {name: x}\n", "templates must be a list"),
        ("apiVersion: 1\ndeleteTemplates:\n  - orgId: 1\n", "deleteTemplates[0]: delete template missing name"),
    ],
)
def test_a_bad_template_stops_the_whole_file(tmp_path, file, error):
    with pytest.raises(CommandError) as raised:
        import_file(write(tmp_path, file))
    assert error in str(raised.value).splitlines()
    assert not Integration.objects.exists() and not NotificationTemplate.objects.exists()


def test_a_file_may_not_take_over_a_template_provisioned_through_the_api(tmp_path):
    NotificationTemplate.objects.create(name="team.title", content=TEAM_TITLE, syntax="go", provenance=Provenance.API)
    with pytest.raises(CommandError) as raised:
        import_file(write(tmp_path, GRAFANA_EXPORT))
    assert "template team.title: cannot change provenance from 'api' to 'file'" in str(raised.value).splitlines()
    # Checked inside the transaction: the contact point and the other template are undone too.
    assert not Integration.objects.exists()
    assert list(templates()) == ["team.title"]


# -- export ----------------------------------------------------------------------------------


def test_export_writes_the_templates_section_and_marks_jinja_ones(tmp_path):
    import_file(write(tmp_path, GRAFANA_EXPORT))
    NotificationTemplate.objects.create(name="jinja.one", content="Hi {{ Status }}\n", syntax="jinja")
    NotificationTemplate.objects.create(name="go.bare", content="{{ .Status }}\n", syntax="go")

    document = yaml.safe_load(export())
    assert document["templates"] == [
        {"orgId": 1, "name": "go.bare", "template": '{{ define "go.bare" }}\n  {{ .Status }}\n{{ end }}'},
        {"orgId": 1, "name": "jinja.one", "template": "Hi {{ Status }}\n", "syntax": "jinja"},
        {"orgId": 1, "name": "team.list", "template": TEAM_LIST},
        {"orgId": 1, "name": "team.title", "template": TEAM_TITLE},
    ]
    assert "templates" not in yaml.safe_load(export("--name", "Ops"))  # one contact point's file


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_export_import_export_is_unchanged(tmp_path, fmt):
    import_file(write(tmp_path, GRAFANA_EXPORT))
    NotificationTemplate.objects.create(name="jinja.one", content="Hi {{ Status }} $HOME\n", syntax="jinja")
    NotificationTemplate.objects.create(name="go.bare", content="{{ $x := .Status }}{{ $x }}", syntax="go")
    exported = export("--format", fmt, "--decrypt")

    Integration.objects.all().delete()
    ContactPoint.objects.all().delete()
    NotificationTemplate.objects.all().delete()
    import_file(write(tmp_path, exported, f"export.{fmt}"))

    assert export("--format", fmt, "--decrypt") == exported
    assert templates()["jinja.one"] == ("Hi {{ Status }} $HOME\n", "jinja", Provenance.FILE)
    assert "4 unchanged, 0 deleted" in import_file(write(tmp_path, exported, f"again.{fmt}"))
