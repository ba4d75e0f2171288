"""Reading the real load balancers' access logs into the lab's records.

Theory of operation
-------------------
:mod:`keepalive_lab.reallb.config` makes HAProxy and nginx log one line per request,
``lab key=value ...``. :func:`parse_fields` splits such a line;
:func:`haproxy_line` and :func:`nginx_line` (:func:`parse_line` picks one
by the load balancer's kind) turn the fields into an
:class:`LBLogLine` with times on the lab's monotonic clock (both logs stamp
wall-clock milliseconds; the caller passes the offset between the clocks).
:func:`balancer_records` then produces the same
:class:`~keepalive_lab.records.BalancerRecord` that the lab's model nodes
write, so tables and figures serve both.

What each log can say:

* HAProxy logs the local address of its server connection (``%bi:%bp``),
  which is the ``remote_addr`` the server logs for that connection. A
  connection counts as *reused* when an earlier line of the same instance
  named it.
* nginx has no variable for that address. The lab fills ``upstream_conn`` from
  the server's access log (same ``X-Request-Id``) when the server ran the
  request in time, and ``reused`` from whether that server connection had
  served an earlier request. A request the server never ran in time has none.

Connect and response times are in milliseconds, ``None`` when the load
balancer logged none (HAProxy ``-1``, nginx ``-``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar, Iterable, Sequence

from keepalive_lab.records import AccessRecord, BalancerRecord

__all__ = ["LBLogLine", "parse_fields", "haproxy_line", "nginx_line", "parse_line", "balancer_records", "TAG"]

TAG = "lab"


@dataclass(frozen=True)
class LBLogLine:
    """One request as a real load balancer logged it; times in monotonic seconds, durations in ms."""

    TIMES: ClassVar[tuple[str, ...]] = ("start", "end")

    node: str
    request_id: str
    status: int
    start: float
    end: float
    connect_ms: float | None  # time to connect to the server (None: no connection completed)
    response_ms: float | None  # until the server's response headers (None: none came)
    upstream_conn: str  # local address of the LB's server connection, "" when unknown
    termination: str  # HAProxy's termination state ("sH--": server timeout), nginx: upstream status
    worker: str  # nginx worker pid, "" for HAProxy
    raw: str


def parse_fields(text: str) -> dict[str, str] | None:
    """``{"id": ..., "st": ...}`` from a ``lab k=v k=v`` line; None for any other line."""
    parts = text.strip().split()
    if not parts or parts[0] != TAG:
        return None
    fields: dict[str, str] = {}
    key = ""
    for part in parts[1:]:
        name, sep, value = part.partition("=")
        if sep:
            key = name
            fields[key] = value
        elif key:
            # nginx lists one value per upstream attempt, "0.000, 0.001": a word without "=" continues
            # the previous field.
            fields[key] += " " + part
    return fields


def _int(text: str, default: int = -1) -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        return default


def _ms_or_none(value: float) -> float | None:
    return None if value < 0 else value


def _seconds_list(text: str) -> float | None:
    """nginx times: ``0.001``, ``-``, or ``0.000, 1.001`` after a retry (the last attempt counts)."""
    last = (text or "-").replace(" ", "").split(",")[-1].split(":")[-1]
    try:
        return float(last) * 1000.0
    except ValueError:
        return None


def _log_line(node: str, text: str, f: dict[str, str], end: float, total: float, **own: Any) -> LBLogLine:
    """An :class:`LBLogLine` from what both logs say alike (the request id, ``-`` for none; the status; the
    end and total time, already on the lab's clock) and ``own``: the fields each logs its own way."""
    request_id = f.get("id", "-")
    return LBLogLine(
        node=node,
        request_id="" if request_id == "-" else request_id,
        status=_int(f.get("st", "")),
        start=end - total,
        end=end,
        raw=text,
        **own,
    )


def haproxy_line(node: str, text: str, wall_to_mono: float) -> LBLogLine | None:
    """An HAProxy log line (format ``config.HAPROXY_FORMAT``); ``wall_to_mono`` = monotonic - wall."""
    f = parse_fields(text)
    if f is None:
        return None
    end = _int(f.get("at", "")) / 1000.0 + wall_to_mono
    total = max(0, _int(f.get("ta", ""), 0)) / 1000.0
    port = f.get("bp", "-")
    conn = f"{f.get('bi', '-')}:{port}" if port not in ("-", "0", "") else ""
    return _log_line(
        node, text, f, end, total,
        connect_ms=_ms_or_none(_int(f.get("tc", ""))),
        response_ms=_ms_or_none(_int(f.get("tr", ""))),
        upstream_conn=conn,
        termination=f.get("term", ""),
        worker="",
    )  # fmt: skip


def nginx_line(node: str, text: str, wall_to_mono: float) -> LBLogLine | None:
    """An nginx access-log line (format ``config.NGINX_FORMAT``)."""
    f = parse_fields(text)
    if f is None:
        return None
    try:
        end = float(f.get("msec", "")) + wall_to_mono
        total = float(f.get("rt", "0"))
    except ValueError:
        return None
    return _log_line(
        node, text, f, end, total,
        connect_ms=_seconds_list(f.get("uct", "-")),
        response_ms=_seconds_list(f.get("uht", "-")),
        upstream_conn="",
        termination=f.get("ust", "").replace(" ", ""),
        worker=f.get("worker", ""),
    )  # fmt: skip


def parse_line(kind: str, node: str, text: str, wall_to_mono: float) -> LBLogLine | None:
    """A log line of a load balancer of ``kind`` (``"haproxy"`` or ``"nginx"``, as ``LBSpec.kind``)."""
    return _PARSERS[kind](node, text, wall_to_mono)


_PARSERS = {"haproxy": haproxy_line, "nginx": nginx_line}


def join_server_side(lines: Sequence[LBLogLine], access: Iterable[AccessRecord]) -> list[LBLogLine]:
    """Fill ``upstream_conn`` of lines that lack it from the server's access log (same request id)."""
    by_id = {a.request_id: a for a in access if a.request_id}
    out = []
    for line in lines:
        a = by_id.get(line.request_id)
        if not line.upstream_conn and a is not None and a.handler_start <= line.end:
            line = replace(line, upstream_conn=a.remote_addr)
        out.append(line)
    return out


def balancer_records(lines: Sequence[LBLogLine]) -> list[BalancerRecord]:
    """The lab's :class:`BalancerRecord` for each line, in the order the requests ended.

    ``reused``: an earlier line of the same instance used the same server connection.
    """
    seen: set[tuple[str, str]] = set()
    records = []
    for line in sorted(lines, key=lambda x: x.end):
        key = (line.node, line.upstream_conn)
        reused = bool(line.upstream_conn) and key in seen
        if line.upstream_conn:
            seen.add(key)
        detail = _detail(line)
        records.append(
            BalancerRecord(
                line.node, line.request_id, line.upstream_conn, reused, line.start, line.end, line.status, detail
            )
        )
    return records


def _detail(line: LBLogLine) -> str:
    def ms(value: float | None) -> str:
        return "none" if value is None else f"{value:.0f} ms"

    parts = [f"connect {ms(line.connect_ms)}", f"response headers {ms(line.response_ms)}"]
    if line.worker:
        parts.append(f"worker {line.worker}")
    if line.termination and line.termination not in ("----", "-"):
        parts.append(f"termination {line.termination}")
    return ", ".join(parts)
