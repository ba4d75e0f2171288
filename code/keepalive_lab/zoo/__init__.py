"""The server zoo: other servers set to "one at a time", and what the probe makes of each.

Each entry of the catalogue (:mod:`.servers`) is a real server (Go programs,
uvicorn, gunicorn, the lab server, Apache httpd, nginx, HAProxy, Node.js) with
its closest equivalent of ``LimitListener(l, 1)``, the verdict its
documentation predicts and why. :mod:`.launch` starts one on a free loopback
port with a configuration written to a private folder and always stops it;
:mod:`.runner` probes each with :func:`keepalive_lab.probe.check` and compares;
:mod:`.recording` keeps the last measured verdicts for machines where a
server's package is missing. :mod:`.apps` and ``server.js`` are the tiny
applications the Python and Node.js servers run.

This ``__init__`` imports nothing: uvicorn and gunicorn import
``keepalive_lab.zoo.apps`` in their own processes, and should not pay for the
rest of the lab.
"""
