"""Load-balancer nodes as real TCP proxies on 127.0.0.1, and a fleet that scales them.

Theory of operation
-------------------
A :class:`BalancerNode` is one node of a load balancer (an ALB node in one
availability zone, one ingress-nginx replica). It has its own client-facing
listener, without any limit, and **its own** :class:`~keepalive_lab.lbmodel.pool.UpstreamPool`
of connections to the server. Scaling out adds a node, with its own pool:
that is how a second node's connection comes to wait behind the first
node's idle one. Three kinds of node (:class:`NodeConfig` ``mode``):

``pool``
    L7 with upstream keep-alive: ALB/ELB, ingress-nginx, HAProxy's default.
``no-keepalive``
    L7 that opens a connection per request and sends HTTP/1.0 with
    ``Connection: close``: nginx's proxy defaults before 1.29.7.
``l4``
    a TCP pass-through, each client connection pinned to one server
    connection for its lifetime: a Kubernetes Service (kube-proxy), an NLB.

A response that does not come within the node's ``timeout`` becomes a ``504``
(ALB: "the target did not respond before the idle timeout period elapsed").

The fleet that owns and routes to the nodes is :mod:`keepalive_lab.lbmodel.fleet`.
"""

from __future__ import annotations

import enum
import socket
import threading
import time
from dataclasses import dataclass, replace
from typing import Callable

from keepalive_lab.goserver.net import Conn, NetError, listen
from keepalive_lab.goserver.request import Request
from keepalive_lab.goserver.response import ResponseWriter
from keepalive_lab.goserver.server import Server, serving
from keepalive_lab.lbmodel.pool import UpstreamFailed, UpstreamPool, UpstreamTimeout
from keepalive_lab.records import BalancerRecord, UpstreamEvent, UpstreamEventKind

__all__ = ["NodeMode", "NodeConfig", "BalancerNode", "PassThroughNode", "make_node"]


class NodeMode(enum.StrEnum):
    """How a node talks to the server."""

    POOL = "pool"  # L7 with upstream keep-alive: ALB/ELB, ingress-nginx, HAProxy's default
    NO_KEEPALIVE = "no-keepalive"  # L7, a connection per request, HTTP/1.0 + Connection: close
    L4 = "l4"  # TCP pass-through: kube-proxy, an NLB


@dataclass(frozen=True)
class NodeConfig:
    """How a node talks to the server; durations in seconds."""

    mode: NodeMode = NodeMode.POOL
    timeout: float = 3.0  # upstream idle timeout and response timeout (ALB: 60 s)
    max_idle: int | None = None  # idle pooled connections kept at most (nginx "keepalive N")

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", NodeMode(self.mode))  # ValueError names a bad mode
        if not 0 < self.timeout < float("inf"):
            raise ValueError(f"a node's timeout must be a positive duration, not {self.timeout!r}")

    def scaled(self, convert: Callable[[float], float]) -> "NodeConfig":
        """The same node with its timeout passed through ``convert`` (article to lab seconds)."""
        return replace(self, timeout=convert(self.timeout))


class _Node:
    """What every kind of node has: a name, a config, a client-facing listener, and two logs."""

    def __init__(
        self,
        name: str,
        backend_port: int,
        config: NodeConfig,
        *,
        log: Callable[[BalancerRecord], None],
        upstream_log: Callable[[UpstreamEvent], None],
    ) -> None:
        self.name = name
        self.config = config
        self.backend_port = backend_port
        self.log = log
        self.upstream_log = upstream_log
        self._listener = listen()

    @property
    def url(self) -> str:
        return f"http://{self._listener.addr}/"


