// Built in GOPATH mode, Go applies go1.20's GODEBUG defaults (the old ServeMux, lax
// Content-Length); a module that says "go 1.23" gets 1.23's, and so does this program.
//go:debug default=go1.23

// Command incident is the service of the incident, unchanged: one request at
// a time, through netutil.LimitListener(l, 1), behind a load balancer that
// keeps connections alive (package oneslot/service has the code).
//
// Nothing in it closes an idle keep-alive connection before ReadTimeout (30s,
// which net/http also uses as the idle timeout when IdleTimeout is zero), so
// one idle connection holds the only slot and every other connection waits in
// the kernel.
package main

import "oneslot/service"

func main() {
	service.Main(service.Options{})
}
