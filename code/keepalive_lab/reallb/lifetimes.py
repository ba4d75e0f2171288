"""Verdicts for the idle-lifetime pattern: how long a load balancer keeps an idle server connection, and who closes it.

Theory of operation
-------------------
One request goes through the one instance; then nothing, until the server's
connection from the load balancer closes. The server's ``ConnState`` records
give that connection's *idle lifetime*, from its last ``idle`` to its
``closed``. Go's server closes an idle connection only at its idle deadline
(``IdleTimeout``, here ``ReadTimeout``) or when its read fails because the
peer closed it (EOF) or reset it; so a lifetime shorter than the idle
timeout means that the load balancer closed it. The kernel's table, read
once the close has settled (:meth:`~keepalive_lab.reallb.rig.RealRig.settle_sockets`),
says how: the end that sent the first FIN stays in ``TIME-WAIT``; with
neither end in ``TIME-WAIT`` the connection was reset (an abortive close,
``SO_LINGER`` 0).

:func:`judge_idle`'s verdict reads ``closed by the <closer> after <N> s idle``
(``N`` rounded to the second). Extra claims (:data:`EXTRAS`):

``closed_by``
    the kernel's table agrees with the timing: ``TIME-WAIT`` on the server's
    end when the server closed, none there when the load balancer did;
``pool_purge``
    HAProxy reset its idle server connection three ``pool-purge-delay``
    periods after it went idle (5 s each by default, so 15 s). HAProxy 2.6
    purges idle server connections every ``pool-purge-delay``
    (``srv_cleanup_idle_conns``): each pass closes half of the idle ones
    beyond the connections it estimates it needs, the larger of the most
    used since the previous pass and a running estimate that halves towards
    it each pass. One connection used once still counts as needed at the
    first two passes and is closed at the third. Server connections close
    with a reset unless the server closed first (``FD_LINGER_RISK``);
``held_until_idle``
    the load balancer kept it until Go's idle timeout closed it.
"""

from __future__ import annotations

import pandas as pd

from keepalive_lab.lab.results import Claim
from keepalive_lab.reallb.scenario import Scenario, Trial
from keepalive_lab.reallb.times import RealLBTimes
from keepalive_lab.reallb.verdicts import SLACK, first_row

__all__ = ["judge_idle", "EXTRAS", "HAPROXY_POOL_PURGE_DELAY", "PURGE_PASSES"]

EXTRAS = ("closed_by", "pool_purge", "held_until_idle")
HAPROXY_POOL_PURGE_DELAY = 5.0  # "pool-purge-delay": the default, in seconds (configuration manual, section 5.2)
PURGE_PASSES = 3  # the pass that closes a connection used once (see the module's docstring)
# Go's idle deadline may fire a little early by the lab's clock (the deadline and the record are two reads
# of the monotonic clock around the close); anything shorter was the load balancer's doing.
_EARLY = 0.05


def _close_kind(sockets: pd.DataFrame, addr: str) -> str:
    """How the connection from ``addr`` ended, by which of its ends is in TIME-WAIT."""
    if sockets.empty:
        return "unknown (no snapshot)"
    mine = sockets[((sockets["local"] == addr) | (sockets["remote"] == addr)) & (sockets["state"] == "TIME-WAIT")]
    if mine.empty:
        return "reset"
    return "FIN from the server" if (mine["side"] == "server").any() else "FIN from the load balancer"


def judge_idle(sc: Scenario, tables: dict[str, pd.DataFrame], t: RealLBTimes, trial: Trial) -> None:
    access, states, sockets = tables["access"], tables["states"], tables.get("sockets", pd.DataFrame())
    v = trial.values
    served = first_row(access, "request_id", "client-1-0")
    if served is None or states.empty:
        trial.observed, trial.evidence = "inconclusive", "the request was never served"
        return
    mine = states[states["remote_addr"] == served["remote_addr"]]
    idle, closed = mine[mine["state"] == "idle"], mine[mine["state"] == "closed"]
    if idle.empty or closed.empty:
        trial.observed = "inconclusive"
        trial.evidence = f"the server connection {'never went idle' if idle.empty else 'was still open at the end'}"
        return
    idle_at, closed_at = float(idle["at"].iloc[-1]), float(closed["at"].iloc[0])
    lifetime = closed_at - idle_at
    closer = "load balancer" if lifetime < t.read_timeout - _EARLY else "server"
    kind = _close_kind(sockets, served["remote_addr"])
    v.update(idle_lifetime=round(lifetime, 3), went_idle_at=round(idle_at, 3), closed_at=round(closed_at, 3),
             closer=closer, close_kind=kind, holder_idle_for=round(lifetime, 3))  # fmt: skip
    trial.observed = f"closed by the {closer} after {lifetime:.0f} s idle"
    trial.evidence = (
        f"server connection {served['remote_addr']} idle from {idle_at:.2f} s, closed at {closed_at:.2f} s: "
        f"{lifetime:.2f} s (Go's idle timeout {t.read_timeout:g} s, the load balancer's server timeout "
        f"{t.lb_timeout:g} s); the kernel's table afterwards: {kind}"
    )
    for name in sc.extras:
        trial.claims.append(_extra_claim(sc, name, v, t))


def _extra_claim(sc: Scenario, name: str, v: dict, t: RealLBTimes) -> Claim:
    key = f"{sc.key}:{name}"
    lifetime, closer, kind = v["idle_lifetime"], v["closer"], v["close_kind"]
    if name == "closed_by":
        held = kind == "FIN from the server" if closer == "server" else kind in ("reset", "FIN from the load balancer")
        return Claim(key, f"{sc.title}: the kernel's table agrees that the {closer} closed the idle connection",
                     held, f"closed after {lifetime} s idle; afterwards: {kind}")  # fmt: skip
    if name == "pool_purge":
        due = PURGE_PASSES * HAPROXY_POOL_PURGE_DELAY
        held = due - 2 * _EARLY <= lifetime <= due + SLACK and kind == "reset" and closer == "load balancer"
        return Claim(key, f"{sc.title}: HAProxy reset its idle server connection {PURGE_PASSES} pool-purge-delay "
                     f"periods ({due:g} s) after it went idle, before Go's idle timeout", held,
                     f"closed by the {closer} after {lifetime} s idle ({kind}); Go's idle timeout "
                     f"{t.read_timeout:g} s")  # fmt: skip
    if name == "held_until_idle":
        held = closer == "server" and t.read_timeout - _EARLY <= lifetime <= t.read_timeout + SLACK
        evidence = f"idle {lifetime} s before the server closed it (ReadTimeout {t.read_timeout:g} s)"
        return Claim(key, f"{sc.title}: the load balancer kept its idle server connection until Go's idle timeout",
                     held, evidence)  # fmt: skip
    raise ValueError(f"unknown extra claim {name!r} for the idle pattern")
