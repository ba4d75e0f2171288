"""``Stacked``: a context manager that starts its parts onto one ``ExitStack`` and stops them as one.

The testbed and the real-load-balancer rig are built the same way: ``_start()``
enters each part (a server, a sampler, load balancers, callbacks) into
``self._stack``; leaving the ``with`` block closes the stack, so the parts stop
in reverse order. If ``_start()`` fails half-way, the parts already started
are stopped before the error goes on: nothing it started outlives a failed
``with``.
"""

from __future__ import annotations

import contextlib
from typing import Self

__all__ = ["Stacked"]


class Stacked:
    """Base for a context manager whose subclass starts its parts onto ``self._stack`` in ``_start()``."""

    def __init__(self) -> None:
        self._stack = contextlib.ExitStack()

    def _start(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()
