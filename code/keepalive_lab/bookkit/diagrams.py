"""The book's diagrams of the incident, drawn from the parameters the experiments run with.

Each function takes the durations (:class:`~keepalive_lab.lab.timescale.ArticleTimes`)
or the limit that the runs use, so a picture cannot say 30 s while the
experiments run 20. Conventions are those of :mod:`keepalive_lab.bookkit.plots`:
one colour per actor (LB1, LB2, the server), outcomes in their colours, a
white background, and every function returns ``(figure, alt_text)``. Times
are article seconds. The real-load-balancer families, the runbook and the
package's floors are in :mod:`keepalive_lab.bookkit.flows`.

Most diagrams are drawn on a canvas whose data units are inches (see
:func:`canvas`), so that boxes and text sizes can be laid out together.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Polygon
from matplotlib.transforms import blended_transform_factory

from keepalive_lab.bookkit.plots import ACTOR_COLOURS, OUTCOME_COLOURS, STATE_COLOURS, actor_colour
from keepalive_lab.lab.timescale import ARTICLE, ArticleTimes

__all__ = ["topology", "connection_sequence", "three_timers", "canvas", "box", "arrow", "note", "seconds"]

FONT = 9  # the smallest font size on any diagram
GREY = ACTOR_COLOURS["server"]
LB1, LB2 = actor_colour("LB1"), actor_colour("LB2")
CLIENT = "#777777"


def seconds(value: float) -> str:
    """``30.0`` -> ``"30 s"``; ``0.25`` -> ``"0.25 s"``; at most three significant digits below 100."""
    return f"{value:.0f} s" if value >= 100 else f"{value:.3g} s"


def canvas(width: float, height: float) -> tuple[Figure, plt.Axes]:
    """A figure with one borderless axes whose data units are inches: (0, 0) bottom left."""
    fig = plt.figure(figsize=(width, height))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.axis("off")
    return fig, ax


def box(ax, x, y, w, h, text="", edge=GREY, face="white", size=FONT, weight="normal", colour="black",
        dashed=False, lw=1.4, va="center", ha="center", pad=0.08):  # fmt: skip
    """A rounded box from (x, y) with width w and height h; ``text`` centred (or at the top with va="top")."""
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0,rounding_size=0.06", linewidth=lw,
                                edgecolor=edge, facecolor=face, linestyle="--" if dashed else "-"))  # fmt: skip
    if text:
        tx = {"center": x + w / 2, "left": x + pad}[ha]
        ty = {"center": y + h / 2, "top": y + h - pad}[va]
        ax.text(tx, ty, text, ha=ha, va=va, fontsize=size, fontweight=weight, color=colour, linespacing=1.25)


def hexagon(ax, cx, cy, w, h, text, edge=GREY, face="white", size=FONT):
    """A decision: a box with pointed sides, centred on (cx, cy)."""
    tip = min(0.25, h / 2)
    points = [(cx - w / 2, cy), (cx - w / 2 + tip, cy + h / 2), (cx + w / 2 - tip, cy + h / 2), (cx + w / 2, cy),
              (cx + w / 2 - tip, cy - h / 2), (cx - w / 2 + tip, cy - h / 2)]  # fmt: skip
    ax.add_patch(Polygon(points, closed=True, edgecolor=edge, facecolor=face, linewidth=1.4))
    ax.text(cx, cy, text, ha="center", va="center", fontsize=size, linespacing=1.25)


def arrow(ax, start, end, colour=GREY, dashed=False, lw=1.6, head=True, dotted=False):
    """A straight arrow (or a plain line with ``head=False``) from ``start`` to ``end``."""
    style = "dotted" if dotted else ("--" if dashed else "-")
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>" if head else "-", mutation_scale=12, color=colour,
                                 linewidth=lw, linestyle=style, shrinkA=0, shrinkB=0, zorder=2))  # fmt: skip


def note(ax, x, y, text, colour="black", size=FONT, ha="center", va="center", weight="normal", background=True):
    """Text, on a white ground so that lines behind it do not cross the letters."""
    ground = {"facecolor": "white", "edgecolor": "none", "pad": 1.0} if background else None
    ax.text(x, y, text, ha=ha, va=va, fontsize=size, color=colour, fontweight=weight, bbox=ground, linespacing=1.25)


def topology(times: ArticleTimes = ARTICLE, limit: int = 1) -> tuple[Figure, str]:
    """Clients, LB1 and LB2 (added at the scale-out), and the server host: the kernel's accept queue in front of
    the Go process and its ``limit`` slots. With one slot, LB1's idle keep-alive connection holds it and LB2's
    connection waits in the queue; with more, LB2's connection takes the second slot."""
    if limit < 1:
        raise ValueError("LimitListener needs a limit of at least 1")
    fig, ax = canvas(8.0, 4.6)
    queued = limit == 1
    # Clients.
    box(ax, 0.1, 1.95, 1.05, 0.8, "clients", edge=CLIENT, weight="bold")
    note(ax, 0.62, 1.55, f"give up after\n{seconds(times.client_timeout)}", colour=CLIENT, background=False)
    # The load balancer: LB1, and LB2 added at the scale-out.
    box(ax, 1.45, 0.35, 1.85, 3.85, "", edge=GREY, dashed=True, lw=1.0)
    note(ax, 2.375, 3.92, "load balancer\n(autoscaling)", weight="bold", background=False)
    box(ax, 1.65, 2.55, 1.45, 0.6, "LB1", edge=LB1, colour=LB1, weight="bold", lw=2)
    box(ax, 1.65, 1.25, 1.45, 0.6, "LB2\nadded at scale-out", edge=LB2, colour=LB2, lw=2)
    note(ax, 2.375, 0.75, f"no answer after\n{seconds(times.lb_idle_timeout)}: 504", colour=OUTCOME_COLOURS["504"],
         background=False)  # fmt: skip
    arrow(ax, (1.15, 2.5), (1.65, 2.8), colour=CLIENT)
    arrow(ax, (1.15, 2.2), (1.65, 1.65), colour=CLIENT)
    # The server host: the kernel's listening socket, then the Go process.
    box(ax, 3.6, 0.15, 4.3, 4.3, "", edge=GREY, lw=1.0)
    note(ax, 5.75, 4.22, "server host", weight="bold", background=False)
    box(ax, 3.75, 0.85, 2.0, 3.15, "kernel: listening socket", edge="#999999", va="top", size=FONT)
    box(ax, 5.9, 0.85, 1.85, 3.15, "Go process", edge=GREY, va="top", weight="bold")
    note(ax, 6.825, 3.52, f"LimitListener(l, {limit})", background=False)
    # The accept queue: a tube of cells, its head next to the Go process.
    cells = 4
    for i in range(cells):
        filled = queued and i == cells - 1
        box(ax, 4.0 + 0.36 * i, 1.35, 0.32, 0.4, "", edge=LB2 if filled else "#999999",
            face=LB2 if filled else "white", lw=1.2)  # fmt: skip
    note(ax, 4.75, 1.95, f"accept queue: {1 if queued else 0} waiting", background=False)
    if queued:
        note(ax, 4.75, 1.12, "LB2's connection: handshake\ndone, request bytes buffered", background=False)
    else:
        note(ax, 4.75, 1.12, "empty: every connection\nwas accepted", background=False)
    # The slots.
    note(ax, 6.825, 3.17, "LB1's idle keep-alive\nconnection (slot 1)", colour=LB1, background=False)
    box(ax, 6.1, 2.74, 1.45, 0.22, "", edge=LB1, face=STATE_COLOURS["idle"], lw=1.6)
    if queued:
        note(ax, 6.825, 2.2, "no free slot", colour=OUTCOME_COLOURS["timeout"], background=False)
        box(ax, 6.05, 1.25, 1.55, 0.6, "Accept() waits\nfor a slot", edge="#999999", size=FONT)
        arrow(ax, (5.44, 1.55), (6.05, 1.55), colour=LB2, dotted=True)
    else:
        box(ax, 6.1, 1.45, 1.45, 0.22, "", edge=LB2, face=STATE_COLOURS["idle"], lw=1.6)
        note(ax, 6.825, 1.9, "LB2's connection (slot 2)", colour=LB2, background=False)
        if limit > 2:
            note(ax, 6.825, 2.3, f"+ {limit - 2} free slot{'s' if limit > 3 else ''}", background=False)
    # The connections: LB1's straight to its slot, LB2's into the queue (or through it to slot 2).
    arrow(ax, (3.1, 2.85), (6.1, 2.85), colour=LB1)
    note(ax, 4.75, 3.02, "accepted, kept alive", colour=LB1)
    arrow(ax, (3.1, 1.55), (4.0 if queued else 6.1, 1.55), colour=LB2)
    # The server's timers.
    note(ax, 5.75, 0.58, f"Go: ReadTimeout {seconds(times.read_timeout)}, also the idle timeout (IdleTimeout 0);\n"
         f"WriteTimeout {seconds(times.write_timeout)}", background=False)  # fmt: skip
    waiting = (
        "LB2's connection completed its handshake in the kernel and waits in the accept queue with its request "
        "bytes buffered, never accepted, because the Go process's Accept waits for a free slot"
        if queued
        else f"LB2's connection has slot 2 of {limit}, so nothing waits in the accept queue"
    )
    alt = (
        f"Diagram of the incident's topology. Clients, which give up after {seconds(times.client_timeout)}, reach "
        f"load-balancer nodes LB1 and LB2, LB2 added at the scale-out; the load balancer answers 504 after "
        f"{seconds(times.lb_idle_timeout)} without an answer. The server host has the kernel's listening socket "
        f"and accept queue in front of the Go process, which wraps its listener in LimitListener(l, {limit}). "
        f"LB1's idle keep-alive connection holds slot 1; {waiting}. Go's ReadTimeout is "
        f"{seconds(times.read_timeout)}, also its idle timeout, and WriteTimeout {seconds(times.write_timeout)}."
    )
    return fig, alt


