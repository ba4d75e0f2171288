"""The smallest applications the zoo's Python servers run: answer ``ok`` at once.

``app`` is an ASGI application (uvicorn), ``wsgi`` a WSGI one (gunicorn). Each
sends a body with its length, so the server is free to keep the connection
alive: whether it does is the server's decision, which is what the zoo probes.
Nothing here imports the rest of the lab.
"""

from __future__ import annotations

BODY = b"ok\n"
_HEADERS = [(b"content-type", b"text/plain"), (b"content-length", str(len(BODY)).encode())]


async def app(scope, receive, send) -> None:
    """ASGI: 200 ``ok`` for every HTTP request; lifespan events are acknowledged."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": BODY})


def wsgi(environ, start_response):
    """WSGI: 200 ``ok`` for every request."""
    start_response("200 OK", [(k.decode(), v.decode()) for k, v in _HEADERS])
    return [BODY]


def serve(port: int) -> None:
    """A plain HTTP/1.1 server with no limit (standard library, a thread per connection): HAProxy's backend.

    ``python -m keepalive_lab.zoo.apps PORT`` runs it on 127.0.0.1 until SIGTERM.
    """
    import signal
    import sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keeps connections alive, as the servers it stands for do

        def do_GET(self) -> None:
            self.send_response(200)
            for name, value in _HEADERS:
                self.send_header(name.decode(), value.decode())
            self.end_headers()
            self.wfile.write(BODY)

        def log_message(self, format, *args) -> None:
            pass  # quiet: the zoo reads only the line that says where it listens

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request, client_address) -> None:
            pass  # a client (HAProxy stopping) resetting an idle connection is no error here

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with Server(("127.0.0.1", port), Handler) as server:
        print(f"listening on 127.0.0.1:{server.server_address[1]}", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    import sys

    serve(int(sys.argv[1]))
