"""A connection's objects are freed by reference counting alone, even after a failed read or write.

A stored exception keeps its traceback, the traceback its frames, and a frame
the ``self`` that stored the exception: a reference cycle, which only Python's
cyclic collector can free, whenever it next runs. Each test here disables that
collector, drops the objects, and checks through weak references that they
are gone at once.
"""

from __future__ import annotations

import gc
import weakref

import pytest
from keepalive_lab.goserver.chunked import ChunkedBody
from keepalive_lab.goserver.handlers import ArticleHandler
from keepalive_lab.goserver.net import ConnReset
from keepalive_lab.goserver.request import RequestBody
from keepalive_lab.goserver.response import ConnWriter

from .bytesource import buffered


@pytest.fixture
def no_cyclic_gc():
    """The cyclic collector off for the test (and whatever it left collected before)."""
    gc.collect()
    gc.disable()
    yield
    gc.enable()


class _Failing:
    """A BodySource that serves some bytes, then fails with a new exception each time, as the reader's do.

    (conftest's FakeSource raises one stored exception again and again: that exception's traceback
    would hold the body's frames, the very cycle under test.)
    """

    def __init__(self, data: bytes) -> None:
        self.data = data

    def read_body(self, max_bytes: int) -> tuple[bytes, bool]:
        if not self.data:
            raise ConnReset("reset")
        data, self.data = self.data[:max_bytes], self.data[max_bytes:]
        return data, False


def test_a_body_that_failed_to_read_is_freed_at_once(no_cyclic_gc):
    body = RequestBody(_Failing(b"ab"), 10)
    assert body.discard(100) == (2, "error")
    assert body.read_error is not None and body.read_error.__traceback__ is None
    gone = weakref.ref(body)
    del body
    assert gone() is None


def test_a_chunked_body_that_failed_is_freed_at_once(no_cyclic_gc):
    reader, _ = buffered(b"3\r\nabc\n0\r\n\r\n")
    chunked = ChunkedBody(reader)
    body = RequestBody(_Source(chunked), -1)
    assert body.discard(100) == (3, "error")
    refs = [weakref.ref(body), weakref.ref(chunked), weakref.ref(reader)]
    del body, chunked, reader
    assert [ref() for ref in refs] == [None, None, None]


class _Source:
    """A BodySource over a ChunkedBody, as the RequestReader is one."""

    def __init__(self, chunked: ChunkedBody) -> None:
        self.chunked = chunked

    def read_body(self, max_bytes: int) -> tuple[bytes, bool]:
        return self.chunked.read(max_bytes), self.chunked.done


def test_a_writer_whose_write_failed_is_freed_at_once(no_cyclic_gc, conn_pair):
    conn, peer = conn_pair
    peer.close()  # the client is gone: the write fails with EPIPE or a reset
    out = ConnWriter(conn)
    out.write(b"x" * 10_000)
    out.flush()
    assert out.error is not None and out.error.__traceback__ is None
    gone = weakref.ref(out)
    del out
    assert gone() is None


def test_a_closed_connection_with_a_broken_body_leaves_nothing_behind(no_cyclic_gc, lab_factory):
    # The server drains the body before answering (chunkWriter.writeHeader), meets the malformed
    # chunk, answers with Connection: close and closes. Its request, body and writer must go with it.
    refs: list[weakref.ref] = []
    article = ArticleHandler(latency=0)

    def handler(w, r):
        refs.extend([weakref.ref(r), weakref.ref(r.body), weakref.ref(w)])
        article(w, r)

    lab = lab_factory(handler)
    with lab.connect() as client:
        client.send(b"POST / HTTP/1.1\r\nHost: lab\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\n0\r\n\r\n")
        response = client.read_response()
        assert (response.status, response.header("Connection")) == (200, "close")
        assert client.wait_closed() < 5
    assert lab.wait_closed(1)  # recorded once the connection's thread has left its loop
    assert lab.errors == []
    assert len(refs) == 3
    assert [ref() for ref in refs] == [None, None, None]
