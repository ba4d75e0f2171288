"""The hostile corpus: malformed, smuggling, oversized, slow and random input, Go's answers against ours.

:mod:`.case` (one connection's worth of input and its stable id),
:mod:`.handmade` (the hand-made classes, by theme),
:mod:`.corpus` (the whole corpus, in order, with stable ids),
:mod:`.mutations` (valid requests changed from a fixed seed),
:mod:`.outcome` (statuses seen and how the connection ended),
:mod:`.runner` (playing cases against servers in parallel, each followed by a
health check), :mod:`.recording` (Go's outcomes in ``data/go-hostile.json``),
:mod:`.known` (the differences that are explained) and :mod:`.compare` (the
comparison, grouped by class). ``python -m keepalive_lab.fidelity hostile``
runs it.
"""
