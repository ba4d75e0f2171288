"""Wire transcripts: what raw clients see of a server, normalised so two servers can be compared.

Theory of operation
-------------------
A :class:`Session` drives one server through named raw-socket clients
(:class:`WireClient`: ``A``, ``B``...). Every step appends one event, a
plain JSON-ready ``dict``, to ``session.events``:

* ``send``: what the client wrote (first line and size), and ``send failed``
  when the server hung up first;
* ``response``: the status line, the header fields **in wire order** with
  the value of ``Date`` replaced by ``<date>`` (when it has Go's
  ``http.TimeFormat`` shape), the body de-chunked and summarised, whether it
  was chunked and the chunk sizes, and a *timing class*;
* ``no response``: nothing arrived within the client's timeout;
* ``closed``: the server closed (``eof``) or reset (``reset``) the connection
  before a whole response;
* ``close``: how the connection ended after its responses (``eof``,
  ``reset``, or ``open`` when still open at the client's timeout), and when;
* ``client closes`` / ``client resets`` / ``client shuts down writing``;
* ``access log``: who the server's access log says it served so far, by
  client label, in the order the handler ran them.

Times are not compared; their *class* is (:class:`WireTimes`): ``at once``,
``after rstAvoidanceDelay`` (Go's 500 ms linger before a close),
``after the timeout`` (the lab's ReadTimeout/IdleTimeout), or ``never``
within the client's timeout. Each event also keeps its raw ``seconds`` for
readers; :func:`comparable` drops it. Windows have hard lower bounds: the
client's clock starts before the server's timer (at the send), and a
deadline never fires early, so only the upper bounds need margins for a
busy machine.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path

import h11

__all__ = [
    "WireTimes",
    "Session",
    "WireClient",
    "comparable",
    "describe_body",
    "normalise_headers",
    "AT_ONCE",
    "AFTER_RST_DELAY",
    "AFTER_TIMEOUT",
    "NEVER",
    "UNCLASSIFIED",
]

AT_ONCE = "at once"
AFTER_RST_DELAY = "after rstAvoidanceDelay"
AFTER_TIMEOUT = "after the timeout"
NEVER = "never"
UNCLASSIFIED = "unclassified"

# Go's http.TimeFormat, "Mon, 02 Jan 2006 15:04:05 GMT".
_DATE = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT"
)
_EARLY = 0.01  # clock granularity: a timer may look this much early between two processes
_BODY_TEXT_MAX = 64


@dataclass(frozen=True)
class WireTimes:
    """The lab's durations and the windows that classify an elapsed time (seconds)."""

    timeout: float = 1.0  # the servers' ReadTimeout, hence their idle and header deadlines
    client: float = 2.5  # how long a client waits for anything
    rst_delay: float = 0.5  # server.go rstAvoidanceDelay
    at_once: float = 0.35  # quicker than this is "at once"

    def __post_init__(self) -> None:
        if not self.at_once < self.rst_delay - _EARLY < self.rst_delay < self.timeout - _EARLY:
            raise ValueError(f"timing windows overlap: {self}")
        if self.client < 1.5 * self.timeout:
            raise ValueError("the client must wait well past the server's timeout")

    def classify(self, seconds: float | None) -> str:
        """The timing class of something that happened ``seconds`` after its anchor (None: never)."""
        if seconds is None:
            return NEVER
        if seconds < self.at_once:
            return AT_ONCE
        if self.rst_delay - _EARLY <= seconds < self.rst_delay + 0.8 * (self.timeout - self.rst_delay):
            return AFTER_RST_DELAY
        if self.timeout - _EARLY <= seconds < self.timeout + 0.6 * (self.client - self.timeout):
            return AFTER_TIMEOUT
        return UNCLASSIFIED

    def go(self, seconds: float) -> str:
        """A duration as a Go flag value: ``1000ms``."""
        return f"{round(seconds * 1000)}ms"


def normalise_headers(items) -> list[list[str]]:
    """Header fields in wire order; a well-formed ``Date`` value becomes ``<date>``."""
    out = []
    for name, value in items:
        name, value = name.decode("latin-1"), value.decode("latin-1")
        if name.lower() == "date" and _DATE.fullmatch(value):
            value = "<date>"
        out.append([name, value])
    return out


