// Command incident is the service of the incident: one request at a time,
// through netutil.LimitListener(l, 1), behind a load balancer that keeps
// connections alive.
//
// Nothing in it closes an idle keep-alive connection before ReadTimeout (30s,
// which net/http also uses as the idle timeout when IdleTimeout is zero), so
// one idle connection holds the only slot and every other connection waits in
// the kernel.
package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	flag.Parse()

	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		// The work, which must never run twice at once.
		time.Sleep(200 * time.Millisecond)
		w.Write([]byte("ok\n"))
	})
	srv := &http.Server{
		Addr:           *addr,
		Handler:        mux,
		ReadTimeout:    30 * time.Second,
		WriteTimeout:   30 * time.Second,
		MaxHeaderBytes: 1 << 20,
	}

	l, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("listening on %s", l.Addr())
	// At most one accepted connection at a time: the slot is taken before
	// Accept and given back only when the server closes the connection.
	limited := netutil.LimitListener(l, 1)
	if err := srv.Serve(limited); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
