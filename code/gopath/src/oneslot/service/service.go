// Package service is the incident's service as the article describes it: an
// http.ServeMux whose one handler does work that must never run twice at once,
// an http.Server with a ReadTimeout and a WriteTimeout of 30 seconds and a
// MaxHeaderBytes of 1 MiB, and a listener from net.Listen wrapped in
// netutil.LimitListener(l, 1).
//
// Main runs it. Each program under code/go-fixes changes one thing through
// Options, so that the change is all that program says.
package service

import (
	"flag"
	"log"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"
)

// Work is the handler's work, which must never run twice at once.
func Work(w http.ResponseWriter, r *http.Request) {
	time.Sleep(200 * time.Millisecond)
	w.Write([]byte("ok\n"))
}

// Options are what a fix changes; the zero value is the incident.
type Options struct {
	// Handler replaces Work.
	Handler http.HandlerFunc
	// Configure changes the server before it serves.
	Configure func(srv *http.Server)
	// Limit wraps the listener; nil means netutil.LimitListener(l, 1).
	Limit func(l net.Listener) net.Listener
}

// Main serves on -addr (127.0.0.1:8080 by default) until the process ends.
func Main(o Options) {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	flag.Parse()

	handler := o.Handler
	if handler == nil {
		handler = Work
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", handler)
	srv := &http.Server{
		Handler:        mux,
		ReadTimeout:    30 * time.Second,
		WriteTimeout:   30 * time.Second,
		MaxHeaderBytes: 1 << 20,
	}
	if o.Configure != nil {
		o.Configure(srv)
	}

	l, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("listening on %s", l.Addr())
	limit := o.Limit
	if limit == nil {
		// At most one accepted connection at a time: the slot is taken
		// before Accept and given back only when the server closes the
		// connection.
		limit = func(l net.Listener) net.Listener {
			return netutil.LimitListener(l, 1)
		}
	}
	err = srv.Serve(limit(l))
	if err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