def describe_body(body: bytes) -> str:
    """A short body as text, a longer one as its size and a digest."""
    if len(body) <= _BODY_TEXT_MAX:
        return body.decode("latin-1")
    return f"{len(body)} bytes, sha256 {hashlib.sha256(body).hexdigest()[:16]}"


def comparable(event: dict) -> dict:
    """An event without its raw time: what must be equal between two servers."""
    return {k: v for k, v in event.items() if k != "seconds"}


class WireClient:
    """One client connection; every method appends an event to its session."""

    def __init__(self, session: "Session", label: str) -> None:
        self.session = session
        self.label = label
        self.timing = session.timing
        self.sock = socket.create_connection(("127.0.0.1", session.port), timeout=self.timing.client)
        self.local_addr = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.sent_at = time.monotonic()  # the anchor for "when": the last send (or the connect)
        self._buffer = b""  # received, not yet part of a response
        self._buffered_at = 0.0
        self._ended_at: float | None = None  # when EOF or a reset was seen
        self._how = ""

    def _event(self, kind: str, **fields) -> dict:
        event = {"conn": self.label, "kind": kind, **fields}
        self.session.events.append(event)
        return event

    # -- the client's actions --------------------------------------------------

    def send(self, data: bytes) -> float:
        first_line = data.split(b"\n", 1)[0].rstrip(b"\r").decode("latin-1")
        self._event("send", request=first_line[:80], bytes=len(data))
        self.sock.settimeout(self.timing.client)
        # Stamped before the bytes leave: no server timer can start earlier, so an
        # elapsed time measured from here is never shorter than the server's.
        self.sent_at = time.monotonic()
        try:
            self.sock.sendall(data)
        except OSError as exc:  # the server hung up, or stopped reading, first
            self._event("send failed", error=type(exc).__name__)
        return self.sent_at

    def close(self) -> float:
        self._event("client closes")
        at = time.monotonic()
        self.sock.close()
        return at

    def reset(self) -> float:
        """Close with an RST (SO_LINGER 0), as a client that aborts."""
        self._event("client resets")
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        at = time.monotonic()
        self.sock.close()
        return at

    def shutdown_write(self) -> float:
        self._event("client shuts down writing")
        at = time.monotonic()
        self.sock.shutdown(socket.SHUT_WR)
        return at

    # -- what the server does ----------------------------------------------------

    def _recv(self, deadline: float) -> bytes | None:
        """Bytes; ``b""`` at EOF or reset (remembered); None when the deadline passes first."""
        if self._ended_at is not None:
            return b""
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except (TimeoutError, socket.timeout):
            return None
        except ConnectionResetError:
            data, self._how = b"", "reset"
        else:
            self._how = "" if data else "eof"
        if not data:
            self._ended_at = time.monotonic()
        return data

    def response(self, method: str = "GET", since: float | None = None) -> dict:
        """Read one response, waiting up to the client's timeout from ``since`` (default: the last send)."""
        anchor = self.sent_at if since is None else since
        deadline = anchor + self.timing.client
        parser = h11.Connection(h11.CLIENT)
        parser.send(h11.Request(method=method, target="/", headers=[("Host", "lab")]))
        parser.send(h11.EndOfMessage())
        got = _Reading()
        pending, self._buffer = self._buffer, b""
        first_at = self._buffered_at if pending else None
        while not got.done:
            if pending:
                data, pending = pending, b""
            else:
                data = self._recv(deadline)
                if data is None:
                    kind = "incomplete response" if got.received else "no response"
                    return self._event(kind, bytes=got.received, timing=NEVER, seconds=None)
                first_at = first_at or time.monotonic()
            got.received += len(data)
            if not data and got.head is None:
                # The server hung up without (the rest of) a status line.
                seconds = self._ended_at - anchor
                return self._event("closed", how=self._how, bytes=got.received,
                                   timing=self.timing.classify(seconds), seconds=round(seconds, 3))  # fmt: skip
            parser.receive_data(data)
            try:
                got.consume(parser)
            except h11.RemoteProtocolError as exc:
                return self._event("unparseable response", error=str(exc), bytes=got.received,
                                   timing=UNCLASSIFIED, seconds=None)  # fmt: skip
        self._buffer, _ = parser.trailing_data
        self._buffered_at = time.monotonic()
        return self._response_event(got, first_at - anchor)

    def _response_event(self, got: "_Reading", seconds: float) -> dict:
        head = got.head
        reason = head.reason.decode("latin-1")
        status = f"HTTP/{head.http_version.decode()} {head.status_code}" + (f" {reason}" if reason else "")
        headers = normalise_headers(head.headers.raw_items())
        chunked = any(k.lower() == "transfer-encoding" and "chunked" in v.lower() for k, v in headers)
        fields = {"status": status, "headers": headers, "body": describe_body(bytes(got.body)), "chunked": chunked}
        if chunked:
            fields["chunks"] = got.chunks
        if got.interim:
            fields["interim"] = got.interim
        return self._event("response", **fields, timing=self.timing.classify(seconds), seconds=round(seconds, 3))

    def quiet(self, seconds: float) -> dict:
        """Whether nothing at all (no byte, no close) arrives for ``seconds``: the measured wait."""
        data = b"" if self._buffer else self._recv(time.monotonic() + seconds)
        if data:
            self._buffer, self._buffered_at = data, time.monotonic()
        return self._event("quiet", held=data is None and not self._buffer, seconds=seconds)

    def wait_close(self, since: float | None = None) -> dict:
        """Wait (up to the client's timeout from ``since``) for the server to end the connection."""
        anchor = self.sent_at if since is None else since
        deadline = anchor + self.timing.client
        stray = len(self._buffer)
        self._buffer = b""
        while self._ended_at is None:
            data = self._recv(deadline)
            if data is None:
                return self._event("close", how="open", stray_bytes=stray, timing=NEVER, seconds=None)
            stray += len(data)
        seconds = max(0.0, self._ended_at - anchor)
        return self._event("close", how=self._how, stray_bytes=stray, timing=self.timing.classify(seconds),
                           seconds=round(seconds, 3))  # fmt: skip

    def shut(self) -> None:
        """Release the socket without recording anything (clean-up)."""
        self.sock.close()


