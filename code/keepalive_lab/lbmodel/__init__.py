"""The load balancer, modelled: a node's upstream pool, the kinds of node, and the fleet that routes.

Floor three of the lab, above the Go model: each L7 node's front end is the
Go model's own ``Server``.
"""

from keepalive_lab.lbmodel.fleet import Fleet, FleetEvent, Routing
from keepalive_lab.lbmodel.nodes import BalancerNode, NodeConfig, NodeMode, PassThroughNode, make_node
from keepalive_lab.lbmodel.pool import UpstreamConnection, UpstreamPool

__all__ = [
    "Fleet", "FleetEvent", "Routing", "BalancerNode", "NodeConfig", "NodeMode", "PassThroughNode",
    "make_node", "UpstreamConnection", "UpstreamPool",
]  # fmt: skip
