#!/usr/bin/env bash
# Starve the lab server by hand, with bash, curl and ss.
#
# One client keeps an idle HTTP/1.1 connection open: it holds the server's only
# LimitListener slot. A second client connects at once (the kernel completes the
# handshake), sends its request and gets no answer until it gives up; meanwhile
# `ss -lnt` shows its connection waiting in the listening socket's accept queue
# (Recv-Q 1). Run it from the repository after `make book` or `make test`.
set -euo pipefail
python=${PYTHON:-.venv/bin/python}

# 1. The server: LimitListener(l, 1) and Go's ReadTimeout of 30 s, so idle
#    connections are closed after 30 s. It prints "listening on 127.0.0.1:PORT".
coproc server { exec "$python" -m keepalive_lab serve --limit 1 --read-timeout 30s --latency 100ms; }
trap 'kill "$server_PID" 2>/dev/null' EXIT
read -r line <&"${server[0]}"
port=${line##*:}
echo "server: $line"

# 2. The first client: one request on a connection it keeps open and quiet.
#    (bash's /dev/tcp: file descriptor 3 stays connected until this script ends.)
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET / HTTP/1.1\r\nHost: lab\r\n\r\n' >&3
read -r status <&3
echo "first client: ${status%$'\r'} (and it keeps the connection open)"

# 3. The second client gives up after 5 s; look at the listening socket while it waits.
curl -sS -m 5 -o /dev/null "http://127.0.0.1:$port/" &
curl_pid=$!
sleep 1
echo "the listening socket while the second client waits (Recv-Q = connections not accepted):"
ss -lnt "sport = :$port"
wait "$curl_pid" && echo "second client: answered" || echo "second client: gave up (curl exit $?)"
