// Package sseload opens many clients of one server's event streams and
// measures what they receive.
//
// The clients use Server-Sent Event streams, short or long polling, or
// WebSockets (see [Config.Transport]). The package is the core of
// cmd/sseload. It is kept apart from flags and processes, so that a test
// can run it against the real server.
package sseload

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
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
)

// Transports lists the transports, in the order of the tables.
var Transports = []string{TransportPoll, TransportLongPoll, TransportSSE, TransportWebSocket}

// longPollWait is the wait=MS of a long poll, the longest the server may
// hold it.
const longPollWait = 30 * time.Second

// Config is one load run.
type Config struct {
	// URL is the endpoint to open: /world/events for SSE, /world/poll for
	// both kinds of polling, /world/ws for WebSockets. Clients add their
	// own after=SEQ (and wait=MS) to its query.
	URL string
	// Transport is one of [TransportSSE] (when empty), [TransportPoll],
	// [TransportLongPoll] and [TransportWebSocket].
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

// Result is what a run measured. Events are moves delivered, whatever the
// transport. Delays, events, requests and bytes count only the measurement
// window. Errors, reconnects and lost events count the whole run.
type Result struct {
	Transport    string  `json:"transport"`
	Streams      int     `json:"streams"`        // clients connected at the end of the window
	Events       uint64  `json:"events"`         // moves delivered in the window
	Seconds      float64 `json:"seconds"`        // length of the window
	EventsPerSec float64 `json:"events_per_sec"` // Events / Seconds
	DelayP50MS   float64 `json:"delay_p50_ms"`   // receive time minus ts
	DelayP90MS   float64 `json:"delay_p90_ms"`
	DelayP99MS   float64 `json:"delay_p99_ms"`
	DelayMaxMS   float64 `json:"delay_max_ms"`
	Errors       uint64  `json:"errors"`     // failed connects, requests, and streams that ended with an error
	Reconnects   uint64  `json:"reconnects"` // connections reopened (resuming from the last seq) after a failure or end
	Lost         uint64  `json:"lost"`       // moves missing from a client (gaps in seq)
	FirstError   string  `json:"first_error,omitempty"`

	// Requests counts the HTTP requests answered in the window. Each poll
	// counts one, and so does each stream or WebSocket opened.
	Requests       uint64  `json:"requests"`
	RequestsPerSec float64 `json:"requests_per_sec"`
	// BytesIn counts every byte the clients read from their TCP
	// connections in the window. That includes status lines, headers, and
	// chunk and WebSocket framing. BytesOut counts every byte they wrote.
	BytesIn          uint64  `json:"bytes_in"`
	BytesOut         uint64  `json:"bytes_out"`
	BytesPerEvent    float64 `json:"bytes_in_per_event"`  // BytesIn / Events, the cost of a move on the wire
	BytesOutPerEvent float64 `json:"bytes_out_per_event"` // BytesOut / Events, what the clients sent for a move
	Encoded          uint64  `json:"encoded,omitempty"`   // streams the server sent in a content coding

	// From /proc/PID, when Config.PIDs are set.
	ServerCPUSeconds   float64 `json:"server_cpu_seconds,omitempty"`      // user+system CPU in the window
	ServerSysSeconds   float64 `json:"server_sys_seconds,omitempty"`      // the system part of it
	ServerCPUPerEvent  float64 `json:"server_cpu_us_per_event,omitempty"` // microseconds per delivered event
	ServerSysPerEvent  float64 `json:"server_sys_us_per_event,omitempty"` // the system part of it
	ServerRSSKiB       int64   `json:"server_rss_kib,omitempty"`          // at the end of the window
	ServerRSSPerStream float64 `json:"server_rss_kib_per_stream,omitempty"`

	// Hist counts delays by whole millisecond, so that runs in several
	// processes can be merged. The last bucket takes the rest.
	Hist []uint64 `json:"hist"`
}

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
	bytesIn    atomic.Uint64
	bytesOut   atomic.Uint64
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
	return &counters{hist: make([]atomic.Uint64, histMS+1), all: int64(clients), allOpen: make(chan struct{})}
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
		BytesIn: c.bytesIn.Load(), BytesOut: c.bytesOut.Load(), Encoded: c.encoded.Load()}
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
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return Result{}, fmt.Errorf("url %q: want http://host:port/path", cfg.URL)
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
	var before procStat
	if len(cfg.PIDs) > 0 {
		if before, err = readProc(cfg.PIDs); err != nil {
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
	var p0 procStat
	if len(cfg.PIDs) > 0 {
		p0, _ = readProc(cfg.PIDs)
	}
	c.measuring.Store(true)
	w0 := time.Now()
	sleepUntil(ctx, w0.Add(cfg.Duration))
	c.measuring.Store(false)
	seconds, open := time.Since(w0).Seconds(), int(c.open.Load())
	srv := Result{Streams: open}
	if len(cfg.PIDs) > 0 {
		if p1, err := readProc(cfg.PIDs); err == nil {
			srv.ServerCPUSeconds = (p1.user + p1.sys - p0.user - p0.sys).Seconds()
			srv.ServerSysSeconds = (p1.sys - p0.sys).Seconds()
			srv.ServerRSSKiB = p1.rssKiB
			if open > 0 {
				srv.ServerRSSPerStream = float64(p1.rssKiB-before.rssKiB) / float64(open)
			}
		}
	}
	cancel()
	wg.Wait()
	r := c.result()
	r.Transport, r.Seconds, r.Streams = cfg.Transport, seconds, open
	r.SetServer(srv)
	r.finish()
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
	}
	return nil, fmt.Errorf("transport %q: want one of %s", cfg.Transport, strings.Join(Transports, ", "))
}

