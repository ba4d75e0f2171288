"""keepalive_lab: a Go-faithful HTTP/1.1 server, load balancers and experiments on loopback.

The lab behind the book *One Slot, Two Load Balancers*: why a Go ``net/http``
server wrapped in ``netutil.LimitListener(l, 1)`` times out behind an
autoscaling load balancer, reproduced on real sockets.
"""

__version__ = "0.1.0"
