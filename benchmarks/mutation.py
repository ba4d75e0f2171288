"""Mutation testing of ``goserver/`` with mutmut: prints figures, asserts nothing (not a CI gate).

mutmut changes one thing at a time in ``code/keepalive_lab/goserver/`` (a ``<`` into ``<=``, a
``not`` dropped, a string changed...) and runs the tests that call the changed function. A mutant
the tests notice is *killed*; one they do not notice *survived*: either the change makes no
difference (an equivalent mutant), or a rule of Go's server is not pinned by any test. The
survivors are listed by file, each with the change it makes, for a person to judge against Go's
source (net/http server.go and transfer.go, x/net netutil/listen.go).

Set-up, from a fresh clone::

    make install
    .venv/bin/python -m pip install -c constraints.txt -e '.[mutation]'

Run::

    .venv/bin/python benchmarks/mutation.py [--minutes 30] [--jobs 2] [--scratch DIR]
    .venv/bin/python benchmarks/mutation.py --report DIR   # the results of a run kept with --scratch

``--minutes`` boxes the whole run (copying, mutant generation, mutmut's first test runs and the
mutants): once the box is over no mutant is started, the ones running are let finish (up to three
more minutes, then stopped), and those never run are reported as *untested*. ``--jobs`` is how
many mutants run at once (default 2: the tests mostly wait on sockets and timers). The whole run
of every mutant takes about an hour on a 2-core machine.

How it works. mutmut 3 copies the project into ``mutants/``, names each mutant after its file's
path, and only knows the ``./`` and ``src/`` layouts; ours is ``code/``. So the script copies
``pyproject.toml``, ``code/keepalive_lab/`` (as ``src/keepalive_lab/``), ``tests/`` and ``data/``
into a scratch folder outside the work tree, runs mutmut there with the ``[tool.mutmut]`` settings
of ``pyproject.toml`` (whose paths are the scratch copy's), prints the results, and deletes the
folder (``--scratch DIR`` keeps it, for ``mutmut show NAME`` or ``mutmut browse`` run in it). The
work tree is never written to. mutmut runs in its own process group, which is checked to be empty
before the script returns.

The box is kept by wrapping mutmut's runner: after the deadline its ``submit`` no longer starts
a mutant. This uses mutmut's internals (``mutmut.__main__.get_mutant_runner`` and the
``mutants/*.meta`` files), hence the narrow version range in the ``mutation`` extra.

Tests used. Only the in-process ones, and not those marked ``slow`` (whole experiments, seconds
each, that would be run again for most mutants). Left out, because they start the server (or
another program that imports the package) as a subprocess, which imports the unmutated package
from the work tree and cannot see a mutant:

* tests/test_cli.py (``python -m keepalive_lab serve``)
* tests/test_runcli.py (``python -m keepalive_lab run``)
* tests/test_fidelity.py (the lab server and the Go reference as subprocesses)
* tests/test_routes.py (the lab server and the Go reference as subprocesses)
* tests/test_recipes.py (the by-hand shell recipe)
* tests/test_go_programs.py (the Go programs)
* tests/test_reallb.py (haproxy, nginx and lab processes)
* tests/test_experiments.py::test_ctrl_c_stops_a_run_from_the_command_line (a run in a subprocess)
* tests/test_memory.py::test_an_endless_trailer_line_does_not_grow_the_server (a server process)

and, because they do not run the server at all: tests/test_book.py (builds the book in a
subprocess) and tests/test_architecture.py (the import contract, read from ``code/``).

Before mutmut starts, the selected tests run once on the unmutated copy, and any that fail there
(a test that needs a file the copy lacks, such as ``tools/`` or ``book/``, or one broken in the
work tree at the time) is left out and named in the output: mutmut would stop at its first
failing test, and such a test cannot tell a mutant from the original anyway.

Figures. *killed*: a test failed; *timed out*: the tests ran past mutmut's limit (15 times their
usual time), counted with the killed in the surviving share; *survived*: every test passed; *no
tests*: no selected test calls the mutated function; *untested*: not run before the box closed.
The surviving share is (survived + no tests) / (mutants run).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "keepalive_lab"
MUTATED = f"src/{PACKAGE}/goserver"  # in the scratch copy
GRACE = 180.0  # seconds the mutants running at the deadline may take to finish
LOG_NAME = "mutmut.log"
RUN_NAME = "run.json"  # how long the run took and whether it was stopped, for --report
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis", ".pytest_cache")


def _check_config() -> None:
    """Say so when pyproject.toml leaves out a test this docstring does not name (the list is kept here)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    left_out = [a.split("=", 1)[1] for a in config["pytest_add_cli_args_test_selection"] if a.startswith("--")]
    for test in left_out:
        if test not in (__doc__ or ""):
            print(f"note: pyproject.toml leaves out {test}, which this script's docstring does not name yet")


