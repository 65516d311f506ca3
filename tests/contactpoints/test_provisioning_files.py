"""Grafana provisioning files (spec §6): (file → error) and (file → state) tables, idempotence,
all-or-nothing, and the round trip through export_contact_points."""

from __future__ import annotations

import json
import textwrap

import pytest
from django.core.management import CommandError, call_command

from contactpoints.models import ContactPoint, Integration, Provenance
from contactpoints.provisioning import dump, export_document
from contactpoints.provisioning_files import interpolate

pytestmark = pytest.mark.django_db

GOOD = """\
apiVersion: 1
contactPoints:
  - orgId: 1
    name: Ops Team
    receivers:
      - uid: ops-hook
        type: webhook
        disableResolveMessage: true
        settings:
          url: http://127.0.0.1:9/hook
          password: hook-s3cr3t
          hmacConfig:
            secret: hmac-s3cr3t
      - uid: ops-slack
        type: slack
        settings:
          url: http://127.0.0.1:9/services/slack-s3cr3t
          title: 'costs $$5'
  - name: DB
    receivers:
      - uid: db-am
        type: prometheus-alertmanager
        settings:
          url: http://127.0.0.1:9093
"""


def write(tmp_path, text: str, name: str = "contact_points.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def import_file(path) -> str:
    from io import StringIO

    out = StringIO()
    call_command("import_contact_points", str(path), stdout=out)
    return out.getvalue()


def export(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command("export_contact_points", *args, stdout=out)
    return out.getvalue()


def state() -> list[tuple]:
    """Everything an import decides, per integration."""
    return [
        (
            i.contact_point.name,
            i.uid,
            i.type,
            i.settings,
            i.secure_settings,
            i.disable_resolve_message,
            i.provenance,
            i.position,
            i.contact_point.uid,
            i.updated_at,
            i.contact_point.updated_at,
        )
        for i in Integration.objects.select_related("contact_point").order_by("uid")
    ]


# -- importing -------------------------------------------------------------------------------


def test_import_creates_contact_points_with_provenance_file_and_secrets_encrypted(tmp_path):
    output = import_file(write(tmp_path, GOOD))
    assert "3 created, 0 updated, 0 unchanged, 0 deleted" in output
    hook = Integration.objects.get(uid="ops-hook")
    assert hook.contact_point.name == "Ops Team" and hook.contact_point.uid == "ops-team"
    assert hook.provenance == Provenance.FILE and hook.disable_resolve_message is True
    assert hook.settings == {"url": "http://127.0.0.1:9/hook"}
    assert hook.secure_settings == {"password": "hook-s3cr3t", "hmacConfig.secret": "hmac-s3cr3t"}
    slack = Integration.objects.get(uid="ops-slack")
    assert (slack.position, slack.settings["title"]) == (1, "costs $5")
    assert slack.secure_settings == {"url": "http://127.0.0.1:9/services/slack-s3cr3t"}
    assert Integration.objects.get(uid="db-am").contact_point.name == "DB"


def test_importing_the_same_file_twice_changes_nothing(tmp_path):
    path = write(tmp_path, GOOD)
    import_file(path)
    before = state()
    assert "0 created, 0 updated, 3 unchanged, 0 deleted" in import_file(path)
    assert state() == before
    assert ContactPoint.objects.count() == 2


def test_json_files_import_too(tmp_path):
    document = {
        "apiVersion": 1,
        "contactPoints": [
            {"orgId": 1, "name": "J", "receivers": [{"uid": "j1", "type": "webhook", "settings": {"url": "http://x"}}]}
        ],
    }
    import_file(write(tmp_path, json.dumps(document, indent="\t"), "cp.json"))
    assert Integration.objects.get(uid="j1").contact_point.name == "J"


def test_values_are_interpolated_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HOOK_URL", "http://127.0.0.1:9/env")
    monkeypatch.setenv("HOOK_PASSWORD", "env-s3cr3t")
    monkeypatch.setenv("CP_NAME", "From Env")
    import_file(
        write(
            tmp_path,
            """\
            apiVersion: 1
            contactPoints:
              - name: $CP_NAME
                receivers:
                  - uid: env-hook
                    type: webhook
                    disableResolveMessage: "${NO_SUCH_VARIABLE}false"
                    settings:
                      url: ${HOOK_URL}
                      password: $HOOK_PASSWORD
                      title: "$$HOOK_URL stays, $NO_SUCH_VARIABLE goes"
            """,
        )
    )
    hook = Integration.objects.get(uid="env-hook")
    assert hook.contact_point.name == "From Env"
    assert hook.settings == {"url": "http://127.0.0.1:9/env", "title": "$HOOK_URL stays,  goes"}
    assert hook.secure_settings == {"password": "env-s3cr3t"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$A", "1"),
        ("${A}", "1"),
        ("x${A}y$A", "x1y1"),
        ("$$A", "$A"),
        ("$$$A", "$1"),
        ("$UNSET|", "|"),
        ("cost: $", "cost: $"),
        ("{{ .Status }}", "{{ .Status }}"),
    ],
)
def test_interpolation_rules(text, expected):
    assert interpolate({"k": [text]}, {"A": "1"}) == {"k": [expected]}


def test_a_file_updates_by_uid_and_moves_between_contact_points(tmp_path):
    import_file(write(tmp_path, GOOD))
    untouched = Integration.objects.get(uid="db-am").updated_at
    moved = GOOD.replace("  - name: DB\n", "  - name: Databases\n").replace("title: 'costs $$5'", "title: new")
    output = import_file(write(tmp_path, moved))
    assert "0 created, 2 updated, 1 unchanged" in output
    assert Integration.objects.get(uid="ops-slack").settings["title"] == "new"
    db = Integration.objects.get(uid="db-am")
    assert (db.contact_point.name, db.contact_point.uid) == ("Databases", "db")  # renamed, uid kept
    assert db.updated_at > untouched


def test_delete_contact_points_removes_integrations_by_uid(tmp_path):
    import_file(write(tmp_path, GOOD))
    deletion = """\
    apiVersion: 1
    deleteContactPoints:
      - orgId: 1
        uid: db-am
      - uid: never-existed
    """
    assert "1 deleted" in import_file(write(tmp_path, deletion))
    assert not Integration.objects.filter(uid="db-am").exists()
    assert not ContactPoint.objects.filter(name="DB").exists()
    assert "0 deleted" in import_file(write(tmp_path, deletion))  # already gone: nothing to do


def test_redacted_in_a_file_keeps_the_stored_secret(tmp_path):
    import_file(write(tmp_path, GOOD))
    redacted = GOOD.replace("hook-s3cr3t", "'[REDACTED]'").replace("hmac-s3cr3t", "'[REDACTED]'")
    import_file(write(tmp_path, redacted))
    hook = Integration.objects.get(uid="ops-hook")
    assert hook.secure_settings == {"password": "hook-s3cr3t", "hmacConfig.secret": "hmac-s3cr3t"}


def cp_1(*receivers: str) -> str:
    """A file with one contact point, cp_1, and these receivers (YAML flow mappings)."""
    return "contactPoints:\n  - name: cp_1\n    receivers:\n" + "".join(f"      - {r}\n" for r in receivers)


@pytest.mark.parametrize(
    ("file", "error"),
    [
        ("contactPoints:\n  - receivers: []\n", "contactPoints[0]: no name is set"),
        (cp_1("{type: webhook, settings: {url: http://x}}"), "cp_1: no uid is set"),
        (cp_1("{uid: '  ', type: webhook}"), "cp_1: no uid is set"),
        (cp_1("{uid: u1, settings: {url: http://x}}"), "cp_1: no type is set"),
        (cp_1("{uid: u1, type: webhook}"), "cp_1: no settings are set"),
        (cp_1("{uid: u1, type: webhook, settings: {}}"), "cp_1: no settings are set"),
        (cp_1("{uid: u1, type: webhook, settings: {httpMethod: POST}}"), "cp_1: required field 'url' is not specified"),
        (cp_1("{uid: u1, type: nope, settings: {a: 1}}"), 'cp_1: invalid integration type "nope"'),
        (
            cp_1("{uid: 'a b', type: webhook, settings: {url: x}}"),
            "cp_1: invalid format of UID. Only letters, numbers, '-' and '_' are allowed",
        ),
        (
            cp_1("{uid: u1, type: webhook, settings: {url: x}}", "{uid: u1, type: webhook, settings: {url: y}}"),
            "cp_1: uid 'u1' is also used in contact point 'cp_1'",
        ),
        (
            cp_1("{uid: u1, type: webhook, disableResolveMessage: maybe, settings: {url: x}}"),
            "cp_1: disableResolveMessage must be true or false, not 'maybe'",
        ),
        ("deleteContactPoints:\n  - orgId: 1\n", "deleteContactPoints[0]: no uid is set"),
        ("apiVersion: 2\n", "apiVersion 2 is not supported (use 1)"),
        ("contactPoints: {name: x}\n", "contactPoints must be a list"),
        ("- just a list\n", "the file must hold an object with apiVersion and contactPoints"),
        ("contactPoints: [\n", "invalid YAML"),
    ],
)
def test_a_bad_file_names_the_entry_and_the_error_and_changes_nothing(tmp_path, file, error):
    import_file(write(tmp_path, GOOD))
    before = state()
    with pytest.raises(CommandError) as raised:
        import_file(write(tmp_path, file, "bad.yaml"))
    assert error in str(raised.value)
    assert str(raised.value).startswith("nothing imported:")
    assert state() == before


def test_one_bad_receiver_stops_the_good_ones_in_the_same_file(tmp_path):
    bad = GOOD + "      - {uid: db-broken, type: webhook, settings: {httpMethod: POST}}\n"
    with pytest.raises(CommandError) as raised:
        import_file(write(tmp_path, bad))
    assert "DB: required field 'url' is not specified" in str(raised.value)
    assert not Integration.objects.exists() and not ContactPoint.objects.exists()


def test_every_error_of_a_file_is_reported(tmp_path):
    bad = "contactPoints:\n  - receivers: []\n  - name: two\n    receivers:\n      - {type: webhook}\n"
    with pytest.raises(CommandError) as raised:
        import_file(write(tmp_path, bad))
    assert str(raised.value).splitlines()[1:] == ["contactPoints[0]: no name is set", "two: no uid is set"]


def test_a_file_may_not_take_over_an_integration_provisioned_through_the_api(tmp_path, make_contact_point):
    import_file(write(tmp_path, GOOD))
    Integration.objects.filter(uid="db-am").update(provenance=Provenance.API)
    with pytest.raises(CommandError) as raised:
        import_file(write(tmp_path, GOOD))
    assert "DB: cannot change provenance from 'api' to 'file'" in str(raised.value)


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="cannot read it"):
        import_file(tmp_path / "nope.yaml")


