"""One attempt has one total deadline: connect, send, headers and body (issue 9, finding 6).

A receiver that drips its answer one byte a second never lets a single socket read wait long, so
a per-read timeout never fires. The attempt must still end at its deadline with a timeout error,
and the lease a worker holds on the delivery must outlive that deadline.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import ssl
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.utils import timezone

from contactpoints import queue as engine
from contactpoints.intake import parse_intake
from contactpoints.models import Attempt, Delivery
from contactpoints.services import accept_notification
from integrations.base import OutgoingRequest, TlsOptions, TransportError
from integrations.http import HttpTransport, OutboundPolicy
from integrations.templating import DEFAULT_TIMEOUT_SECONDS as RENDER_BUDGET_SECONDS

DEADLINE_SECONDS = 2.0
GENEROUS_END_SECONDS = 4.0  # a noisy shared machine may be slow; an unbounded attempt runs on and on

# (sent at once, then dripped a byte a second): long enough to outlast the deadline twice over.
HEADERS_DRIP = (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n", b"X-Drip: 1234\r\n\r\n")
BODY_DRIP = (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", b"0123456789")


def self_signed_certificate() -> tuple[str, str]:
    """(certificate, key) in PEM for 127.0.0.1, valid for a day."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode()


class DrippingReceiver:
    """Reads the request (unless the protocol has the server speak first, as SMTP does), then
    answers `prefix` at once and `dripped` one byte a second."""

    def __init__(
        self,
        prefix: bytes,
        dripped: bytes,
        certificate: tuple[str, str] | None = None,
        reads_request: bool = True,
    ) -> None:
        self.prefix, self.dripped, self.reads_request = prefix, dripped, reads_request
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.scheme = "http"
        if certificate is not None:
            self.listener = _tls_server_context(*certificate).wrap_socket(self.listener, server_side=True)
            self.scheme = "https"
        self.stopped = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def port(self) -> int:
        return self.listener.getsockname()[1]

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._drip, args=(connection,), daemon=True).start()

    def _drip(self, connection: socket.socket) -> None:
        with connection:
            try:
                if self.reads_request:
                    connection.recv(65536)  # the request: headers and a small body arrive together
                connection.sendall(self.prefix)
                for byte in self.dripped:
                    if self.stopped.wait(1.0):
                        return
                    connection.sendall(bytes([byte]))
            except OSError:
                return  # the client gave up, as it should

    def close(self) -> None:
        self.stopped.set()
        self.listener.close()


