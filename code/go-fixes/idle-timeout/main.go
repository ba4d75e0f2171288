// Command idle-timeout sets an IdleTimeout shorter than ReadTimeout. An idle
// connection now gives the slot back after 5 s instead of 30 s: the window in
// which another load-balancer node's connections wait is shorter, but it is
// still there.
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
		time.Sleep(200 * time.Millisecond)
		w.Write([]byte("ok\n"))
	})
	srv := &http.Server{
		Addr:           *addr,
		Handler:        mux,
		ReadTimeout:    30 * time.Second,
		WriteTimeout:   30 * time.Second,
		IdleTimeout:    5 * time.Second, // zero would mean: use ReadTimeout
		MaxHeaderBytes: 1 << 20,
	}

	l, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("listening on %s", l.Addr())
	limited := netutil.LimitListener(l, 1)
	if err := srv.Serve(limited); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
