#!/usr/bin/env bash
# Install Debian's haproxy and nginx for the real-load-balancer chapter, without running them
# as system services: the lab starts its own processes, in the foreground, on loopback ports.
#
# - Does nothing when both binaries are already there.
# - Needs root (apt-get); prints what to run and exits 1 otherwise.
# - Keeps the packages' init scripts from starting anything during the install (a temporary
#   policy-rc.d), then disables the services and stops any instance the packages did start,
#   by the PID in its own pid file. Finally checks that no haproxy or nginx listens on port 80.
set -euo pipefail

export PATH="$PATH:/usr/sbin:/sbin"

missing=()
command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
command -v nginx >/dev/null 2>&1 || missing+=(nginx)

if [ "${#missing[@]}" -eq 0 ]; then
    echo "install_lbs: haproxy and nginx are already installed"
else
    if [ "$(id -u)" -ne 0 ]; then
        echo "install_lbs: ${missing[*]} missing; run as root: sudo $0" >&2
        exit 1
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "install_lbs: ${missing[*]} missing and apt-get not found (Debian/Ubuntu only)" >&2
        exit 1
    fi
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
    echo "install_lbs: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    cleanup
    trap - EXIT
fi

# The lab never uses the system services: keep them from starting at boot, stop them if running.
for service in haproxy nginx; do
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
    if [ -s "$pidfile" ]; then
        pid="$(head -n 1 "$pidfile" | tr -cd '0-9')"
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            echo "install_lbs: stopping the system $service (pid $pid)"
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
    on80="$(ss -Hltnp 'sport = :80' 2>/dev/null | grep -E '"(haproxy|nginx)"' || true)"
    if [ -n "$on80" ]; then
        echo "install_lbs: a system haproxy or nginx still listens on port 80:" >&2
        echo "$on80" >&2
        exit 1
    fi
fi

echo "install_lbs: $(haproxy -v 2>&1 | head -n 1 | sed "s@ - .*@@")"
echo "install_lbs: $(nginx -v 2>&1 | head -n 1)"
