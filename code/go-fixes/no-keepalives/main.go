// Command no-keepalives is the incident's service with the article's first
// fix: keep-alives disabled, so net/http closes every connection after its
// response (and says so with "Connection: close"), and the slot is free again
// at once.
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
		MaxHeaderBytes: 1 << 20,
	}
	srv.SetKeepAlivesEnabled(false) // the fix: one connection per request

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
