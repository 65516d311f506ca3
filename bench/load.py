"""Load generators: wrk for fixed-duration load, an asyncio client for bursts and paced sending.

Every request carries one alert with a unique `bench_id` label, `<phase>:<unique part>`, so the
receiver can tell missing and duplicated deliveries apart, and both systems must keep each
alert as its own notification (Alertmanager deduplicates alerts with equal labels).
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.receiver import ID_LABEL, SENT_LABEL

# Per thread: a counter and the thread's number make each body unique. response() counts 2xx
# and the rest; done() sums the threads' counters (thread:get) and prints one line we parse.
WRK_SCRIPT = """
local threads, next_id = {}, 1
function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end
function init(args)
  phase, path, n, accepted, refused = args[1], args[2], 0, 0, 0
  headers = {["Content-Type"] = "application/json"}
  if args[3] and args[3] ~= "" then headers["Authorization"] = "Bearer " .. args[3] end
end
function request()
  n = n + 1
  local body = string.format(
    '[{"labels":{"alertname":"Bench","@ID@":"%s:%d-%d"},"annotations":{"summary":"bench"}}]', phase, tid, n)
  return wrk.format("POST", path, headers, body)
end
function response(status, headers, body)
  if status >= 200 and status < 300 then accepted = accepted + 1 else refused = refused + 1 end
end
function done(summary, latency, requests)
  local ok, bad = 0, 0
  for _, t in ipairs(threads) do ok = ok + t:get("accepted"); bad = bad + t:get("refused") end
  local e = summary.errors
  io.write(string.format("BENCH-RESULT %d %d %d %d %d\\n", ok, bad, summary.duration,
    e.connect + e.read + e.write + e.timeout, latency:percentile(50)))
end
""".replace("@ID@", ID_LABEL)

# The receiver's own check: a Grafana-sized webhook body, unique per request like the real ones.
WRK_RECEIVER_SCRIPT = """
local next_id = 1
function setup(thread) thread:set("tid", next_id); next_id = next_id + 1 end
function init(args) n = 0; pad = string.rep("x", 1500) end
function request()
  n = n + 1
  local body = string.format('{"alerts":[{"labels":{"@ID@":"selfcheck:%d-%d"},"annotations":{"d":"%s"}}]}',
    tid, n, pad)
  return wrk.format("POST", "/selfcheck", {["Content-Type"] = "application/json"}, body)
end
""".replace("@ID@", ID_LABEL)


@dataclass
class WrkResult:
    accepted: int
    refused: int
    duration_s: float
    socket_errors: int
    median_latency_ms: float
    started: float  # time.time() just before wrk began

    @property
    def accepted_per_second(self) -> float:
        return self.accepted / self.duration_s if self.duration_s else 0.0


def run_wrk(folder: Path, url: str, phase: str, token: str, seconds: int, connections: int, threads: int) -> WrkResult:
    script = folder / "intake.lua"
    script.write_text(WRK_SCRIPT)
    path = "/" + url.split("/", 3)[3]
    argv = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "30s"]
    argv += ["-s", str(script), url, "--", phase, path, token]
    started = time.time()
    output = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 90, check=False).stdout
    match = re.search(r"BENCH-RESULT (\d+) (\d+) (\d+) (\d+) (\d+)", output)
    if match is None:
        raise RuntimeError(f"wrk printed no result:\n{output}")
    accepted, refused, duration_us, errors, median_us = (int(value) for value in match.groups())
    return WrkResult(accepted, refused, duration_us / 1e6, errors, median_us / 1000, started)


def wrk_requests_per_second(folder: Path, url: str, seconds: int, connections: int, threads: int) -> float:
    script = folder / "receiver.lua"
    script.write_text(WRK_RECEIVER_SCRIPT)
    argv = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "-s", str(script), url]
    output = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=False).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if match is None:
        raise RuntimeError(f"wrk printed no rate:\n{output}")
    return float(match.group(1))


def alert_body(alert_id: str, sent: float | None = None) -> bytes:
    labels = {"alertname": "Bench", ID_LABEL: alert_id}
    if sent is not None:
        labels[SENT_LABEL] = repr(sent)
    return json.dumps([{"labels": labels, "annotations": {"summary": "bench"}}]).encode()


class HttpConnection:
    """One HTTP/1.1 keep-alive connection; reopens when the server closes it (gunicorn's sync
    workers close after every answer)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, headers: bytes, body: bytes, timeout_s: float) -> int:
        return await asyncio.wait_for(self._post(path, headers, body), timeout_s)

    async def _post(self, path: str, headers: bytes, body: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        request = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(request.encode() + headers + b"\r\n" + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        fields = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
        if fields.get("transfer-encoding", "").lower() == "chunked":
            while size := int((await self.reader.readline()).strip() or b"0", 16):
                await self.reader.readexactly(size + 2)
            await self.reader.readline()
        else:
            await self.reader.readexactly(int(fields.get("content-length", "0")))
        if fields.get("connection", "").lower() == "close" or lines[0].startswith("HTTP/1.0"):
            self.close()
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


@dataclass
class SendResult:
    accepted: int = 0
    refused: int = 0
    errors: int = 0
    started: float = 0.0  # time.time()
    finished: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)


def request_headers(token: str) -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return f"Content-Type: application/json\r\n{auth}".encode()


async def _send_one(
    connection: HttpConnection, path: str, headers: bytes, body: bytes, result: SendResult, timeout_s: float
) -> None:
    try:
        status = await connection.post(path, headers, body, timeout_s)
    except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError, IndexError):
        connection.close()  # no retry: a POST that may have been taken must not be sent twice
        result.errors += 1
        return
    result.statuses[status] = result.statuses.get(status, 0) + 1
    if 200 <= status < 300:
        result.accepted += 1
    else:
        result.refused += 1


