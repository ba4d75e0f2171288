"""The book's other diagrams: the real-load-balancer families, the production runbook, the package's floors.

Same conventions as :mod:`keepalive_lab.bookkit.diagrams` (whose drawing
helpers these use): matplotlib only, colours from
:mod:`keepalive_lab.bookkit.plots`, every function returns
``(figure, alt_text)``. :func:`lb_family` takes the real-load-balancer run's
durations (:class:`~keepalive_lab.reallb.times.RealLBTimes`, lab seconds:
that chapter runs on its own clock); :func:`floors` reads the floors from
pyproject.toml's import-linter contract.
"""

from __future__ import annotations

import ast
import textwrap
import tomllib
from pathlib import Path

from matplotlib.figure import Figure

from keepalive_lab.bookkit.diagrams import GREY, LB1, LB2, arrow, box, canvas, hexagon, note, seconds
from keepalive_lab.bookkit.plots import OUTCOME_COLOURS, STATE_COLOURS
from keepalive_lab.reallb.catalogue import GROUPS, SCENARIOS
from keepalive_lab.reallb.times import RealLBTimes

__all__ = ["lb_family", "runbook_flow", "floors", "FAMILIES", "PYPROJECT"]

PYPROJECT = Path(__file__).resolve().parents[3] / "pyproject.toml"
UP, DOWN, OK = "#009E73", "#D55E00", OUTCOME_COLOURS["ok"]


def _host(ax, x, y, w, h, queue_y, slot_y, queued: list[str], slot: str, slot_colour: str, slot_face: str) -> dict:
    """A server host from (x, y): the kernel's accept queue at height ``queue_y`` (``queued``: one label per
    waiting connection) in front of the Go process's one slot at ``slot_y``. Returns where connections end."""
    box(ax, x, y, w, h, "", edge=GREY, lw=1.0)
    note(ax, x + w / 2, y + h - 0.18, "server host", weight="bold", background=False)
    kw, gw = w * 0.47, w * 0.43
    box(ax, x + 0.1, y + 0.1, kw, h - 0.45, "kernel: accept queue", edge="#999999", va="top")
    box(ax, x + w - gw - 0.1, y + 0.1, gw, h - 0.45, "Go: LimitListener(l, 1)", edge=GREY, va="top")
    for i in range(3):
        filled = i >= 3 - len(queued)
        box(ax, x + 0.25 + 0.36 * i, queue_y - 0.18, 0.3, 0.36, "", edge=LB2 if filled else "#999999",
            face=LB2 if filled else "white", lw=1.2)  # fmt: skip
    note(ax, x + 0.1 + kw / 2, queue_y - 0.45, "\n".join(queued) if queued else "empty", background=False)
    sx = x + w - gw
    box(ax, sx, slot_y - 0.11, gw - 0.2, 0.22, "", edge=slot_colour, face=slot_face, lw=1.6)
    note(ax, sx + (gw - 0.2) / 2, slot_y - 0.2, slot, colour=slot_colour, va="top", background=False)
    return {"queue": x + 0.25 + 0.36 * (3 - max(1, len(queued))), "slot": sx}


def _starved(ax, x_from: float, x_text: float, *, queued: str, slot: str, idle: str, new: str, answer: str,
             footnote: str) -> None:  # fmt: skip
    """What the haproxy and nginx pictures share: the host, the idle connection from LB1's side (ending at
    ``x_from``) that holds its slot, the new one from LB2's side that waits in the accept queue, and the 504
    LB2's side answers; each with its label (at ``x_text``), and a footnote."""
    ends = _host(ax, 4.2, 0.55, 3.7, 3.1, 1.35, 2.75, [queued], slot, LB1, STATE_COLOURS["idle"])
    arrow(ax, (x_from, 2.75), (ends["slot"], 2.75), colour=LB1)
    note(ax, x_text, 2.96, idle, colour=LB1, va="bottom")
    arrow(ax, (x_from, 1.35), (ends["queue"], 1.35), colour=LB2)
    note(ax, x_text, 1.56, new, colour=LB2, va="bottom")
    note(ax, x_text, 1.14, answer, colour=OUTCOME_COLOURS["504"], va="top", background=False)
    note(ax, 4.0, 0.25, footnote, background=False)