def _mutmut_version() -> str:
    try:
        from importlib.metadata import version

        found = version("mutmut")
    except Exception:
        found = ""
    if not found.startswith("3.8."):
        sys.exit(
            f"mutmut 3.8 is needed (found: {found or 'none'}); install it with\n"
            "    .venv/bin/python -m pip install -c constraints.txt -e '.[mutation]'"
        )
    return found


def _stage(scratch: Path) -> None:
    """Lay the project out in ``scratch`` the way mutmut expects it (src/ layout)."""
    shutil.copy2(ROOT / "pyproject.toml", scratch / "pyproject.toml")
    shutil.copytree(ROOT / "code" / PACKAGE, scratch / "src" / PACKAGE, ignore=IGNORE)
    shutil.copytree(ROOT / "tests", scratch / "tests", ignore=IGNORE)
    shutil.copytree(ROOT / "data", scratch / "data", ignore=IGNORE)


def _preflight(scratch: Path, deadline: float) -> list[str]:
    """Run the selected tests once on the unmutated copy; leave out (and return) those that fail there.

    mutmut stops at once when a test fails without any mutant (its "clean" run), and a test can
    fail in the copy for reasons of its own: it needs a file the copy lacks (tools/, book/), or it
    is broken in the work tree right now. Such a test cannot tell a mutant anyway.
    """
    config = tomllib.loads((scratch / "pyproject.toml").read_text())["tool"]["mutmut"]
    argv = [sys.executable, "-m", "pytest", "-q", "-rfE", "--continue-on-collection-errors", *config["pytest_add_cli_args"],
            *config["pytest_add_cli_args_test_selection"]]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(scratch / "src")}
    proc = subprocess.Popen(argv, cwd=scratch, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip
    try:
        stdout, stderr = proc.communicate(timeout=max(60.0, deadline - time.time()))
    except subprocess.TimeoutExpired:
        sys.exit("the tests did not finish once, unmutated, within the box")
    finally:
        _end_group(proc)
    failing = []
    for line in stdout.splitlines():
        if line.startswith(("FAILED ", "ERROR ")):
            failing.append(line.split(" ", 1)[1].split(" - ", 1)[0].strip())
    if proc.returncode not in (0, 1) or (proc.returncode == 1 and not failing):
        sys.exit("the tests could not run on the scratch copy:\n" + stdout[-3000:] + stderr[-3000:])
    if failing:
        extra = "".join(f'    "--{"deselect" if "::" in t else "ignore"}={t}",\n' for t in failing)
        text = (scratch / "pyproject.toml").read_text()
        marker = "pytest_add_cli_args_test_selection = [\n"
        (scratch / "pyproject.toml").write_text(text.replace(marker, marker + extra, 1))
    return failing


# -- the driver: mutmut in a child process, in the scratch folder ------------------------------


def _drive(deadline: float, jobs: int) -> None:
    """Run ``mutmut run`` here (the scratch folder), starting no mutant after ``deadline`` (epoch seconds)."""
    import mutmut.__main__ as mm

    make_runner = mm.get_mutant_runner

    def boxed_runner(*args, **kwargs):
        runner = make_runner(*args, **kwargs)
        submit = runner.submit

        def submit_in_box(mutant_name, tests, cpu_time_limit, estimated_time):
            if time.time() < deadline:
                submit(mutant_name, tests, cpu_time_limit, estimated_time)
            # else: not started; its result stays None, "not checked"

        runner.submit = submit_in_box
        return runner

    mm.get_mutant_runner = boxed_runner
    mm.cli(["run", "--max-children", str(jobs)])


# -- results -----------------------------------------------------------------------------------


def _load_results(scratch: Path) -> dict[str, dict[str, int | None]]:
    """Exit code by mutant name, by source file (scratch-relative), from mutmut's ``.meta`` files."""
    results: dict[str, dict[str, int | None]] = {}
    base = scratch / "mutants" / MUTATED
    for meta in sorted(base.glob("*.py.meta")) if base.is_dir() else []:
        source = f"{MUTATED}/{meta.name[: -len('.meta')]}"
        try:
            results[source] = json.loads(meta.read_text())["exit_code_by_key"]
        except (OSError, ValueError, KeyError):
            results[source] = {}
    return results


def _status(exit_code: int | None, stopped: bool) -> str:
    from mutmut.stats import status_by_exit_code

    if exit_code == -signal.SIGTERM and stopped:
        return "untested"  # running when the run was stopped
    status = status_by_exit_code[exit_code]
    return {"not checked": "untested", "check was interrupted by user": "untested"}.get(status, status)


def _counts(results, stopped: bool = False) -> Counter:
    return Counter(_status(code, stopped) for codes in results.values() for code in codes.values())


def _progress(scratch: Path, started: float) -> str:
    c = _counts(_load_results(scratch))
    total = sum(c.values())
    if not total:
        return f"  {_clock(time.monotonic() - started)}  preparing (mutants, mutmut's first test runs)"
    done = total - c["untested"]
    return (f"  {_clock(time.monotonic() - started)}  {done}/{total} done: {c['killed']} killed, "
            f"{c['survived']} survived, {c['no tests']} no tests, {c['timeout']} timed out")  # fmt: skip


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60):3d}m{int(seconds % 60):02d}s"


