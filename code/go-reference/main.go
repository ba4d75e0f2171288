// Built in GOPATH mode, Go applies go1.20's GODEBUG defaults (the old ServeMux, lax
// Content-Length); a module that says "go 1.23" gets 1.23's, and so does this program.
//go:debug default=go1.23

// Command keepalive-go is the Go reference for keepalive_lab's lab server.
//
// It is the incident's server, written out with the real net/http and
// golang.org/x/net/netutil: an http.ServeMux whose one handler sleeps for
// --latency and writes --body-bytes bytes, behind netutil.LimitListener(l, n).
// Its flags, its first line on stdout and its access log are those of
// `python -m keepalive_lab serve`, so that keepalive_lab.fidelity can run the
// same scenarios against both programs and compare what goes over the wire.
//
// Build it with tools/go_reference.sh (GOPATH mode, no module proxy needed).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/netutil"
	"golang.org/x/sys/unix"
)

const (
	exitOK    = 0
	exitFatal = 1
	exitUsage = 2
	progName  = "keepalive-go"
)

// config holds the command line, one field per flag of `keepalive_lab serve`.
type config struct {
	addr              string
	limit             int
	readTimeout       time.Duration
	writeTimeout      time.Duration
	idleTimeout       time.Duration
	readHeaderTimeout time.Duration
	maxHeaderBytes    int
	latency           time.Duration
	bodyBytes         int
	noContentLength   bool
	noKeepAlives      bool
	connClose         bool
	accessLog         string
}

// usageError is a bad command line: one line on stderr and exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// nonNegative is a flag.Value for an int that must be >= 0, phrased as cli.py phrases it.
type nonNegative struct{ p *int }

func (v nonNegative) String() string {
	if v.p == nil {
		return "0"
	}
	return strconv.Itoa(*v.p)
}

func (v nonNegative) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("not an integer: %q", s)
	}
	if n < 0 {
		return fmt.Errorf("must be >= 0: %d", n)
	}
	*v.p = n
	return nil
}

// duration is a flag.Value parsed by time.ParseDuration, the syntax cli.py copies.
type duration struct{ p *time.Duration }

func (v duration) String() string {
	if v.p == nil {
		return "0s"
	}
	return v.p.String()
}

func (v duration) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q (want e.g. 30s, 100ms, 1m30s)", s)
	}
	*v.p = d
	return nil
}

// loopbackAddr checks HOST:PORT the way cli.py does: the lab listens on IPv4 loopback only.
func loopbackAddr(s string) error {
	i := strings.LastIndex(s, ":")
	if i < 0 {
		return fmt.Errorf("want HOST:PORT, got %q", s)
	}
	host, port := s[:i], s[i+1:]
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 || strings.TrimLeft(port, "0123456789") != "" {
		return fmt.Errorf("want HOST:PORT, got %q", s)
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.To4() == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q is not an IPv4 loopback address; the lab listens on 127.0.0.1 only", host)
	}
	return nil
}

