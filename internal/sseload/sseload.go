// Package sseload opens many Server-Sent Event streams to one server and
// measures what they receive: the core of cmd/sseload, kept apart from
// flags and processes so that a test can run it against the real server.
package sseload

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sse-demo/movingobject/stream/sse"
)

// Config is one load run.
type Config struct {
	// URL is the stream to open, e.g. http://127.0.0.1:8080/world/events.
	URL string
	// Streams is how many streams to open.
	Streams int
	// Ramp spreads the opening of the streams evenly over this time, so
	// that the server sees no thundering herd; 0 opens them all at once.
	Ramp time.Duration
	// Duration is the measurement window, which starts once every stream
	// is open; the run ends with it.
	Duration time.Duration
	// Sources spreads the streams over source addresses 127.0.0.First ..
	// 127.0.0.(First+Sources-1), so that each address needs fewer ports.
	// 0 lets the system choose.
	Sources, First int
	// PID is the server's process id, whose CPU time and memory are read
	// from /proc over the window; 0 skips them.
	PID int
}

// Result is what a run measured. Delays and events count only the
// measurement window; errors, reconnects and lost events count the whole
// run.
type Result struct {
	Streams      int     `json:"streams"`        // streams open at the end of the window
	Events       uint64  `json:"events"`         // events delivered in the window
	Seconds      float64 `json:"seconds"`        // length of the window
	EventsPerSec float64 `json:"events_per_sec"` // Events / Seconds
	DelayP50MS   float64 `json:"delay_p50_ms"`   // receive time minus ts
	DelayP90MS   float64 `json:"delay_p90_ms"`
	DelayP99MS   float64 `json:"delay_p99_ms"`
	DelayMaxMS   float64 `json:"delay_max_ms"`
	Errors       uint64  `json:"errors"`     // failed connects and streams that ended with an error
	Reconnects   uint64  `json:"reconnects"` // streams reopened (with Last-Event-ID) after they ended
	Lost         uint64  `json:"lost"`       // moves missing from a stream: gaps in seq
	FirstError   string  `json:"first_error,omitempty"`

	// From /proc/PID, when Config.PID is set.
	ServerCPUSeconds   float64 `json:"server_cpu_seconds,omitempty"`      // user+system CPU in the window
	ServerCPUPerEvent  float64 `json:"server_cpu_us_per_event,omitempty"` // microseconds per delivered event
	ServerRSSKiB       int64   `json:"server_rss_kib,omitempty"`          // at the end of the window
	ServerRSSPerStream float64 `json:"server_rss_kib_per_stream,omitempty"`

	// Hist counts delays by whole millisecond (the last bucket takes the
	// rest), so that runs in several processes can be merged.
	Hist []uint64 `json:"hist"`
}

// histMS is the number of 1 ms delay buckets.
const histMS = 10000

// counters are shared by the streams of a run.
type counters struct {
	measuring  atomic.Bool
	events     atomic.Uint64
	errors     atomic.Uint64
	reconnects atomic.Uint64
	lost       atomic.Uint64
	open       atomic.Int64
	firstErr   atomic.Pointer[string]
	hist       []atomic.Uint64 // delays by millisecond
}

func (c *counters) fail(err error) {
	c.errors.Add(1)
	s := err.Error()
	c.firstErr.CompareAndSwap(nil, &s)
}

// Run opens the streams, measures over the window and closes them. It
// returns early, with what it has, when ctx is done.
func Run(ctx context.Context, cfg Config) (Result, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return Result{}, fmt.Errorf("url %q: want http://host:port/path", cfg.URL)
	}
	if cfg.Streams <= 0 || cfg.Duration <= 0 {
		return Result{}, fmt.Errorf("streams %d, duration %v: want both positive", cfg.Streams, cfg.Duration)
	}
	c := &counters{hist: make([]atomic.Uint64, histMS+1)}
	var rssBefore int64
	if cfg.PID > 0 {
		if _, rssBefore, err = readProc(cfg.PID); err != nil {
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
			follow(ctx, u, local, c)
		})
	}
	// The window starts when the ramp is over and the last stream had a
	// moment to connect.
	if !sleepUntil(ctx, start.Add(cfg.Ramp+time.Second)) {
		cancel()
		wg.Wait()
		return Result{}, ctx.Err()
	}
	var cpu0 time.Duration
	if cfg.PID > 0 {
		cpu0, _, _ = readProc(cfg.PID)
	}
	c.measuring.Store(true)
	w0 := time.Now()
	sleepUntil(ctx, w0.Add(cfg.Duration))
	c.measuring.Store(false)
	r := Result{Seconds: time.Since(w0).Seconds(), Streams: int(c.open.Load())}
	if cfg.PID > 0 {
		cpu1, rss, err := readProc(cfg.PID)
		if err == nil {
			r.ServerCPUSeconds = (cpu1 - cpu0).Seconds()
			r.ServerRSSKiB = rss
			if r.Streams > 0 {
				r.ServerRSSPerStream = float64(rss-rssBefore) / float64(r.Streams)
			}
		}
	}
	cancel()
	wg.Wait()
	r.Events, r.Errors, r.Reconnects, r.Lost = c.events.Load(), c.errors.Load(), c.reconnects.Load(), c.lost.Load()
	if p := c.firstErr.Load(); p != nil {
		r.FirstError = *p
	}
	r.Hist = make([]uint64, len(c.hist))
	for i := range c.hist {
		r.Hist[i] = c.hist[i].Load()
	}
	r.finish()
	return r, nil
}

