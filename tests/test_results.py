"""What experiments and probes return (lab/results.py): claims, require(), tables, JSON."""

from __future__ import annotations

import dataclasses
import enum
import json

import numpy as np
import pandas as pd
import pytest
from keepalive_lab.lab.results import Claim, ClaimFailed, ExperimentResult, ProbeResult
from keepalive_lab.lab.timescale import TimeScale


def _probe(*claims: Claim, values=None) -> ProbeResult:
    return ProbeResult("demo probe", dict(values or {}), list(claims))


HELD = Claim("fast", "Requests are fast.", True, "p99 0.2 s")
FAILED = Claim("queued", "The queue held a connection.", False, "Recv-Q 0")
ALSO_FAILED = Claim("ghost", "The server ran it later.", False, "never ran")


@dataclasses.dataclass(frozen=True)
class _Params:
    gap: float = 5.0
    limit: int = 1


def _experiment(values=None, tables=None, params=_Params()) -> ExperimentResult:
    return ExperimentResult("demo", params, TimeScale(20), 1.23456, tables or {}, [HELD], values or {})


# -- Claim and require() -------------------------------------------------------------------------


def test_a_claim_cannot_be_changed_after_the_run():
    with pytest.raises(dataclasses.FrozenInstanceError):
        HELD.held = False  # type: ignore[misc]


def test_require_passes_when_every_claim_held():
    probe = _probe(HELD, Claim("other", "Another.", True, "yes"))
    probe.require()
    assert probe.all_held


def test_require_names_each_failed_claim_with_its_text_and_evidence():
    probe = _probe(HELD, FAILED, ALSO_FAILED)
    with pytest.raises(ClaimFailed) as caught:
        probe.require()
    message = str(caught.value)
    assert message.startswith("demo probe: ")
    assert "queued: The queue held a connection. (measured: Recv-Q 0)" in message
    assert "ghost: The server ran it later. (measured: never ran)" in message
    assert "fast" not in message  # a claim that held is not blamed
    assert not probe.all_held


def test_a_failed_claim_is_an_assertion_error_so_pytest_and_the_book_report_it():
    with pytest.raises(AssertionError):
        _probe(FAILED).require()


def test_require_with_names_checks_only_those_claims():
    probe = _probe(HELD, FAILED)
    probe.require("fast")  # the failed claim is not among those asked for
    with pytest.raises(ClaimFailed, match="queued") as caught:
        probe.require("fast", "queued")
    assert "fast" not in str(caught.value)


def test_require_of_an_unknown_claim_lists_the_claims_there_are():
    with pytest.raises(KeyError, match=r"demo probe has no claim 'nope'; it has \['fast', 'queued'\]"):
        _probe(HELD, FAILED).require("nope")


def test_claim_finds_a_claim_by_name():
    assert _probe(HELD, FAILED).claim("queued") is FAILED


def test_a_result_with_no_claims_requires_nothing():
    probe = _probe()
    probe.require()
    assert probe.all_held


# -- claims_table --------------------------------------------------------------------------------


def test_the_claims_table_shows_each_claim_its_verdict_and_evidence():
    table = _probe(HELD, FAILED).claims_table()
    assert list(table.columns) == ["claim", "held", "measured"]
    assert table.to_dict("records") == [
        {"claim": "Requests are fast.", "held": "yes", "measured": "p99 0.2 s"},
        {"claim": "The queue held a connection.", "held": "NO", "measured": "Recv-Q 0"},
    ]


# -- values: plain Python numbers ----------------------------------------------------------------


def test_probe_values_become_plain_python_numbers():
    probe = _probe(values={"f": np.float64(1.5), "i": np.int64(3), "b": np.bool_(True), "s": "text", "n": None})
    assert probe.values == {"f": 1.5, "i": 3, "b": True, "s": "text", "n": None}
    assert [type(probe.values[k]) for k in ("f", "i", "b")] == [float, int, bool]
    assert f"{probe.values['f']}" == "1.5"  # glued into prose: not "np.float64(1.5)"


def test_a_probe_keeps_its_table():
    table = pd.DataFrame({"a": [1]})
    probe = ProbeResult("p", {}, [HELD], table)
    assert probe.table is table
    assert _probe(HELD).table is None


# -- ExperimentResult ----------------------------------------------------------------------------


def test_experiment_values_become_plain_python_numbers():
    result = _experiment(values={"rate": np.float64(0.25), "count": np.int64(4)})
    assert result.values == {"rate": 0.25, "count": 4}
    assert type(result.values["count"]) is int


class _Mode(enum.StrEnum):
    OPEN = "open-loop"


def test_params_dict_gives_an_enum_parameter_as_its_string():
    result = _experiment(params={"mode": _Mode.OPEN, "gap": 5.0})
    assert result.params_dict() == {"mode": "open-loop", "gap": 5.0}
    assert type(result.params_dict()["mode"]) is str
    assert json.loads(json.dumps(result.to_json()))["params"] == {"mode": "open-loop", "gap": 5.0}


def test_params_dict_reads_a_dataclass_a_dict_or_nothing():
    assert _experiment(params=_Params()).params_dict() == {"gap": 5.0, "limit": 1}
    assert _experiment(params={"parallel": 4}).params_dict() == {"parallel": 4}
    assert _experiment(params=None).params_dict() == {}


def test_to_json_is_serialisable_with_numpy_scalars_anywhere():
    requests = pd.DataFrame({"request_id": ["a", "b"], "latency": [0.1234567891, 2.0],
                             "status": np.array([200, 504], dtype=np.int64), "ok": [True, False]})  # fmt: skip
    tables = {"requests": requests}
    values = {
        "p50": np.float64(0.1234567891),
        "nested": {"n": np.int64(7), "xs": [np.float64(1.0), np.int32(2)], 3: "int key"},
        "pair": (np.int64(1), 2.5),
    }
    result = _experiment(values=values, tables=tables)
    data = json.loads(json.dumps(result.to_json()))
    assert data["experiment"] == "demo"
    assert data["scale_factor"] == 20.0 and data["wall_seconds"] == 1.235
    assert data["params"] == {"gap": 5.0, "limit": 1}
    assert data["claims"] == [{"name": "fast", "text": "Requests are fast.", "held": True, "evidence": "p99 0.2 s"}]
    assert data["values"] == {"p50": 0.123457, "nested": {"n": 7, "xs": [1.0, 2], "3": "int key"}, "pair": [1, 2.5]}
    assert data["tables"]["requests"] == [
        {"request_id": "a", "latency": 0.123457, "status": 200, "ok": True},
        {"request_id": "b", "latency": 2.0, "status": 504, "ok": False},
    ]


def test_to_json_of_a_result_without_tables_or_values():
    data = _experiment().to_json()
    assert data["tables"] == {} and data["values"] == {}
    json.dumps(data)
