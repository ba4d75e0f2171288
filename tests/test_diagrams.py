"""The book's diagrams: each builds, says what it shows, draws the numbers it is given, and is legible.

Legible means: no two pieces of text overlap, none is cut off by the figure's edge, none is smaller
than 9 pt, and the figure fits the book's text width (7 to 8.5 inches at 130 dpi).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import matplotlib.pyplot as plt
import pytest
from keepalive_lab.bookkit import diagrams, flows
from keepalive_lab.lab.timescale import ARTICLE, ArticleTimes
from keepalive_lab.reallb.catalogue import GROUPS
from keepalive_lab.reallb.times import RealLBTimes
from matplotlib.figure import Figure
from matplotlib.text import Text

ROOT = Path(__file__).resolve().parents[1]
OTHER = ArticleTimes(read_timeout=20, write_timeout=15, lb_idle_timeout=40, handler_latency=0.5, client_timeout=5)

BUILDERS = {
    "topology": lambda: diagrams.topology(),
    "topology, limit 3": lambda: diagrams.topology(OTHER, limit=3),
    "connection_sequence": lambda: diagrams.connection_sequence(),
    "connection_sequence, other times": lambda: diagrams.connection_sequence(OTHER),
    "three_timers": lambda: diagrams.three_timers(),
    "three_timers, other times": lambda: diagrams.three_timers(OTHER),
    "three_timers, short idle timeout": lambda: diagrams.three_timers(ArticleTimes(read_timeout=8)),
    **{f"lb_family {family}": (lambda family=family: flows.lb_family(family)) for family in flows.FAMILIES},
    "runbook_flow": lambda: flows.runbook_flow(),
    "floors": lambda: flows.floors(),
}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _drawn(fig: Figure) -> list[Text]:
    """The text the figure shows: visible, not empty, and (for tick labels) inside the axis's view."""
    hidden = set()
    for ax in fig.axes:
        for axis, limits in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
            low, high = sorted(limits)
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if not low - 1e-9 <= tick.get_loc() <= high + 1e-9:
                    hidden.update({id(tick.label1), id(tick.label2)})
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip() and id(t) not in hidden]


def _texts(fig: Figure) -> str:
    """Everything the figure says, one piece a line (line breaks inside a label become spaces)."""
    return "\n".join(t.get_text().replace("\n", " ") for t in _drawn(fig))


@pytest.mark.parametrize("name", list(BUILDERS))
def test_each_diagram_is_legible_at_the_book_width(name):
    fig, alt = BUILDERS[name]()
    assert isinstance(fig, Figure)
    assert isinstance(alt, str) and len(alt) > 150 and alt.endswith(".")
    width, height = fig.get_size_inches()
    assert 7 <= width <= 8.5 and height <= 9
    assert fig.get_facecolor()[:3] == (1.0, 1.0, 1.0)
    fig.canvas.draw()
    renderer, frame = fig.canvas.get_renderer(), fig.bbox
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in _drawn(fig)]
    small = [t.get_text() for t in _drawn(fig) if t.get_fontsize() < 9]
    assert not small, f"text under 9 pt: {small}"
    outside = [t for t, b in boxes if min(b.x0, b.y0) < -0.5 or b.x1 > frame.x1 + 0.5 or b.y1 > frame.y1 + 0.5]
    assert not outside, f"text cut off by the figure's edge: {outside}"
    overlaps = [
        (a, b)
        for i, (a, box_a) in enumerate(boxes)
        for b, box_b in boxes[i + 1 :]
        if box_a.x0 < box_b.x1 and box_b.x0 < box_a.x1 and box_a.y0 < box_b.y1 and box_b.y0 < box_a.y1
    ]
    assert not overlaps, f"overlapping text: {overlaps}"


def test_topology_draws_the_timers_and_the_limit_it_is_given():
    fig, alt = diagrams.topology(ARTICLE, limit=1)
    drawn = _texts(fig)
    for words in ("give up after 10 s", "ReadTimeout 30 s", "WriteTimeout 30 s", "after 60 s: 504",
                  "LimitListener(l, 1)", "LB2 added at scale-out", "accept queue: 1 waiting",
                  "Accept() waits"):  # fmt: skip
        assert words in drawn, words
    for words in ("give up after 10 s", "504 after 60 s", "LimitListener(l, 1)", "ReadTimeout is 30 s",
                  "waits in the accept queue"):  # fmt: skip
        assert words in alt, words
    fig, alt = diagrams.topology(OTHER, limit=3)
    drawn = _texts(fig)
    for words in ("give up after 5 s", "ReadTimeout 20 s", "WriteTimeout 15 s", "after 40 s: 504",
                  "LimitListener(l, 3)", "accept queue: 0 waiting", "+ 1 free slot"):  # fmt: skip
        assert words in drawn, words
    assert "30 s" not in drawn and "slot 2 of 3" in alt and "LimitListener(l, 3)" in alt
    with pytest.raises(ValueError):
        diagrams.topology(limit=0)


