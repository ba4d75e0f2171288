"""What the kernel knows and the application doesn't.

Theory of operation
-------------------
A connection that completes the TCP handshake is queued by the kernel on its
listening socket until the application calls ``accept(2)``; a server behind a
full ``LimitListener`` does not call it, so the queue grows while the
application sees nothing. ``ss -lnt`` shows that queue as the *Recv-Q* of the
LISTEN socket (Linux ``tcp_diag_get_info``: ``idiag_rqueue = sk_ack_backlog``
for listeners). ``/proc/net/tcp`` carries the same number in its ``rx_queue``
column for LISTEN rows (``get_tcp4_sock``), so this module reads it from there
without running ``ss``; it works for a server in another process too.

For established sockets the same column is the number of received bytes the
application has not read: a queued request's bytes, waiting in the kernel.

Reading ``/proc/net/tcp`` costs milliseconds on a busy machine, too much for
sampling every few milliseconds. A process that owns the listening socket can
ask the socket itself: for a listener, ``getsockopt(TCP_INFO)`` reports the
queue length in ``tcpi_unacked`` and the backlog in ``tcpi_sacked`` (Linux
``tcp_get_info``), in microseconds.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from pathlib import Path

__all__ = ["somaxconn", "accept_queue", "listener_queue", "TcpSocket", "tcp_sockets", "PROC_NET_TCP"]

PROC_NET_TCP = Path("/proc/net/tcp")
_SOMAXCONN = Path("/proc/sys/net/core/somaxconn")

# /proc/net/tcp state codes (include/net/tcp_states.h)
_STATES = {
    "01": "ESTAB",
    "02": "SYN-SENT",
    "03": "SYN-RECV",
    "04": "FIN-WAIT-1",
    "05": "FIN-WAIT-2",
    "06": "TIME-WAIT",
    "07": "CLOSE",
    "08": "CLOSE-WAIT",
    "09": "LAST-ACK",
    "0A": "LISTEN",
    "0B": "CLOSING",
}


def somaxconn() -> int:
    """The kernel's cap on listen backlogs; Go uses it as its backlog (default 4096 since Linux 5.4)."""
    try:
        return int(_SOMAXCONN.read_text().strip())
    except (OSError, ValueError):
        return 128  # the pre-5.4 default, and what Go falls back to


@dataclass(frozen=True)
class TcpSocket:
    """One row of ``/proc/net/tcp``: a socket as ``ss -tn`` would show it."""

    local: str
    remote: str
    state: str
    recv_q: int
    send_q: int


def _decode_addr(field: str) -> str:
    hex_ip, hex_port = field.split(":")
    # The address is the kernel's little-endian u32.
    octets = [str(int(hex_ip[i : i + 2], 16)) for i in range(6, -1, -2)]
    return f"{'.'.join(octets)}:{int(hex_port, 16)}"


def tcp_sockets(port: int | None = None) -> list[TcpSocket]:
    """IPv4 TCP sockets whose local port is ``port`` (all of them when ``None``)."""
    rows: list[TcpSocket] = []
    try:
        lines = PROC_NET_TCP.read_text().splitlines()[1:]
    except OSError:
        return rows
    wanted = None if port is None else f":{port:04X} "
    for line in lines:
        if wanted is not None and wanted not in line[:40]:  # cheap test on the local address first
            continue
        fields = line.split()
        local, remote, state, queues = fields[1], fields[2], fields[3], fields[4]
        if port is not None and int(local.split(":")[1], 16) != port:
            continue
        tx, rx = (int(x, 16) for x in queues.split(":"))
        rows.append(
            TcpSocket(
                local=_decode_addr(local),
                remote=_decode_addr(remote),
                state=_STATES.get(state, state),
                recv_q=rx,
                send_q=tx,
            )
        )
    return rows


def accept_queue(port: int) -> int:
    """Connections waiting in the accept queue of the listener on ``port`` (``ss -lnt`` Recv-Q).

    Returns 0 when no listener is on that port (it closed, or never existed).
    """
    for sock in tcp_sockets(port):
        if sock.state == "LISTEN":
            return sock.recv_q
    return 0


# struct tcp_info (linux/tcp.h): eight one-byte fields, then u32 rto, ato, snd_mss, rcv_mss,
# unacked, sacked. For a LISTEN socket, unacked = sk_ack_backlog, sacked = sk_max_ack_backlog.
_UNACKED_OFFSET, _SACKED_OFFSET = 24, 28


def listener_queue(sock: socket.socket) -> tuple[int, int]:
    """``(queue length, backlog)`` of a listening socket this process owns (``ss -lnt`` Recv-Q, Send-Q)."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    (queued,) = struct.unpack_from("=I", info, _UNACKED_OFFSET)
    (backlog,) = struct.unpack_from("=I", info, _SACKED_OFFSET)
    return queued, backlog