def _message(ax, y, x0, x1, text, colour=GREY, dashed=False, at=None):
    """A sequence-diagram message from lifeline x0 to lifeline x1 at height y, labelled above the arrow at x ``at``
    (default: half-way)."""
    arrow(ax, (x0, y), (x1, y), colour=colour, dashed=dashed)
    note(ax, (x0 + x1) / 2 if at is None else at, y + 0.05, text, colour=colour, va="bottom")


def _bar(ax, x, top, bottom, face, edge=GREY):
    """An activation bar on the lifeline at x, from ``top`` down to ``bottom``."""
    ax.add_patch(FancyBboxPatch((x - 0.08, bottom), 0.16, top - bottom, boxstyle="square,pad=0", facecolor=face,
                                edgecolor=edge, linewidth=1.0, zorder=1.5))  # fmt: skip


def connection_sequence(times: ArticleTimes = ARTICLE) -> tuple[Figure, str]:
    """One connection's life, as a sequence diagram (time runs down, not to scale): LimitListener takes a slot,
    accept(2), StateNew, the request read under ReadTimeout, the handler, the response, StateIdle until the idle
    timeout, close, the slot given back; meanwhile a second connection waits in the kernel's accept queue."""
    fig, ax = canvas(8.0, 8.4)
    idle = times.read_timeout  # IdleTimeout is 0, so Go uses ReadTimeout
    lb1, lb2, kern, lim, conn = 0.6, 1.75, 3.05, 4.6, 6.2
    heads = [(lb1, 1.0, "LB1", LB1), (lb2, 1.0, "LB2", LB2), (kern, 1.4, "kernel:\nlistening socket", GREY),
             (lim, 1.3, "Go:\nLimitListener", GREY), (conn, 1.5, "Go: the server's\nconn (LB1's)", GREY)]  # fmt: skip
    for x, w, label, colour in heads:
        box(ax, x - w / 2, 7.7, w, 0.55, label, edge=colour, colour=colour if colour != GREY else "black",
            weight="bold" if label.startswith("LB") else "normal", lw=1.8)  # fmt: skip
        ax.plot([x, x], [0.45, 7.7], color="#bbbbbb", linewidth=1.0, linestyle="--", zorder=0)
    _message(ax, 7.2, lb1, kern, "connect: the kernel\ncompletes the handshake", colour=LB1)
    box(ax, lim - 0.95, 6.45, 1.9, 0.5, "Accept(): take a slot\n(1 of 1) first", edge=GREY)
    _message(ax, 6.05, lim, kern, "accept(2)")
    _message(ax, 5.6, kern, lim, "LB1's connection", dashed=True)
    _message(ax, 5.15, lim, conn, "StateNew")
    # The request, the handler, the response.
    _message(ax, 4.7, lb1, conn, "request", colour=LB1)
    _bar(ax, conn, 4.7, 4.2, STATE_COLOURS["active"])
    note(ax, conn + 0.16, 4.45, f"StateActive; read\nunder ReadTimeout\n{seconds(times.read_timeout)}; "
         f"handler\n{seconds(times.handler_latency)}", ha="left", background=False)  # fmt: skip
    _message(ax, 4.2, conn, lb1, f"response (WriteTimeout {seconds(times.write_timeout)})", colour=LB1)
    # The idle phase, and the second connection waiting meanwhile.
    _bar(ax, conn, 4.2, 1.9, STATE_COLOURS["idle"])
    note(ax, conn + 0.16, 3.05, f"StateIdle: wait\nfor the next\nrequest; idle\ntimeout {seconds(idle)}\n"
         "= ReadTimeout\n(IdleTimeout 0)", ha="left", background=False)  # fmt: skip
    _bar(ax, lim, 5.15, 1.5, "#eeeeee")
    note(ax, lim + 0.14, 2.8, "Accept()\nwaits for\na free slot", ha="left", background=False)
    _message(ax, 3.55, lb2, kern, "connect,\nrequest", colour=LB2)
    _bar(ax, kern, 3.55, 1.1, STATE_COLOURS["queued"])
    note(ax, kern + 0.14, 2.5, "LB2's conn\nwaits in the\naccept queue,\nrequest bytes\nbuffered", ha="left",
         background=False)  # fmt: skip
    _message(ax, 1.9, conn, lb1, f"close after {seconds(idle)} idle:\nStateClosed", colour=LB1, at=(lb1 + kern) / 2)
    _message(ax, 1.5, conn, lim, "release the slot")
    _message(ax, 1.1, lim, kern, "accept(2)")
    _message(ax, 0.65, kern, lim, "LB2's connection: StateNew", colour=LB2, dashed=True)
    note(ax, 0.1, 0.1, "time runs down, not to scale", ha="left", va="bottom", colour="#777777", background=False)
    alt = (
        "Sequence diagram of one connection's life, time running down. LB1 connects and the kernel completes the "
        "handshake; Go's LimitListener takes the only slot before calling accept(2), which returns LB1's "
        f"connection in StateNew. LB1's request is read under ReadTimeout {seconds(times.read_timeout)}, the "
        f"handler takes {seconds(times.handler_latency)} and the response is written under WriteTimeout "
        f"{seconds(times.write_timeout)}. The connection then stays in StateIdle, waiting for the next request, "
        f"for up to the idle timeout of {seconds(idle)} (ReadTimeout, since IdleTimeout is 0). Meanwhile LB2 "
        "connects and sends its request; its connection waits in the kernel's accept queue, because Accept is "
        f"waiting for a free slot. After {seconds(idle)} idle, Go closes LB1's connection (StateClosed) and "
        "releases the slot, and only then does accept(2) return LB2's connection."
    )
    return fig, alt