def _haproxy(ax, t: RealLBTimes) -> str:
    box(ax, 0.2, 2.47, 1.5, 0.55, "haproxy-1", edge=LB1, colour=LB1, weight="bold", lw=2)
    box(ax, 0.2, 1.07, 1.5, 0.55, "haproxy-2", edge=LB2, colour=LB2, weight="bold", lw=2)
    _starved(ax, 1.7, 2.95, queued="haproxy-2's conn,\nrequest buffered",
             slot=f"haproxy-1's idle conn:\nheld until Go's idle\ntimeout ({seconds(t.read_timeout)})",
             idle="idle server connection,\nkept for reuse", new="new server connection:\nconnect took ~0 ms",
             answer=f"504 after timeout server\n({seconds(t.lb_timeout)})",
             footnote="The same with one instance and two client connections: under http-reuse safe, a client "
             "connection's\nfirst request opens a new server connection.")  # fmt: skip
    return (
        "Diagram of two HAProxy instances in front of the server. haproxy-1's idle server connection, kept for "
        f"reuse, holds the only slot until Go's idle timeout ({seconds(t.read_timeout)}); haproxy-2's new server "
        "connection completes at once but waits in the kernel's accept queue with its request buffered, and "
        f"haproxy-2 answers 504 after its timeout server ({seconds(t.lb_timeout)}). One instance with two client "
        "connections does the same under http-reuse safe"
    )


def _nginx(ax, t: RealLBTimes) -> str:
    box(ax, 0.15, 0.55, 2.0, 3.1, "", edge=GREY, lw=1.0)
    note(ax, 1.15, 3.47, "nginx, 2 workers", weight="bold", background=False)
    box(ax, 0.3, 2.35, 1.7, 0.8, "worker 1\npool: 1 idle conn", edge=LB1, colour=LB1, lw=2)
    box(ax, 0.3, 0.95, 1.7, 0.8, "worker 2\npool: empty", edge=LB2, colour=LB2, lw=2)
    _starved(ax, 2.0, 3.05, queued="worker 2's conn,\nrequest buffered", slot="worker 1's idle\nconnection",
             idle="idle upstream\nconnection", new="new upstream\nconnection",
             answer=f"504 \"upstream timed\nout\" after {seconds(t.lb_timeout)}",
             footnote="Each worker keeps its own upstream keepalive pool; two nginx instances with upstream "
             "keepalive\nbehave like the two workers.")  # fmt: skip
    return (
        "Diagram of one nginx with two workers, each with its own upstream keepalive pool. Worker 1's idle upstream "
        "connection holds the only slot; worker 2's pool is empty, so it opens a new connection, which waits in "
        f"the kernel's accept queue with its request buffered, and nginx answers 504 \"upstream timed out\" after "
        f"{seconds(t.lb_timeout)}. Two nginx instances with upstream keepalive behave like the two workers"
    )


