"""The time-scale validation of the appendix: its recording, its grouping and its figure."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from keepalive_lab.bookkit import scalecheck
from keepalive_lab.experiments import EXPERIMENTS
from keepalive_lab.lab.timescale import ARTICLE


def test_the_recording_holds_the_slow_factors_with_every_claim_held():
    data = json.loads(scalecheck.RECORDING.read_text())
    rows = pd.DataFrame(data["rows"])
    assert sorted(rows["factor"].unique()) == list(scalecheck.RECORDED_FACTORS)
    assert rows["claims held"].all()
    assert set(rows["LB1 gap (s)"]) == set(EXPERIMENTS["race"].params().gaps)


def _table() -> pd.DataFrame:
    rows = [
        {"factor": f, "LB1 gap (s)": g, "LB2 status": 504 if g < 30 else 200,
         "LB2 waited (s)": 60.1 if g < 30 else 25.5 + f / 100, "claims held": True, "source": s}
        for f, s in ((1.0, "recorded"), (20.0, "live")) for g in (5.0, 45.0)
    ]  # fmt: skip
    return pd.DataFrame(rows)


def test_grouping_keeps_one_row_per_side_and_factor():
    grouped = scalecheck._group(_table(), ARTICLE.read_timeout)
    assert len(grouped) == 4
    longer = grouped[grouped["side"] == "longer"].set_index("factor")["LB2 waited (s)"]
    assert longer[20.0] == pytest.approx(25.7)


def test_the_figure_says_what_it_shows():
    fig, alt = scalecheck.scale_figure(_table(), ARTICLE.read_timeout, ARTICLE.lb_idle_timeout)
    assert "x1 to x20" in alt and "504" in alt and "25.5 to 25.7" in alt
    assert fig.axes[0].get_xscale() == "log"


@pytest.mark.slow
def test_the_fastest_live_factor_reaches_both_verdicts():
    # x80 is recorded, not live: its margin (62 ms of lab time) is too thin for a busy machine.
    rows = pd.DataFrame(scalecheck.measure(max(scalecheck.LIVE_FACTORS)))
    assert rows["claims held"].all()
    assert set(rows["LB2 status"]) == {200, 504}