// Merge adds the result of another process's run, which measured the same
// window, to r.
func (r *Result) Merge(o Result) {
	r.Streams += o.Streams
	r.Events += o.Events
	r.Errors += o.Errors
	r.Reconnects += o.Reconnects
	r.Lost += o.Lost
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
	}
	if r.Events > 0 && r.ServerCPUSeconds > 0 {
		r.ServerCPUPerEvent = r.ServerCPUSeconds * 1e6 / float64(r.Events)
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
	row("streams open", "%d", r.Streams)
	row("window", "%.1f s", r.Seconds)
	row("events delivered", "%d (%.0f/s)", r.Events, r.EventsPerSec)
	row("delay p50 / p90 / p99 / max", "%.0f / %.0f / %.0f / %.0f ms", r.DelayP50MS, r.DelayP90MS, r.DelayP99MS, r.DelayMaxMS)
	row("errors", "%d", r.Errors)
	row("reconnects", "%d", r.Reconnects)
	row("lost events", "%d", r.Lost)
	if r.FirstError != "" {
		row("first error", "%s", r.FirstError)
	}
	if r.ServerRSSKiB > 0 {
		row("server CPU", "%.2f s (%.2f us/event)", r.ServerCPUSeconds, r.ServerCPUPerEvent)
		row("server RSS", "%d KiB (%.1f KiB/stream over the baseline)", r.ServerRSSKiB, r.ServerRSSPerStream)
	}
	return b.String()
}

// follow keeps one stream open until ctx is done, reopening it with its
// last event id when it ends.
func follow(ctx context.Context, u *url.URL, local net.Addr, c *counters) {
	d := net.Dialer{LocalAddr: local, Timeout: 10 * time.Second}
	var lastID string
	var lastSeq uint64
	haveSeq := false
	for attempt := 0; ctx.Err() == nil; attempt++ {
		if attempt > 0 {
			c.reconnects.Add(1)
			if !sleepUntil(ctx, time.Now().Add(100*time.Millisecond)) {
				return
			}
		}
		err := func() error {
			conn, err := d.DialContext(ctx, "tcp", u.Host)
			if err != nil {
				return fmt.Errorf("dial: %w", err)
			}
			defer conn.Close()
			stop := context.AfterFunc(ctx, func() { conn.Close() })
			defer stop()
			req := "GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\nAccept: text/event-stream\r\n"
			if lastID != "" {
				req += "Last-Event-ID: " + lastID + "\r\n"
			}
			if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
				return fmt.Errorf("send request: %w", err)
			}
			br := bufio.NewReaderSize(conn, 2048)
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				return fmt.Errorf("read response: %w", err)
			}
			defer res.Body.Close()
			if res.StatusCode != http.StatusOK {
				return fmt.Errorf("status %s", res.Status)
			}
			c.open.Add(1)
			defer c.open.Add(-1)
			dec := sse.NewDecoder(res.Body)
			for {
				ev, err := dec.Next()
				if err != nil {
					return fmt.Errorf("read stream: %w", err)
				}
				if ev.Name != "init" && ev.Name != "move" {
					continue // the play room's viewers event, say
				}
				now := time.Now()
				seq, ts, ok := parseMove(ev.Data)
				if !ok {
					return fmt.Errorf("event %q: no seq in %q", ev.Name, ev.Data)
				}
				switch ev.Name {
				case "init":
					// A resumed init repeats the last move seen; a fresh one
					// after a gap means the server could not replay it.
					if haveSeq && seq > lastSeq {
						c.lost.Add(seq - lastSeq)
					}
				case "move":
					if haveSeq && seq > lastSeq+1 {
						c.lost.Add(seq - lastSeq - 1)
					}
					if c.measuring.Load() {
						c.events.Add(1)
						delay := now.UnixMilli() - ts
						c.record(delay)
					}
				}
				lastID, lastSeq, haveSeq = ev.ID, seq, true
			}
		}()
		if ctx.Err() != nil {
			return
		}
		c.fail(err)
	}
}

func (c *counters) record(ms int64) {
	c.hist[max(0, min(ms, histMS))].Add(1)
}

// parseMove reads seq and ts from the data of an init or move event,
// without the cost of a JSON decoder; an init has no ts (0).
func parseMove(data string) (seq uint64, ts int64, ok bool) {
	num := func(key string) (string, bool) {
		i := strings.Index(data, key)
		if i < 0 {
			return "", false
		}
		s := data[i+len(key):]
		j := strings.IndexAny(s, ",}")
		if j < 0 {
			return "", false
		}
		return s[:j], true
	}
	s, ok := num(`"seq":`)
	if !ok {
		return 0, 0, false
	}
	seq, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	if s, ok := num(`"ts":`); ok {
		ts, _ = strconv.ParseInt(s, 10, 64)
	}
	return seq, ts, true
}

// readProc returns the CPU time (user + system) and resident memory of
// process pid.
func readProc(pid int) (cpu time.Duration, rssKiB int64, err error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("read server cpu: %w", err)
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(stat, ')')
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return 0, 0, errors.New("read server cpu: short /proc stat")
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, _ := strconv.ParseInt(f[12], 10, 64) // field 15
	const clockTicks = 100                      // USER_HZ on Linux
	cpu = time.Duration(utime+stime) * time.Second / clockTicks
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("read server memory: %w", err)
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			rssKiB, _ = strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return cpu, rssKiB, nil
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