// Merge adds the result of another process's run, which measured the same
// window, to r.
func (r *Result) Merge(o Result) {
	r.Streams += o.Streams
	r.Events += o.Events
	r.Errors += o.Errors
	r.Reconnects += o.Reconnects
	r.Lost += o.Lost
	r.Requests += o.Requests
	r.BytesIn += o.BytesIn
	r.BytesOut += o.BytesOut
	r.Encoded += o.Encoded
	if r.Transport == "" {
		r.Transport = o.Transport
	}
	if r.FirstError == "" {
		r.FirstError = o.FirstError
	}
	if len(r.Hist) < len(o.Hist) {
		r.Hist = append(r.Hist, make([]uint64, len(o.Hist)-len(r.Hist))...)
	}
	for i, n := range o.Hist {
		r.Hist[i] += n
	}
	r.finish()
}

// finish computes the rates and percentiles from the counts.
func (r *Result) finish() {
	if r.Seconds > 0 {
		r.EventsPerSec = float64(r.Events) / r.Seconds
		r.RequestsPerSec = float64(r.Requests) / r.Seconds
	}
	if r.Events > 0 {
		r.BytesPerEvent = float64(r.BytesIn) / float64(r.Events)
		r.BytesOutPerEvent = float64(r.BytesOut) / float64(r.Events)
	}
	if r.Events > 0 && r.ServerCPUSeconds > 0 {
		r.ServerCPUPerEvent = r.ServerCPUSeconds * 1e6 / float64(r.Events)
		r.ServerSysPerEvent = r.ServerSysSeconds * 1e6 / float64(r.Events)
	}
	var total uint64
	for _, n := range r.Hist {
		total += n
	}
	pct := func(p float64) float64 {
		if total == 0 {
			return 0
		}
		rank := uint64(p * float64(total))
		var seen uint64
		for ms, n := range r.Hist {
			if seen += n; seen > rank {
				return float64(ms)
			}
		}
		return float64(len(r.Hist) - 1)
	}
	r.DelayP50MS, r.DelayP90MS, r.DelayP99MS = pct(0.50), pct(0.90), pct(0.99)
	r.DelayMaxMS = 0
	for ms := len(r.Hist) - 1; ms >= 0; ms-- {
		if r.Hist[ms] > 0 {
			r.DelayMaxMS = float64(ms)
			break
		}
	}
}