def _short_name(mutant: str) -> str:
    """``keepalive_lab.goserver.conn.xǁServerConnǁ_loop__mutmut_12`` -> ``ServerConn._loop #12``."""
    function, _, number = mutant.rpartition(".")[2].partition("__mutmut_")
    if function.startswith("xǁ"):
        function = function[2:].replace("ǁ", ".")
    elif function.startswith("x_"):
        function = function[2:]
    return f"{function} #{number}"


def _change(scratch: Path, source: str, mutant: str) -> str:
    """The lines the mutant changes, as ``old -> new``."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    here = Path.cwd()
    os.chdir(scratch)  # mutmut reads mutants/... relative to the current folder
    try:
        diff = get_diff_for_mutant(mutant, path=source)
    except Exception as exc:  # an unreadable mutant must not lose the rest of the report
        return f"(no diff: {exc})"
    finally:
        os.chdir(here)
    lines = diff.splitlines()[2:]
    old = " / ".join(line[1:].strip() for line in lines if line.startswith("-"))
    new = " / ".join(line[1:].strip() for line in lines if line.startswith("+"))
    return f"{old}  ->  {new or '(removed)'}"


def _report(scratch: Path, results, stopped: bool, took: float, version: str) -> None:
    c = _counts(results, stopped)
    total = sum(c.values())
    run = total - c["untested"]
    surviving = c["survived"] + c["no tests"]
    other = {k: v for k, v in c.items() if k not in ("killed", "survived", "no tests", "timeout", "untested")}
    print()
    print(f"mutmut {version} on code/{PACKAGE}/goserver/, {_clock(took).strip()}")
    print(f"  mutants        {total:5d}")
    print(f"  killed         {c['killed']:5d}")
    print(f"  survived       {c['survived']:5d}")
    print(f"  no tests       {c['no tests']:5d}")
    print(f"  timed out      {c['timeout']:5d}")
    for status, n in sorted(other.items()):
        print(f"  {status:<14} {n:5d}")
    print(f"  untested       {c['untested']:5d}  (the box closed before they ran)")
    share = f"{100 * surviving / run:.1f}%" if run else "n/a"
    print(f"  surviving share {share} ({surviving} of {run} run)")

    by_file = defaultdict(list)
    for source, codes in results.items():
        for mutant, code in codes.items():
            status = _status(code, stopped)
            if status in ("survived", "no tests"):
                by_file[source].append((mutant, status))
    if not by_file:
        return
    print()
    print("Survivors, by file (old -> new):")
    for source in sorted(by_file):
        print(f"\n{Path(source).name}  ({len(by_file[source])})")
        for mutant, status in sorted(by_file[source], key=lambda m: _sort_key(m[0])):
            tag = "  [no tests]" if status == "no tests" else ""
            print(f"  {_short_name(mutant)}{tag}: {_change(scratch, source, mutant)}")


def _sort_key(mutant: str) -> tuple[str, int]:
    name, _, number = mutant.partition("__mutmut_")
    return name, int(number) if number.isdigit() else 0


def _report_again(scratch: Path) -> int:
    try:
        run = json.loads((scratch / RUN_NAME).read_text())
    except (OSError, ValueError):
        sys.exit(f"{scratch} holds no finished run of this script")
    _report(scratch, _load_results(scratch), run["stopped"], run["took"], run["version"])
    return 0


# -- the run -----------------------------------------------------------------------------------


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _end_group(proc: subprocess.Popen) -> None:
    """Stop a child and every process it started (its own process group); wait until none is left."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)  # mutmut stops its workers and saves what it has
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            pass
    if _group_alive(proc.pid):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    for _ in range(100):
        if not _group_alive(proc.pid):
            return
        time.sleep(0.1)
    print(f"warning: processes of group {proc.pid} are still there", file=sys.stderr)


