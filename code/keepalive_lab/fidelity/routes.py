"""Routing: request targets of every shape, Go's ``ServeMux`` against ours, recorded for the tests.

Theory of operation
-------------------
:func:`routes` draws request heads from a fixed seed: a method (``GET``,
``HEAD``, ``OPTIONS``, ``CONNECT``, ``POST``), a target built from the pieces
routing and cleaning care about (``/``, ``.``, ``..``, ``%``, hex digits,
``%2f``, ``%2e``, non-ASCII bytes, ``?``, ``#``, ``;``, ``:``, ``@``...) in
every form a request line can hold (origin ``/...``, ``//...``,
absolute ``http://host/...``, authority ``host:port``, ``*``, a rootless
``a:b``), with or without a ``Host`` field, mostly HTTP/1.1. Each
:class:`Route` is one connection; its id is a digest of its bytes.

:func:`ask` sends the head on a new connection to 127.0.0.1 and reads the
answer: the status, the ``Location`` (as its bytes, Latin-1) and how the
connection ended: ``closed`` (the server ended it after its answer),
``kept`` (it answered the *probe*, ``OPTIONS *``, sent on the same
connection once the answer was complete), or ``open`` (neither within the
client's patience). :func:`run_routes` plays many routes against one
server process started with :data:`FLAGS` (no ``LimitListener``, no handler
latency), a few connections at a time.

:func:`record` plays :data:`COUNT` routes against the Go reference binary
and writes ``data/go-routes.json``, one route per line (the request as sent,
and Go's answer); :func:`compare` lists where our answers differ.
``python -m keepalive_lab.fidelity routes`` compares ours with the
recording, ``--live --count N`` sweeps both binaries with ``N`` fresh routes,
and ``--record`` rewrites the recording.
"""

from __future__ import annotations

import hashlib
import json
import queue
import random
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from keepalive_lab.fidelity.process import PROJECT_ROOT, GoReference, ServerProcess

__all__ = ["Route", "Answer", "routes", "ask", "run_routes", "record", "load_recording", "compare",
           "RECORDING", "SEED", "COUNT", "FLAGS", "PROBE"]  # fmt: skip

RECORDING = PROJECT_ROOT / "data" / "go-routes.json"
SEED = 20250117
COUNT = 400  # the recorded routes; a live sweep can draw any number
FLAGS = ["--limit", "0", "--latency", "0", "--read-timeout", "2s", "--idle-timeout", "5s"]
PROBE = b"OPTIONS * HTTP/1.1\r\nHost: lab\r\n\r\n"  # the server answers it itself: 200, Content-Length: 0
PATIENCE = 4.0  # the longest a route waits, all told
KEPT, CLOSED, OPEN = "kept", "closed", "open"
_HEAD_MAX = 64 * 1024

# -- the routes ---------------------------------------------------------------------------------

_PIECES = (
    ["/"] * 6 + [".", ".", "..", "..", "%", "%2f", "%2F", "%2e", "%2E", "%25", "%41", "%c3%a9", "%zz", "%4", "%%"]
    + list("abxz09fF") + list("?#;:@~!'*&=+$,[]<>\"\\^`{|}()-_") + ["\xc3\xa9", "\x80", "\xff", "\xe2\x82\xac"]
)  # fmt: skip
_RARE = ["\t", "\x7f", "\x00"]  # control bytes: a 400 before any routing
_HOSTS = ["lab", "h", "lab:80", "lab:", "ex.com:443", "[::1]", "[::1]:8080", "u@h", "u:p@h:1", "%c3%a9", "x:y:z",
          "", "*", "lab:8x", "\xc3\xa9", "h#f", "[fe80::1%25en0]", "a%2fb"]  # fmt: skip
_SCHEMES = ["http", "http", "HTTP", "https", "a", "h2c", "1x", "ftp"]
_METHODS = ["GET"] * 7 + ["HEAD"] * 3 + ["OPTIONS"] * 3 + ["CONNECT"] * 4 + ["POST"] * 3


