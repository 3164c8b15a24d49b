// Package sseload opens many clients of one server's event streams and
// measures what they receive.
//
// The clients use Server-Sent Event streams, short or long polling, or
// WebSockets (see [Config.Transport]). The package is the core of
// cmd/sseload. It is kept apart from flags and processes, so that a test
// can run it against the real server.
package sseload

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sse-demo/movingobject/internal/procstat"
	"github.com/sse-demo/movingobject/internal/sseload/report"
	"github.com/sse-demo/movingobject/internal/sseload/tally"
)

// The transports a run can drive, for [Config.Transport].
const (
	// TransportSSE opens a Server-Sent Event stream per client and reopens
	// it with Last-Event-ID when it ends.
	TransportSSE = "sse"
	// TransportPoll has each client ask for the moves after its last seq
	// every [Config.PollInterval], on a keep-alive connection of its own.
	TransportPoll = "poll"
	// TransportLongPoll has each client ask again as soon as an answer
	// comes, with wait=30000, so that the server holds the request until
	// a move exists.
	TransportLongPoll = "longpoll"
	// TransportWebSocket opens a WebSocket per client and reopens it with
	// after=SEQ when it ends.
	TransportWebSocket = "websocket"
	// TransportH3 is TransportSSE over HTTP/3, a QUIC connection each.
	TransportH3 = "h3"
	// TransportWebTransport is TransportWebSocket's messages in a
	// WebTransport session, a QUIC connection each.
	TransportWebTransport = "webtransport"
)

// Transports lists the transports, in the order of the tables.
var Transports = []string{TransportPoll, TransportLongPoll, TransportSSE, TransportWebSocket, TransportH3, TransportWebTransport}

// longPollWait is the wait=MS of a long poll, the longest the server may
// hold it.
const longPollWait = 30 * time.Second

// Config is one load run.
type Config struct {
	// URL is the endpoint to open: /world/events for SSE (https: for
	// HTTP/3), /world/poll for both kinds of polling, /world/ws for
	// WebSockets, https://…/world/webtransport for WebTransport. Clients
	// add their own after=SEQ (and wait=MS) to its query.
	URL string
	// Transport is one of [Transports]; empty is [TransportSSE].
	Transport string
	// PollInterval is the time between two polls of a client, for
	// [TransportPoll].
	PollInterval time.Duration
	// Streams is how many clients to run, whether streams, pollers or
	// sockets.
	Streams int
	// Ramp spreads the start of the clients evenly over this time, so
	// that the server sees no thundering herd. Pollers then also ask at
	// evenly spread moments. A Ramp of 0 starts them all at once.
	Ramp time.Duration
	// Duration is the length of the measurement window, and the run ends
	// with the window. The window starts a second after the ramp, once
	// every client has connected, or at most 10 s later.
	Duration time.Duration
	// Sources spreads the clients over source addresses 127.0.0.First ..
	// 127.0.0.(First+Sources-1), so that each address needs fewer ports.
	// 0 lets the system choose.
	Sources, First int
	// AcceptEncoding is the Accept-Encoding of each SSE request, if any
	// ("gzip", say). The clients decode a gzip or deflate stream.
	AcceptEncoding string
	// PIDs are the server's processes. There may be one, or several, as
	// nginx's master and workers are. Their CPU time and memory are read
	// from /proc over the window and summed. With no PIDs, the run skips
	// the server's figures.
	PIDs []int
}

// Result is what a run measured: see package report.
type Result = report.Result

// histMS is the number of 1 ms delay buckets.
const histMS = 10000

// counters are shared by the clients of a run.
type counters struct {
	measuring  atomic.Bool
	events     atomic.Uint64
	errors     atomic.Uint64
	reconnects atomic.Uint64
	lost       atomic.Uint64
	requests   atomic.Uint64
	bytes      tally.Bytes // counted while measuring
	encoded    atomic.Uint64
	open       atomic.Int64
	firstErr   atomic.Pointer[string]
	hist       []atomic.Uint64 // delays by millisecond

	// allOpen is closed when open first reaches all, the number of
	// clients of the run.
	all     int64
	allOpen chan struct{}
	allOnce sync.Once
}

func newCounters(clients int) *counters {
	c := &counters{hist: make([]atomic.Uint64, histMS+1), all: int64(clients), allOpen: make(chan struct{})}
	c.bytes.Window = &c.measuring
	return c
}