def _end_strays(scratch: Path) -> None:
    """Kill any process still working in the scratch folder: a test's child that left the group."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue  # gone, or not ours to look at
        if cwd == str(scratch) or cwd.startswith(f"{scratch}/"):
            print(f"warning: ending process {entry.name}, left running in {cwd}", file=sys.stderr)
            try:
                os.kill(int(entry.name), signal.SIGKILL)
            except OSError:
                pass


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "_drive":
        _drive(float(sys.argv[2]), int(sys.argv[3]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="time box for the whole run (default 30)")
    parser.add_argument("--jobs", type=int, default=2, help="mutants run at once (default 2)")
    parser.add_argument("--scratch", type=Path, help="run in this (new or empty) folder and keep it")
    parser.add_argument("--report", type=Path, metavar="DIR", help="print again the results of a run kept with --scratch")
    args = parser.parse_args()
    if args.report:
        return _report_again(args.report.resolve())
    if args.minutes <= 0 or args.jobs < 1:
        parser.error("--minutes must be > 0 and --jobs >= 1")
    version = _mutmut_version()
    _check_config()

    if args.scratch:
        args.scratch.mkdir(parents=True, exist_ok=True)
        if any(args.scratch.iterdir()):
            parser.error(f"--scratch {args.scratch} is not empty")
        scratch = args.scratch.resolve()
    else:
        scratch = Path(tempfile.mkdtemp(prefix="keepalive-mutation-"))
    started = time.monotonic()
    deadline = time.time() + args.minutes * 60
    proc = None
    stopped = False
    try:
        _stage(scratch)
        print(f"mutmut {version}: mutating code/{PACKAGE}/goserver/ in {scratch}, for at most "
              f"{args.minutes:g} minutes, {args.jobs} at a time")  # fmt: skip
        failing = _preflight(scratch, deadline)
        for test in failing:
            print(f"  left out, failing without any mutant: {test}")
        with open(scratch / LOG_NAME, "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "_drive", repr(deadline), str(args.jobs)],
                cwd=scratch, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, ended as a whole
            )  # fmt: skip
            while proc.poll() is None:
                try:
                    proc.wait(60)
                except subprocess.TimeoutExpired:
                    print(_progress(scratch, started), flush=True)
                    if time.time() > deadline + GRACE:
                        print("  the box is over and mutants still run: stopping them")
                        stopped = True
                        break
        _end_group(proc)
        took = time.monotonic() - started
        results = _load_results(scratch)
        if proc.returncode not in (0, -signal.SIGINT) and not stopped or not results:
            tail = (scratch / LOG_NAME).read_text(errors="replace").replace("\r", "\n").splitlines()[-40:]
            print("mutmut failed; the end of its output:\n" + "\n".join(tail), file=sys.stderr)
            if not results:
                return 1
        (scratch / RUN_NAME).write_text(json.dumps({"took": took, "stopped": stopped, "version": version}))
        _report(scratch, results, stopped, took, version)
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        if proc is not None:
            _end_group(proc)
        _end_strays(scratch)
        if args.scratch is None:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
