"""The server zoo: a consistent catalogue, configurations that stay on loopback, servers that always stop,
and (slow) every installed server getting the verdict its documentation predicts.

The live tests need the servers' packages (``make install``, ``sudo tools/system_packages.sh``); each
server whose package is missing skips and says which. They probe with :mod:`keepalive_lab.probe`, and
skip with a reason when it is not importable.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
from keepalive_lab.reallb.process import WORKSPACE_PREFIX, group_members
from keepalive_lab.zoo import configs, launch, recording
from keepalive_lab.zoo.servers import FAMILIES, SERVERS, VERDICTS, ZooTimes, server

KINDS = {"go", "lab", "uvicorn", "gunicorn", "apache", "nginx", "haproxy", "node"}
TIMES = ZooTimes()


def _probe_module():
    try:
        import keepalive_lab.probe as probe
    except ImportError as exc:
        pytest.skip(f"keepalive_lab.probe is not importable yet ({exc}): the live zoo tests need its check()")
    return probe


def _nothing_left(pids: list[int], folder: Path | None = None) -> None:
    alive = {pid: group_members(pid) for pid in pids}
    assert not any(alive.values()), f"processes left in the servers' process groups: {alive}"
    if folder is not None:
        assert not folder.exists(), f"workspace left behind: {folder}"


def _nothing_on_port_80() -> None:
    listed = subprocess.run(["ss", "-Hltn", "sport = :80"], capture_output=True, text=True).stdout
    assert listed.strip() == "", f"something listens on port 80:\n{listed}"


# -- the catalogue -----------------------------------------------------------------------------------


def test_every_server_has_an_expected_verdict_a_reason_and_a_source():
    keys = [s.key for s in SERVERS]
    assert len(keys) == len(set(keys)), "duplicate keys"
    for s in SERVERS:
        assert s.expected in VERDICTS, s.key
        assert s.family in FAMILIES, s.key
        assert s.kind in KINDS, s.key
        assert len(s.why) > 40 and s.why.endswith("."), f"{s.key}: the reason should be a sentence"
        assert re.match(r"https://[\w.-]+\.\w+/", s.source), f"{s.key}: the source should be a link"
        for text in (s.settings, s.counts, s.at_limit, s.idle_closer, s.name):
            assert text.strip(), s.key
        if s.expected_idle is not None:
            assert 0 <= s.expected_idle < TIMES.max_idle, f"{s.key}: the probe could not see {s.expected_idle}"


def test_every_family_has_a_row_with_the_packages_defaults_and_one_with_a_limit():
    for family in FAMILIES:
        rows = [s for s in SERVERS if s.family == family]
        assert any(s.defaults for s in rows), f"{family}: no row with the package's defaults"
        assert any(not s.defaults for s in rows), f"{family}: no row with a limit"


def test_idle_timeouts_are_set_longer_than_the_probe_waits_wherever_they_can_be():
    for s in SERVERS:
        described = s.describe(TIMES)
        assert "{" not in described, s.key
        if not s.defaults and s.kind != "go":  # the Go programs' idle timeout is fixed: 30 s
            assert str(TIMES.idle) in described, f"{s.key}: its idle timeout is not set: {described}"
    with pytest.raises(ValueError):
        ZooTimes(timeout=10.0, idle=20)  # an idle timeout the probe could outwait would hide the pitfall


def test_variants_change_only_known_options():
    variant = server("uvicorn-limit-2").with_options(limit=3)
    assert variant.options["limit"] == 3 and server("uvicorn-limit-2").options["limit"] == 2
    with pytest.raises(KeyError):
        server("uvicorn-limit-2").with_options(workers=2)
    with pytest.raises(KeyError):
        server("no-such-server")


def test_configurations_bind_loopback_only_and_stay_in_their_folder(tmp_path):
    texts = [
        configs.apache(mpm="prefork", port=8080, folder=tmp_path, idle=20, as_root=True),
        configs.apache(mpm="event", port=8080, folder=tmp_path, idle=None, as_root=False, async_factor=4),
        configs.nginx(port=8080, folder=tmp_path, idle=20, limit_conn=1, worker_connections=4),
        configs.haproxy(port=8080, backend_port=8081, folder=tmp_path, idle=20, frontend_maxconn=1, server_maxconn=0),
    ]
    for text in texts:
        assert "/etc/" not in text
        listens = re.findall(r"(?:Listen|listen|bind|server \w+)\s+([\d.]+):\d+", text)
        assert listens and set(listens) == {"127.0.0.1"}, listens
        for path in re.findall(r"(?<![<\w])(/[\w/.-]+)", text):  # not </Directory>
            if not path.startswith(("/usr/lib/apache2/modules", "/proc/self/fd/2")):
                assert path.startswith(str(tmp_path)), path
    assert "AsyncRequestWorkerFactor 4" in texts[1] and "KeepAlive" not in texts[1]
    assert "limit_conn one_at_a_time 1;" in texts[2] and "return 200" not in texts[2]
    with pytest.raises(ValueError):
        configs.apache(mpm="prefork", port=1, folder=tmp_path, idle=1, as_root=False, async_factor=2)


# -- starting and stopping -------------------------------------------------------------------------


def _installed(key: str):
    s = server(key)
    missing = launch.availability(s)
    if missing:
        pytest.skip(f"{key} needs {missing}")
    return s


@pytest.mark.parametrize("key", ["lab-limit", "apache-prefork", "haproxy-frontend-maxconn"])
def test_a_launched_server_answers_and_leaves_nothing_behind(key):
    s = _installed(key)
    with launch.launch(s, TIMES) as running:
        pids, folder = running.pids, running.folder
        assert pids and all(group_members(pid) for pid in pids)
        assert folder.name.startswith(WORKSPACE_PREFIX) and folder.exists()
        assert launch._answers(running.port, time.monotonic() + 5.0)
    _nothing_left(pids, folder)
    _nothing_on_port_80()


def test_a_failure_inside_the_block_still_stops_everything():
    s = _installed("apache-prefork")
    pids, folder = [], None
    with pytest.raises(RuntimeError, match="the test fails here"):
        with launch.launch(s, TIMES) as running:
            pids, folder = running.pids, running.folder
            # Apache's child, which serves, is in the same process group as the parent the lab started.
            assert len(group_members(pids[0])) >= 2
            raise RuntimeError("the test fails here")
    _nothing_left(pids, folder)


def test_a_server_that_cannot_start_is_reported_and_stopped(monkeypatch):
    started = []

    class Recorded(launch.LBProcess):
        def start(self):
            started.append(self)
            return super().start()

    monkeypatch.setattr(launch, "LBProcess", Recorded)
    s = server("lab-limit").with_options(limit=-1)  # the lab server refuses a negative limit and exits
    with pytest.raises(launch.ZooStartError, match="exited"):
        with launch.launch(s, TIMES):
            pytest.fail("the block must not run")
    assert started, "nothing was started"
    _nothing_left([p.pid for p in started])


@pytest.mark.slow  # builds the Go programs
def test_versions_are_read_from_the_installed_packages():
    for s in SERVERS:
        if launch.availability(s) is None:
            assert launch.version(s), f"{s.key}: no version"
        else:
            assert launch.version(s) == "", f"{s.key}: a version for something missing"


# -- the recording -----------------------------------------------------------------------------------


def test_the_recording_has_every_server_with_its_version_date_and_expected_verdict():
    data = recording.load()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", data["recorded_on"])
    assert set(data["servers"]) == {s.key for s in SERVERS}, "record again: python -m keepalive_lab.zoo.recording"
    for s in SERVERS:
        entry = data["servers"][s.key]
        assert entry["version"], s.key
        assert entry["verdict"] == s.expected, s.key
        if s.expected_idle is not None:
            assert entry["most_idle"] == s.expected_idle, s.key
        assert entry["steps"], s.key


def test_a_missing_package_shows_the_recording_labelled_as_one(monkeypatch):
    _probe_module()
    from keepalive_lab.bookkit import zoofigures
    from keepalive_lab.zoo import runner

    chosen = [server("apache-event"), server("node-maxconnections")]
    monkeypatch.setattr(launch, "availability", lambda s: "Debian's apache2 (a test pretends it is missing)")
    run = runner.run(servers=chosen)
    assert [r.status for r in run.rows] == ["recorded", "recorded"]
    row = run.row("apache-event")
    assert row.recorded_on == recording.load()["recorded_on"] and row.version.startswith("Apache/")
    assert row.verdict == "starves" and row.matched
    run.confirm()
    table = run.table()
    assert table["result"].str.startswith("RECORDED").all()
    assert "RECORDINGS" in zoofigures.status_sentence(run)
    _, alt = zoofigures.family_timeline(run, "Apache httpd")
    assert "recorded" in alt and len(alt) > 80


def test_recording_refuses_a_run_that_did_not_measure_everything(monkeypatch, tmp_path):
    _probe_module()
    from keepalive_lab.zoo import runner

    monkeypatch.setattr(launch, "availability", lambda s: "a package (pretend)")
    run = runner.run(servers=[server("nginx-defaults")])
    with pytest.raises(ValueError, match="not measured"):
        recording.save(run, tmp_path / "zoo.json")
    assert not (tmp_path / "zoo.json").exists()


# -- live: every installed server, probed -------------------------------------------------------------


@pytest.fixture(scope="module")
def live():
    _probe_module()
    from keepalive_lab.zoo import runner

    runnable = [s for s in SERVERS if launch.availability(s) is None]
    if not runnable:
        pytest.skip("no zoo server is installed here")
    run = runner.run(servers=runnable, times=TIMES)
    yield run
    pids = [pid for r in run.rows for pid in r.pids]
    _nothing_left(pids)
    _nothing_on_port_80()


@pytest.mark.slow
@pytest.mark.parametrize("s", SERVERS, ids=[s.key for s in SERVERS])
def test_each_installed_server_gets_its_expected_verdict(s, live):
    missing = launch.availability(s)
    if missing:
        pytest.skip(f"{s.key} is not installed here: missing {missing}")
    row = live.row(s.key)
    assert row.status == "measured", row.evidence
    assert row.verdict == s.expected, f"{s.key}: expected {s.expected}, got {row.verdict}; steps {row.steps}"
    if s.expected_idle is not None:
        assert row.most_idle == s.expected_idle, f"{s.key}: idle {row.most_idle}; steps {row.steps}"
    assert row.version, s.key


@pytest.mark.slow
def test_the_live_run_leaves_no_process_folder_or_port_80(live):
    pids = [pid for r in live.rows for pid in r.pids]
    assert pids, "no process was recorded"
    _nothing_left(pids)
    left = [p for p in Path("/tmp").glob(WORKSPACE_PREFIX + "*") if (p / "owner.pid").exists()
            and (p / "owner.pid").read_text().strip() == str(os.getpid())]  # fmt: skip
    assert not left, left
    _nothing_on_port_80()


@pytest.mark.slow
def test_the_run_is_json_serialisable_for_the_recording(live):
    assert len(json.loads(json.dumps(live.to_dict()))["rows"]) == len(live.rows)
