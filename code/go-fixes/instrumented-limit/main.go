// Built in GOPATH mode, Go applies go1.20's GODEBUG defaults (the old ServeMux, lax
// Content-Length); a module that says "go 1.23" gets 1.23's, and so does this program.
//go:debug default=go1.23

// Command instrumented-limit keeps netutil.LimitListener but makes what it
// hides visible. Thin listeners around it publish, through expvar at
// /debug/vars on a separate, unlimited listener (a metrics port behind the
// same limit would starve with the rest):
//
//   - limit_slots_in_use: accepted connections not closed yet; an idle
//     keep-alive connection counts, exactly as it holds its slot;
//   - limit_slot_wait_ms_last: how long the server's last Accept waited for
//     a free slot; it grows with any long-lived connection, busy or idle,
//     and says nothing about whether anyone was waiting;
//   - limit_queued_ms_last and limit_queued_ms_max: how long an accepted
//     connection's request had been waiting in the kernel's accept queue,
//     read from the socket's TCP_INFO (the time since its last bytes
//     arrived). This one is the incident's signature: a request that
//     waited seconds before the program ever saw it.
//
// TCP_INFO is Linux's; elsewhere the queued metrics stay at zero.
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
	"golang.org/x/sys/unix"
	"oneslot/service"
)

var (
	slotsInUse  = expvar.NewInt("limit_slots_in_use")
	slotWaitMS  = expvar.NewFloat("limit_slot_wait_ms_last")
	queuedMS    = expvar.NewFloat("limit_queued_ms_last")
	queuedMaxMS = expvar.NewFloat("limit_queued_ms_max")
	queuedMax   atomic.Uint64
)

// acceptClock is when the server last called Accept. LimitListener takes a
// slot before it calls the listener below it, so the time from the server's
// call to that inner call is the time spent waiting for a slot.
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
	waited := time.Duration(time.Now().UnixNano() - l.clock.began.Load())
	slotWaitMS.Set(float64(waited) / float64(time.Millisecond))
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if ms, ok := queuedFor(c); ok {
		queuedMS.Set(float64(ms))
		raiseMax(uint64(ms))
	}
	slotsInUse.Add(1)
	return &countedConn{Conn: c}, nil
}

// queuedFor is how long ago, in milliseconds, the kernel received the
// connection's last bytes: for a request that waited in the accept queue, how
// long it waited.
func queuedFor(c net.Conn) (uint32, bool) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return 0, false
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return 0, false
	}
	var ms uint32
	var got bool
	raw.Control(func(fd uintptr) {
		info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
		if err == nil {
			ms, got = info.Last_data_recv, true
		}
	})
	return ms, got
}

// raiseMax keeps the longest queueing seen so far.
func raiseMax(ms uint64) {
	for old := queuedMax.Load(); ms > old; old = queuedMax.Load() {
		if queuedMax.CompareAndSwap(old, ms) {
			break
		}
	}
	queuedMaxMS.Set(float64(queuedMax.Load()))
}

// countedConn gives its count back once, when the server closes it, as the
// slot does.
type countedConn struct {
	net.Conn
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { slotsInUse.Add(-1) })
	return c.Conn.Close()
}

func main() {
	metrics := flag.String("metrics", "127.0.0.1:8081", "expvar address (unlimited)")
	service.Main(service.Options{
		Limit: func(l net.Listener) net.Listener {
			serveMetrics(*metrics)
			clock := &acceptClock{}
			limited := netutil.LimitListener(innerListener{l, clock}, 1)
			return outerListener{limited, clock}
		},
	})
}

// serveMetrics publishes expvar's /debug/vars on its own listener, which the
// limit does not cover.
func serveMetrics(addr string) {
	ml, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("metrics on %s", ml.Addr())
	go func() {
		// Importing expvar registers /debug/vars on http.DefaultServeMux.
		log.Fatal(http.Serve(ml, http.DefaultServeMux))
	}()
}