@dataclass(frozen=True)
class Route:
    """One request head, sent alone on its own connection."""

    method: str
    target: str  # Latin-1: one character per byte on the wire
    host: bool = True
    version: str = "HTTP/1.1"

    @property
    def request(self) -> bytes:
        fields = "Host: lab\r\n" if self.host else ""
        if self.method == "POST":
            fields += "Content-Length: 0\r\n"
        return f"{self.method} {self.target} {self.version}\r\n{fields}\r\n".encode("latin-1")

    @property
    def id(self) -> str:
        return "route-" + hashlib.sha256(self.request).hexdigest()[:12]


def _path(rng: random.Random, longest: int = 10) -> str:
    pieces = [rng.choice(_PIECES) for _ in range(rng.randint(0, longest))]
    if rng.random() < 0.02:
        pieces.insert(rng.randint(0, len(pieces)), rng.choice(_RARE))
    return "".join(pieces)


def _target(rng: random.Random) -> str:
    form = rng.random()
    if form < 0.45:
        target = "/" + _path(rng)
    elif form < 0.53:
        target = "//" + _path(rng)
    elif form < 0.73:
        rest = rng.choice(["", "/", "/" + _path(rng), "//" + _path(rng), "?" + _path(rng, 3)])
        target = f"{rng.choice(_SCHEMES)}://{rng.choice(_HOSTS)}{rest}"
    elif form < 0.86:  # authority form, for CONNECT (and nonsense for the rest)
        target = rng.choice(_HOSTS[:11]) + rng.choice(["", "", "/" + _path(rng, 4), "?" + _path(rng, 3)])
    elif form < 0.91:
        target = rng.choice(["*", "*", "*/", "*" + _path(rng, 3)])
    else:  # rootless: a scheme and an opaque part, or no scheme at all
        target = rng.choice(["a:", "http:", "x", "mailto:", ":"]) + _path(rng, 5)
    if rng.random() < 0.25 and not target.startswith("*"):
        target += "?" + _path(rng, 4)
    return target.replace(" ", "") or "/"


def routes(count: int = COUNT, seed: int = SEED) -> list[Route]:
    """``count`` distinct routes drawn from ``seed``: the same list on every run and machine."""
    rng = random.Random(seed)
    found: dict[str, Route] = {}
    for _ in range(count * 20):  # duplicates are rare; the bound only keeps the loop finite
        if len(found) == count:
            break
        method = rng.choice(_METHODS)
        host = rng.random() < (0.5 if method == "CONNECT" else 0.9)
        version = "HTTP/1.0" if rng.random() < 0.1 else "HTTP/1.1"
        route = Route(method, _target(rng), host, version)
        found.setdefault(route.id, route)
    return list(found.values())


# -- one route ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """What a server answered to a route: status (0: none), ``Location`` (None: none) and the end."""

    status: int
    location: str | None
    end: str

    def as_json(self) -> dict:
        return {"status": self.status, "location": self.location, "end": self.end}

    @classmethod
    def from_json(cls, data: dict) -> "Answer":
        return cls(data["status"], data["location"], data["end"])

    def short(self) -> str:
        where = "" if self.location is None else f" -> {self.location!r}"
        return f"{self.status or '-'}{where} {self.end}"