def _tls_server_context(certificate: str, key: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as folder:
        cert_path, key_path = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
        for path, pem in ((cert_path, certificate), (key_path, key)):
            with open(path, "w") as handle:
                handle.write(pem)
        context.load_cert_chain(cert_path, key_path)
    return context


DRIPS = [HEADERS_DRIP, BODY_DRIP]


@pytest.fixture(params=DRIPS, ids=["headers", "body"])
def dripping(request):
    receiver = DrippingReceiver(*request.param)
    yield receiver
    receiver.close()


@pytest.fixture(params=DRIPS, ids=["tls-headers", "tls-body"])
def dripping_over_tls(request):
    certificate = self_signed_certificate()
    receiver = DrippingReceiver(*request.param, certificate=certificate)
    receiver.ca_certificate = certificate[0]
    yield receiver
    receiver.close()


def loopback(timeout_seconds: float) -> HttpTransport:
    return HttpTransport(OutboundPolicy.from_cidrs([], ["127.0.0.0/8"]), "ContactPoints/test", timeout_seconds)


def test_the_seam_ends_a_dripping_answer_at_the_deadline(dripping):
    started = time.monotonic()
    with pytest.raises(TransportError) as error:
        loopback(DEADLINE_SECONDS).send(OutgoingRequest("POST", f"{dripping.url}/hook", body=b"{}"))
    assert time.monotonic() - started < GENEROUS_END_SECONDS
    assert error.value.retryable
    assert f"timed out after {DEADLINE_SECONDS:g}s" in str(error.value)


def test_the_seam_ends_a_dripping_answer_over_tls_at_the_deadline(dripping_over_tls):
    request = OutgoingRequest(
        "POST",
        f"{dripping_over_tls.url}/hook",
        body=b"{}",
        tls=TlsOptions(ca_certificate=dripping_over_tls.ca_certificate),
    )
    started = time.monotonic()
    with pytest.raises(TransportError) as error:
        loopback(DEADLINE_SECONDS).send(request)
    assert time.monotonic() - started < GENEROUS_END_SECONDS
    assert f"timed out after {DEADLINE_SECONDS:g}s" in str(error.value)


def test_requests_of_one_attempt_share_its_deadline(dripping):
    transport = loopback(DEADLINE_SECONDS)
    started = time.monotonic()
    errors = []
    with transport.attempt(DEADLINE_SECONDS):
        for _ in range(3):  # e.g. Alertmanager's HA members, one after the other
            with pytest.raises(TransportError) as error:
                transport.send(OutgoingRequest("POST", f"{dripping.url}/hook", body=b"{}"))
            errors.append(str(error.value))
    assert time.monotonic() - started < GENEROUS_END_SECONDS
    assert all("timed out" in error for error in errors)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "settings_for"),
    [
        ("webhook", lambda url: {"url": f"{url}/hook"}),
        ("prometheus-alertmanager", lambda url: {"url": f"{url},{url}"}),  # two requests, one deadline
    ],
)
def test_a_delivery_attempt_to_a_dripping_receiver_ends_at_the_deadline(
    dripping, make_contact_point, settings, kind, settings_for
):
    settings.DELIVERY_TIMEOUT_SECONDS = DEADLINE_SECONDS
    contact_point = make_contact_point("Drip", [(kind, settings_for(dripping.url))])
    with mock.patch("contactpoints.broker.wake"), mock.patch("contactpoints.broker.publish"):
        accept_notification(contact_point, parse_intake([{"labels": {"alertname": "Slow"}}], max_alerts=10))
        started = time.monotonic()
        engine.run_delivery(Delivery.objects.get().pk)
    assert time.monotonic() - started < GENEROUS_END_SECONDS
    attempt = Attempt.objects.get()
    assert attempt.outcome == "retry"
    assert "timed out after 2s" in attempt.error


@pytest.mark.django_db
def test_the_lease_outlives_the_longest_attempt(make_contact_point, receiver, settings):
    contact_point = make_contact_point("Lease", [("webhook", {"url": receiver.url})])
    with mock.patch("contactpoints.broker.wake"):
        accept_notification(contact_point, parse_intake([{"labels": {"alertname": "A"}}], max_alerts=10))
    claimed_at = timezone.now()
    (delivery,) = engine.claim(1).deliveries
    delivery.refresh_from_db()
    longest_attempt = timedelta(seconds=settings.DELIVERY_TIMEOUT_SECONDS + RENDER_BUDGET_SECONDS)
    assert delivery.lease_expires_at - claimed_at > longest_attempt


# An SMTP server greeting one byte a second: every wait is short, the greeting endless.
SMTP_GREETING = b"220 mail.example.com ESMTP slow\r\n"


@pytest.mark.django_db
def test_an_email_attempt_to_a_dripping_smtp_server_ends_at_the_deadline(make_contact_point, settings):
    server = DrippingReceiver(b"", SMTP_GREETING, reads_request=False)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.DELIVERY_TIMEOUT_SECONDS = DEADLINE_SECONDS
    contact_point = make_contact_point("Mail", [("email", {"addresses": "oncall@example.com"})])
    try:
        with mock.patch("contactpoints.broker.wake"), mock.patch("contactpoints.broker.publish"):
            accept_notification(contact_point, parse_intake([{"labels": {"alertname": "Slow"}}], max_alerts=10))
            started = time.monotonic()
            engine.run_delivery(Delivery.objects.get().pk)
        assert time.monotonic() - started < GENEROUS_END_SECONDS
    finally:
        server.close()
    attempt = Attempt.objects.get()
    assert (attempt.outcome, attempt.error) == ("retry", "SMTP conversation timed out after 2s")
