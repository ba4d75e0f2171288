"""The book's figures (bookkit/plots.py, bookkit/lbfigures.py) and the glue that puts them on a page.

Every figure function builds from a small table and returns ``(Figure, alt_text)``; the alt text
must describe this table, not a generic one. Each figure is also rendered (small), so that an
error at draw time fails here, and closed.
"""

from __future__ import annotations

import io

import matplotlib
import matplotlib.pyplot as plt
import pandas as pd
import pytest
from keepalive_lab.bookkit import glue, lbfigures, plots
from keepalive_lab.lab.results import Claim, ExperimentResult
from keepalive_lab.lab.timescale import TimeScale
from matplotlib.figure import Figure
from pandas.io.formats.style import Styler

SCALE = TimeScale(20)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def no_figure_left_open():
    """A figure function creates one figure, which the test closes: nothing may stay open."""
    plt.close("all")
    yield
    left = plt.get_fignums()
    plt.close("all")
    assert left == [], f"figures left open: {left}"


def rendered(figure_and_alt: tuple[Figure, str]) -> str:
    """Check the pair's types, draw the figure to a PNG, close it, and return the alt text."""
    fig, alt = figure_and_alt
    assert isinstance(fig, Figure) and isinstance(alt, str)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=30)
    plt.close(fig)
    assert buffer.getvalue().startswith(PNG_MAGIC)
    assert alt.strip() and "nan" not in alt
    return alt


def _requests() -> pd.DataFrame:
    """Five requests in lab seconds: LB1 answers in ~0.2 article s, LB2's two time out after 10 article s."""
    return pd.DataFrame({
        "request_id": ["a", "b", "c", "d", "e"],
        "node": ["LB1", "LB1", "LB2", "LB2", "LB1"],
        "start": [0.0, 0.5, 1.0, 1.5, 2.0],
        "latency": [0.010, 0.012, 0.5, 0.5, 0.011],
        "outcome": ["ok", "ok", "timeout", "timeout", "ok"],
        "status": [200, 200, 0, 0, 200],
    })  # fmt: skip


def test_the_figures_render_without_a_display():
    assert matplotlib.get_backend().lower() == "agg"


# -- plots.py ------------------------------------------------------------------------------------


def test_outcome_counts_says_how_many_requests_of_each_node_ended_how():
    fig, alt = plots.outcome_counts(_requests())
    bars = [p for p in fig.axes[0].patches]
    assert len(bars) == 4  # two nodes x the two outcomes present
    assert rendered((fig, alt)) == "Stacked bar chart of request outcomes by node. LB1: 3 ok; LB2: 2 timeout."


def test_outcome_counts_follows_the_order_given_and_its_title():
    fig, alt = plots.outcome_counts(_requests(), order=["LB2", "LB1"], title="Before the fix")
    assert fig.axes[0].get_title() == "Before the fix"
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["LB2", "LB1"]
    assert rendered((fig, alt)).endswith("LB2: 2 timeout; LB1: 3 ok.")


def test_request_scatter_describes_the_answered_and_the_failed_requests():
    events = pd.DataFrame({"at": [0.0, 0.9], "event": ["scale_out", "scale_out"], "node": ["LB1", "LB2"]})
    fig, alt = plots.request_scatter(_requests(), SCALE, events, client_timeout=10.0)
    assert fig.axes[0].get_yscale() == "log"
    assert any(t.get_text() == "LB2 added" for t in fig.axes[0].texts)  # the scale-out, not the first node
    assert not any(t.get_text() == "LB1 added" for t in fig.axes[0].texts)
    assert rendered((fig, alt)) == (
        "Scatter plot of 5 requests, start time against latency on a log scale. 3 were answered, with a median "
        "of 0.22 s; 2 timed out or failed, all through LB2, each after about 10 s."
    )


