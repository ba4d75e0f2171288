"""A fleet of load-balancer nodes: scale out, scale in, route each request to a live node.

A :class:`Fleet` owns its nodes (:mod:`keepalive_lab.lbmodel.nodes`) and
routes each client request to a live one, as DNS spreads clients over a load
balancer's addresses. Two routings:

``round_robin``
    every live node in turn, whatever happened to earlier requests;
``weighted``
    a random node by weight, and a node whose request failed loses weight
    fast (x ``DEMOTE_FACTOR``) while a success doubles it back.

Weighted routing is a **model assumption**, not something measured: it stands
for what the article reports of its load balancer ("LB2's priority drops at
once") and for what clients and DNS do when one address keeps failing
(retries elsewhere, cached answers). The book runs the incident with both
routings side by side.
"""

from __future__ import annotations

import enum
import random
import threading
import time
from typing import Callable

from keepalive_lab.lbmodel.nodes import BalancerNode, NodeConfig, PassThroughNode, make_node
from keepalive_lab.records import BalancerRecord, Outcome, UpstreamEvent

__all__ = ["Fleet", "Routing", "FleetEvent", "DEMOTE_FACTOR"]

# Weighted routing: a failure multiplies a node's weight by this; a success doubles it, up to 1.
DEMOTE_FACTOR = 0.2


class Routing(enum.StrEnum):
    WEIGHTED = "weighted"
    ROUND_ROBIN = "round_robin"


class FleetEvent(enum.StrEnum):
    SCALE_OUT = "scale_out"
    SCALE_IN = "scale_in"


class Fleet:
    """Named nodes in front of one server; scale out, scale in, route, demote."""

    def __init__(
        self,
        backend_port: int,
        config: NodeConfig,
        *,
        log: Callable[[BalancerRecord], None],
        upstream_log: Callable[[UpstreamEvent], None],
        routing: Routing = Routing.WEIGHTED,
        seed: int = 0,
        demote_factor: float = DEMOTE_FACTOR,
        min_weight: float = 0.02,
    ) -> None:
        self.backend_port = backend_port
        self.config = config
        self.logs = {"log": log, "upstream_log": upstream_log}
        self.routing = Routing(routing)  # ValueError names a bad routing
        self.demote_factor = demote_factor
        self.min_weight = min_weight
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._nodes: dict[str, BalancerNode | PassThroughNode] = {}
        self._live: list[str] = []
        self._weights: dict[str, float] = {}
        self._turn = 0
        self.events: list[tuple[float, FleetEvent, str]] = []  # (monotonic time, event, node)

    def scale_out(self, name: str | None = None, config: NodeConfig | None = None):
        """Start a new node and route to it."""
        with self._lock:
            name = name or f"LB{len(self._nodes) + 1}"
        node = make_node(name, self.backend_port, config or self.config, **self.logs).start()
        with self._lock:
            self._nodes[name] = node
            self._live.append(name)
            self._weights[name] = 1.0
            self.events.append((time.monotonic(), FleetEvent.SCALE_OUT, name))
        return node

    def scale_in(self, name: str) -> None:
        """Stop routing to a node and stop it (in-flight requests through it fail)."""
        with self._lock:
            if name in self._live:
                self._live.remove(name)
            node = self._nodes.get(name)
            self.events.append((time.monotonic(), FleetEvent.SCALE_IN, name))
        if node is not None:
            node.stop()

    def apply(self, event: FleetEvent, name: str) -> None:
        """Carry out one timetable event."""
        if FleetEvent(event) is FleetEvent.SCALE_OUT:
            self.scale_out(name)
        else:
            self.scale_in(name)

    def node(self, name: str):
        return self._nodes[name]

    @property
    def live(self) -> list[str]:
        with self._lock:
            return list(self._live)

    def weights(self) -> dict[str, float]:
        with self._lock:
            return dict(self._weights)

    def pick(self) -> tuple[str, str]:
        with self._lock:
            if not self._live:
                raise RuntimeError("the fleet has no live node")
            if self.routing is Routing.ROUND_ROBIN:
                name = self._live[self._turn % len(self._live)]
                self._turn += 1
            else:
                weights = [self._weights[n] for n in self._live]
                name = self._rng.choices(self._live, weights)[0]
            return name, self._nodes[name].url

    def report(self, node: str, outcome: str) -> None:
        with self._lock:
            if node not in self._weights:
                return
            if outcome == Outcome.OK:
                self._weights[node] = min(1.0, self._weights[node] * 2)
            else:
                self._weights[node] = max(self.min_weight, self._weights[node] * self.demote_factor)

    def close(self) -> None:
        with self._lock:
            nodes = list(self._nodes.values())
            self._live.clear()
        for node in nodes:
            node.stop()

    def __enter__(self) -> "Fleet":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