// opened counts a client connected. A stream or socket counts when it is
// open, and a poller's connection when it has its first answer. closed
// counts the client gone.
func (c *counters) opened() {
	if c.open.Add(1) == c.all {
		c.allOnce.Do(func() { close(c.allOpen) })
	}
}

func (c *counters) closed() { c.open.Add(-1) }

// maxSettle bounds the wait for the last clients to connect, past the
// ramp and its second. On an overloaded machine the window starts without
// them, and Result.Streams shows how many it had.
const maxSettle = 10 * time.Second

func (c *counters) fail(err error) {
	c.errors.Add(1)
	s := err.Error()
	c.firstErr.CompareAndSwap(nil, &s)
}

func (c *counters) record(ms int64) {
	c.hist[max(0, min(ms, histMS))].Add(1)
}

// answered counts a request answered, in the window.
func (c *counters) answered() {
	if c.measuring.Load() {
		c.requests.Add(1)
	}
}

// result returns the counts, without the window's length and the
// server's figures.
func (c *counters) result() Result {
	r := Result{Streams: int(c.open.Load()), Events: c.events.Load(), Errors: c.errors.Load(),
		Reconnects: c.reconnects.Load(), Lost: c.lost.Load(), Requests: c.requests.Load(),
		BytesIn: c.bytes.In.Load(), BytesOut: c.bytes.Out.Load(), Encoded: c.encoded.Load()}
	if p := c.firstErr.Load(); p != nil {
		r.FirstError = *p
	}
	r.Hist = make([]uint64, len(c.hist))
	for i := range c.hist {
		r.Hist[i] = c.hist[i].Load()
	}
	return r
}

// Run starts the clients, measures over the window and stops them. It
// returns early, with what it has, when ctx is done.
func Run(ctx context.Context, cfg Config) (Result, error) {
	u, err := url.Parse(cfg.URL)
	scheme := "http"
	if cfg.Transport == TransportH3 || cfg.Transport == TransportWebTransport {
		scheme = "https" // QUIC has TLS
	}
	if err != nil || u.Scheme != scheme || u.Host == "" {
		return Result{}, fmt.Errorf("url %q: want %s://host:port/path for %s", cfg.URL, scheme, cmp.Or(cfg.Transport, TransportSSE))
	}
	if cfg.Streams <= 0 || cfg.Duration <= 0 {
		return Result{}, fmt.Errorf("streams %d, duration %v: want both positive", cfg.Streams, cfg.Duration)
	}
	if cfg.Transport == "" {
		cfg.Transport = TransportSSE
	}
	follow, err := follower(cfg)
	if err != nil {
		return Result{}, err
	}
	c := newCounters(cfg.Streams)
	var before procstat.Stat
	if len(cfg.PIDs) > 0 {
		if before, err = procstat.Read(cfg.PIDs); err != nil {
			return Result{}, err
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range cfg.Streams {
		at := start.Add(cfg.Ramp * time.Duration(i) / time.Duration(cfg.Streams))
		wg.Go(func() {
			if !sleepUntil(ctx, at) {
				return
			}
			var local net.Addr
			if cfg.Sources > 0 {
				local = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(cfg.First+i%cfg.Sources))}
			}
			cl := newClient(c, local)
			cl.acceptEncoding = cfg.AcceptEncoding
			follow(ctx, cl, u)
		})
	}
	// The window starts a second after the ramp, which gives the last
	// client a moment to connect. If some clients have not connected by
	// then, the window waits for them, at most maxSettle longer. The
	// children of cmd/sseload, and its own measure of the server, count
	// on the usual start a second after the ramp.
	settled := sleepUntil(ctx, start.Add(cfg.Ramp+time.Second))
	if settled {
		bound := time.NewTimer(maxSettle)
		select {
		case <-c.allOpen:
		case <-bound.C:
		case <-ctx.Done():
			settled = false
		}
		bound.Stop()
	}
	if !settled {
		cancel()
		wg.Wait()
		return Result{}, ctx.Err()
	}
	var p0 procstat.Stat
	if len(cfg.PIDs) > 0 {
		p0, _ = procstat.Read(cfg.PIDs)
	}
	c.measuring.Store(true)
	w0 := time.Now()
	sleepUntil(ctx, w0.Add(cfg.Duration))
	c.measuring.Store(false)
	seconds, open := time.Since(w0).Seconds(), int(c.open.Load())
	srv := Result{Streams: open}
	if len(cfg.PIDs) > 0 {
		if p1, err := procstat.Read(cfg.PIDs); err == nil {
			srv.ServerCPUSeconds = (p1.User + p1.Sys - p0.User - p0.Sys).Seconds()
			srv.ServerSysSeconds = (p1.Sys - p0.Sys).Seconds()
			srv.ServerRSSKiB = p1.RSSKiB
			if open > 0 {
				srv.ServerRSSPerStream = float64(p1.RSSKiB-before.RSSKiB) / float64(open)
			}
		}
	}
	cancel()
	wg.Wait()
	r := c.result()
	r.Transport, r.Seconds, r.Streams = cfg.Transport, seconds, open
	r.SetServer(srv)
	r.Finish()
	return r, nil
}