def test_request_scatter_without_failures_says_none_failed():
    ok = _requests().query("outcome == 'ok'")
    alt = rendered(plots.request_scatter(ok, SCALE))
    assert alt.endswith("3 were answered, with a median of 0.22 s; 0 timed out or failed.")


def test_queue_over_time_gives_the_largest_queue():
    queue = pd.DataFrame({"at": [0.0, 0.5, 1.0, 1.5], "length": [0, 2, 1, 0]})
    windows = pd.DataFrame({"start": [0.4], "end": [1.4]})
    fig, alt = plots.queue_over_time(queue, SCALE, windows)
    assert fig.axes[0].get_ylim()[0] == 0
    assert "up to 2 connections while requests waited" in rendered((fig, alt))
    assert "up to 3 connections" in rendered(plots.queue_over_time(queue.assign(length=[0, 3, 3, 0]), SCALE))


def _timeline_tables(n_extra: int = 0) -> dict[str, pd.DataFrame]:
    """LB1's connection accepted and idle; LB2's waits in the accept queue until LB2 gives up."""
    a, b = "127.0.0.1:50001", "127.0.0.1:50002"
    states = pd.DataFrame({"conn_id": [1, 1, 1], "remote_addr": [a, a, a], "state": ["new", "active", "idle"],
                           "at": [0.10, 0.11, 0.20]})  # fmt: skip
    upstream = pd.DataFrame({"node": ["LB1", "LB2", "LB2"], "conn": [a, b, b], "event": ["open", "open", "timeout"],
                             "at": [0.10, 1.0, 4.0]})  # fmt: skip
    extra = pd.DataFrame({"node": ["LB3"] * n_extra, "conn": [f"127.0.0.1:{51000 + i}" for i in range(n_extra)],
                          "event": ["open"] * n_extra, "at": [2.0 + 0.01 * i for i in range(n_extra)]})  # fmt: skip
    return {"states": states, "upstream": pd.concat([upstream, extra], ignore_index=True)}


def test_connection_timeline_counts_the_queued_and_the_abandoned_connections():
    fig, alt = plots.connection_timeline(_timeline_tables(), SCALE)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["LB1 conn 1", "LB2 conn 1"]
    assert rendered((fig, alt)) == (
        "Timeline of 2 connections to the server, one row each, labelled by the node that opened it. "
        "1 spent time waiting in the kernel's accept queue; 1 was given up by their node while still waiting."
    )


def test_connection_timeline_shows_at_most_max_rows_connections():
    alt = rendered(plots.connection_timeline(_timeline_tables(n_extra=20), SCALE, max_rows=5))
    assert alt.startswith("Timeline of 5 connections")


def test_latency_ecdf_gives_each_groups_median():
    fig, alt = plots.latency_ecdf(_requests(), SCALE, by="node", labels={"LB1": "first node"})
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["first node", "LB2"]
    assert rendered((fig, alt)) == (
        "Cumulative latency distributions, one line per node; medians: first node 0.22 s; LB2 10.00 s."
    )


def test_latency_ecdf_skips_a_group_with_no_requests():
    alt = rendered(plots.latency_ecdf(_requests(), SCALE, by="node", order=["LB2", "LB9"]))
    assert alt.endswith("medians: LB2 10.00 s.")


def test_grid_heatmap_lists_the_cells_with_timeouts():
    grid = pd.DataFrame({
        "limit": [1, 1, 1, 2], "nodes": [1, 2, 2, 2], "keep_alive": [True, True, False, True],
        "gap": [5.0, 5.0, 5.0, 40.0], "timeout_rate": [0.0, 0.5, 0.0, 0.0],
    })  # fmt: skip
    fig, alt = plots.grid_heatmap(grid)
    assert fig.axes[0].get_images()[0].get_array().shape == (3, 3)  # 3 limit x nodes rows, 3 keep-alive x gap
    assert rendered((fig, alt)) == (
        "Heat map of the timeout rate in 4 configurations; 3 cells have no timeouts. "
        "The cells with timeouts: limit 1, 2 nodes, keep-alive on, gap 5 s: 50 %."
    )


