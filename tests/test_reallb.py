"""Real HAProxy and nginx in front of the lab server: each scenario's verdict, and nothing left behind.

The scenario tests need Debian's haproxy and nginx (``make lbs``); without them they skip and say
so. The log-parsing and config tests need nothing.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd
import pytest
from keepalive_lab.reallb import catalogue, health, lifetimes, rig as rig_module, runner, trials, verdicts
from keepalive_lab.reallb.config import HAPROXY_FORMAT, HAProxySpec, NginxSpec, render
from keepalive_lab.reallb.logs import balancer_records, haproxy_line, nginx_line
from keepalive_lab.reallb.process import WORKSPACE_PREFIX, LBStartError, find_binary, group_members
from keepalive_lab.reallb.rig import RealRig
from keepalive_lab.reallb.times import ARTICLE_TIMERS, RealLBTimes

HAVE = {kind: find_binary(kind) is not None for kind in ("haproxy", "nginx")}
NEED = {kind: pytest.mark.skipif(not HAVE[kind], reason=f"{kind} is not installed (run `make lbs` as root)")
        for kind in HAVE}  # fmt: skip


def _skip_reason(sc) -> str | None:
    missing = [k for k in sc.kinds if not HAVE[k]]
    return f"{' and '.join(missing)} not installed (run `make lbs` as root)" if missing else None


def _group_alive(pid: int) -> bool:
    """Whether a live process is left in the process group that ``pid`` led (pgrep; zombies don't count)."""
    listed = subprocess.run(["pgrep", "-g", str(pid)], capture_output=True, text=True).stdout.split()
    return bool(set(map(int, listed)) & set(group_members(pid)))


def _ours_running() -> str:
    """Load-balancer processes whose command line names a lab workspace."""
    done = subprocess.run(["pgrep", "-af", WORKSPACE_PREFIX], capture_output=True, text=True)
    return "\n".join(line for line in done.stdout.splitlines() if "pgrep" not in line)


def _assert_nothing_left(pids: list[int], folders: list[str]) -> None:
    alive = [pid for pid in pids if _group_alive(pid)]
    assert not alive, f"load-balancer process groups still alive: {alive}"
    assert _ours_running() == "", f"lab load balancers still running:\n{_ours_running()}"
    left = [f for f in folders if f and Path(f).exists()]
    assert not left, f"workspaces left behind: {left}"


@pytest.fixture(scope="module")
def result():
    runnable = [sc for sc in catalogue.SCENARIOS if _skip_reason(sc) is None]
    if not runnable:
        pytest.skip("neither haproxy nor nginx is installed (run `make lbs` as root)")
    return runner.run(runnable, parallel=4)


# -- live scenarios ------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("sc", catalogue.SCENARIOS, ids=[sc.key for sc in catalogue.SCENARIOS])
def test_scenario_verdict(sc, result):
    reason = _skip_reason(sc)
    if reason:
        pytest.skip(reason)
    row = result.tables["verdicts"].set_index("scenario").loc[sc.key]
    output = result.values["output"].get(sc.key, {})
    assert row["observed"] == sc.expected, (
        f"{sc.title}: expected {sc.expected}, observed {row['observed']}\n{row['evidence']}\n"
        + "\n".join(f"--- {node}\n{text[-1500:]}" for node, text in output.items())
    )


@pytest.mark.slow
@pytest.mark.parametrize("sc", catalogue.SCENARIOS, ids=[sc.key for sc in catalogue.SCENARIOS])
def test_scenario_claims_held(sc, result):
    # Each extra claim a scenario names was checked in its run, and held.
    if _skip_reason(sc):
        pytest.skip(_skip_reason(sc))
    mine = {c.name: c for c in result.claims if c.name.split(":")[0] == sc.key}
    for name in ("verdict", *sc.extras):
        claim = mine.get(f"{sc.key}:{name}")
        assert claim is not None, f"{sc.key}: no claim {name!r} was checked"
        assert claim.held, f"{claim.name}: {claim.evidence}"


@pytest.mark.slow
def test_every_claim_held(result):
    failed = [f"{c.name}: {c.evidence}" for c in result.claims if not c.held]
    assert not failed, "\n".join(failed)


@pytest.mark.slow
def test_records_have_the_model_columns(result):
    requests = result.tables["requests"]
    for column in ("request_id", "client", "node", "start", "end", "outcome", "status", "detail", "latency"):
        assert column in requests
    assert set(requests["node"]) <= {name for sc in catalogue.SCENARIOS for name in sc.nodes}
    lb = result.tables["lb"]
    assert {"node", "request_id", "upstream_conn", "reused", "start", "end", "status", "detail"} <= set(lb.columns)
    # Every answered request appears in its load balancer's own log, with the same status.
    answered = requests[requests["status"] > 0]
    merged = answered.merge(lb, on=["scenario", "node", "request_id"], suffixes=("", "_lb"))
    assert len(merged) == len(answered)
    assert (merged["status"] == merged["status_lb"]).all()


@pytest.mark.slow
def test_no_process_or_folder_survives_the_runs(result):
    pids = [pid for trial_pids in result.values.get("pids", {}).values() for pid in trial_pids]
    folders = list(result.values.get("folders", {}).values())
    assert pids, "the run recorded no load-balancer process"
    _assert_nothing_left(pids, folders)


@NEED["haproxy"]
def test_a_failing_run_leaves_nothing_behind():
    rig = RealRig([("haproxy-1", HAProxySpec()), ("haproxy-2", HAProxySpec())])
    with pytest.raises(RuntimeError, match="boom"):
        with rig:
            assert all(_group_alive(pid) for pid in rig.started_pids)
            raise RuntimeError("boom")
    _assert_nothing_left(rig.started_pids, [str(rig.folder)])


@NEED["nginx"]
def test_an_interrupted_run_leaves_nothing_behind():
    rig = RealRig([("nginx-1", NginxSpec(keepalive=8, workers=2))])
    with pytest.raises(KeyboardInterrupt):
        with rig:
            http = rig.new_client()
            assert rig.send(http, "c", "nginx-1", "c-0") == "ok"
            raise KeyboardInterrupt
    _assert_nothing_left(rig.started_pids, [str(rig.folder)])


_KILLED_CHILD = """
import sys, threading
from keepalive_lab.reallb.config import HAProxySpec, NginxSpec
from keepalive_lab.reallb.rig import RealRig
specs = [(n, HAProxySpec() if n.startswith("haproxy") else NginxSpec(keepalive=8, workers=2)) for n in sys.argv[1:]]
with RealRig(specs) as rig:
    print(rig.folder, *rig.started_pids, flush=True)
    threading.Event().wait(60)
"""


@NEED["haproxy"]
@NEED["nginx"]
def test_a_killed_lab_process_leaves_nothing_running(tmp_path):
    # SIGKILL gives the lab no chance to clean up: the kernel stops the load balancers
    # (parent-death signal), and the next workspace removes the orphaned folder.
    import os
    import signal
    import sys
    import time

    from keepalive_lab.reallb.process import workspace

    child = subprocess.Popen([sys.executable, "-c", _KILLED_CHILD, "haproxy-1", "nginx-1"], stdout=subprocess.PIPE,
                             text=True)  # fmt: skip
    try:
        folder, *pids = child.stdout.readline().split()
        assert pids and all(_group_alive(int(pid)) for pid in pids)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        child.stdout.close()
    deadline = time.monotonic() + 5
    while any(_group_alive(int(pid)) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)  # the kernel delivers the signal at once; the processes need a moment to exit
    assert not [pid for pid in pids if _group_alive(int(pid))]
    with workspace():
        pass
    assert not os.path.exists(folder), "the orphaned workspace was not removed"


@NEED["haproxy"]
def test_a_load_balancer_that_fails_to_start_leaves_nothing_behind(monkeypatch):
    monkeypatch.setattr(rig_module, "render", lambda *a, **k: "this is not a configuration\n")
    rig = RealRig([("haproxy-1", HAProxySpec())])
    with pytest.raises(LBStartError, match="haproxy-1 exited"):
        with rig:
            pass
    _assert_nothing_left(rig.started_pids, [str(rig.folder)])


def test_missing_binaries_give_skipped_scenarios(monkeypatch):
    monkeypatch.setattr(trials, "find_binary", lambda kind: None)
    monkeypatch.setattr(runner, "find_binary", lambda kind: None)
    r = runner.run(["haproxy-two", "nginx-old"], parallel=2)
    assert list(r.tables["verdicts"]["match"]) == ["skipped", "skipped"]
    assert "derived" not in r.tables["verdicts"]  # every expected verdict is measured live
    assert r.claims == [] and r.values["ran"] == []
    assert r.tables["requests"].empty
    r.require()  # nothing ran, so nothing is claimed


# -- configs and logs (no binaries needed) ---------------------------------------------------


def test_configs_use_loopback_and_the_run_folder(tmp_path):
    specs = (HAProxySpec(), HAProxySpec(reuse="always", check="http"), HAProxySpec(maxconn=1), NginxSpec(),
             NginxSpec(keepalive=8))  # fmt: skip
    for spec in specs:
        text = _render(spec, tmp_path)
        assert "127.0.0.1:40001" in text and "127.0.0.1:40002" in text
        assert "0.0.0.0" not in text and "/var/" not in text and "/run/" not in text
        for line in text.splitlines():
            for word in line.replace(";", " ").split():
                if word.startswith("/") and word not in ("/", "/lab-worker"):  # URL paths, not files
                    assert word.startswith(str(tmp_path)), line


def _render(spec, folder: Path, times: RealLBTimes = RealLBTimes()) -> str:
    return render(spec, node="lb-1", listen_port=40001, server_port=40002, folder=folder, times=times)


def _server_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("server lab ")]


