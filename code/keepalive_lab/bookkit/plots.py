"""The book's figures, one function each, made for readers.

Conventions: one colour per actor across the whole book (LB1, LB2, LB3, the
server, each outcome), axes labelled with units, time in **article seconds**
(the incident's clock; every caption states the scale), an opaque white
background, and alt text: every function returns ``(figure, alt_text)`` where
the alt text describes what the figure shows in this run.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # no display: the book and the tests render to files

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from keepalive_lab.lab.timescale import TimeScale  # noqa: E402

__all__ = [
    "ACTOR_COLOURS",
    "OUTCOME_COLOURS",
    "actor_colour",
    "outcome_counts",
    "request_scatter",
    "queue_over_time",
    "connection_timeline",
    "latency_ecdf",
    "grid_heatmap",
    "race_plot",
]

# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies.
ACTOR_COLOURS = {
    "LB1": "#0072B2",  # blue
    "LB2": "#E69F00",  # orange
    "LB3": "#009E73",  # green
    "LB4": "#CC79A7",  # purple
    "server": "#555555",
    "direct": "#555555",
}
OUTCOME_COLOURS = {
    "ok": "#009E73",
    "timeout": "#D55E00",
    "504": "#CC79A7",
    "502": "#F0E442",
    "503": "#56B4E9",
    "error": "#000000",
}
STATE_COLOURS = {"queued": "#D55E00", "active": "#0072B2", "idle": "#9ECAE1"}

plt.rcParams.update(
    {
        "figure.facecolor": "white",
        "axes.facecolor": "white",
        "savefig.facecolor": "white",
        "figure.dpi": 110,
        "font.size": 10,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }
)


def actor_colour(name: str) -> str:
    return ACTOR_COLOURS.get(name, "#777777")


def _article(series: pd.Series, scale: TimeScale) -> pd.Series:
    return series * scale.factor


def outcome_counts(
    requests: pd.DataFrame, by: str = "node", order: list[str] | None = None, title: str = ""
) -> tuple[Figure, str]:
    """Stacked bars: how many requests ended ok / timeout / 504 / ... for each value of ``by``."""
    outcomes = [o for o in OUTCOME_COLOURS if o in set(requests["outcome"])] or ["ok"]
    counts = requests.groupby([by, "outcome"]).size().unstack(fill_value=0).reindex(columns=outcomes, fill_value=0)
    if order is not None:
        counts = counts.reindex(order, fill_value=0)
    fig, ax = plt.subplots(figsize=(7, 0.5 + 0.45 * max(2, len(counts))))
    left = np.zeros(len(counts))
    labels = [str(i) for i in counts.index]
    for outcome in outcomes:
        values = counts[outcome].to_numpy()
        ax.barh(labels, values, left=left, color=OUTCOME_COLOURS[outcome], label=outcome, edgecolor="white")
        left += values
    # Write the failures out at each bar's end: two 502s among two hundred requests are too thin to see.
    for y, row in enumerate(counts.itertuples(index=False)):
        failed = ", ".join(f"{n} × {o}" for o, n in zip(outcomes, row) if n and o != "ok")
        if failed:
            ax.text(left[y] + left.max() * 0.01, y, failed, va="center", fontsize=8, color="#333333")
    ax.set_xlim(0, left.max() * 1.22 if left.max() else 1)
    ax.invert_yaxis()
    ax.set_xlabel("requests")
    ax.legend(title="outcome", loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    parts = []
    for label, row in zip(labels, counts.itertuples(index=False)):
        parts.append(f"{label}: " + (", ".join(f"{n} {o}" for o, n in zip(outcomes, row) if n) or "no requests"))
    alt = f"Stacked bar chart of request outcomes by {by}. " + "; ".join(parts) + "."
    return fig, alt


def _count(n: int, singular: str, plural: str | None = None) -> str:
    """``1 request``, ``2 requests``; with ``plural``, a verb: ``1 was``, ``2 were``."""
    if plural is None:
        return f"{n} {singular}" + ("" if n == 1 else "s")
    return f"{n} {singular if n == 1 else plural}"


def _time_axis(ax, scale: TimeScale, label: str = "time since start (article s)") -> None:
    ax.set_xlabel(label)
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)


def _seconds_log_axis(axis) -> None:
    """A log axis labelled in plain seconds (0.2, 1, 10), not powers of ten."""
    ticks = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100]
    axis.set_major_locator(matplotlib.ticker.FixedLocator(ticks))
    axis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_locator(matplotlib.ticker.NullLocator())


def _span(low: float, high: float) -> str:
    if round(low) == round(high):
        return f"each after about {low:.0f} s"
    return f"after {low:.0f} to {high:.0f} s"


def request_scatter(
    requests: pd.DataFrame, scale: TimeScale, scale_events: pd.DataFrame | None = None, client_timeout: float = 0
) -> tuple[Figure, str]:
    """Each request as a point: when it started (x) and how long it took (y), by node; failures as crosses."""
    fig, ax = plt.subplots(figsize=(8, 3.6))
    for node, rows in requests.groupby("node", sort=True):
        ok = rows[rows["outcome"] == "ok"]
        bad = rows[rows["outcome"] != "ok"]
        colour = actor_colour(node)
        if not ok.empty:
            ax.scatter(_article(ok["start"], scale), _article(ok["latency"], scale), s=14, color=colour,
                       label=f"{node}: answered")  # fmt: skip
        if not bad.empty:
            ax.scatter(_article(bad["start"], scale), _article(bad["latency"], scale), s=60, marker="x",
                       color=colour, linewidths=2, label=f"{node}: timed out or failed")  # fmt: skip
    if client_timeout:
        ax.axhline(client_timeout, color="#999999", linestyle=":", linewidth=1)
        ax.annotate("client timeout", (0, client_timeout), xytext=(2, -10), textcoords="offset points",
                    fontsize=8, color="#555555")  # fmt: skip
    ax.set_yscale("log")
    ax.set_ylim(0.1, max(20.0, 1.5 * float(_article(requests["latency"], scale).max()) if len(requests) else 0.0))
    _seconds_log_axis(ax.yaxis)
    events = scale_events if scale_events is not None else pd.DataFrame(columns=["at", "event", "node"])
    for row in events.iloc[1:].itertuples():  # the first node is the starting fleet, not a scale-out
        if row.event == "scale_out":
            x = scale.article(row.at)
            ax.axvline(x, color=actor_colour(row.node), linestyle="--", linewidth=1)
            ax.annotate(f"{row.node} added", (x, 0.1), xytext=(3, 4), textcoords="offset points",
                        fontsize=8, color=actor_colour(row.node))  # fmt: skip
    ax.set_ylabel("latency seen by the client\n(article s, log scale)")
    _time_axis(ax, scale)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False, fontsize=8)
    fig.tight_layout()
    bad = requests[requests["outcome"] != "ok"]
    ok = requests[requests["outcome"] == "ok"]
    answered = (f"{_count(len(ok), 'was', 'were')} answered, with a median of "
                f"{scale.article(ok['latency'].median()):.2f} s" if len(ok) else "none was answered")  # fmt: skip
    alt = (
        f"Scatter plot of {_count(len(requests), 'request')}, start time against latency on a log scale. "
        f"{answered}; {len(bad)} timed out or failed"
        + (f", all through {', '.join(sorted(set(bad['node'])))}, "
           f"{_span(scale.article(bad['latency'].min()), scale.article(bad['latency'].max()))}" if len(bad) else "")
        + "."
    )  # fmt: skip
    return fig, alt


def queue_over_time(queue: pd.DataFrame, scale: TimeScale, windows: pd.DataFrame | None = None) -> tuple[Figure, str]:
    """The server's accept-queue length (``ss -lnt`` Recv-Q) over time; shaded: requests that timed out."""
    fig, ax = plt.subplots(figsize=(8, 2.4))
    if windows is not None:
        for row in windows.itertuples():
            ax.axvspan(scale.article(row.start), scale.article(row.end), color=OUTCOME_COLOURS["timeout"], alpha=0.12,
                       linewidth=0)  # fmt: skip
    samples = queue if "at" in queue else pd.DataFrame({"at": [], "length": []})
    ax.step(_article(samples["at"], scale), samples["length"], where="post", color=ACTOR_COLOURS["server"],
            label="accept-queue length (ss -lnt Recv-Q)")  # fmt: skip
    if windows is not None and not windows.empty:
        ax.fill_between([], [], color=OUTCOME_COLOURS["timeout"], alpha=0.12, label="a request waiting, then timing out")
    ax.legend(loc="upper left", frameon=False, fontsize=8)
    ax.set_ylabel("accept queue\n(connections)")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_ylim(bottom=0)
    _time_axis(ax, scale)
    fig.tight_layout()
    peak = int(samples["length"].max()) if len(samples) else 0
    empty = float((samples["length"] == 0).mean()) if len(samples) else 1.0
    alt = (
        f"Step plot of the accept-queue length over time ({_count(len(samples), 'sample')}): 0 in "
        f"{100 * empty:.0f} % of the samples, up to {_count(peak, 'connection')} while requests waited; shaded "
        "bands mark the requests that timed out."
    )
    return fig, alt


