// Built in GOPATH mode, Go applies go1.20's GODEBUG defaults (the old ServeMux, lax
// Content-Length); a module that says "go 1.23" gets 1.23's, and so does this program.
//go:debug default=go1.23

// Command connection-close is the incident's service with the article's
// second fix: the handler answers "Connection: close", so net/http closes the
// connection after the response. Only the handlers that set the header get
// the fix.
package main

import (
	"net/http"

	"oneslot/service"
)

func main() {
	service.Main(service.Options{
		Handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close") // the fix: close after this response
			service.Work(w, r)
		},
	})
}