def test_haproxy_server_maxconn_is_on_the_server_line(tmp_path):
    assert _server_lines(_render(HAProxySpec(), tmp_path)) == ["server lab 127.0.0.1:40002"]
    assert _server_lines(_render(HAProxySpec(maxconn=1), tmp_path)) == ["server lab 127.0.0.1:40002 maxconn 1"]
    (line,) = _server_lines(_render(HAProxySpec(maxconn=1, check="tcp"), tmp_path))
    assert line.startswith("server lab 127.0.0.1:40002 maxconn 1 check inter ")
    assert "server maxconn 1" in HAProxySpec(maxconn=1).describe()


def test_the_article_timers_reach_the_server_and_the_configs(tmp_path):
    # Scenarios that set their own timers run at them; RealLBTimes carries them (it allows up to 3600 s).
    timed = [sc for sc in catalogue.SCENARIOS if sc.timers]
    assert {sc.key for sc in timed} == {"haproxy-article-timers", "nginx-article-timers"}
    assert {sc.group for sc in timed} == {"timers"} and "timers" in catalogue.GROUPS
    for sc in timed:
        t = sc.times(RealLBTimes())
        assert (t.read_timeout, t.lb_timeout) == (30.0, 60.0) and t.client_timeout > t.lb_timeout
        assert sc.server(t).read_timeout == 30.0
        text = "".join(_render(spec, tmp_path, t) for _, spec in sc.lbs)
        assert ("timeout server 60s" in text) if sc.kinds == ["haproxy"] else ("proxy_read_timeout 60s" in text)
    assert catalogue.scenario("haproxy-two").times(RealLBTimes()) == RealLBTimes()
    assert RealLBTimes(**dict(ARTICLE_TIMERS)).read_timeout == 30.0
    with pytest.raises(ValueError):
        RealLBTimes(read_timeout=3601)


