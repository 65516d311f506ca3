"""The seam's HTTP/1.1 on the wire: answers framed every way a server may frame them, decoded,
cut at the limit, and connections kept only when the answer leaves them clean."""

from __future__ import annotations

import gzip
import socket
import ssl
import threading
import zlib

import pytest

from integrations.base import OutgoingRequest, TransportError
from integrations.http import MAX_RESPONSE_BYTES, HttpTransport, OutboundPolicy

LOOPBACK_ALLOWED = OutboundPolicy.from_cidrs(["127.0.0.0/8"], ["127.0.0.0/8"])


class RawServer:
    """Answers each request with the next scripted bytes; `close_after` closes that connection
    after answering. Records the requests as they arrived, and which connection each came on."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        if tls is not None:
            self.listener = tls.wrap_socket(self.listener, server_side=True)
        self.port = self.listener.getsockname()[1]
        self.script: list[tuple[bytes, bool]] = []
        self.requests: list[tuple[int, bytes]] = []  # (connection number, head and body)
        self.connections = 0
        self.closed = threading.Semaphore(0)  # released each time this side closes a connection
        threading.Thread(target=self._accept, daemon=True).start()

    def answer(self, raw: bytes, *, close_after: bool = False) -> None:
        self.script.append((raw, close_after))

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(client, self.connections), daemon=True).start()

    def _serve(self, client: socket.socket, number: int) -> None:
        try:
            self._answer_each(client, number)
        finally:
            client.close()
            self.closed.release()

    def _answer_each(self, client: socket.socket, number: int) -> None:
        with client.makefile("rb") as reader:
            while True:
                head = b""
                while not head.endswith(b"\r\n\r\n"):
                    line = reader.readline()
                    if not line:
                        return
                    head += line
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    ),
                    0,
                )
                self.requests.append((number, head + reader.read(length)))
                raw, close_after = self.script.pop(0)
                client.sendall(raw)
                if close_after:
                    return

    def url(self, path: str = "/hook") -> str:
        scheme = "https" if isinstance(self.listener, ssl.SSLSocket) else "http"
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def server():
    raw = RawServer()
    yield raw
    raw.close()


def transport() -> HttpTransport:
    return HttpTransport(LOOPBACK_ALLOWED, user_agent="ContactPoints/test", timeout_seconds=5.0)


def post(seam: HttpTransport, server: RawServer, body: bytes = b"{}", **headers: str):
    return seam.send(OutgoingRequest("POST", server.url(), {"Content-Type": "application/json", **headers}, body))


def test_the_request_is_one_well_formed_http_1_1_message(server):
    server.answer(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    post(transport(), server, b'{"a":1}', **{"X-Custom": "v"})
    ((_, request),) = server.requests
    head, _, body = request.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /hook HTTP/1.1"
    fields = dict(line.split(": ", 1) for line in lines[1:])
    assert fields["Host"] == f"127.0.0.1:{server.port}"
    assert fields["Content-Length"] == "7" and body == b'{"a":1}'
    assert (fields["X-Custom"], fields["User-Agent"], fields["Accept-Encoding"]) == (
        "v",
        "ContactPoints/test",
        "gzip, deflate",
    )


def test_a_kept_connection_carries_the_next_request(server):
    seam = transport()
    server.answer(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na")
    server.answer(b"HTTP/1.1 202 Accepted\r\nContent-Length: 1\r\n\r\nb")
    assert post(seam, server).body == b"a"
    answer = post(seam, server)
    assert (answer.status, answer.reason, answer.body) == (202, "Accepted", b"b")
    assert [number for number, _ in server.requests] == [1, 1]


def test_a_connection_the_server_closed_is_not_used_again(server):
    seam = transport()
    server.answer(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na", close_after=True)
    server.answer(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb")
    post(seam, server)
    assert server.closed.acquire(timeout=5)  # as a server's idle timeout would, before the next request
    assert post(seam, server).body == b"b"
    assert [number for number, _ in server.requests] == [1, 2]


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\na",
        b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\na",
    ],
)
def test_connection_close_and_http_1_0_end_the_connection(server, raw):
    seam = transport()
    server.answer(raw)
    server.answer(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb")
    post(seam, server)
    post(seam, server)
    assert [number for number, _ in server.requests] == [1, 2]


def test_a_chunked_answer_is_read_whole_with_its_trailers(server):
    seam = transport()
    server.answer(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n"
    )
    server.answer(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nf")
    assert post(seam, server).body == b"abcde"
    assert post(seam, server).body == b"f"  # the chunked answer left the connection clean
    assert [number for number, _ in server.requests] == [1, 1]


def test_an_answer_without_length_ends_with_the_connection(server):
    server.answer(b"HTTP/1.1 500 Internal Server Error\r\n\r\nbroken", close_after=True)
    answer = post(transport(), server)
    assert (answer.status, answer.body) == (500, b"broken")


def test_repeated_fields_are_joined_and_names_lower_cased(server):
    server.answer(b"HTTP/1.1 429 Too Many\r\nRetry-After: 3\r\nX-A: 1\r\nx-a: 2\r\nContent-Length: 0\r\n\r\n")
    answer = post(transport(), server)
    assert answer.headers["retry-after"] == "3" and answer.headers["x-a"] == "1, 2"


def test_a_folded_header_line_continues_its_field(server):
    server.answer(b"HTTP/1.1 400 Bad\r\nX-Reason: too\r\n  many\r\nContent-Length: 0\r\n\r\n")
    assert post(transport(), server).headers["x-reason"] == "too many"


def test_interim_answers_are_skipped(server):
    server.answer(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok")
    answer = post(transport(), server)
    assert (answer.status, answer.body) == (201, b"ok")


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, as some servers send it
    ],
)
def test_gzip_and_deflate_bodies_are_decoded(server, encoding, encode):
    body = encode(b'{"error":"rate limited"}')
    server.answer(
        b"HTTP/1.1 400 Bad\r\nContent-Encoding: %s\r\nContent-Length: %d\r\n\r\n" % (encoding.encode(), len(body))
        + body
    )
    assert post(transport(), server).body == b'{"error":"rate limited"}'


def test_a_body_over_the_limit_is_cut_and_its_connection_dropped(server):
    seam = transport()
    size = MAX_RESPONSE_BYTES + 10
    server.answer(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size + b"x" * size)
    server.answer(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb")
    assert post(seam, server).body == b"x" * MAX_RESPONSE_BYTES
    post(seam, server)
    assert [number for number, _ in server.requests] == [1, 2]


def test_a_body_that_breaks_off_reads_as_empty_with_its_status(server):
    server.answer(b"HTTP/1.1 503 Unavailable\r\nContent-Length: 100\r\n\r\nshort", close_after=True)
    answer = post(transport(), server)
    assert (answer.status, answer.body) == (503, b"")


@pytest.mark.parametrize("raw", [b"", b"SSH-2.0-OpenSSH\r\n", b"HTTP/1.1 2000 OK\r\n\r\n"])
def test_a_connection_closed_or_not_answering_http_is_a_retryable_error(server, raw):
    server.answer(raw, close_after=True)
    with pytest.raises(TransportError) as error:
        post(transport(), server)
    assert error.value.retryable
    assert f"cannot connect to http://127.0.0.1:{server.port}" in str(error.value)
    assert "/hook" not in str(error.value)


@pytest.mark.parametrize(
    "headers", [{"X-Evil": "a\r\nX-Injected: 1"}, {"Bad Name": "v"}, {"X-Nul": "a\x00b"}, {"X-Name": "日本"}]
)
def test_a_header_that_cannot_be_one_line_is_refused_before_connecting(server, headers):
    with pytest.raises(TransportError) as error:
        post(transport(), server, **headers)
    assert not error.value.retryable
    assert server.connections == 0


def test_head_and_no_content_answers_have_no_body(server):
    seam = transport()
    server.answer(b"HTTP/1.1 204 No Content\r\n\r\n")
    server.answer(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")  # HEAD: the length of a body not sent
    server.answer(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nc")
    assert post(seam, server).body == b""
    assert seam.send(OutgoingRequest("HEAD", server.url())).status == 200
    assert post(seam, server).body == b"c"
    assert [number for number, _ in server.requests] == [1, 1, 1]


def test_a_kept_tls_connection_carries_the_next_request():
    from tests.security.test_an_attempt_ends_at_its_deadline_however_slowly_the_receiver_answers import (
        _tls_server_context,
        self_signed_certificate,
    )

    certificate, key = self_signed_certificate()
    server = RawServer(tls=_tls_server_context(certificate, key))
    try:
        seam = transport()
        seam._ssl_context.load_verify_locations(cadata=certificate)  # the process's context, trusting the test's CA
        server.answer(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na")
        server.answer(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb")
        assert post(seam, server).body == b"a"
        assert post(seam, server).body == b"b"
        assert [number for number, _ in server.requests] == [1, 1]  # one handshake for both
    finally:
        server.close()