async def _burst(port: int, path: str, token: str, phase: str, total: int, connections: int) -> SendResult:
    headers, result, counter = request_headers(token), SendResult(started=time.time()), iter(range(total))

    async def sender(number: int) -> None:
        connection = HttpConnection(port)
        try:
            for index in counter:  # shared iterator: each index taken by exactly one sender
                await _send_one(connection, path, headers, alert_body(f"{phase}:{index}"), result, 60.0)
        finally:
            connection.close()

    await asyncio.gather(*(sender(number) for number in range(connections)))
    result.finished = time.time()
    return result


def burst(port: int, path: str, token: str, phase: str, total: int, connections: int) -> SendResult:
    """Post `total` single-alert requests as fast as `connections` keep-alive connections allow."""
    return asyncio.run(_burst(port, path, token, phase, total, connections))


# Below the keep-alive timeout of the servers measured (gunicorn here: 5 s).
IDLE_REUSE_SECONDS = 2.0


async def _paced(port: int, path: str, token: str, phase: str, rate: int, seconds: int) -> SendResult:
    headers, result = request_headers(token), SendResult(started=time.time())
    idle: list[tuple[HttpConnection, float]] = []  # with when each came back, newest last
    tasks: set[asyncio.Task[None]] = set()

    def free_connection() -> HttpConnection:
        """The newest idle connection, or a new one: a slow answer must not delay the next send.
        One idle for longer than IDLE_REUSE_SECONDS is closed instead, as HTTP clients do: the
        server may be closing it at that moment, and a POST lost that way cannot be retried."""
        while idle:
            connection, since = idle.pop()
            if time.monotonic() - since <= IDLE_REUSE_SECONDS:
                return connection
            connection.close()
        return HttpConnection(port)

    async def send(index: int) -> None:
        connection = free_connection()
        body = alert_body(f"{phase}:{index}", sent=time.time())
        await _send_one(connection, path, headers, body, result, 30.0)
        idle.append((connection, time.monotonic()))

    loop = asyncio.get_running_loop()
    start = loop.time()
    for index in range(rate * seconds):
        await asyncio.sleep(max(0.0, start + index / rate - loop.time()))
        task = asyncio.create_task(send(index))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks, timeout=60)
    for task in tasks:
        task.cancel()
    for connection, _ in idle:
        connection.close()
    result.finished = time.time()
    return result


def paced(port: int, path: str, token: str, phase: str, rate: int, seconds: int) -> SendResult:
    """`rate` single-alert requests a second for `seconds`, each labelled with its send time."""
    return asyncio.run(_paced(port, path, token, phase, rate, seconds))
