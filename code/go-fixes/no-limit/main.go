// Built in GOPATH mode, Go applies go1.20's GODEBUG defaults (the old ServeMux, lax
// Content-Length); a module that says "go 1.23" gets 1.23's, and so does this program.
//go:debug default=go1.23

// Command no-limit is the incident's service with no limit at all: the
// listener from net.Listen, unwrapped, as net/http serves by default. Every
// connection is accepted and handlers run side by side, so the work that
// must never run twice at once can; the limit existed to prevent that. The
// server zoo runs it as Go's row with the package's defaults: nothing counts
// connections, so idle keep-alive connections cannot hold anything back.
package main

import (
	"net"

	"oneslot/service"
)

func main() {
	service.Main(service.Options{
		Limit: func(l net.Listener) net.Listener { return l }, // no LimitListener
	})
}
