"""The webhook receiver both systems deliver to, in a process of its own.

Alertmanager can deliver several thousand webhooks a second, so the receiver must not be what
is measured: asyncio with a minimal HTTP/1.1 keep-alive parser (Content-Length bodies only),
answering 200 at once. For every request it records the `bench_id` label of each alert in
`alerts[].labels` and the arrival time; ids look like `<phase>:<unique part>`, so one receiver
serves every phase. The driver asks for figures over a multiprocessing pipe.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import signal
import socket
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

ID_LABEL = "bench_id"
SENT_LABEL = "sent"  # time.time() at send, as a string: the receiver computes the latency
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
MAX_HEADER_BYTES = 64 * 1024


@dataclass
class Phase:
    counts: dict[str, int] = field(default_factory=dict)  # id -> times received
    first_arrival: dict[str, float] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    requests: int = 0
    last_arrival: float = 0.0


class Recorder:
    def __init__(self) -> None:
        self.phases: dict[str, Phase] = {}
        self.requests = 0
        self.unparsable = 0
        self.last_arrival = 0.0

    def record(self, body: bytes, arrived: float) -> None:
        self.requests += 1
        self.last_arrival = arrived
        try:
            alerts = json.loads(body)["alerts"]
            labels_list = [alert["labels"] for alert in alerts]
        except (ValueError, KeyError, TypeError):
            self.unparsable += 1
            return
        for labels in labels_list:
            alert_id = labels.get(ID_LABEL) if isinstance(labels, dict) else None
            if not isinstance(alert_id, str):
                continue
            phase = self.phases.setdefault(alert_id.partition(":")[0], Phase())
            phase.requests += 1
            phase.last_arrival = arrived
            seen = phase.counts.get(alert_id, 0)
            phase.counts[alert_id] = seen + 1
            if seen:
                continue  # a duplicate: counted, but its latency is not a new sample
            phase.first_arrival[alert_id] = arrived
            sent = labels.get(SENT_LABEL)
            if sent:
                with contextlib.suppress(ValueError):
                    phase.latencies_ms.append((arrived - float(sent)) * 1000)

    def summary(self, phase_name: str, with_details: bool) -> dict[str, Any]:
        phase = self.phases.get(phase_name, Phase())
        result: dict[str, Any] = {
            "unique": len(phase.counts),
            "duplicates": sum(count - 1 for count in phase.counts.values()),
            "last_arrival": phase.last_arrival,
            "total_requests": self.requests,
            "receiver_last_arrival": self.last_arrival,
            "unparsable": self.unparsable,
        }
        if with_details:
            result["arrivals"] = sorted(phase.first_arrival.values())
            result["first_arrivals"] = dict(phase.first_arrival)
            result["latencies_ms"] = sorted(phase.latencies_ms)
        return result


async def handle_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, recorder: Recorder) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            if len(head) > MAX_HEADER_BYTES:
                break
            length, close = 0, False
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
            body = await reader.readexactly(length) if length else b""
            arrived = time.time()
            writer.write(ANSWER)  # answer first: the sender's clock should not include our parsing
            recorder.record(body, arrived)
            if close:
                break
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


def answer_control(control: Connection, recorder: Recorder, stop: asyncio.Event) -> None:
    try:
        command, *args = control.recv()
    except EOFError:  # the driver is gone
        stop.set()
        return
    if command == "summary":
        control.send(recorder.summary(args[0], args[1]))
    elif command == "forget":  # a phase's ids are not needed any more: keep memory flat
        recorder.phases.pop(args[0], None)
        control.send(True)


async def serve(listener: socket.socket, control: Connection) -> None:
    recorder = Recorder()
    stop = asyncio.Event()
    server = await asyncio.start_server(
        lambda r, w: handle_connection(r, w, recorder), sock=listener, backlog=1024, limit=MAX_HEADER_BYTES * 2
    )
    loop = asyncio.get_running_loop()
    loop.add_reader(control.fileno(), answer_control, control, recorder, stop)
    async with server:
        await stop.wait()


def receiver_main(listener: socket.socket, control: Connection) -> None:
    # Ctrl-C reaches the whole terminal group; the driver decides when the receiver stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    asyncio.run(serve(listener, control))


class Receiver:
    """Handle on the receiver process: its URL and figures per phase."""

    def __init__(self) -> None:
        # Bound here, so the port is known before the child runs and cannot be taken meanwhile.
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1024)
        self.port: int = self.listener.getsockname()[1]
        context = multiprocessing.get_context("spawn")  # no copy of the driver's threads or state
        self.control, child_end = context.Pipe()
        self.process = context.Process(target=receiver_main, args=(self.listener, child_end), daemon=True)
        self.process.start()
        child_end.close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def _ask(self, *command: Any, timeout_seconds: float = 30.0) -> Any:
        self.control.send(command)
        if not self.control.poll(timeout_seconds):
            raise RuntimeError(f"the receiver did not answer {command[0]!r} in {timeout_seconds:.0f} s")
        return self.control.recv()

    def summary(self, phase: str, with_details: bool = False) -> dict[str, Any]:
        return self._ask("summary", phase, with_details)

    def forget(self, phase: str) -> None:
        self._ask("forget", phase)

    def wait_for(self, phase: str, expected: int, cap_seconds: float, stall_seconds: float) -> bool:
        """Wait until `expected` unique ids of `phase` arrived; give up after `cap_seconds`, or after
        `stall_seconds` without a single new arrival (a stack that stopped delivering)."""
        started = time.monotonic()
        last_count, last_progress = -1, started
        while True:
            count = self.summary(phase)["unique"]
            now = time.monotonic()
            if count >= expected:
                return True
            if count != last_count:
                last_count, last_progress = count, now
            if now - started > cap_seconds or now - last_progress > stall_seconds:
                return False
            time.sleep(0.05)

    def wait_for_quiet(self, quiet_seconds: float, cap_seconds: float) -> bool:
        """Wait until nothing at all arrived for `quiet_seconds` (leftovers of a previous phase)."""
        deadline = time.monotonic() + cap_seconds
        while time.monotonic() < deadline:
            last = self.summary("")["receiver_last_arrival"]
            if time.time() - last >= quiet_seconds:
                return True
            time.sleep(0.2)
        return False

    def stop(self) -> None:
        # Its figures are read by now: SIGTERM ends it at once, with no connection left to drain.
        self.process.terminate()
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)
        self.control.close()
        self.listener.close()
