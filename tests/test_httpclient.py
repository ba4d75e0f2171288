"""``KeepAliveClient``, the users' client: connection reuse as a keep-alive client does it, and its errors."""

from __future__ import annotations

import contextlib
import socket
import threading

import pytest
from keepalive_lab.goserver.handlers import ArticleHandler
from keepalive_lab.lab.httpclient import ClientError, ClientTimeout, KeepAliveClient
from keepalive_lab.records import ConnState


def test_requests_share_one_kept_alive_connection(lab_factory):
    lab = lab_factory(ArticleHandler(latency=0.0))
    with KeepAliveClient(5) as http:
        assert [http.get(lab.running.url) for _ in range(5)] == [200] * 5
    assert lab.wait_closed(1)
    assert lab.closed_count() == 1, "five requests should have used one connection"


def test_a_connection_the_server_closed_while_idle_is_replaced_before_sending(lab_factory):
    lab = lab_factory(ArticleHandler(latency=0.0))
    with KeepAliveClient(5) as http:
        assert http.get(lab.running.url) == 200
        lab.server.set_keep_alives_enabled(False)  # Go closes idle connections when keep-alives go off
        assert lab.wait_closed(1)
        assert http.get(lab.running.url) == 200
    assert lab.wait_closed(2)


def test_a_response_that_says_connection_close_is_not_reused(lab_factory):
    def handler(w, r):
        w.header().set("Connection", "close")
        w.write(b"ok")

    lab = lab_factory(handler)
    with KeepAliveClient(5) as http:
        assert [http.get(lab.running.url) for _ in range(3)] == [200] * 3
    assert lab.wait_closed(3)


def test_a_chunked_body_and_extra_headers_go_through(lab_factory):
    seen = []

    def handler(w, r):
        seen.append(r.header.get("X-Request-Id"))
        w.write(b"a" * 5000)
        w.flush()
        w.write(b"b" * 5000)

    lab = lab_factory(handler)
    with KeepAliveClient(5) as http:
        assert http.get(lab.running.url, {"X-Request-Id": "r-1"}) == 200
        assert http.get(lab.running.url + "?q=1", {"X-Request-Id": "r-2"}) == 200
    assert seen == ["r-1", "r-2"]


@contextlib.contextmanager
def _one_shot_server(answer: bytes):
    """Accepts one connection, reads a request, writes ``answer`` and closes."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve():
        with contextlib.suppress(OSError):
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    finally:
        listener.close()
        thread.join(5)


@pytest.mark.parametrize("answer", [b"", b"garbage\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"])
def test_a_broken_or_missing_response_is_a_client_error(answer):
    with _one_shot_server(answer) as url, KeepAliveClient(2) as http, pytest.raises(ClientError):
        http.get(url)


def test_silence_is_a_timeout():
    with socket.create_server(("127.0.0.1", 0)) as listener, KeepAliveClient(0.2) as http:
        with pytest.raises(ClientTimeout, match="read: nothing for"):
            http.get(f"http://127.0.0.1:{listener.getsockname()[1]}/")


def test_a_status_other_than_200_is_returned_not_raised():
    with _one_shot_server(b"HTTP/1.1 504 Gateway Timeout\r\nContent-Length: 0\r\n\r\n") as url:
        with KeepAliveClient(2) as http:
            assert http.get(url) == 504


def test_close_closes_the_idle_connections(lab_factory):
    lab = lab_factory(ArticleHandler(latency=0.0))
    http = KeepAliveClient(5)
    assert http.get(lab.running.url) == 200
    assert lab.wait_state(ConnState.IDLE)
    http.close()
    assert lab.wait_closed(1)


def test_close_from_another_thread_ends_a_request_in_flight():
    with socket.create_server(("127.0.0.1", 0)) as listener:
        http = KeepAliveClient(30)
        errors = []

        def ask():
            try:
                http.get(f"http://127.0.0.1:{listener.getsockname()[1]}/")
            except (ClientError, ClientTimeout) as exc:
                errors.append(exc)

        thread = threading.Thread(target=ask)
        thread.start()
        conn, _ = listener.accept()  # the request is in flight: nobody will answer it
        with conn:
            conn.recv(1024)
            http.close()
            thread.join(5)
        assert not thread.is_alive(), "close() should end the request at once, not after 30 s"
        assert len(errors) == 1 and isinstance(errors[0], ClientError)
        with pytest.raises(ClientError, match="closed"):
            http.get(f"http://127.0.0.1:{listener.getsockname()[1]}/")