def test_grid_heatmap_without_timeouts_says_none():
    grid = pd.DataFrame({"limit": [1], "nodes": [1], "keep_alive": [False], "gap": [5.0], "timeout_rate": [0.0]})
    assert rendered(plots.grid_heatmap(grid)).endswith("The cells with timeouts: none.")


def test_race_plot_gives_each_pause_its_status_and_wait():
    race = pd.DataFrame({"LB1 gap (s)": [10.0, 40.0], "LB2 status": [504, 200], "LB2 waited (s)": [60.0, 35.2],
                         "LB1 idle before close (s)": [float("nan"), 30.1],
                         "LB2 served after the close (s)": [float("nan"), 0.1]})  # fmt: skip
    fig, alt = plots.race_plot(race, idle_timeout=30.0, lb_timeout=60.0)
    assert fig.axes[0].get_ylim() == pytest.approx((0, 69.0))
    assert rendered((fig, alt)) == (
        "Bar chart of LB2's wait against LB1's pause: pause 10 s: status 504 after 60.0 s; "
        "pause 40 s: status 200 after 35.2 s"
    )


def test_actor_colours_are_fixed_and_unknown_actors_grey():
    assert plots.actor_colour("LB1") == plots.ACTOR_COLOURS["LB1"] != plots.actor_colour("LB2")
    assert plots.actor_colour("somebody") == "#777777"


# -- lbfigures.py --------------------------------------------------------------------------------


def _real_lb_result(ran: list[str]) -> ExperimentResult:
    """A real-load-balancer result as reallb.runner.run returns it, for two health and two request scenarios."""
    health = pd.DataFrame(
        [{"scenario": "check-tcp", "node": "haproxy-2", "at": at, "status": "UP"} for at in (0.0, 1.0, 2.0, 3.0)]
        + [{"scenario": "check-http", "node": "haproxy-2", "at": at, "status": s}
           for at, s in ((0.0, "UP"), (1.0, "UP 1/3"), (2.0, "DOWN"), (3.0, "DOWN 1/2"), (4.0, "UP"))]
    )  # fmt: skip
    rows = [("check-tcp", "probe", 0.2, 1.0, 504, "504"), ("check-tcp", "probe", 1.4, 1.0, 504, "504"),
            ("check-tcp", "probe", 3.5, 0.05, 200, "ok"), ("check-tcp", "holder", 0.1, 0.05, 200, "ok"),
            ("check-http", "probe", 2.2, 0.001, 503, "503"), ("check-http", "probe", 4.2, 0.05, 200, "ok"),
            ("haproxy-two", "client-1", 0.1, 0.06, 200, "ok"), ("haproxy-two", "client-2", 0.4, 1.0, 504, "504"),
            ("nginx-old", "client-1", 0.1, 0.06, 200, "ok"), ("nginx-old", "client-2", 0.4, 0.06, 200, "ok")]
    requests = pd.DataFrame(rows, columns=["scenario", "client", "start", "latency", "status", "outcome"])
    verdicts = pd.DataFrame({
        "scenario": ["haproxy-two", "nginx-one-worker"], "setup": ["HAProxy x2, default", "nginx x1, ..."],
        "expected": ["starved", "served"], "observed": ["starved", "mixed"], "match": ["yes", "NO"],
    })  # fmt: skip
    values = {"ran": ran, "check-tcp.slot_taken_at": 0.05, "check-tcp.slot_freed_at": 3.2,
              "check-http.slot_taken_at": 0.05, "check-http.slot_freed_at": 3.0}  # fmt: skip
    tables = {"health": health, "requests": requests, "verdicts": verdicts}
    return ExperimentResult("real-load-balancers", {}, TimeScale(1.0), 1.0, tables, [], values)