def connection_timeline(tables: dict[str, pd.DataFrame], scale: TimeScale, max_rows: int = 14) -> tuple[Figure, str]:
    """One row per connection to the server: waiting in the kernel's queue, active, idle; x: the node gave up."""
    rows = _connection_rows(tables)[:max_rows]
    fig, ax = plt.subplots(figsize=(8, 0.9 + 0.32 * max(3, len(rows))))
    for y, conn in enumerate(rows):
        for state, start, end in conn["segments"]:
            ax.broken_barh([(scale.article(start), scale.article(end - start))], (y - 0.35, 0.7),
                           color=STATE_COLOURS[state], linewidth=0)  # fmt: skip
        if conn["gave_up"] is not None:
            ax.plot(scale.article(conn["gave_up"]), y, marker="x", color="black", markersize=7, mew=2)
    ax.set_yticks(range(len(rows)), [c["label"] for c in rows])
    for tick, conn in zip(ax.get_yticklabels(), rows):
        tick.set_color(actor_colour(conn["node"]))
    ax.invert_yaxis()
    _time_axis(ax, scale)
    present = {state for c in rows for state, b, e in c["segments"] if e > b}
    names = {"queued": "waiting in the accept queue", "active": "active (in the handler)", "idle": "idle, kept alive"}
    handles = [plt.Rectangle((0, 0), 1, 1, color=STATE_COLOURS[s]) for s in names if s in present]
    labels = [names[s] for s in names if s in present]
    if any(c["gave_up"] is not None for c in rows):
        handles.append(matplotlib.lines.Line2D([], [], marker="x", color="black", linestyle="", mew=2))
        labels.append("the node gave up on it")
    fig.legend(handles, labels, loc="lower center", ncol=4, frameon=False, fontsize=8)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    queued = [c for c in rows if any(s == "queued" and e - b > 0.01 for s, b, e in c["segments"])]
    alt = (
        f"Timeline of {len(rows)} connections to the server, one row each, labelled by the node that opened it. "
        f"{len(queued)} spent time waiting in the kernel's accept queue; "
        f"{_count(sum(c['gave_up'] is not None for c in rows), 'was', 'were')} given up by their node while still waiting."
    )
    return fig, alt


