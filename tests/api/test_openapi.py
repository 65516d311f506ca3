"""The OpenAPI schema and Swagger UI are public and complete; API errors are JSON everywhere."""

from __future__ import annotations

import json
import re

import pytest
import yaml

pytestmark = pytest.mark.django_db

# Contract §4-§6: every operation the schema must describe.
OPERATIONS = [
    ("post", "/api/v1/intake/{contact_point_uid}"),
    ("get", "/api/v1/provisioning/contact-points"),
    ("post", "/api/v1/provisioning/contact-points"),
    ("put", "/api/v1/provisioning/contact-points/{uid}"),
    ("delete", "/api/v1/provisioning/contact-points/{uid}"),
    ("get", "/api/v1/provisioning/contact-points/export"),
    ("get", "/api/v1/contact-points"),
    ("patch", "/api/v1/contact-points/{uid}"),
    ("post", "/api/v1/contact-points/{uid}/test"),
    ("get", "/api/v1/deliveries"),
    ("get", "/api/v1/deliveries/{id}"),
    ("post", "/api/v1/deliveries/{id}/retry"),
    ("get", "/api/v1/integration-types"),
    ("get", "/api/v1/templates"),
    ("post", "/api/v1/templates"),
    ("get", "/api/v1/templates/{name}"),
    ("put", "/api/v1/templates/{name}"),
    ("delete", "/api/v1/templates/{name}"),
    ("post", "/api/v1/templates/preview"),
    ("get", "/healthz"),
    ("get", "/metrics"),
]


@pytest.fixture
def schema(client) -> dict:
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


@pytest.mark.parametrize("authorization", [None, "Bearer revoked-or-wrong", "Basic bm86bm8="])
def test_schema_and_docs_need_no_credentials(client, authorization):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    schema = client.get("/api/schema/", **headers)
    assert schema.status_code == 200
    assert yaml.safe_load(schema.content)["openapi"].startswith("3.")
    assert client.get("/api/docs/", **headers).status_code == 200


def test_swagger_ui_is_served_from_here_not_a_cdn(client):
    html = client.get("/api/docs/").content.decode()
    assert "cdn" not in html.lower()
    bundle = re.search(r'src="([^"]*swagger-ui-bundle\.js)"', html).group(1)
    assert bundle.startswith("/static/")
    served = client.get(bundle)
    assert served.status_code == 200
    assert b"".join(served.streaming_content if served.streaming else [served.content])


def test_schema_describes_every_operation(schema):
    described = {(method, path) for path, item in schema["paths"].items() for method in item}
    assert set(OPERATIONS) <= described
    assert not any(path.endswith("/") and "{" in path for path in schema["paths"])  # the slash twin is hidden


@pytest.mark.parametrize(("method", "path"), [op for op in OPERATIONS if op[1].startswith("/api/v1/")])
def test_every_api_operation_names_its_auth_and_errors(schema, method, path):
    operation = schema["paths"][path][method]
    assert {"bearerAuth": []} in operation["security"] and {"basicAuth": []} in operation["security"]
    expected = {"401", "403"} | ({"400", "415"} if method in ("post", "put") else set())
    expected |= {"404"} if "{" in path else set()
    assert expected <= set(operation["responses"])
    assert operation.get("summary") or operation.get("description")


def test_security_schemes_are_bearer_and_basic(schema):
    schemes = schema["components"]["securitySchemes"]
    assert schemes["bearerAuth"]["type"] == "http" and schemes["bearerAuth"]["scheme"] == "bearer"
    assert schemes["basicAuth"]["type"] == "http" and schemes["basicAuth"]["scheme"] == "basic"


def test_errors_share_one_shape(schema):
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["message"]
    assert set(error["properties"]) == {"message", "errors"}


def test_the_intake_takes_one_of_three_bodies_and_names_its_limits(schema):
    operation = schema["paths"]["/api/v1/intake/{contact_point_uid}"]["post"]
    body = operation["requestBody"]
    assert body["required"] is True
    shapes = body["content"]["application/json"]["schema"]["oneOf"]
    assert [s["$ref"].rsplit("/", 1)[1] for s in shapes] == ["WebhookPayload", "AlertList", "SimpleMessage"]
    assert {"202", "400", "404", "413", "415", "429"} <= set(operation["responses"])


def test_public_endpoints_say_so(schema):
    assert schema["paths"]["/healthz"]["get"]["security"] == [{}]
    assert set(schema["paths"]["/healthz"]["get"]["responses"]) == {"200", "503"}


# -- JSON errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/api/v1/nope", "/api/v1/deliveries/not-a-uuid", "/api/v1/intake/not%20a%20slug", "/api/elsewhere"]
)
def test_unknown_api_urls_answer_json_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.json() == {"message": f"no API endpoint at {response.wsgi_request.path}"}


def test_other_unknown_urls_keep_djangos_page(client):
    response = client.get("/nope")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=done", "status"),
        ("limit=ten", "limit"),
        ("limit=0", "limit"),
        ("offset=-1", "offset"),
        ("offset=99999999999999999999999", "offset"),
        ("contact_point=a%00b", "contact_point"),
    ],
)
def test_delivery_filters_are_checked(api, admin_token, query, field):
    response = api.get(f"/api/v1/deliveries?{query}", token=admin_token)
    assert response.status_code == 400
    assert field in response.json()["errors"]


@pytest.mark.parametrize("query", ["", "status=", "status=paused", "limit=5000&offset=3", "contact_point=x"])
def test_valid_delivery_filters_answer_a_page(api, admin_token, query):
    response = api.get(f"/api/v1/deliveries?{query}", token=admin_token)
    assert response.status_code == 200
    assert set(response.json()) == {"count", "next", "previous", "results"}


def test_metrics_ignore_the_accept_header(client):
    response = client.get("/metrics", HTTP_ACCEPT="application/openmetrics-text; version=1.0.0")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    assert json.dumps(client.get("/healthz", HTTP_ACCEPT="text/html").json())