def test_health_timeline_describes_each_health_check_scenario_that_ran():
    fig, alt = lbfigures.health_timeline(_real_lb_result(["check-tcp", "check-http", "haproxy-two"]))
    assert len(fig.axes) == 2
    assert rendered((fig, alt)) == (
        "Two timelines of HAProxy health checks on a starved server. TCP health check: the slot was held from "
        "0.1 to 3.2 s; the state band is green (UP) throughout; probe requests: 2 504, 1 ok. option httpchk: "
        "the slot was held from 0.1 to 3.0 s; the state band is red (DOWN) for part of that window, then green "
        "again; probe requests: 1 503, 1 ok."
    )


def test_health_timeline_says_so_when_no_health_check_ran():
    fig, alt = lbfigures.health_timeline(_real_lb_result(["haproxy-two"]))
    assert len(fig.axes) == 1
    assert rendered((fig, alt)).endswith("No health-check scenario ran (HAProxy is not installed).")


def test_verdict_table_has_one_row_per_setup_expected_observed_and_match():
    table = lbfigures.verdict_table(_real_lb_result([]))
    assert table.index.name == "setup" and list(table.index) == ["HAProxy x2, default", "nginx x1, ..."]
    assert list(table.columns) == ["expected", "observed in this build", "match"]
    assert table.to_dict("list") == {"expected": ["starved", "served"], "observed in this build": ["starved", "mixed"],
                                     "match": ["yes", "NO"]}  # fmt: skip


def test_outcomes_figure_counts_outcomes_per_setup_of_the_groups_asked_for():
    result = _real_lb_result(["haproxy-two", "nginx-old", "check-tcp"])
    alt = rendered(lbfigures.outcomes_figure(result, groups=("haproxy", "nginx")))
    assert alt == (
        "Stacked bar chart of request outcomes by setup. HAProxy x2, default: 1 ok, 1 504; "
        "nginx x2, old default: 2 ok."
    )  # the health-check scenario is not in these groups


def test_outcomes_figure_is_an_explained_empty_figure_when_nothing_ran():
    alt = rendered(lbfigures.outcomes_figure(_real_lb_result([]), groups=("haproxy", "nginx")))
    assert alt == "An empty figure: no load-balancer scenario ran in this build, because none is installed."


# -- glue.py -------------------------------------------------------------------------------------


def test_a_figure_with_alt_renders_an_img_with_escaped_alt_text_and_closes_the_figure():
    fig, _ = plots.outcome_counts(_requests())
    shown = glue.FigureWithAlt(fig, 'LB2: 2 "timeouts" <b>& more</b>')
    assert not plt.fignum_exists(fig.number)
    assert shown.png.startswith(PNG_MAGIC) and shown._repr_png_() is shown.png
    html = shown._repr_html_()
    assert html.startswith('<img src="data:image/png;base64,')
    assert 'alt="LB2: 2 &quot;timeouts&quot; &lt;b>&amp; more&lt;/b>"' in html
    assert html.count('"') == 6  # src, alt and style: the quotes inside the alt text are escaped


def test_show_table_hides_the_index_rounds_and_keeps_preformatted_columns():
    frame = pd.DataFrame({"what": ["a", "b"], "value": [1.23456, None], "head": ["HTTP/1.1 200 OK\nDate: x", ""]})
    styler = glue.show_table(frame, caption="Measured", preformatted=("head",))
    assert isinstance(styler, Styler)
    html = styler.to_html()
    assert "<caption>Measured</caption>" in html
    assert "1.23" in html and "1.23456" not in html
    assert "–" in html and "nan" not in html  # a missing value is a dash
    assert "white-space: pre" in html and "font-family: monospace" in html
    assert 'class="row_heading' not in html  # no index column
    assert "<caption>" not in glue.show_table(frame).to_html()