def _connection_rows(tables: dict[str, pd.DataFrame]) -> list[dict]:
    """Segments per connection, matched by address: the node opened it, the server accepted it.

    A connection the server never accepted stays queued to the end of the run: the kernel keeps
    it even after its node gave up on it.
    """
    states, upstream = tables["states"], tables["upstream"]
    end_of_run = max([0.0] + [float(df[c].max()) for df, c in ((states, "at"), (upstream, "at")) if not df.empty])
    opened, gave_up = {}, {}
    for row in upstream.itertuples() if not upstream.empty else ():
        if row.event == "open":
            opened.setdefault(row.conn, (row.node, row.at))
        elif row.event in ("timeout", "failed"):
            gave_up.setdefault(row.conn, row.at)
    by_addr = {addr: g.sort_values("at") for addr, g in states.groupby("remote_addr")} if not states.empty else {}
    rows = []
    for addr in set(opened) | set(by_addr):
        group = by_addr.get(addr)
        node, opened_at = opened.get(addr, ("?", float(group["at"].iloc[0]) if group is not None else 0.0))
        if group is None:
            segments = [("queued", opened_at, end_of_run)]
        else:
            segments = [("queued", opened_at, float(group["at"].iloc[0]))]
            marks = list(group.itertuples())
            for this, nxt in zip(marks, marks[1:] + [None]):
                if this.state in ("active", "idle"):
                    segments.append((this.state, this.at, nxt.at if nxt is not None else end_of_run))
        rows.append({"node": node, "opened": opened_at, "segments": segments, "gave_up": gave_up.get(addr)})
    rows.sort(key=lambda r: r["opened"])
    counters: dict[str, int] = {}
    for row in rows:
        counters[row["node"]] = counters.get(row["node"], 0) + 1
        row["label"] = f"{row['node']} conn {counters[row['node']]}"
    return rows


