"""Listening sockets with their accept queue and backlog, the way ``ss -lnt`` reads them.

Theory of operation
-------------------
For a LISTEN socket, ``ss -lnt`` shows the accept queue's length as *Recv-Q*
and the backlog (the queue's capacity) as *Send-Q*. It asks the kernel over
a ``NETLINK_SOCK_DIAG`` socket: a ``SOCK_DIAG_BY_FAMILY`` request for TCP
sockets in state LISTEN, answered by one ``inet_diag_msg`` per socket whose
``idiag_rqueue`` is the queue length (``sk_ack_backlog``) and whose
``idiag_wqueue`` is the backlog (``sk_max_ack_backlog``) for listeners
(Linux ``net/ipv4/tcp_diag.c``, ``tcp_diag_get_info``; the structures are in
``include/uapi/linux/inet_diag.h``). This module sends that request itself,
for IPv4 and IPv6.

Where netlink is not available (not Linux, or a sandbox that forbids it),
:func:`listeners` falls back to ``/proc/net/tcp`` and ``/proc/net/tcp6``,
which carry the queue length in their ``rx_queue`` column for LISTEN rows
but not the backlog (``backlog`` is then ``None``).

A queue that stays non-empty while the server is up is the signature of the
incident: connections the kernel completed and the application does not
accept.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Listener", "listeners", "listeners_netlink", "listeners_proc", "owners"]

NETLINK_SOCK_DIAG = 4  # include/uapi/linux/netlink.h
SOCK_DIAG_BY_FAMILY = 20  # include/uapi/linux/sock_diag.h
TCP_LISTEN = 10  # include/net/tcp_states.h
NLM_F_REQUEST, NLM_F_DUMP = 0x01, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3

_NLMSGHDR = struct.Struct("=IHHII")  # len, type, flags, seq, pid
# inet_diag_req_v2: family, protocol, ext, pad, states; then inet_diag_sockid: sport, dport (big
# endian), src[4], dst[4] (u32 each, network order), if, cookie[2].
_REQ = struct.Struct("=BBBxI")
_SOCKID = struct.Struct(">HH16s16sI8s")
# inet_diag_msg: family, state, timer, retrans, id (as above), expires, rqueue, wqueue, uid, inode.
_MSG_HEAD = struct.Struct("=BBBB")
_MSG_TAIL = struct.Struct("=IIIII")
_MAX_REPLY_BYTES = 64 << 20  # a bound on how much one dump may return before we stop reading


@dataclass(frozen=True)
class Listener:
    """One listening TCP socket: where it listens, how many connections wait, and how many may."""

    address: str  # "127.0.0.1:8080" or "[::1]:8080"
    port: int
    queued: int  # completed connections the application has not accepted yet
    backlog: int | None  # the queue's capacity; None when only /proc/net/tcp could be read
    inode: int

    @property
    def full(self) -> bool:
        return self.backlog is not None and self.queued >= self.backlog


def listeners(port: int | None = None) -> list[Listener]:
    """Every listening TCP socket (only ``port``'s when given), from netlink or else from /proc."""
    try:
        found = listeners_netlink()
    except OSError:
        found = listeners_proc()
    return sorted((x for x in found if port is None or x.port == port), key=lambda x: (x.port, x.address))


def _format(family: int, raw: bytes, port: int) -> str:
    if family == socket.AF_INET:
        return f"{ipaddress.IPv4Address(raw[:4])}:{port}"
    return f"[{ipaddress.IPv6Address(raw)}]:{port}"


def _request(family: int, seq: int) -> bytes:
    body = _REQ.pack(family, socket.IPPROTO_TCP, 0, 1 << TCP_LISTEN) + _SOCKID.pack(0, 0, b"", b"", 0, b"")
    header = _NLMSGHDR.pack(_NLMSGHDR.size + len(body), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, seq, 0)
    return header + body


def _parse_msg(payload: bytes) -> Listener | None:
    family, state, _timer, _retrans = _MSG_HEAD.unpack_from(payload, 0)
    sport, _dport, src, _dst, _ifindex, _cookie = _SOCKID.unpack_from(payload, _MSG_HEAD.size)
    _expires, rqueue, wqueue, _uid, inode = _MSG_TAIL.unpack_from(payload, _MSG_HEAD.size + _SOCKID.size)
    if state != TCP_LISTEN:
        return None
    return Listener(_format(family, src, sport), sport, rqueue, wqueue, inode)


def _dump(family: int) -> list[Listener]:
    found: list[Listener] = []
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG) as nl:
        nl.settimeout(2.0)  # the kernel answers at once; never wait for ever
        seq = os.getpid() & 0xFFFF
        nl.sendall(_request(family, seq))
        received = 0
        while received < _MAX_REPLY_BYTES:
            data = nl.recv(1 << 16)
            received += len(data)
            offset = 0
            while offset + _NLMSGHDR.size <= len(data):
                length, kind, _flags, _seq, _pid = _NLMSGHDR.unpack_from(data, offset)
                if length < _NLMSGHDR.size:
                    return found  # a malformed message: keep what was read
                if kind == NLMSG_DONE:
                    return found
                if kind == NLMSG_ERROR:
                    (errno,) = struct.unpack_from("=i", data, offset + _NLMSGHDR.size)
                    raise OSError(-errno, f"sock_diag: {os.strerror(-errno)}")
                listener = _parse_msg(data[offset + _NLMSGHDR.size : offset + length])
                if listener is not None:
                    found.append(listener)
                offset += (length + 3) & ~3  # NLMSG_ALIGN
    return found


