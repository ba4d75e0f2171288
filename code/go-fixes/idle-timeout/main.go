// Built in GOPATH mode, Go applies go1.20's GODEBUG defaults (the old ServeMux, lax
// Content-Length); a module that says "go 1.23" gets 1.23's, and so does this program.
//go:debug default=go1.23

// Command idle-timeout sets an IdleTimeout shorter than ReadTimeout. An idle
// connection now gives the slot back after 5 s instead of 30 s: the window in
// which another load-balancer node's connections wait is shorter, but it is
// still there.
package main

import (
	"net/http"
	"time"

	"oneslot/service"
)

func main() {
	service.Main(service.Options{
		Configure: func(srv *http.Server) {
			srv.IdleTimeout = 5 * time.Second // zero would mean: use ReadTimeout
		},
	})
}
