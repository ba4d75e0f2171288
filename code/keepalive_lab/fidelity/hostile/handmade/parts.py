"""What the hand-made classes share: the seed, the Host header, a POST, a chunked body.

Every request is built from parts with :func:`~.case.raw`, so that any byte
(a NUL, a bare CR, ``\\xff``) can go anywhere; the helpers here only save
writing the same Host header and POST line a few hundred times. They are
part of what each case sends, and so of its id: changing one changes the ids
of every case built with it, which the recording then lacks.
"""

from __future__ import annotations

from keepalive_lab.fidelity.hostile.case import raw

__all__ = ["CHUNKED", "HELLO_CHUNKED", "HOST", "SEED", "post", "with_host"]

SEED = 20241203  # every random choice in the corpus comes from this seed
HOST = (("Host", "lab"),)
CHUNKED = ("Transfer-Encoding", "chunked")
HELLO_CHUNKED = b"5\r\nhello\r\n0\r\n\r\n"


def with_host(*pairs: tuple[str | bytes, str | bytes]) -> tuple:
    """``Host: lab``, then ``pairs``: the headers of an ordinary HTTP/1.1 request."""
    return HOST + pairs


def post(headers, body: bytes, version: str = "HTTP/1.1", target: str = "/") -> bytes:
    """A POST with ``headers`` and ``body`` as given: no Content-Length is added."""
    return raw("POST", target, version, headers, body)
