// Built in GOPATH mode, Go applies go1.20's GODEBUG defaults (the old ServeMux, lax
// Content-Length); a module that says "go 1.23" gets 1.23's, and so does this program.
//go:debug default=go1.23

// Command work-semaphore limits the work, not the connections: every
// connection is accepted (no LimitListener) and a weighted semaphore of size
// 1 lets one handler do its work at a time. Waiting requests are now inside
// the program, where they can be counted and logged.
//
// The wait ends early only because it watches the request's context: Acquire
// returns when r.Context() is done, and net/http cancels that context when
// the client closes its connection (a load balancer does so when its own
// timeout runs out). Neither ReadTimeout nor WriteTimeout interrupts a
// handler that waits: once the request is read, net/http clears the read
// deadline (server.go, startBackgroundRead), and WriteTimeout only makes a
// late write fail. The ctx.Err() check after Acquire skips the work for a
// request whose client has already left: Acquire hands out a free semaphore
// without looking at the context.
package main

import (
	"net"
	"net/http"

	"golang.org/x/sync/semaphore"
	"oneslot/service"
)

func main() {
	work := semaphore.NewWeighted(1)
	service.Main(service.Options{
		// No LimitListener: every connection is accepted.
		Limit: func(l net.Listener) net.Listener { return l },
		Handler: func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			if err := work.Acquire(ctx, 1); err != nil {
				// The client left (or the server shut down) while
				// this request waited.
				http.Error(w, "gave up waiting", http.StatusServiceUnavailable)
				return
			}
			defer work.Release(1)
			if ctx.Err() != nil {
				return // the client has left: do not do the work
			}
			service.Work(w, r) // one request at a time
		},
	})
}
