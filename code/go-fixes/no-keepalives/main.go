// Built in GOPATH mode, Go applies go1.20's GODEBUG defaults (the old ServeMux, lax
// Content-Length); a module that says "go 1.23" gets 1.23's, and so does this program.
//go:debug default=go1.23

// Command no-keepalives is the incident's service with the article's first
// fix: keep-alives disabled, so net/http closes every connection after its
// response (and says so with "Connection: close"), and the slot is free again
// at once.
package main

import (
	"net/http"

	"oneslot/service"
)

func main() {
	service.Main(service.Options{
		Configure: func(srv *http.Server) {
			srv.SetKeepAlivesEnabled(false) // the fix: one connection per request
		},
	})
}
