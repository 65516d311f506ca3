"""The one HTTP seam: outbound policy on every connection and redirect hop, errors without secrets."""

from __future__ import annotations

import pytest

from integrations.base import OutgoingRequest, TransportError
from integrations.http import HttpTransport, OutboundPolicy, safe_location
from tests.receivers import Answer, Receiver

LOOPBACK_ALLOWED = OutboundPolicy.from_cidrs(["127.0.0.0/8", "::1/128"], ["127.0.0.0/8"])
DEFAULT_DENY = OutboundPolicy.from_cidrs(["127.0.0.0/8", "::1/128", "169.254.0.0/16"])


def transport(policy: OutboundPolicy = LOOPBACK_ALLOWED, timeout_seconds: float = 5.0) -> HttpTransport:
    return HttpTransport(policy, user_agent="ContactPoints/test", timeout_seconds=timeout_seconds)


@pytest.mark.parametrize(
    ("policy", "address", "permitted"),
    [
        (DEFAULT_DENY, "127.0.0.1", False),
        (DEFAULT_DENY, "127.9.9.9", False),
        (DEFAULT_DENY, "::1", False),
        (DEFAULT_DENY, "169.254.169.254", False),
        (DEFAULT_DENY, "::ffff:127.0.0.1", False),
        (DEFAULT_DENY, "93.184.216.34", True),
        (LOOPBACK_ALLOWED, "127.0.0.1", True),
        (LOOPBACK_ALLOWED, "::1", False),
    ],
)
def test_policy_table(policy, address, permitted):
    assert policy.permits(address) is permitted


def test_sends_with_user_agent_and_reads_the_answer(receiver):
    receiver.answer_with(Answer(201, b'{"ok":true}', {"Content-Type": "application/json"}))
    response = transport().send(
        OutgoingRequest("POST", f"{receiver.url}/x?y=1", {"Content-Type": "application/json"}, b"{}")
    )
    assert response.status == 201
    assert response.body == b'{"ok":true}'
    (captured,) = receiver.requests
    assert (captured.method, captured.path, captured.body) == ("POST", "/x?y=1", b"{}")
    assert captured.headers["user-agent"] == "ContactPoints/test"


def test_denied_address_is_refused_before_connecting(receiver):
    with pytest.raises(TransportError) as error:
        transport(DEFAULT_DENY).send(OutgoingRequest("POST", f"{receiver.url}/secret-path", body=b"{}"))
    assert not error.value.retryable
    assert "outbound policy denies" in str(error.value)
    assert "secret-path" not in str(error.value)
    assert receiver.requests == []


def test_redirect_hops_are_followed_and_each_is_checked(receiver):
    target = Receiver()
    try:
        receiver.answer_with(Answer(307, b"", {"Location": f"{target.url}/moved"}))
        response = transport().send(
            OutgoingRequest("POST", f"{receiver.url}/start", {"Authorization": "Bearer s3cret"}, b"{}")
        )
        assert response.status == 200
        (moved,) = target.requests
        assert (moved.method, moved.path, moved.body) == ("POST", "/moved", b"{}")
        # Another port is another origin: the credentials stay behind (tests/security has the table).
        assert "authorization" not in moved.headers
    finally:
        target.close()


def test_redirect_to_a_denied_network_is_refused(receiver):
    # Only 127.0.0.1 is allowed; the redirect points at 127.0.0.2, which the deny list covers.
    policy = OutboundPolicy.from_cidrs(["127.0.0.0/8"], ["127.0.0.1/32"])
    receiver.answer_with(Answer(302, b"", {"Location": "http://127.0.0.2:9/metadata"}))
    with pytest.raises(TransportError) as error:
        transport(policy).send(OutgoingRequest("POST", f"{receiver.url}/start", body=b"{}"))
    assert "outbound policy denies 127.0.0.2" in str(error.value)


def test_303_turns_post_into_get_and_drops_authorization_across_hosts(receiver):
    target = Receiver()
    try:
        other_host = target.url.replace("127.0.0.1", "localhost")
        receiver.answer_with(Answer(303, b"", {"Location": f"{other_host}/see"}))
        policy = OutboundPolicy.from_cidrs([], [])
        transport(policy).send(OutgoingRequest("POST", f"{receiver.url}/", {"Authorization": "Basic x"}, b"{}"))
        (seen,) = target.requests
        assert seen.method == "GET"
        assert "authorization" not in seen.headers
    finally:
        target.close()


def test_connection_refused_is_retryable_and_names_no_path():
    with pytest.raises(TransportError) as error:
        transport().send(OutgoingRequest("POST", "http://127.0.0.1:9/hooks/T000/secret", body=b"{}"))
    assert error.value.retryable
    assert "secret" not in str(error.value)
    assert "cannot connect to http://127.0.0.1:9" in str(error.value)


def test_timeout_is_retryable():
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # accepts the connection, never answers
        port = listener.getsockname()[1]
        with pytest.raises(TransportError) as error:
            transport(timeout_seconds=0.3).send(OutgoingRequest("POST", f"http://127.0.0.1:{port}/", body=b"{}"))
    assert error.value.retryable
    assert "timed out" in str(error.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://hooks.slack.com/services/T0/B0/XYZ", "https://hooks.slack.com"),
        ("http://127.0.0.1:8080/a?token=1", "http://127.0.0.1:8080"),
        ("http://[::1", "<invalid url>"),
    ],
)
def test_safe_location_hides_path_and_query(url, shown):
    assert safe_location(url) == shown


def test_unsupported_scheme_is_refused():
    with pytest.raises(TransportError) as error:
        transport().send(OutgoingRequest("POST", "file:///etc/passwd"))
    assert "unsupported URL scheme" in str(error.value)