// parseFlags reads the command line; an optional leading "serve" mirrors `python -m keepalive_lab serve`.
func parseFlags(args []string) (*config, error) {
	if len(args) > 0 && args[0] == "serve" {
		args = args[1:]
	}
	c := &config{
		addr:           "127.0.0.1:0",
		limit:          1,
		readTimeout:    30 * time.Second,
		writeTimeout:   30 * time.Second,
		maxHeaderBytes: 1 << 20,
		latency:        100 * time.Millisecond,
		bodyBytes:      3,
	}
	fs := flag.NewFlagSet(progName, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors become one line, written by main
	fs.Func("addr", "HOST:PORT (default 127.0.0.1:0)", func(s string) error {
		if err := loopbackAddr(s); err != nil {
			return err
		}
		c.addr = s
		return nil
	})
	fs.Var(nonNegative{&c.limit}, "limit", "LimitListener n; 0 means no limit (default 1)")
	fs.Var(duration{&c.readTimeout}, "read-timeout", "Server.ReadTimeout (default 30s)")
	fs.Var(duration{&c.writeTimeout}, "write-timeout", "Server.WriteTimeout (default 30s)")
	fs.Var(duration{&c.idleTimeout}, "idle-timeout", "Server.IdleTimeout; 0 falls back to ReadTimeout")
	fs.Var(duration{&c.readHeaderTimeout}, "read-header-timeout", "0 falls back to ReadTimeout")
	fs.Var(nonNegative{&c.maxHeaderBytes}, "max-header-bytes", "Server.MaxHeaderBytes")
	fs.Var(duration{&c.latency}, "latency", "handler work per request (default 100ms)")
	fs.Var(nonNegative{&c.bodyBytes}, "body-bytes", "response body size (default 3: ok\\n)")
	fs.BoolVar(&c.noContentLength, "no-content-length", false, "let net/http frame the body")
	fs.BoolVar(&c.noKeepAlives, "no-keep-alives", false, "SetKeepAlivesEnabled(false): the first fix")
	fs.BoolVar(&c.connClose, "conn-close", false, "handler sets Connection: close: the second fix")
	fs.StringVar(&c.accessLog, "access-log", "", "append one JSON line per handled request")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(os.Stdout)
			fmt.Println("usage: " + progName + " [serve] [flags]")
			fs.PrintDefaults()
			return nil, err
		}
		msg := err.Error()
		if undefined := "flag provided but not defined: -"; strings.HasPrefix(msg, undefined) {
			msg = "unrecognized arguments: --" + strings.TrimPrefix(msg, undefined) // argparse's wording
		}
		return nil, usageError{msg}
	}
	if fs.NArg() > 0 {
		return nil, usageError{"unrecognized arguments: " + strings.Join(fs.Args(), " ")}
	}
	return c, nil
}

// monotonic is CLOCK_MONOTONIC in seconds: the clock of Python's time.monotonic() on Linux,
// so that access-log times from both servers can be compared with the harness's own clock.
func monotonic() float64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return float64(ts.Sec) + float64(ts.Nsec)/1e9
}

// accessRecord is one line of the access log; fields and order follow server.py's AccessRecord.
type accessRecord struct {
	Time         string  `json:"time"`
	ConnID       int64   `json:"conn_id"`
	RemoteAddr   string  `json:"remote_addr"`
	Method       string  `json:"method"`
	Target       string  `json:"target"`
	Proto        string  `json:"proto"`
	Status       int     `json:"status"`
	BodyBytes    int     `json:"body_bytes"`
	RequestID    string  `json:"request_id"`
	HandlerStart float64 `json:"handler_start"`
	HandlerEnd   float64 `json:"handler_end"`
	WriteError   string  `json:"write_error"`
}

// jsonLinesLog appends one JSON object per line and writes each line at once (no buffering),
// so a reader sees a record as soon as the handler has run.
type jsonLinesLog struct {
	mu sync.Mutex
	f  *os.File
}

