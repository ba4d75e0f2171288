// Command instrumented-limit keeps netutil.LimitListener but makes it visible. Two thin
// listeners around it count the slots in use and measure how long each Accept waited
// for a free slot, and expvar publishes both at /debug/vars on a separate, unlimited
// listener (a metrics port behind the same limit would starve with the rest).
//
// A slot held by an idle connection is what the incident hid; Accept waiting seconds
// for a slot while connections queue in the kernel is its signature.
package main

import (
	"expvar"
	"flag"
	"log"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/netutil"
)

var (
	slotsInUse  = expvar.NewInt("limit_slots_in_use")
	slotWaitMS  = expvar.NewFloat("limit_slot_wait_ms_last")
	slotWaitSum = expvar.NewFloat("limit_slot_wait_ms_total")
)

// acceptClock is when the server last called Accept. LimitListener takes a slot
// before it calls the listener below it, so the time from the server's call to that
// inner call is the time spent waiting for a slot.
type acceptClock struct{ began atomic.Int64 }

// outerListener is what the server sees: it starts the clock.
type outerListener struct {
	net.Listener
	clock *acceptClock
}

func (l outerListener) Accept() (net.Conn, error) {
	l.clock.began.Store(time.Now().UnixNano())
	return l.Listener.Accept()
}

// innerListener is what LimitListener wraps: reached once a slot is free.
type innerListener struct {
	net.Listener
	clock *acceptClock
}

func (l innerListener) Accept() (net.Conn, error) {
	waited := float64(time.Now().UnixNano()-l.clock.began.Load()) / float64(time.Millisecond)
	slotWaitMS.Set(waited)
	slotWaitSum.Add(waited)
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	slotsInUse.Add(1)
	return &countedConn{Conn: c}, nil
}

// countedConn gives its count back once, when the server closes it, as the slot does.
type countedConn struct {
	net.Conn
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { slotsInUse.Add(-1) })
	return c.Conn.Close()
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	metrics := flag.String("metrics", "127.0.0.1:8081", "expvar listen address (not limited)")
	flag.Parse()

	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(200 * time.Millisecond)
		w.Write([]byte("ok\n"))
	})
	srv := &http.Server{Handler: mux, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}

	go func() {
		// Importing expvar registers /debug/vars on http.DefaultServeMux.
		log.Fatal(http.ListenAndServe(*metrics, http.DefaultServeMux))
	}()

	l, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("listening on %s", l.Addr())
	clock := &acceptClock{}
	limited := netutil.LimitListener(innerListener{l, clock}, 1)
	if err := srv.Serve(outerListener{limited, clock}); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