def listeners_netlink() -> list[Listener]:
    """Listening TCP sockets with queue and backlog, over NETLINK_SOCK_DIAG (raises OSError if refused)."""
    return _dump(socket.AF_INET) + _dump(socket.AF_INET6)


def _proc_rows(path: Path) -> list[list[str]]:
    try:
        lines = path.read_text().splitlines()[1:]
    except OSError:
        return []
    return [line.split() for line in lines if len(line.split()) >= 10]


def _proc_addr(field: str) -> tuple[str, int]:
    hex_ip, hex_port = field.split(":")
    port = int(hex_port, 16)
    raw = bytes.fromhex(hex_ip)
    if len(raw) == 4:
        return f"{ipaddress.IPv4Address(raw[::-1])}:{port}", port  # the kernel's little-endian u32
    # /proc/net/tcp6 prints the address as four host-order (little-endian) 32-bit words
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    return f"[{ipaddress.IPv6Address(words)}]:{port}", port


def listeners_proc() -> list[Listener]:
    """Listening TCP sockets from /proc/net/tcp{,6}: the queue length, without the backlog."""
    found: list[Listener] = []
    for path in (Path("/proc/net/tcp"), Path("/proc/net/tcp6")):
        for row in _proc_rows(path):
            if row[3] != "0A":  # LISTEN
                continue
            address, port = _proc_addr(row[1])
            rx_queue = int(row[4].split(":")[1], 16)
            found.append(Listener(address, port, rx_queue, None, int(row[9])))
    return found


def owners(inodes: set[int], max_processes: int = 100_000) -> dict[int, tuple[int, str]]:
    """Which process holds each socket inode, as ``{inode: (pid, command name)}`` (what ``ss -p`` adds).

    Only processes this user may inspect are seen (all of them as root).
    """
    wanted = {f"socket:[{inode}]": inode for inode in inodes}
    found: dict[int, tuple[int, str]] = {}
    for count, entry in enumerate(Path("/proc").iterdir()):
        if count >= max_processes or len(found) == len(wanted):
            break
        if not entry.name.isdigit():
            continue
        try:
            links = {_readlink(fd) for fd in (entry / "fd").iterdir()}
            name = (entry / "comm").read_text().strip()
        except OSError:  # gone, or not ours to read
            continue
        for link in links & wanted.keys():
            found.setdefault(wanted[link], (int(entry.name), name))
    return found


def _readlink(path: Path) -> str:
    try:
        return os.readlink(path)
    except OSError:  # closed meanwhile (the listing's own descriptor, for one)
        return ""