@pytest.mark.parametrize("sc", catalogue.SCENARIOS, ids=[sc.key for sc in catalogue.SCENARIOS])
def test_each_extra_claim_is_known_to_its_judge(sc):
    judges = {"health": health.EXTRAS, "idle": lifetimes.EXTRAS}
    assert set(sc.extras) <= set(judges.get(sc.pattern, verdicts.EXTRAS)), sc.extras
    assert sc.group in catalogue.GROUPS
    assert not hasattr(sc, "derived")


def test_queue_accounting_finds_a_connection_no_request_explains():
    # Two logged server connections; the queue samples once hold a third connection that no log names
    # (what a health check that completed its handshake would leave), and the server accepts it later.
    timing = pd.DataFrame({"upstream_conn": ["127.0.0.1:1", "127.0.0.1:2"], "start": [0.1, 1.0]})
    states = pd.DataFrame({"remote_addr": ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"], "state": ["new"] * 3,
                           "at": [0.1, 3.0, 3.1]})  # fmt: skip
    explained = pd.DataFrame({"at": [0.5, 1.5, 2.5], "length": [0, 1, 1]})
    tables = {"states": states.iloc[:2], "lb_timing": timing, "queue": explained}
    acc = health.queue_accounting(tables, 0.2, 3.0)
    assert acc["excess"] == 0 and acc["unlogged"] == [] and acc["queue_max"] == 1
    tables = {"states": states, "lb_timing": timing, "queue": explained.assign(length=[1, 2, 2])}
    acc = health.queue_accounting(tables, 0.2, 3.0)
    assert acc["excess"] == 1 and acc["unlogged"] == ["127.0.0.1:3"]