func (l *jsonLinesLog) write(r accessRecord) {
	line, err := json.Marshal(r)
	if err != nil {
		return // every field is a plain string or number: cannot happen
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.f.Write(append(line, '\n'))
}

type connIDKey struct{}

// bodyOf is keepalive_lab.handlers.body_of: "ok\n" for 3, else the alphabet and a newline, repeated.
func bodyOf(n int) []byte {
	if n == 3 {
		return []byte("ok\n")
	}
	const pattern = "abcdefghijklmnopqrstuvwxyz\n"
	return []byte(strings.Repeat(pattern, n/len(pattern)+1)[:n])
}

// articleHandler does the incident's work: wait, then answer a small text body.
type articleHandler struct {
	latency       time.Duration
	body          []byte
	contentLength bool
	connClose     bool
}

func (h *articleHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.latency > 0 {
		time.Sleep(h.latency) // the handler's work
	}
	if h.contentLength {
		w.Header().Set("Content-Length", strconv.Itoa(len(h.body)))
	}
	if h.connClose {
		w.Header().Set("Connection", "close")
	}
	w.Write(h.body)
}

// recorder notes what a handler did to its ResponseWriter, for the access log.
type recorder struct {
	http.ResponseWriter
	status  int
	written int
	werr    error
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(p)
	r.written += n
	if err != nil && r.werr == nil {
		r.werr = err
	}
	return n, err
}

// accessLogged logs every request that reaches next (the mux), as server.py logs every request
// its handler runs. "OPTIONS *" never gets here: net/http answers it before any handler.
//
// The record is written before net/http flushes the response (finishRequest runs after the
// handler returns), so a write error at that flush cannot be seen here: Go 1.19 has no
// ResponseController. write_error only carries an error Write itself returned.
func accessLogged(next http.Handler, log *jsonLinesLog) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := monotonic()
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK // what finishRequest sends for a handler that wrote nothing
		}
		werr := ""
		if rec.werr != nil {
			werr = rec.werr.Error()
		}
		id, _ := r.Context().Value(connIDKey{}).(int64)
		log.write(accessRecord{
			Time:         time.Now().Format("2006-01-02T15:04:05-0700"),
			ConnID:       id,
			RemoteAddr:   r.RemoteAddr,
			Method:       r.Method,
			Target:       r.RequestURI,
			Proto:        r.Proto,
			Status:       rec.status,
			BodyBytes:    rec.written,
			RequestID:    r.Header.Get("X-Request-Id"),
			HandlerStart: start,
			HandlerEnd:   monotonic(),
			WriteError:   werr,
		})
	})
}

func run(c *config) error {
	var log *jsonLinesLog
	if c.accessLog != "" {
		f, err := os.OpenFile(c.accessLog, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return usageError{"--access-log: " + err.Error()}
		}
		defer f.Close()
		log = &jsonLinesLog{f: f}
	}
	mux := http.NewServeMux()
	mux.Handle("/", &articleHandler{
		latency:       c.latency,
		body:          bodyOf(c.bodyBytes),
		contentLength: !c.noContentLength,
		connClose:     c.connClose,
	})
	var handler http.Handler = mux
	if log != nil {
		handler = accessLogged(mux, log)
	}
	var conns int64
	srv := &http.Server{
		Handler:           handler,
		ReadTimeout:       c.readTimeout,
		WriteTimeout:      c.writeTimeout,
		IdleTimeout:       c.idleTimeout,
		ReadHeaderTimeout: c.readHeaderTimeout,
		MaxHeaderBytes:    c.maxHeaderBytes,
		// Numbered in accept order, as server.py numbers its connections.
		ConnContext: func(ctx context.Context, _ net.Conn) context.Context {
			return context.WithValue(ctx, connIDKey{}, atomic.AddInt64(&conns, 1))
		},
	}
	if c.noKeepAlives {
		srv.SetKeepAlivesEnabled(false)
	}
	// "tcp4": the lab is IPv4 loopback only. The backlog is somaxconn, as for any Go listener.
	l, err := net.Listen("tcp4", c.addr)
	if err != nil {
		return usageError{"--addr " + c.addr + ": " + err.Error()}
	}
	if c.limit > 0 {
		l = netutil.LimitListener(l, c.limit)
	}
	// Signals are caught before the address is announced: a client that stops the server as soon
	// as it reads the line must get a clean exit, not the default death by SIGTERM.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	fmt.Printf("listening on %s\n", l.Addr()) // os.Stdout is unbuffered: the line leaves at once

	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	select {
	case <-stop:
		srv.Close() // closes the listener and every connection, as cli.py's server.close()
		return nil
	case err := <-served:
		return err
	}
}

func main() {
	c, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(exitOK)
	}
	if err == nil {
		err = run(c)
	}
	var usage usageError
	switch {
	case err == nil:
		os.Exit(exitOK)
	case errors.As(err, &usage):
		fmt.Fprintf(os.Stderr, "%s: error: %s\n", progName, usage.msg)
		os.Exit(exitUsage)
	default:
		fmt.Fprintf(os.Stderr, "%s: %v\n", progName, err)
		os.Exit(exitFatal)
	}
}
