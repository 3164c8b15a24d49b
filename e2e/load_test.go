package e2e

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sse-demo/movingobject/internal/apptest"
	"github.com/sse-demo/movingobject/internal/sseload"
	"github.com/sse-demo/movingobject/server/servertest"
)

// TestLoadSmoke runs the load generator against the real server, over
// every transport: a few dozen to a few hundred clients for a second must
// all connect and lose nothing. The figures it prints are not checked:
// speed is for BENCHMARKS.md.
func TestLoadSmoke(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("a few seconds of load")
	}
	for _, tt := range []struct {
		name, path, transport string
		clients               int
		accept                string // Accept-Encoding: the stream must come in it
	}{
		{"sse world", "/world/events", sseload.TransportSSE, 200, ""},
		{"sse world gzip", "/world/events", sseload.TransportSSE, 50, "gzip"},
		{"sse walks", "/events?interval=100", sseload.TransportSSE, 200, ""},
		{"poll", "/world/poll", sseload.TransportPoll, 50, ""},
		{"longpoll", "/world/poll", sseload.TransportLongPoll, 50, ""},
		{"websocket", "/world/ws", sseload.TransportWebSocket, 50, ""},
		{"sse over HTTP/3", "/world/events", sseload.TransportH3, 20, ""},
		{"webtransport", "/world/webtransport", sseload.TransportWebTransport, 20, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := servertest.Start(t, apptest.WorldArgs(t)...) // one each: the caps per address hold 100
			base := s.URL
			if tt.transport == sseload.TransportH3 || tt.transport == sseload.TransportWebTransport {
				base = "https" + strings.TrimPrefix(base, "http") // the server's own certificate, on UDP
			}
			r, err := sseload.Run(t.Context(), sseload.Config{
				URL: base + tt.path, Transport: tt.transport, PollInterval: 100 * time.Millisecond,
				Streams: tt.clients, Ramp: 500 * time.Millisecond, Duration: time.Second,
				Sources: 4, First: 1, PIDs: []int{os.Getpid()}, AcceptEncoding: tt.accept,
			})
			if err != nil {
				t.Fatalf("Run() = %v", err)
			}
			t.Logf("%s %s\n%s", tt.transport, tt.path, r.Table())
			if r.Streams != tt.clients || r.Errors != 0 || r.Reconnects != 0 || r.Lost != 0 || r.Events == 0 || r.BytesIn == 0 {
				t.Errorf("Run() = %d clients, %d errors (%s), %d reconnects, %d lost, %d moves, %d bytes; want %d clients, no errors, reconnects or losses, some moves and bytes",
					r.Streams, r.Errors, r.FirstError, r.Reconnects, r.Lost, r.Events, r.BytesIn, tt.clients)
			}
			if want := map[bool]int{true: tt.clients}[tt.accept != ""]; r.Encoded != uint64(want) {
				t.Errorf("%d streams came in a content coding; want %d", r.Encoded, want)
			}
		})
	}
}
