// Package report holds what a load run of package sseload measured: the
// counts, merged over the processes of one run, the rates and
// percentiles worked out from them, and the table that shows them.
package report

import (
	"fmt"
	"strings"
)

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
	// connections (or UDP sockets) in the window. That includes status
	// lines, headers, and chunk, WebSocket and QUIC framing. BytesOut
	// counts every byte they wrote.
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
	r.Finish()
}

// Finish computes the rates and percentiles from the counts.
func (r *Result) Finish() {
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