def test_show_values_lists_what_was_measured_in_words():
    styler = glue.show_values({"wait_idle": 30.0, "read_timeout": 30})
    assert isinstance(styler, Styler)
    assert styler.data.to_dict("records") == [{"measured": "wait idle", "value": 30.0},
                                              {"measured": "read timeout", "value": 30}]  # fmt: skip


@pytest.fixture
def glued(monkeypatch):
    """Whatever the page would glue with myst_nb.glue: (name, value, display)."""
    pytest.importorskip("myst_nb")
    calls: list[tuple] = []
    monkeypatch.setattr("myst_nb.glue", lambda name, value, display=True: calls.append((name, value, display)))
    return calls


def test_glue_values_glues_each_value_under_its_prefixed_name(glued):
    glue.glue_values({"rate": 0.25, "count": 3}, prefix="sym_")
    assert glued == [("sym_rate", 0.25, False), ("sym_count", 3, False)]


def test_glue_figure_glues_the_figure_with_its_alt_text(glued):
    shown = glue.glue_figure("fig-x", plots.outcome_counts(_requests()))
    ((name, value, display),) = glued
    assert (name, value, display) == ("fig-x", shown, False)
    assert shown.alt.startswith("Stacked bar chart of request outcomes by node.")


def test_glue_table_glues_a_styled_table(glued):
    glue.glue_table("tbl", pd.DataFrame({"a": [1.0]}))
    ((name, value, _),) = glued
    assert name == "tbl" and isinstance(value, Styler)


def test_text_glues_as_itself_without_quotes():
    text = glue.Text("SetKeepAlivesEnabled(false)")
    assert repr(text) == "SetKeepAlivesEnabled(false)" and repr("x") == "'x'"
    assert text == "SetKeepAlivesEnabled(false)" and isinstance(text, str)


def _fake_experiment(name: str, held: bool = True):
    from keepalive_lab.experiments import Experiment

    def run(params, scale):
        return ExperimentResult(name, params, scale, 0.1, {}, [Claim("c", "It holds.", held, "measured")],
                                {"rate": 0.5})  # fmt: skip

    return Experiment(name, "A fake", dict, run, lambda p, s: 0.0)


@pytest.fixture
def fakes(monkeypatch):
    """Register fake experiments for the test: ``fakes("name", held=...)``."""
    from keepalive_lab.experiments import EXPERIMENTS

    def register(name: str, held: bool = True) -> None:
        monkeypatch.setitem(EXPERIMENTS, name, _fake_experiment(name, held))

    return register


def test_run_experiment_requires_every_claim_and_glues_values_and_parameters(glued, fakes):
    fakes("fake")
    result = glue.run_experiment("fake", SCALE, gap=5)
    assert result.params == {"gap": 5} and result.scale is SCALE
    assert glued == [("fake_rate", 0.5, False), ("fake_p_gap", 5, False)]


def test_run_experiment_glues_under_the_prefix_asked_for(glued, fakes):
    fakes("fake")
    glue.run_experiment("fake", SCALE, prefix="first_", gap=5)
    assert glued == [("first_rate", 0.5, False), ("first_p_gap", 5, False)]


def test_run_experiment_fails_the_page_when_a_claim_does_not_hold(glued, fakes):
    fakes("fake", held=False)
    with pytest.raises(AssertionError, match="fake: c: It holds. \\(measured: measured\\)"):
        glue.run_experiment("fake", SCALE)
    assert glued == []  # nothing from a failed run reaches the page


def test_run_experiments_returns_results_in_the_order_asked_each_under_its_prefix(glued, fakes):
    fakes("one")
    fakes("two")
    results = glue.run_experiments(SCALE, ("two", {"gap": 2}, "b_"), ("one", {}, "a_"))
    assert [r.name for r in results] == ["two", "one"]
    assert glued == [("b_rate", 0.5, False), ("b_p_gap", 2, False), ("a_rate", 0.5, False)]