@dataclass
class _Reading:
    """One response being read: h11's events, accumulated."""

    head: h11.Response | None = None
    body: bytearray = field(default_factory=bytearray)
    interim: list = field(default_factory=list)
    chunks: list = field(default_factory=list)
    received: int = 0
    done: bool = False

    def consume(self, parser: h11.Connection) -> None:
        while not self.done:
            event = parser.next_event()
            if event is h11.NEED_DATA:
                return
            if isinstance(event, h11.InformationalResponse):
                self.interim.append(f"{event.status_code} {event.reason.decode('latin-1')}")
            elif isinstance(event, h11.Response):
                self.head = event
            elif isinstance(event, h11.Data):
                self.body += event.data
                if event.chunk_start:
                    self.chunks.append(0)
                if self.chunks:
                    self.chunks[-1] += len(event.data)
            elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                self.done = True


class Session:
    """A scenario's clients against one server, and the events they recorded."""

    def __init__(self, port: int, timing: WireTimes, access_log: Path | None = None) -> None:
        self.port = port
        self.timing = timing
        self.access_log_path = access_log
        self.events: list[dict] = []
        self.clients: list[WireClient] = []

    def connect(self, label: str) -> WireClient:
        client = WireClient(self, label)
        self.clients.append(client)
        return client

    def access_log(self, final: bool = False) -> dict:
        """Record who the access log says was served so far, by client label, in log order."""
        event = {"conn": "server", "kind": "access log", "final": final, "requests": self.logged()}
        self.events.append(event)
        return event

    def logged(self) -> list[list]:
        """The access log's requests, by client label, in the order their handlers started.

        Not in file order: our server writes a record once its response has gone out, so two
        connections' records can land in either order; when each handler *started* is fixed by
        the scenario (a request is sent only after the previous response arrived).
        """
        if self.access_log_path is None or not self.access_log_path.exists():
            return []
        labels = {c.local_addr: c.label for c in self.clients}
        # A line still being written has no newline yet: it is left for a later look.
        lines = self.access_log_path.read_text(encoding="utf-8").split("\n")[:-1]
        records = sorted((json.loads(line) for line in lines), key=lambda r: r["handler_start"])
        return [[labels.get(r["remote_addr"], "?"), r["method"], r["target"], r["proto"], r["status"],
                 r["body_bytes"], r["request_id"]] for r in records]  # fmt: skip

    def close(self) -> None:
        for client in self.clients:
            client.shut()
