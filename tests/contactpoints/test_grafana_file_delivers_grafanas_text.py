"""Issue 10's promise, end to end: a provisioning file as Grafana exports it (Go templates in the
settings and a `templates:` section of Go defines) imports, exports and re-imports unchanged, and an
alert posted to the intake arrives at a loopback receiver with the text Grafana would send."""

from __future__ import annotations

from unittest import mock

import pytest

from contactpoints import queue as engine
from contactpoints.models import ContactPoint, Delivery
from tests.contactpoints.test_provisioning_files import export, import_file, write

pytestmark = pytest.mark.django_db

GRAFANA_FILE = """\
apiVersion: 1
contactPoints:
    - orgId: 1
      name: Ops
      receivers:
        - uid: ops-slack
          type: slack
          settings:
            url: {url}/services/T0/B0/XXXX
            title: '{{ template "ops.title" . }}'
            text: '{{ template "ops.text" . }}'
          disableResolveMessage: false
templates:
    - orgId: 1
      name: ops
      template: |-
        {{ define "ops.title" -}}
          [{{ .Status | toUpper }}{{ if gt (len .Alerts.Firing) 1 }}:{{ len .Alerts.Firing }}{{ end }}]
          {{- " " }}{{ .CommonLabels.alertname }}
        {{- end }}
        {{ define "ops.text" }}{{ range .Alerts.Firing -}}
          - {{ .Labels.instance }}: {{ .Annotations.summary }}
        {{ end }}{{ end }}
"""
ALERTS = {
    "alerts": [
        {"labels": {"alertname": "DiskFull", "instance": "db-1"}, "annotations": {"summary": "98% used"}},
        {"labels": {"alertname": "DiskFull", "instance": "db-2"}, "annotations": {"summary": "95% used"}},
    ]
}


def test_a_grafana_file_imports_round_trips_and_delivers_grafanas_text(tmp_path, api, intake_token, receiver):
    import_file(write(tmp_path, GRAFANA_FILE.replace("{url}", receiver.url)))
    exported = export()
    import_file(write(tmp_path, exported))
    assert export() == exported  # export → import → export is unchanged

    contact_point = ContactPoint.objects.get(name="Ops")
    with mock.patch("contactpoints.broker.wake"), mock.patch("contactpoints.broker.publish"):
        assert api.post(f"/api/v1/intake/{contact_point.uid}", ALERTS, token=intake_token).status_code == 202
        engine.run_delivery(Delivery.objects.get().pk)

    (request,) = receiver.requests
    (attachment,) = request.json()["attachments"]
    assert attachment["title"] == "[FIRING:2] DiskFull"
    assert attachment["text"] == "- db-1: 98% used\n- db-2: 95% used\n"