class BalancerNode(_Node):
    """An L7 node: a proxy server in front, an upstream pool behind."""

    def __init__(self, name: str, backend_port: int, config: NodeConfig, **logs) -> None:
        super().__init__(name, backend_port, config, **logs)
        self.pool = UpstreamPool(
            name,
            "127.0.0.1",
            backend_port,
            keep_alive=config.mode is NodeMode.POOL,
            idle_timeout=config.timeout,
            max_idle=config.max_idle,
            on_event=self.upstream_log,
        )
        # The front end is an ordinary server with no connection limit; its keep-alive to
        # clients lasts as long as the node's idle timeout.
        self._front = Server(self._proxy, idle_timeout=config.timeout)
        self._serving = serving(self._front, self._listener)

    def start(self) -> "BalancerNode":
        self._serving.__enter__()
        return self

    def stop(self) -> None:
        # Close the pool first: it wakes proxy handlers blocked on the server, so the
        # front end's threads can finish.
        try:
            self.pool.close()
        finally:
            self._serving.__exit__(None, None, None)

    def _upstream_head(self, r: Request) -> bytes:
        version, connection = ("1.1", "") if self.config.mode is NodeMode.POOL else ("1.0", "Connection: close\r\n")
        request_id = r.header.get("X-Request-Id")
        return (
            f"{r.method} {r.target} HTTP/{version}\r\nHost: backend\r\n{connection}"
            f"X-Request-Id: {request_id}\r\nX-Forwarded-For: {r.remote_addr.rsplit(':', 1)[0]}\r\n\r\n"
        ).encode("latin-1")

    def _proxy(self, w: ResponseWriter, r: Request) -> None:
        start = time.monotonic()
        request_id = r.header.get("X-Request-Id")
        conn_name, reused, status, detail, body = "", False, 502, "", b""
        try:
            conn, reused = self.pool.acquire()
        except OSError as exc:
            detail = f"connect: {exc}"
        else:
            conn_name = conn.name
            try:
                response = conn.exchange(r.method, self._upstream_head(r), b"", self.config.timeout)
            except UpstreamTimeout:
                status, detail = 504, "upstream timed out"
                self.pool.discard(conn, UpstreamEventKind.TIMEOUT)
            except UpstreamFailed as exc:
                detail = str(exc)
                self.pool.discard(conn, UpstreamEventKind.FAILED)
            else:
                status, body = response.status, response.body
                self.pool.release(conn, response.reusable)
        w.write_header(status)
        w.write(body)
        self.log(BalancerRecord(self.name, request_id, conn_name, reused, start, time.monotonic(), status, detail))

    def __repr__(self) -> str:
        return f"<BalancerNode {self.name} {self.config.mode} {self.url} {self.pool!r}>"


class PassThroughNode(_Node):
    """An L4 node: each client connection gets its own server connection, bytes copied both ways."""

    def __init__(self, name: str, backend_port: int, config: NodeConfig, **logs) -> None:
        super().__init__(name, backend_port, config, **logs)
        self._threads: list[threading.Thread] = []
        self._conns: list[Conn] = []
        self._lock = threading.Lock()
        self._accepting = threading.Thread(target=self._accept_loop, name=f"l4-{name}", daemon=True)
    def start(self) -> "PassThroughNode":
        self._accepting.start()
        return self

    def stop(self) -> None:
        self._listener.close()
        self._accepting.join(5.0)
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            c.interrupt()  # the pumps wake with EOF; the thread that owns the pair closes both
        for t in list(self._threads):
            t.join(5.0)

    def _accept_loop(self) -> None:
        while True:
            try:
                client = self._listener.accept()
            except (NetError, OSError):
                return  # the listener closed
            t = threading.Thread(target=self._pin, args=(client,), name=f"l4-{self.name}-conn", daemon=True)
            with self._lock:
                self._threads.append(t)
            t.start()

    def _pin(self, client: Conn) -> None:
        try:
            sock = socket.create_connection(("127.0.0.1", self.backend_port), timeout=10)
        except OSError:
            client.close()
            return
        host, port = sock.getsockname()[:2]
        server = Conn(sock, f"127.0.0.1:{self.backend_port}", f"{host}:{port}")
        with self._lock:
            self._conns.extend([client, server])
        self.upstream_log(UpstreamEvent(self.name, server.local_addr, UpstreamEventKind.OPEN, time.monotonic()))
        back = threading.Thread(target=_pump, args=(server, client), daemon=True)
        back.start()
        _pump(client, server)
        back.join(self.config.timeout + 5)
        for c in (client, server):
            c.close()
        self.upstream_log(UpstreamEvent(self.name, server.local_addr, UpstreamEventKind.CLOSE, time.monotonic()))


def _pump(src: Conn, dst: Conn) -> None:
    """Copy bytes from ``src`` to ``dst`` until EOF, then pass the FIN on."""
    while True:
        try:
            data = src.recv(64 * 1024)
        except NetError:
            data = b""
        if not data:
            dst.close_write()
            return
        try:
            dst.sendall(data)
        except NetError:
            src.interrupt()
            return


def make_node(name: str, backend_port: int, config: NodeConfig, **logs) -> BalancerNode | PassThroughNode:
    cls = PassThroughNode if config.mode is NodeMode.L4 else BalancerNode
    return cls(name, backend_port, config, **logs)
