"""Real HAProxy and nginx in front of the lab server: configs, processes, logs, scenarios, verdicts.

``runner.run()`` plays the scenarios of ``catalogue.SCENARIOS`` live; each
scenario is a ``rig`` of load-balancer processes (``process``, ``config``)
driven by a traffic pattern (``patterns``), whose logs (``logs``, ``stats``)
become records, judged by ``verdicts`` (requests), ``health`` (health
checks) or ``lifetimes`` (how long an idle server connection lives).
"""