def test_connection_sequence_follows_the_server_timeouts():
    fig, alt = diagrams.connection_sequence()
    drawn = _texts(fig)
    for words in ("accept(2)", "StateNew", "ReadTimeout 30 s", "handler 0.2 s", "WriteTimeout 30 s",
                  "timeout 30 s = ReadTimeout (IdleTimeout 0)", "close after 30 s idle", "release the slot",
                  "accept queue"):  # fmt: skip
        assert words in drawn, words
    for words in ("ReadTimeout 30 s", "0.2 s", "WriteTimeout 30 s", "idle timeout of 30 s", "accept queue"):
        assert words in alt, words
    fig, alt = diagrams.connection_sequence(OTHER)
    drawn = _texts(fig)
    assert "close after 20 s idle" in drawn and "handler 0.5 s" in drawn and "WriteTimeout 15 s" in drawn
    assert "30 s" not in drawn and "idle timeout of 20 s" in alt


def test_three_timers_puts_each_timer_where_its_parameter_says():
    fig, alt = diagrams.three_timers()
    drawn = _texts(fig)
    for words in ("client gives up: 10 s", "Go's idle timeout: 30 s after LB1's last request", "LB answers 504: 60 s",
                  "LB1 sends every 20 s", "504 at 60 s", "gives up at 10 s", "Go closes it at 30 s",
                  "served at 30.2 s", "ghost request"):  # fmt: skip
        assert words in drawn, words
    for words in ("10 s", "30 s", "60 s", "504 at 60 s", "served at 30.2 s", "ghost request"):
        assert words in alt, words
    # Other durations: other labels, none of the article's.
    fig, alt = diagrams.three_timers(OTHER)
    drawn = _texts(fig)
    for words in ("client gives up: 5 s", "Go's idle timeout: 20 s", "LB answers 504: 40 s", "504 at 40 s",
                  "served at 20.5 s", "ghost request"):  # fmt: skip
        assert words in drawn, words
    assert not {"10 s", "30 s", "60 s"} & set(drawn.replace(":", "").split("\n"))
    assert "served at 20.5 s" in alt and "504 at 40 s" in alt
    # Go's idle timeout shorter than the client's patience: the client is answered, no ghost.
    fig, alt = diagrams.three_timers(ArticleTimes(read_timeout=8))
    assert "gets its answer at 8.2 s" in _texts(fig) and "ghost" not in alt and "in time for its client" in alt
    # Longer than the load balancer's: 504 in both cases.
    fig, alt = diagrams.three_timers(ArticleTimes(read_timeout=90))
    assert _texts(fig).count("504 at 60 s") == 2 and "still gets 504 at 60 s" in alt


@pytest.mark.parametrize("family", flows.FAMILIES)
def test_lb_family_draws_the_run_durations(family):
    fig, alt = flows.lb_family(family)
    assert alt.startswith(GROUPS[family] + ": Diagram of")
    fast = RealLBTimes(read_timeout=4.0, lb_timeout=1.5, check_inter=0.25, check_fall=5)
    other, other_alt = flows.lb_family(family, fast)
    expected = {
        "haproxy": ("504 after timeout server (1 s)", "504 after timeout server (1.5 s)", "idle timeout (4 s)"),
        "nginx": ("after 1 s", "after 1.5 s", "upstream timed out"),
        "fix": ("free between requests", "free between requests", "SetKeepAlivesEnabled(false)"),
        "health": ("no answer in 0.5 s", "no answer in 0.25 s", "DOWN after 5 failures"),
    }[family]
    assert expected[0] in _texts(fig) and expected[1] in _texts(other) and expected[2] in _texts(other)
    if family != "fix":  # the fixes' picture has no duration in it
        assert alt != other_alt


def test_lb_family_draws_the_chapter_families_and_refuses_others():
    assert {"haproxy", "nginx", "fix", "health"} <= set(flows.FAMILIES) <= set(GROUPS)
    with pytest.raises(KeyError, match="haproxy"):
        flows.lb_family("traefik")


def test_runbook_flow_leads_from_the_symptom_to_the_fixes():
    fig, alt = flows.runbook_flow()
    drawn = _texts(fig)
    for words in ("not in the server's access log", "ss -lnt", "Recv-Q", "accept(2)", "LimitListener",
                  "MaxRequestWorkers", "maxConnections", "keep-alive", "SetKeepAlivesEnabled(false)",
                  "Connection: close", "limit the work", "Look elsewhere"):  # fmt: skip
        assert words in drawn, words
        assert words.split("(")[0].lower() in alt.lower(), words


def test_floors_are_read_from_the_import_contract(tmp_path):
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in config["contracts"] if c["type"] == "layers")["layers"]
    fig, alt = flows.floors()
    drawn = _texts(fig)
    for i, layer in enumerate(reversed(layers)):
        names = [part.strip().removeprefix("keepalive_lab.") for part in layer.split("|")]
        assert f"floor {i + 1}: {', '.join(names)}" in alt
        assert all(name in drawn.split("\n") for name in names) and f"floor {i + 1}" in drawn
    assert f"floor {len(layers) + 1}" not in drawn
    # Another contract, another picture: the floors come from the file, not from the code.
    other = tmp_path / "pyproject.toml"
    other.write_text(
        '[tool.importlinter]\nroot_package = "keepalive_lab"\n[[tool.importlinter.contracts]]\nname = "two"\n'
        'type = "layers"\nlayers = ["keepalive_lab.lab | keepalive_lab.cli", "keepalive_lab.kernel"]\n'
    )
    fig, alt = flows.floors(other)
    drawn = _texts(fig)
    assert "floor 1: kernel; floor 2: lab, cli" in alt and "floor 3" not in drawn and "goserver" not in drawn