def _fix(ax, t: RealLBTimes) -> str:
    box(ax, 0.2, 3.35, 1.5, 0.55, "instance 1", edge=LB1, colour=LB1, weight="bold", lw=2)
    box(ax, 0.2, 1.75, 1.5, 0.55, "instance 2", edge=LB2, colour=LB2, weight="bold", lw=2)
    ends = _host(ax, 4.2, 1.35, 3.7, 2.95, 2.1, 2.85, [], "free between\nrequests", OK, "white")
    arrow(ax, (1.7, 3.62), (ends["slot"], 2.9), colour=LB1, dashed=True)
    note(ax, 2.5, 3.72, "earlier connection:\nclosed after its response", colour=LB1, va="bottom", ha="left")
    arrow(ax, (1.7, 2.02), (ends["slot"], 2.8), colour=LB2)
    note(ax, 2.5, 2.0, "next connection:\naccepted at once", colour=LB2, va="top", ha="left")
    # The slot over time: held only while a request is in the handler.
    note(ax, 0.2, 0.93, "the slot over time:", ha="left", background=False)
    for i, start in enumerate((1.65, 3.2, 4.75, 6.3)):
        colour = LB1 if i % 2 == 0 else LB2
        box(ax, start, 0.72, 0.9, 0.42, f"instance {1 + i % 2}", edge=colour, colour=colour, lw=1.5)
        note(ax, start + 1.25, 0.93, "free", colour="#777777", background=False)
    note(ax, 4.0, 0.3, "SetKeepAlivesEnabled(false), or the handler sets Connection: close: Go closes each "
         "connection after its response.", background=False)  # fmt: skip
    names = ", ".join(s.title for s in SCENARIOS if s.group == "fix")
    return (
        "Diagram of the server-side fixes behind two load-balancer instances: with SetKeepAlivesEnabled(false) or "
        "a handler that sets Connection: close, Go closes each connection after its response, so the only slot "
        "is free between requests, the accept queue stays empty, and each instance's new connection is accepted "
        f"at once; a strip shows the slot held by one request at a time. Setups: {names}"
    )


def _health(ax, t: RealLBTimes) -> str:
    box(ax, 0.2, 3.05, 1.7, 0.5, "haproxy-1", edge=LB1, colour=LB1, weight="bold", lw=2)
    box(ax, 0.2, 1.85, 1.7, 0.6, "haproxy-2:\nTCP check", edge=LB2, colour=LB2, lw=2)
    box(ax, 0.2, 0.55, 1.7, 0.6, "haproxy-2:\noption httpchk", edge=LB2, colour=LB2, lw=2)
    box(ax, 4.4, 0.3, 3.5, 4.05, "", edge=GREY, lw=1.0)
    note(ax, 6.15, 4.15, "server host", weight="bold", background=False)
    box(ax, 4.55, 0.4, 1.6, 3.6, "kernel:\naccept queue", edge="#999999", va="top")
    box(ax, 6.3, 0.4, 1.5, 3.6, "Go:\nLimitListener", edge=GREY, va="top")
    box(ax, 6.45, 3.19, 1.2, 0.22, "", edge=LB1, face=STATE_COLOURS["idle"], lw=1.6)
    note(ax, 7.05, 3.1, "slot: haproxy-1's\nidle conn", colour=LB1, va="top", background=False)
    arrow(ax, (1.9, 3.3), (6.45, 3.3), colour=LB1)
    # The TCP check: SYN, SYN-ACK, then HAProxy resets before the last ACK; the kernel never queues it.
    arrow(ax, (1.9, 2.15), (4.75, 2.15), colour=LB2)
    note(ax, 5.35, 2.15, "RST:\nnot queued", colour=LB2, size=9, background=False)
    # The HTTP check completes the handshake, sends its request and waits in the queue.
    box(ax, 5.15, 0.85 - 0.18, 0.32, 0.36, "", edge=LB2, face=LB2, lw=1.2)
    arrow(ax, (1.9, 0.85), (5.15, 0.85), colour=LB2)
    note(ax, 3.2, 2.36, "SYN, SYN-ACK: the kernel answers,\nthe check passes, then resets", colour=LB2,
         va="bottom")  # fmt: skip
    note(ax, 3.2, 1.94, "stays UP; requests through\nhaproxy-2 still get 504", colour=UP, va="top", background=False)
    note(ax, 3.2, 1.06, f"HTTP check waits in the queue:\nno answer in {seconds(t.check_inter)}, it fails",
         colour=LB2, va="bottom")  # fmt: skip
    note(ax, 3.2, 0.64, f"DOWN after {t.check_fall} failures:\nrequests get 503 at once", colour=DOWN, va="top",
         background=False)  # fmt: skip
    return (
        "Diagram of two HAProxy health checks on a server whose only slot is held by haproxy-1's idle connection. "
        "A TCP check only connects: the kernel answers its SYN, so the check passes, and HAProxy resets the "
        "connection before it is ever queued; the server stays UP while requests through haproxy-2 get 504. "
        "An HTTP check (option httpchk) waits in the accept queue "
        f"with no answer in {seconds(t.check_inter)} and fails; after {t.check_fall} failures the server is marked "
        f"DOWN and requests get 503 at once, until {t.check_rise} good checks after the slot frees"
    )


