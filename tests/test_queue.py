"""``sockdiag`` and the ``queue`` command: accept queues read as ``ss -lnt`` reads them."""

from __future__ import annotations

import contextlib
import socket

import pytest
from keepalive_lab import sockdiag
from keepalive_lab.cli import main


@contextlib.contextmanager
def _listener_with_queue(backlog: int, queued: int):
    """A socket that listens and never accepts, with ``queued`` completed connections waiting."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(backlog)
        clients = [socket.create_connection(listener.getsockname(), timeout=2) for _ in range(queued)]
        try:
            yield listener.getsockname()[1]
        finally:
            for client in clients:
                client.close()


@pytest.mark.parametrize("queued", [0, 1, 3])
def test_netlink_reads_the_queue_and_the_backlog(queued):
    with _listener_with_queue(7, queued) as port:
        (found,) = [x for x in sockdiag.listeners_netlink() if x.port == port]
    assert (found.address, found.queued, found.backlog) == (f"127.0.0.1:{port}", queued, 7)


def test_proc_net_tcp_agrees_on_the_queue_but_has_no_backlog():
    with _listener_with_queue(5, 2) as port:
        (from_proc,) = [x for x in sockdiag.listeners_proc() if x.port == port]
        (from_netlink,) = [x for x in sockdiag.listeners_netlink() if x.port == port]
    assert (from_proc.queued, from_proc.backlog, from_proc.inode) == (2, None, from_netlink.inode)


def test_ipv6_listeners_are_listed_too():
    if not socket.has_ipv6:
        pytest.skip("no IPv6 here")
    try:
        listener = socket.create_server(("::1", 0), family=socket.AF_INET6)
    except OSError:
        pytest.skip("no IPv6 loopback here")
    with listener:
        port = listener.getsockname()[1]
        assert [x.address for x in sockdiag.listeners(port)] == [f"[::1]:{port}"]


def test_the_owner_of_a_listener_is_this_process():
    import os

    with _listener_with_queue(3, 0) as port:
        (found,) = sockdiag.listeners(port)
        owners = sockdiag.owners({found.inode})
    assert owners[found.inode][0] == os.getpid()


def test_queue_prints_the_table(capsys):
    with _listener_with_queue(9, 2) as port:
        assert main(["queue", "--port", str(port)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[0] == "LISTEN"
    assert out[1].split()[:3] == [f"127.0.0.1:{port}", "2", "9"]


def test_watch_reports_a_queue_that_stays_full_and_exits_1(capsys):
    with _listener_with_queue(9, 1) as port:
        code = main(["queue", "--port", str(port), "--watch", "--seconds", "1.2", "--interval", "0.1", "--stuck", "0.5"])
    out = capsys.readouterr().out
    assert code == 1
    assert f"127.0.0.1:{port}: 1 connection(s) waiting to be accepted" in out
    assert "stuck accept queues" in out


def test_watch_is_quiet_when_every_connection_is_accepted(capsys):
    with _listener_with_queue(9, 0) as port:
        code = main(["queue", "--port", str(port), "--watch", "--seconds", "0.5", "--interval", "0.1"])
    assert code == 0
    assert "no accept queue stayed non-empty" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv", [["queue", "--port", "0"], ["queue", "--port", "x"], ["queue", "--seconds", "nan"],
             ["queue", "--seconds", "1e9"], ["queue", "--interval", "0"], ["queue", "--what"]],
)  # fmt: skip
def test_queue_refuses_bad_usage_with_one_line_and_exit_2(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
