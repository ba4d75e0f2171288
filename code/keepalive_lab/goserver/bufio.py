"""The read side of a connection: Go's ``connReader`` and the 4 KiB ``bufio.Reader`` in front of it.

Theory of operation
-------------------
Go reads requests through two layers (net/http server.go):

* ``connReader`` counts the bytes that come off the wire against a limit:
  ``MaxHeaderBytes`` + 4096 while a head is read, none once it is in. At the
  limit a read returns EOF, and the failed head becomes a ``431``. Bytes
  already buffered by an earlier read do not count.
* a ``bufio.Reader`` of 4096 bytes (``newBufioReader``) in front of it. Its
  size shows on the wire: a read off the socket asks for at most the room left
  in the buffer, so Go never reads further ahead than that (what it reads ahead
  belongs to the next request, and is not counted against that request's
  limit); and a chunk-size line or a chunked trailer must fit in it
  (internal/chunked.go, transfer.go ``seeUpcomingDoubleCRLF``).

:class:`BufferedReader` keeps Go's read sizes: :meth:`~BufferedReader.fill`
reads once into the room left, and :meth:`~BufferedReader.read` reads straight
off the connection when the buffer is empty and the caller wants at least a
buffer's worth, as ``bufio.Reader.Read`` does.

Read errors are not stored. A timeout (the deadline has passed), EOF and the
read limit all recur when read again, which is what Go's callers see when
``bufio`` hands back a partial line first and the error on the next call.
"""

from __future__ import annotations

from keepalive_lab.goserver.net import Conn, NetError

__all__ = ["ConnReader", "BufferedReader", "EOF", "UnexpectedEOF", "BUFFER_SIZE"]

BUFFER_SIZE = 4096  # bufio.defaultBufSize, the size of the server's bufio.Reader


class EOF(Exception):
    """Go's ``io.EOF``: the peer closed its side, or the read limit was reached."""


class UnexpectedEOF(EOF):
    """Go's ``io.ErrUnexpectedEOF``: EOF in the middle of something."""


class ConnReader:
    """Go's ``connReader``: reads off the connection, counted against an optional limit.

    https://github.com/golang/go/blob/go1.23.4/src/net/http/server.go (``connReader.Read``,
    ``setReadLimit``, ``setInfiniteReadLimit``, ``hitReadLimit``)
    """

    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.remain: int | None = None  # None: no limit
        self.bytes_read = 0  # off the wire since the limit was last set

    def set_read_limit(self, limit: int) -> None:
        self.remain = limit
        self.bytes_read = 0

    def set_infinite_read_limit(self) -> None:
        self.remain = None

    @property
    def hit_read_limit(self) -> bool:
        return self.remain is not None and self.remain <= 0

    def read(self, max_bytes: int) -> bytes:
        """Up to ``max_bytes`` off the wire; ``b""`` at EOF or at the limit. Raises NetError."""
        if self.hit_read_limit:
            return b""
        if self.remain is not None:
            max_bytes = min(max_bytes, self.remain)
        data = self.conn.recv(max_bytes)
        if self.remain is not None:
            self.remain -= len(data)
        self.bytes_read += len(data)
        return data


class BufferedReader:
    """Go's ``bufio.Reader`` of :data:`BUFFER_SIZE` bytes over a :class:`ConnReader`.

    The unread bytes are ``buf[r:]``; they are slid to the front only when
    the buffer is filled again, so consuming a line costs nothing.

    https://github.com/golang/go/blob/go1.23.4/src/bufio/bufio.go (``Reader.fill``, ``Peek``, ``Read``)
    """

    def __init__(self, src: ConnReader, size: int = BUFFER_SIZE) -> None:
        self.src = src
        self.size = size
        self.buf = bytearray()
        self.r = 0

    def buffered(self) -> int:
        return len(self.buf) - self.r

    def fill(self) -> None:
        """Slide the unread bytes to the front and read once into the room left.

        Raises :class:`EOF` or a NetError; the buffer must not be full.
        """
        if self.r:
            del self.buf[: self.r]
            self.r = 0
        room = self.size - len(self.buf)
        if room <= 0:
            raise ValueError("fill on a full buffer")  # Go panics here too: a caller's bug
        data = self.src.read(room)
        if not data:
            raise EOF()
        self.buf += data

    def peek(self, n: int) -> bytes:
        """The next ``n`` bytes without consuming them; fewer when a read failed first (Go's ``Peek``).

        ``n`` is at most the buffer's size. The failure itself is not returned: no caller needs more
        than "fewer than asked", and reading again meets it again.
        """
        try:
            while self.buffered() < n:
                self.fill()
        except (EOF, NetError):
            pass
        return bytes(self.buf[self.r : self.r + n])

    def discard(self, n: int) -> None:
        """Drop ``n`` buffered bytes (callers discard only what they peeked)."""
        self.r += min(n, self.buffered())

    def read(self, max_bytes: int) -> bytes:
        """At least one byte, at most ``max_bytes`` (Go's ``bufio.Reader.Read``). Raises EOF or a NetError."""
        if not self.buffered():
            if max_bytes >= self.size:
                # A large read with an empty buffer goes straight to the connection: nothing is read ahead.
                data = self.src.read(max_bytes)
                if not data:
                    raise EOF()
                return data
            self.fill()
        data = bytes(self.buf[self.r : self.r + max_bytes])
        self.r += len(data)
        return data

    def read_full(self, n: int) -> bytes:
        """Exactly ``n`` bytes (Go's ``io.ReadFull``): EOF with none, ``UnexpectedEOF`` with some."""
        data = b""
        while len(data) < n:
            try:
                data += self.read(n - len(data))
            except EOF:
                if data:
                    raise UnexpectedEOF() from None
                raise
        return data
