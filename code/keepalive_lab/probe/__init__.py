"""A black-box probe for any HTTP/1.1 server: does it starve new connections behind idle ones?

:func:`check` (:mod:`.check`) holds idle keep-alive connections one at a
time and sends a fresh request after each; :mod:`.report` words its verdict
for a person; :mod:`.exchange` is the one-request client it uses.
"""

from keepalive_lab.probe.check import MAX_IDLE_LIMIT, CheckResult, ProbeError, Step, Verdict, check
from keepalive_lab.probe.report import report

__all__ = ["check", "CheckResult", "ProbeError", "Step", "Verdict", "report", "MAX_IDLE_LIMIT"]