class _Reader:
    """Reads one connection with a single deadline for everything."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.deadline = deadline
        self.buf = b""
        self.ended = False

    def _fill(self) -> bool:
        """More bytes into ``buf``; False at the end of the connection or of the patience."""
        left = self.deadline - time.monotonic()
        if self.ended or left <= 0:
            return False
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return False
        except OSError:  # a reset ends the connection as a FIN does
            data = b""
        self.ended = not data
        self.buf += data
        return bool(data)

    def head(self) -> tuple[int, dict[str, str]] | None:
        """The next response head: status and fields (lower-case names, last value wins)."""
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > _HEAD_MAX or not self._fill():
                return None
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            return None
        fields = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        return int(parts[1]), fields

    def body(self, size: int) -> bool:
        while len(self.buf) < size:
            if not self._fill():
                return False
        self.buf = self.buf[size:]
        return True

    def end(self) -> str:
        """Wait for the end: ``closed``, or ``open`` when the patience runs out first."""
        while self._fill():
            pass
        return CLOSED if self.ended else OPEN


def ask(port: int, route: Route, patience: float = PATIENCE) -> Answer:
    """Send ``route`` on a new connection to 127.0.0.1:``port``; its status, Location and end."""
    deadline = time.monotonic() + patience
    with socket.create_connection(("127.0.0.1", port), timeout=patience) as sock:
        reader = _Reader(sock, deadline)
        try:
            sock.sendall(route.request)
        except OSError:
            pass  # the server may have answered and gone already: read what it said
        head = reader.head()
        if head is None:
            return Answer(0, None, reader.end())
        status, fields = head
        location = fields.get("location")
        framed = "content-length" in fields or route.method == "HEAD"
        if fields.get("connection", "").lower() == "close" or not framed:
            return Answer(status, location, reader.end())  # framed by the close, or closing
        if route.method != "HEAD" and not reader.body(int(fields["content-length"])):
            return Answer(status, location, reader.end())
        try:
            sock.sendall(PROBE)
        except OSError:
            return Answer(status, location, CLOSED)
        probe = reader.head()
        return Answer(status, location, KEPT if probe is not None and probe[0] == 200 else reader.end())


# -- many routes ----------------------------------------------------------------------------------

Command = Callable[[Sequence[str]], list[str]]


def run_routes(command: Command, cases: Sequence[Route], jobs: int = 4) -> dict[str, Answer]:
    """Every route against one server started by ``command(FLAGS)``, ``jobs`` connections at a time."""
    todo: queue.Queue[Route] = queue.Queue()
    for route in cases:
        todo.put(route)
    answers: dict[str, Answer] = {}
    lock = threading.Lock()

    def work(port: int) -> None:
        while True:
            try:
                route = todo.get_nowait()
            except queue.Empty:
                return
            try:
                answer = ask(port, route)
            except OSError as exc:  # the connect failed: the server is gone
                answer = Answer(0, None, f"connect failed: {type(exc).__name__}")
            with lock:
                answers[route.id] = answer

    with ServerProcess(command(FLAGS)) as server, ThreadPoolExecutor(max(1, jobs), "routes") as pool:
        for future in [pool.submit(work, server.port) for _ in range(max(1, jobs))]:
            future.result()
    return {r.id: answers[r.id] for r in cases}


def compare(cases: Sequence[Route], go: dict[str, Answer], ours: dict[str, Answer]) -> list[str]:
    """One line per route whose answers differ (or that one side lacks); empty when they all agree."""
    lines = []
    for route in cases:
        g, o = go.get(route.id), ours.get(route.id)
        if g != o:
            sides = f"go: {g.short() if g else 'missing'} | ours: {o.short() if o else 'missing'}"
            line = route.request.partition(b"\r\n")[0]
            lines.append(f"{route.id} {line!r} host={route.host}: {sides}")
    return lines


# -- the recording ---------------------------------------------------------------------------------


def record(ref: GoReference, path: Path = RECORDING, count: int = COUNT, jobs: int = 4) -> dict:
    """Play ``count`` routes against the Go reference binary and write its answers to ``path``."""
    cases = routes(count)
    answers = run_routes(lambda flags: [str(ref.binary), *flags], cases, jobs)
    head = {
        "what": "The Go reference server (code/go-reference) under keepalive_lab.fidelity.routes",
        "go_version": ref.go_version,
        "x_net_version": ref.x_net_version,
        "recorded_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seed": SEED,
        "count": count,
        "flags": FLAGS,
        "probe": PROBE.decode("latin-1"),
    }
    rows = [f"  {json.dumps(r.id)}: {json.dumps({'request': r.request.decode('latin-1'), **answers[r.id].as_json()})}"
            for r in cases]  # fmt: skip
    lines = ["{", *(f" {json.dumps(k)}: {json.dumps(v)}," for k, v in head.items()), ' "routes": {', ",\n".join(rows),
             " }", "}", ""]  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines), encoding="utf-8")
    tmp.replace(path)
    return {**head, "routes": answers}


def load_recording(path: Path = RECORDING) -> tuple[dict, dict[str, Answer], dict[str, bytes]]:
    """The recording's metadata, Go's answer by route id, and each route's request bytes."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    rows = data.pop("routes")
    answers = {k: Answer.from_json(v) for k, v in rows.items()}
    return data, answers, {k: v["request"].encode("latin-1") for k, v in rows.items()}