def latency_ecdf(
    requests: pd.DataFrame, scale: TimeScale, by: str, order: list[str] | None = None, labels: dict | None = None
) -> tuple[Figure, str]:
    """Cumulative distribution of latency (every request; a timeout counts at its client timeout)."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    groups = order or sorted(requests[by].unique())
    labels = labels or {}
    palette = plt.get_cmap("tab10")
    medians = []
    for i, name in enumerate(groups):
        values = np.sort(_article(requests.loc[requests[by] == name, "latency"], scale).to_numpy())
        if len(values) == 0:
            continue
        medians.append(f"{labels.get(name, name)} {np.median(values):.2f} s")
        ax.step(values, np.arange(1, len(values) + 1) / len(values), where="post", label=labels.get(name, name),
                color=actor_colour(name) if name in ACTOR_COLOURS else palette(i), linewidth=1.6)  # fmt: skip
    ax.set_xscale("log")
    _seconds_log_axis(ax.xaxis)
    ax.set_xlabel("latency seen by the client (article s, log scale)")
    ax.set_ylabel("fraction of requests\nanswered or given up by then")
    ax.set_ylim(0, 1.02)
    ax.grid(color="#dddddd", linewidth=0.6)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(frameon=False, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    fig.tight_layout()
    alt = f"Cumulative latency distributions, one line per {by}; medians: " + "; ".join(medians) + "."
    return fig, alt


def grid_heatmap(grid: pd.DataFrame) -> tuple[Figure, str]:
    """Timeout rate for each limit x nodes (rows) and keep-alive x gap (columns)."""
    table = grid.assign(
        row=[f"limit {r.limit}, {r.nodes} node{'s' if r.nodes > 1 else ''}" for r in grid.itertuples()],
        col=[f"keep-alive {'on' if r.keep_alive else 'off'}\ngap {r.gap:g} s" for r in grid.itertuples()],
    ).pivot(index="row", columns="col", values="timeout_rate")
    table = table[sorted(table.columns, key=lambda c: ("off" in c, float(c.split("gap ")[1].split()[0])))]
    fig, ax = plt.subplots(figsize=(7, 0.8 + 0.45 * len(table)))
    image = ax.imshow(table.to_numpy(), cmap="Oranges", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(table.columns)), table.columns, fontsize=8)
    ax.set_yticks(range(len(table.index)), table.index, fontsize=8)
    for (y, x), value in np.ndenumerate(table.to_numpy()):
        ax.text(x, y, f"{100 * value:.0f} %", ha="center", va="center", fontsize=8,
                color="white" if value > 0.5 else "black")  # fmt: skip
    ax.spines[:].set_visible(False)
    fig.colorbar(image, ax=ax, label="requests timed out", format=lambda v, _: f"{100 * v:.0f} %")
    fig.tight_layout()
    bad = grid[grid["timeout_rate"] > 0]
    cells = "; ".join(
        f"limit {r.limit}, {r.nodes} nodes, keep-alive {'on' if r.keep_alive else 'off'}, gap {r.gap:g} s: "
        f"{100 * r.timeout_rate:.0f} %" for r in bad.itertuples()
    )
    alt = (
        f"Heat map of the timeout rate in {len(grid)} configurations; "
        f"{_count(len(grid) - len(bad), 'cell has', 'cells have')} no "
        f"timeouts. The cells with timeouts: {cells or 'none'}."
    )
    return fig, alt


def race_plot(race: pd.DataFrame, idle_timeout: float, lb_timeout: float) -> tuple[Figure, str]:
    """How long LB2 waited, against how often LB1 sent (the idle-timeout race)."""
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    colours = [OUTCOME_COLOURS["504"] if s == 504 else OUTCOME_COLOURS["ok"] for s in race["LB2 status"]]
    ax.bar(race["LB1 gap (s)"], race["LB2 waited (s)"], width=4, color=colours)
    for row in race.itertuples(index=False):
        ax.annotate(str(row[1]), (row[0], row[2]), xytext=(0, 2), textcoords="offset points", ha="center", fontsize=8)
    ax.axvline(idle_timeout, color=ACTOR_COLOURS["server"], linestyle="--", linewidth=1)
    ax.annotate("Go's idle timeout\n(ReadTimeout)", (idle_timeout, lb_timeout * 0.75), xytext=(4, 0),
                textcoords="offset points", fontsize=8)  # fmt: skip
    ax.axhline(lb_timeout, color="#999999", linestyle=":", linewidth=1)
    ax.annotate("node timeout: 504", (ax.get_xlim()[1], lb_timeout), xytext=(-4, 3), textcoords="offset points",
                ha="right", fontsize=8, color="#555555")  # fmt: skip
    ax.set_xlabel("LB1's pause between requests (article s)")
    ax.set_ylabel("LB2's request waited (article s)")
    ax.set_ylim(0, lb_timeout * 1.15)
    fig.tight_layout()
    alt = "Bar chart of LB2's wait against LB1's pause: " + "; ".join(
        f"pause {r[0]:g} s: status {r[1]} after {r[2]} s" for r in race.itertuples(index=False)
    )
    return fig, alt
