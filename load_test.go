package main

import (
	"os"
	"testing"
	"time"

	"github.com/sse-demo/movingobject/internal/sseload"
)

// TestLoadSmoke runs the load generator against the real server: a few
// hundred streams for a few seconds must all open and lose nothing. The
// figures it prints are not checked: speed is for BENCHMARKS.md.
func TestLoadSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("a few seconds of load")
	}
	s := startServer(t, worldArgs(t)...)
	for _, path := range []string{"/world/events", "/events?interval=100"} {
		t.Run(path, func(t *testing.T) {
			const streams = 200
			r, err := sseload.Run(t.Context(), sseload.Config{
				URL: s.url + path, Streams: streams, Ramp: 500 * time.Millisecond, Duration: time.Second,
				Sources: 4, First: 1, PID: os.Getpid(),
			})
			if err != nil {
				t.Fatalf("Run() = %v", err)
			}
			t.Logf("%s\n%s", path, r.Table())
			if r.Streams != streams || r.Errors != 0 || r.Reconnects != 0 || r.Lost != 0 || r.Events == 0 {
				t.Errorf("Run() = %d streams, %d errors (%s), %d reconnects, %d lost, %d events; want %d streams, no errors, reconnects or losses, some events",
					r.Streams, r.Errors, r.FirstError, r.Reconnects, r.Lost, r.Events, streams)
			}
		})
	}
}