// Table returns r as a human-readable table.
func (r Result) Table() string {
	var b strings.Builder
	row := func(name, format string, v ...any) {
		fmt.Fprintf(&b, "%-28s "+format+"\n", append([]any{name}, v...)...)
	}
	row("transport", "%s", r.Transport)
	row("clients connected", "%d", r.Streams)
	row("window", "%.1f s", r.Seconds)
	row("moves delivered", "%d (%.0f/s)", r.Events, r.EventsPerSec)
	row("requests", "%d (%.0f/s)", r.Requests, r.RequestsPerSec)
	row("bytes per move in / out", "%.0f / %.0f (headers and framing included)", r.BytesPerEvent, r.BytesOutPerEvent)
	if r.Encoded > 0 {
		row("streams compressed", "%d", r.Encoded)
	}
	row("delay p50 / p90 / p99 / max", "%.0f / %.0f / %.0f / %.0f ms", r.DelayP50MS, r.DelayP90MS, r.DelayP99MS, r.DelayMaxMS)
	row("errors", "%d", r.Errors)
	row("reconnects", "%d", r.Reconnects)
	row("lost moves", "%d", r.Lost)
	if r.FirstError != "" {
		row("first error", "%s", r.FirstError)
	}
	if r.ServerRSSKiB > 0 {
		row("server CPU", "%.2f s (%.2f us/move, %.2f of it system)", r.ServerCPUSeconds, r.ServerCPUPerEvent, r.ServerSysPerEvent)
		row("server RSS", "%d KiB (%.1f KiB/client over the baseline)", r.ServerRSSKiB, r.ServerRSSPerStream)
	}
	return b.String()
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
	return countConn{Conn: conn, c: cl.c}, nil
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

// countConn counts the bytes read and written in the window.
type countConn struct {
	net.Conn
	c *counters
}

func (cc countConn) Read(p []byte) (int, error) {
	n, err := cc.Conn.Read(p)
	if n > 0 && cc.c.measuring.Load() {
		cc.c.bytesIn.Add(uint64(n))
	}
	return n, err
}

func (cc countConn) Write(p []byte) (int, error) {
	n, err := cc.Conn.Write(p)
	if n > 0 && cc.c.measuring.Load() {
		cc.c.bytesOut.Add(uint64(n))
	}
	return n, err
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

// SetServer takes the server's figures (CPU and memory) from srv. srv is a
// run of srv.Streams clients that measured them over the same window.
// SetServer recomputes the memory per stream for r's clients. The rates per
// event follow when r is finished or merged.
func (r *Result) SetServer(srv Result) {
	r.ServerCPUSeconds, r.ServerSysSeconds, r.ServerRSSKiB = srv.ServerCPUSeconds, srv.ServerSysSeconds, srv.ServerRSSKiB
	if r.Streams > 0 {
		r.ServerRSSPerStream = srv.ServerRSSPerStream * float64(srv.Streams) / float64(r.Streams)
	}
}

// procStat is what /proc says of the server's processes, summed.
type procStat struct {
	user, sys time.Duration
	rssKiB    int64
}

// readProc returns the user and system CPU time and the resident memory
// of processes pids, summed.
func readProc(pids []int) (procStat, error) {
	var p procStat
	for _, pid := range pids {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return procStat{}, fmt.Errorf("read server cpu: %w", err)
		}
		// Fields after the command name, which is in parentheses and may hold spaces.
		i := bytes.LastIndexByte(stat, ')')
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 13 {
			return procStat{}, errors.New("read server cpu: short /proc stat")
		}
		utime, _ := strconv.ParseInt(f[11], 10, 64) // field 14
		stime, _ := strconv.ParseInt(f[12], 10, 64) // field 15
		const clockTicks = 100                      // USER_HZ on Linux
		p.user += time.Duration(utime) * time.Second / clockTicks
		p.sys += time.Duration(stime) * time.Second / clockTicks
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			return procStat{}, fmt.Errorf("read server memory: %w", err)
		}
		for line := range strings.Lines(string(status)) {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				kib, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				p.rssKiB += kib
			}
		}
	}
	return p, nil
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