// follower returns the loop that runs one client of cfg's transport until
// ctx is done.
func follower(cfg Config) (func(ctx context.Context, cl *client, u *url.URL), error) {
	switch cfg.Transport {
	case TransportSSE:
		return followSSE, nil
	case TransportPoll:
		if cfg.PollInterval <= 0 {
			return nil, fmt.Errorf("poll interval %v: want it positive", cfg.PollInterval)
		}
		return func(ctx context.Context, cl *client, u *url.URL) { cl.poll(ctx, u, cfg.PollInterval, 0) }, nil
	case TransportLongPoll:
		return func(ctx context.Context, cl *client, u *url.URL) { cl.poll(ctx, u, 0, longPollWait) }, nil
	case TransportWebSocket:
		return followWebSocket, nil
	case TransportH3:
		return followH3, nil
	case TransportWebTransport:
		return followWebTransport, nil
	}
	return nil, fmt.Errorf("transport %q: want one of %s", cfg.Transport, strings.Join(Transports, ", "))
}

// client is one simulated client. It holds where it connects from, and the
// last move it saw. A client that resumes then asks for the next move, and
// a gap in seq counts as lost.
type client struct {
	c              *counters
	dialer         net.Dialer
	acceptEncoding string // of each SSE request
	lastSeq        uint64
	haveSeq        bool
}

func newClient(c *counters, local net.Addr) *client {
	return &client{c: c, dialer: net.Dialer{LocalAddr: local, Timeout: 10 * time.Second}}
}

// dial opens a connection whose bytes are counted.
func (cl *client) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, err := cl.dialer.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	return cl.c.bytes.Conn(conn), nil
}

// init takes the seq of an init. A resumed init repeats the last move
// seen. A fresh init after a gap means that the server could not replay
// the gap, and the missing moves count as lost.
func (cl *client) init(seq uint64) {
	if cl.haveSeq && seq > cl.lastSeq {
		cl.c.lost.Add(seq - cl.lastSeq)
	}
	if !cl.haveSeq || seq > cl.lastSeq {
		cl.lastSeq, cl.haveSeq = seq, true
	}
}

// move takes a move received at now. A move the client already has is not
// counted again, because a poll answer may repeat the init's move.
func (cl *client) move(seq uint64, ts int64, now time.Time) {
	if cl.haveSeq && seq <= cl.lastSeq {
		return
	}
	if cl.haveSeq && seq > cl.lastSeq+1 {
		cl.c.lost.Add(seq - cl.lastSeq - 1)
	}
	cl.lastSeq, cl.haveSeq = seq, true
	if cl.c.measuring.Load() {
		cl.c.events.Add(1)
		cl.c.record(now.UnixMilli() - ts)
	}
}

// readAll appends what r holds to dst, as [io.ReadAll] does, into a buffer
// that the caller reuses.
func readAll(dst []byte, r io.Reader) ([]byte, error) {
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}

// keepBuffer is the largest buffer a client keeps between two reads. A
// rare large answer, such as a long replay, is not held for the rest of
// the run.
const keepBuffer = 64 << 10

// reuse returns b emptied for the next read, or nil if it grew too big.
func reuse(b []byte) []byte {
	if cap(b) > keepBuffer {
		return nil
	}
	return b[:0]
}

// reconnect runs one connection of cl, open, until ctx is done. When the
// connection ends other than by ctx, reconnect counts the failure and a
// reconnection. It waits 100 ms, then opens the connection again. Each
// transport that holds a connection follows the same rule.
func reconnect(ctx context.Context, cl *client, open func() error) {
	for ctx.Err() == nil {
		err := open()
		if ctx.Err() != nil {
			return
		}
		cl.c.fail(err)
		cl.c.reconnects.Add(1)
		if !sleepUntil(ctx, time.Now().Add(100*time.Millisecond)) {
			return
		}
	}
}

// sleepUntil waits until t or ctx is done, and reports whether t came.
func sleepUntil(ctx context.Context, t time.Time) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}
