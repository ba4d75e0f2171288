"""The Go model: Go's ``net/http`` HTTP/1.1 server and x/net's ``LimitListener``, on raw sockets.

Floor two of the lab, on the kernel and the records: ``net`` (sockets with
Go's deadlines), ``netutil`` (``LimitListener``), ``request``/``reader``
(reading requests, through ``bufio``, ``requestline``, ``requesturi``,
``textproto``, ``framing`` and ``chunked``), ``response`` (writing them),
``replies`` (Go's own answers), ``conn`` and ``server`` (``conn.serve``,
``Server.Serve``), ``handlers``, ``durations``, ``culling``. Nothing here
knows about load balancers or experiments.
"""

from keepalive_lab.goserver.handlers import ArticleHandler, ServeMux, WorkLimitedHandler
from keepalive_lab.goserver.net import listen
from keepalive_lab.goserver.netutil import LimitListener
from keepalive_lab.goserver.server import Server, serving
from keepalive_lab.records import ConnState

__all__ = ["ArticleHandler", "ServeMux", "WorkLimitedHandler", "listen", "LimitListener", "Server", "serving",
           "ConnState"]  # fmt: skip