# The families drawn, each with its canvas height; each is a key of catalogue.GROUPS.
_DRAW = {"haproxy": (_haproxy, 3.8), "nginx": (_nginx, 3.8), "fix": (_fix, 4.45), "health": (_health, 4.45)}
FAMILIES = tuple(_DRAW)


def lb_family(family: str, times: RealLBTimes | None = None) -> tuple[Figure, str]:
    """One small picture for a scenario family of the real-load-balancer chapter (a key of ``catalogue.GROUPS``
    that is in :data:`FAMILIES`), its durations from ``times`` (lab seconds; default: ``RealLBTimes()``)."""
    if family not in GROUPS or family not in _DRAW:
        raise KeyError(f"no diagram for the family {family!r}; there are diagrams for {list(FAMILIES)}")
    times = times or RealLBTimes()
    draw, height = _DRAW[family]
    fig, ax = canvas(8.0, height)
    alt = draw(ax, times)
    return fig, f"{GROUPS[family]}: {alt} (wall-clock seconds, as on the page)."


def runbook_flow() -> tuple[Figure, str]:
    """A decision flow for production: from "requests time out, not in the access log" to the fixes."""
    fig, ax = canvas(8.0, 7.4)
    cx, right = 2.75, 6.85
    box(ax, 0.35, 6.6, 4.8, 0.6, "Requests time out, and they are not\nin the server's access log",
        edge=OUTCOME_COLOURS["timeout"], lw=2)  # fmt: skip
    steps = [
        (5.6, "ss -lnt on the server: is the listening\nsocket's Recv-Q above 0, again and again?",
         "Look elsewhere: the load\nbalancer, the network"),
        (3.3, "Does the server limit connections?\nLimitListener, MaxRequestWorkers,\nmaxConnections",
         "Find out why the process\naccepts so slowly"),
        (2.05, "Is keep-alive on, and does the load\nbalancer keep idle connections (pools)?",
         "Busy connections fill the\nlimit: limit work instead,\nor raise the limit"),
    ]  # fmt: skip
    arrow(ax, (cx, 6.6), (cx, 6.05))
    for y, question, otherwise in steps:
        hexagon(ax, cx, y, 4.9, 0.85 if question.count("\n") < 2 else 1.0, question)
        box(ax, right - 1.1, y - 0.4, 2.2, 0.8, otherwise, edge="#999999", dashed=True)
        arrow(ax, (cx + 2.45, y), (right - 1.1, y))
        note(ax, cx + 2.75, y + 0.14, "no", va="bottom", background=False)
    box(ax, 0.35, 4.2, 4.8, 0.55, "Connections wait for accept(2): the kernel has\nthem, the server has not seen them")
    for top, bottom, label in ((5.175, 4.75, "yes"), (4.2, 3.8, ""), (2.8, 2.475, "yes"), (1.625, 1.3, "yes")):
        arrow(ax, (cx, top), (cx, bottom))
        note(ax, cx + 0.1, (top + bottom) / 2, label, ha="left", background=False)
    box(ax, 0.35, 0.2, 4.8, 1.1, "Idle keep-alive connections hold the slots. Fix:\n"
        "• SetKeepAlivesEnabled(false), or\n• Connection: close on each response, or\n"
        "• limit the work (requests in flight), not connections", edge=OK, lw=2, ha="left", pad=0.3)  # fmt: skip
    alt = (
        "Flow chart for production. Start: requests time out and are not in the server's access log. Is the "
        "listening socket's Recv-Q in ss -lnt above 0, again and again? If not, look elsewhere: the load balancer, "
        "the network. If so, connections wait for accept(2). Does the server limit connections (LimitListener, "
        "MaxRequestWorkers, maxConnections)? If not, find out why the process accepts so slowly. If so: is "
        "keep-alive on and does the load balancer pool idle connections? If not, busy connections fill the limit: "
        "limit work instead, or raise the limit. If so, idle keep-alive connections hold the slots; the fixes are "
        "SetKeepAlivesEnabled(false), Connection: close on each response, or limit the work (requests in flight) "
        "instead of the connections."
    )
    return fig, alt


