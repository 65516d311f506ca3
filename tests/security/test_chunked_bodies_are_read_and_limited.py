"""A body sent with `Transfer-Encoding: chunked` (no Content-Length) is read through gunicorn, and
INTAKE_MAX_BYTES holds for it as for one whose length is declared."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator

import pytest

from contactpoints.models import ApiToken, NotificationTemplate
from tests.security.servers import gunicorn

pytestmark = pytest.mark.django_db(transaction=True)  # the gunicorn process must see the rows

INTAKE_MAX_BYTES = 4000
ALERTS = {"alerts": [{"labels": {"alertname": "Chunked"}}]}
OVERSIZED = {"alerts": [{"labels": {"alertname": "Big", "padding": "x" * INTAKE_MAX_BYTES}}]}


@pytest.fixture(scope="module")
def server(django_db_setup, tmp_path_factory) -> Iterator[int]:
    log_path = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    with gunicorn(log_path, INTAKE_MAX_BYTES=str(INTAKE_MAX_BYTES), CONN_MAX_AGE="0") as web:
        yield web.port


def post(port: int, path: str, body: bytes, token: str, *, chunked: bool) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    # An iterator has no length: http.client sends it chunked, as a streaming client would.
    pieces = iter([body[i : i + 1000] for i in range(0, len(body), 1000)]) if chunked else body
    connection.request("POST", path, body=pieces, headers=headers, encode_chunked=chunked)
    response = connection.getresponse()
    answer = (response.status, json.loads(response.read() or b"{}"))
    connection.close()
    return answer


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "with Content-Length"])
@pytest.mark.parametrize(
    ("body", "status"),
    [
        pytest.param(ALERTS, 202, id="valid"),
        pytest.param(OVERSIZED, 413, id="over INTAKE_MAX_BYTES"),
        pytest.param(b'{"alerts": [', 400, id="malformed"),
    ],
)
def test_intake_reads_chunked_bodies_within_the_limit(server, make_contact_point, intake_token, body, status, chunked):
    contact_point = make_contact_point("Ops Team", [("webhook", {"url": "http://127.0.0.1:9/hook"})])
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    answer_status, answer = post(server, f"/api/v1/intake/{contact_point.uid}", raw, intake_token, chunked=chunked)
    assert answer_status == status, answer
    if status == 202:
        assert answer["alerts"] == 1
    elif status == 413:
        assert answer["message"] == f"body larger than {INTAKE_MAX_BYTES} bytes (INTAKE_MAX_BYTES)"


def test_every_endpoint_reads_chunked_bodies(server):
    token = ApiToken.issue("chunked", "admin")[1]
    body = json.dumps({"name": "team.title", "content": "Team {{ CommonLabels.team }}"}).encode()
    status, answer = post(server, "/api/v1/templates", body, token, chunked=True)
    assert status == 201, answer
    assert NotificationTemplate.objects.get().content == "Team {{ CommonLabels.team }}"