def test_a_folder_imports_its_files_together(tmp_path):
    write(tmp_path, GOOD, "a.yaml")
    write(tmp_path, "apiVersion: 1\ndeleteContactPoints:\n  - uid: db-am\n", "b.yml")
    write(tmp_path, "not: provisioning", "notes.txt")
    assert "3 created, 0 updated, 0 unchanged, 1 deleted" in import_file(tmp_path)


# -- exporting and the round trip -------------------------------------------------------------


def test_export_document_redacts_or_decrypts_secrets(make_contact_point):
    contact_point = make_contact_point(
        "Ops", [("webhook", {"url": "https://example.com/h", "hmacConfig": {"secret": "hmac-s3cr3t"}})]
    )
    redacted = export_document([contact_point])
    (receiver,) = redacted["contactPoints"][0]["receivers"]
    assert receiver["settings"]["hmacConfig"] == {"secret": "[REDACTED]"}
    assert redacted["apiVersion"] == 1 and redacted["contactPoints"][0]["name"] == "Ops"
    decrypted = export_document([contact_point], decrypt=True)
    assert decrypted["contactPoints"][0]["receivers"][0]["settings"]["hmacConfig"] == {"secret": "hmac-s3cr3t"}
    assert "hmac-s3cr3t" not in dump(redacted) and "[REDACTED]" in dump(redacted, "json")


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_a_decrypted_export_reimports_to_the_same_state(tmp_path, fmt):
    import_file(write(tmp_path, GOOD))
    before = [row[:-2] for row in state()]  # all but the times
    exported = export("--format", fmt, "--decrypt")
    assert "hook-s3cr3t" in exported and "costs $$5" in exported
    Integration.objects.all().delete()
    ContactPoint.objects.all().delete()
    import_file(write(tmp_path, exported, f"export.{fmt}"))
    assert [row[:-2] for row in state()] == before
    assert export("--format", fmt, "--decrypt") == exported