# One line per package for the picture; a package without one shows its docstring's first sentence.
_ROLES = {
    "kernel": "the accept queue, TCP_INFO",
    "records": "the records and the recorder",
    "ticker": "one background loop",
    "sockdiag": "listening sockets, as ss",
    "probe": "check any server for the trap",
    "zoo": "real servers, probed",
    "goserver": "Go's net/http server and LimitListener",
    "lbmodel": "the load balancer, modelled",
    "lab": "start a server, traffic, time scale, results",
    "experiments": "the investigation's experiments",
    "reallb": "real HAProxy and nginx",
    "fidelity": "the lab against Go's net/http",
    "bookkit": "the book's figures and helpers",
    "cli": "the command line",
}


def _role(package: Path, name: str) -> str:
    if name in _ROLES:
        return _ROLES[name]
    source = package / name / "__init__.py" if (package / name).is_dir() else package / f"{name}.py"
    doc = ast.get_docstring(ast.parse(source.read_text())) if source.exists() else None
    return (doc or "").split(". ")[0].split("\n\n")[0].replace("\n", " ").replace("``", "").rstrip(".")


def floors(pyproject: Path | str = PYPROJECT) -> tuple[Figure, str]:
    """The package's floors, bottom up, read from the import-linter "layers" contract in ``pyproject``."""
    config = tomllib.loads(Path(pyproject).read_text())["tool"]["importlinter"]
    root = config["root_package"]
    contract = next(c for c in config["contracts"] if c["type"] == "layers")
    layers = [[part.strip().removeprefix(root + ".") for part in layer.split("|")] for layer in contract["layers"]]
    layers.reverse()  # bottom up
    package = Path(__file__).resolve().parents[1]
    n, floor_h = len(layers), 0.82
    fig, ax = canvas(8.0, 0.75 + floor_h * n)
    for i, siblings in enumerate(layers):
        y = 0.15 + floor_h * i
        note(ax, 0.15, y + 0.33, f"floor {i + 1}", ha="left", colour="#777777", background=False)
        width = (6.1 - 0.12 * (len(siblings) - 1)) / len(siblings)
        chars = max(12, int(width / 0.075))
        for j, name in enumerate(siblings):
            x = 0.95 + j * (width + 0.12)
            role = textwrap.fill(_role(package, name), chars, max_lines=2, placeholder="...")
            box(ax, x, y, width, floor_h - 0.12, edge=GREY)
            top = y + (floor_h - 0.12) / 2 + 0.085 * (role.count("\n") + 2)  # the block of name and role, centred
            note(ax, x + width / 2, top, name, weight="bold", va="top", background=False)
            note(ax, x + width / 2, top - 0.2, role, va="top", background=False)
    top = 0.15 + floor_h * n
    arrow(ax, (7.5, top - 0.2), (7.5, 0.25), colour="#777777")
    note(ax, 7.5, top + 0.25, "imports\npoint down", colour="#777777", background=False)
    note(ax, 4.0, top + 0.25, f"{root}: each floor imports only from the floors below;\nside by side: not from "
         "each other", background=False)  # fmt: skip
    listing = "; ".join(f"floor {i + 1}: {', '.join(s)}" for i, s in enumerate(layers))
    alt = (
        f"Diagram of the {root} package as {n} floors, bottom up, read from pyproject.toml's import contract "
        f"\"{contract['name']}\": {listing}. Each floor imports only from the floors below; packages on the "
        "same floor do not import each other."
    )
    return fig, alt