def _lb1_gap(idle: float) -> float:
    """LB1's pause in the first case of :func:`three_timers`: two thirds of the idle timeout, rounded."""
    return float(f"{idle * 2 / 3:.2g}")


def _lane(ax, y, start, end, colour, height=0.36):
    ax.broken_barh([(start, end - start)], (y - height / 2, height), color=colour, linewidth=0)


def _timer_case(ax, times: ArticleTimes, keeps_sending: bool, span: float) -> dict:
    """One case of :func:`three_timers` on ``ax``: LB1's connection, LB2's connection, LB2's client."""
    idle, lb, client, work = times.read_timeout, times.lb_idle_timeout, times.client_timeout, times.handler_latency
    tick = max(work, span / 250)  # a request as a visible sliver
    gap = _lb1_gap(idle)
    if keeps_sending:
        sends = [k * gap for k in range(int(1.3 * span // gap) + 1)]
        freed = None
    else:
        sends, freed = [0.0], idle
    end_lb1 = freed if freed is not None else 1.32 * span
    _lane(ax, 2, -span, end_lb1, STATE_COLOURS["idle"])
    for at in sends:
        _lane(ax, 2, at, at + tick, STATE_COLOURS["active"])
    if keeps_sending:
        note(ax, gap * 0.5, 2.5, f"LB1 sends every {seconds(gap)}: never idle for {seconds(idle)}, keeps the slot",
             colour=LB1, ha="left")  # fmt: skip
    else:
        ax.plot(freed, 2, marker="|", markersize=16, mew=2.5, color=GREY)
        note(ax, tick * 2, 2.5, "LB1 pauses after this request: its connection stays idle", colour=LB1, ha="left")
        note(ax, freed + span * 0.015, 2, f"Go closes it at {seconds(freed)}", ha="left", background=False)
    # LB2's connection: queued until the slot frees (if before the LB's timeout), then served.
    served = freed + work if freed is not None and freed < lb else None
    _lane(ax, 1, 0, freed if served is not None else lb, STATE_COLOURS["queued"])
    if served is not None:
        _lane(ax, 1, freed, freed + max(work, tick), STATE_COLOURS["active"])
        ax.plot(served, 1, marker="o", markersize=8, color=OUTCOME_COLOURS["ok"])
        late = served > client
        text = f"served at {seconds(served)}" + (",\nafter its client left: a ghost request" if late else "")
        note(ax, served + span * 0.015, 1, text, ha="left", colour="black", background=False)
    else:
        ax.plot(lb, 1, marker="s", markersize=8, color=OUTCOME_COLOURS["504"])
        note(ax, lb + span * 0.015, 1, f"504 at {seconds(lb)}", ha="left", background=False)
    # LB2's client: waits until its own timeout, unless the answer comes first.
    answered = served is not None and served <= client
    _lane(ax, 0, 0, served if answered else client, "#cccccc")
    if answered:
        ax.plot(served, 0, marker="o", markersize=8, color=OUTCOME_COLOURS["ok"])
        note(ax, served + span * 0.015, 0, f"gets its answer at {seconds(served)}", ha="left", background=False)
    else:
        ax.plot(client, 0, marker="x", markersize=9, mew=2.5, color=OUTCOME_COLOURS["timeout"])
        note(ax, client + span * 0.015, 0, f"gives up at {seconds(client)}", ha="left", background=False)
    return {"served": served, "answered": answered}


def three_timers(times: ArticleTimes = ARTICLE) -> tuple[Figure, str]:
    """The three timers on one axis from LB2's request: the client gives up, Go closes LB1's idle connection
    (idle timeout = ReadTimeout after LB1's last request), the load balancer answers 504. Top: LB1 keeps sending
    more often than the idle timeout; bottom: LB1 pauses longer."""
    idle, lb, client = times.read_timeout, times.lb_idle_timeout, times.client_timeout
    span = max(idle, lb, client)
    width, height = 8.0, 5.5
    fig = plt.figure(figsize=(width, height))
    axes = [fig.add_axes((1.25 / width, bottom / height, 6.55 / width, 1.6 / height)) for bottom in (2.85, 0.95)]
    timers = [(client, "client gives up", OUTCOME_COLOURS["timeout"]), (idle, "Go's idle timeout", GREY),
              (lb, "LB answers 504", OUTCOME_COLOURS["504"])]  # fmt: skip
    cases = []
    for ax, keeps in zip(axes, (True, False)):
        ax.set_xlim(-0.06 * span, 1.32 * span)
        ax.set_ylim(-0.6, 3.2)
        for at, _, colour in timers:
            ax.axvline(at, color=colour, linestyle=":", linewidth=1.3, zorder=0)
        ax.axvline(0, color=LB2, linewidth=1.0, zorder=0)
        cases.append(_timer_case(ax, times, keeps, span))
        ax.set_yticks([2, 1, 0], ["LB1's conn", "LB2's conn", "LB2's client"])
        for label, colour in zip(ax.get_yticklabels(), (LB1, LB2, CLIENT)):
            label.set_color(colour)
        ax.spines[["left", "top", "right"]].set_visible(False)
        ax.tick_params(axis="y", length=0)
    axes[0].tick_params(axis="x", labelbottom=False)
    axes[1].set_xlabel("time since LB2's request (article s)")
    for ax, title in zip(axes, (f"LB1 sends more often than every {seconds(idle)}",
                                f"LB1 pauses longer than {seconds(idle)}")):  # fmt: skip
        note(ax, -0.05 * span, 2.95, title, ha="left", weight="bold")
    # The timers' labels above the top panel: the later the timer, the lower its label, so no leader crosses one.
    top = axes[0]
    for i, (at, label, colour) in enumerate(sorted(timers, key=lambda t: -t[0])):
        height = 4.7 + 0.27 * i
        blend = blended_transform_factory(top.transData, fig.dpi_scale_trans)
        fig.add_artist(plt.Line2D([at, at], [4.45, height], transform=blend, color=colour, linestyle=":", lw=1.3))
        right = at > 0.75 * span
        after = " after LB1's last request" if at == idle else ""
        fig.text(at, height, f" {label}: {seconds(at)}{after} ", transform=blend, ha="right" if right else "left",
                 va="center", fontsize=FONT, color=colour)  # fmt: skip
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in
               (STATE_COLOURS["queued"], STATE_COLOURS["active"], STATE_COLOURS["idle"], "#cccccc")]  # fmt: skip
    labels = ["in the accept queue", "request in the handler", "idle, kept alive", "client waiting"]
    fig.legend(handles, labels, loc="lower center", ncol=4, frameon=False, fontsize=FONT)
    second = cases[1]
    later = (
        f"LB2's request is served at {seconds(second['served'])}, the moment Go closes LB1's idle connection"
        + (f", in time for its client (which waits {seconds(client)})" if second["answered"]
           else f", after its client left at {seconds(client)}: a ghost request")  # fmt: skip
        if second["served"] is not None
        else f"LB2 still gets 504 at {seconds(lb)}, before Go's idle timeout"
    )
    alt = (
        f"Timeline of three timers from LB2's request: the client gives up at {seconds(client)}, Go closes an idle "
        f"connection {seconds(idle)} after its last request (ReadTimeout, the idle timeout), and the load balancer "
        f"answers 504 at {seconds(lb)}. Top: LB1 sends every {seconds(_lb1_gap(idle))}, so its connection never "
        f"stays idle for {seconds(idle)} and keeps the only slot; LB2's connection waits in the accept queue and "
        f"gets 504 at {seconds(lb)}, while its client gave up at {seconds(client)}. Bottom: LB1 pauses after a "
        f"request; {later}."
    )
    return fig, alt