def test_a_redacted_export_reimports_without_changing_anything(tmp_path):
    import_file(write(tmp_path, GOOD))
    before = state()
    exported = export()
    assert "s3cr3t" not in exported and "[REDACTED]" in exported
    assert "3 unchanged" in import_file(write(tmp_path, exported, "export.yaml"))
    assert state() == before


def test_export_can_write_a_file_and_filter_by_name(tmp_path):
    import_file(write(tmp_path, GOOD))
    target = tmp_path / "out.json"
    export("--format", "json", "--name", "DB", "--output", str(target))
    document = json.loads(target.read_text())
    assert [c["name"] for c in document["contactPoints"]] == ["DB"]


# -- our own key: a contact point's fallback ------------------------------------------------------

WITH_FALLBACK = GOOD.replace("    name: Ops Team\n", "    name: Ops Team\n    fallback: DB\n")


def test_a_fallback_imports_exports_and_reimports_unchanged(tmp_path):
    import_file(write(tmp_path, WITH_FALLBACK))
    assert ContactPoint.objects.get(name="Ops Team").fallback == ContactPoint.objects.get(name="DB")
    exported = export("--format", "json")
    contact_points = {entry["name"]: entry for entry in json.loads(exported)["contactPoints"]}
    assert contact_points["Ops Team"]["fallback"] == "DB"
    assert "fallback" not in contact_points["DB"]  # only where set: Grafana's files read back unchanged
    before = state()
    assert "0 created, 0 updated, 3 unchanged" in import_file(write(tmp_path, exported, "again.json"))
    assert state() == before
    import_file(write(tmp_path, WITH_FALLBACK.replace("fallback: DB", "fallback: ''"), "unset.yaml"))
    assert ContactPoint.objects.get(name="Ops Team").fallback is None


@pytest.mark.parametrize(
    ("fallback", "error"),
    [
        ("Nobody", "Ops Team: fallback 'Nobody' is no contact point"),
        ("Ops Team", "Ops Team: a contact point cannot be its own fallback"),
        ("[DB]", "Ops Team: fallback must be the name of another contact point"),
    ],
)
def test_a_bad_fallback_names_the_contact_point_and_changes_nothing(tmp_path, fallback, error):
    import_file(write(tmp_path, GOOD))
    before = state()
    with pytest.raises(CommandError) as raised:
        import_file(write(tmp_path, WITH_FALLBACK.replace("fallback: DB", f"fallback: {fallback}"), "bad.yaml"))
    assert error in str(raised.value) and str(raised.value).startswith("nothing imported:")
    assert state() == before
    assert ContactPoint.objects.get(name="Ops Team").fallback is None