@NEED["haproxy"]
def test_haproxy_accepts_the_generated_configs(tmp_path):
    for spec in (HAProxySpec(), HAProxySpec(reuse="always"), HAProxySpec(server_close=True),
                 HAProxySpec(check="tcp"), HAProxySpec(check="http"), HAProxySpec(maxconn=1, check="tcp")):  # fmt: skip
        config = tmp_path / "h.cfg"
        config.write_text(_render(spec, tmp_path))
        argv = [find_binary("haproxy"), "-c", "-f", str(config)]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        assert done.returncode == 0, done.stdout + done.stderr


@NEED["nginx"]
def test_nginx_accepts_the_generated_configs(tmp_path):
    for spec in (NginxSpec(), NginxSpec(keepalive=8, workers=2)):
        config = tmp_path / "nginx.conf"
        config.write_text(_render(spec, tmp_path))
        argv = [find_binary("nginx"), "-t", "-p", f"{tmp_path}/", "-c", str(config), "-e", "stderr"]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        assert done.returncode == 0, done.stdout + done.stderr


def test_haproxy_log_lines_become_balancer_records():
    assert HAPROXY_FORMAT.startswith("lab ")
    texts = [
        "lab id=c-0 st=200 tc=0 tr=52 ta=53 bi=127.0.0.1 bp=50424 term=---- at=1000500 thr=0",
        "lab id=c-1 st=200 tc=0 tr=51 ta=51 bi=127.0.0.1 bp=50424 term=---- at=1000600 thr=0",
        "lab id=c-2 st=504 tc=0 tr=-1 ta=1001 bi=127.0.0.1 bp=50428 term=sH-- at=1002000 thr=0",
        "Server lab_back/lab is DOWN, reason: Layer7 timeout",
    ]
    lines = [haproxy_line("haproxy-2", text, -900.0) for text in texts]
    assert lines[3] is None
    records = balancer_records([x for x in lines if x is not None])
    first, second, starved = records
    assert (first.request_id, first.status, first.upstream_conn) == ("c-0", 200, "127.0.0.1:50424")
    assert not first.reused
    assert second.reused and not starved.reused
    assert starved.status == 504 and starved.end == pytest.approx(102.0) and starved.start == pytest.approx(100.999)
    assert "termination sH--" in starved.detail and "response headers none" in starved.detail


def test_nginx_log_lines_become_balancer_records():
    text = "lab id=c-2 st=504 rt=1.001 uct=0.000 uht=- ust=504 msec=1000.500 worker=4242 conn=3"
    line = nginx_line("nginx-2", text, -900.0)
    assert line is not None
    assert (line.request_id, line.status, line.worker) == ("c-2", 504, "4242")
    assert (line.connect_ms, line.response_ms) == (0.0, None)
    assert line.end == pytest.approx(100.5) and line.start == pytest.approx(99.499)
    (record,) = balancer_records([line])
    assert record.upstream_conn == "" and "worker 4242" in record.detail
    assert nginx_line("nginx-2", "2026/01/01 [error] upstream timed out", 0.0) is None
