package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sse-demo/movingobject/internal/apptest"
)

func TestWorldPage(t *testing.T) {
	s := apptest.Start(t, apptest.WorldArgs(t)...)
	res := s.Get(t, "/world")
	body, _ := io.ReadAll(res.Body)
	want := `<canvas id="board" data-testid="board" width="300" height="200" data-events-url="/world/events"`
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
		t.Errorf("GET /world = %d, body without %q; want 200 with it", res.StatusCode, want)
	}
}

func TestMetrics(t *testing.T) {
	s := apptest.Start(t, apptest.WorldArgs(t)...)
	es := s.Open(t, "/world/events")
	es.WorldMoves(es.Init().Seq, 5)
	res := s.Get(t, "/metrics")
	body, _ := io.ReadAll(res.Body)
	for _, want := range []string{
		`sse_requests_total{route="/world/events",transport="sse"} 1`,
		`sse_open_streams{route="/world/events",transport="sse"} 1`,
		`sse_open_streams{route="/events",transport="sse"} 0`,
		`sse_events_sent_total{route="/world/events",transport="sse"}`,
		`sse_bytes_sent_total{route="/world/events",transport="sse"}`,
		`sse_write_seconds_bucket{route="/world/events",transport="sse",le="+Inf"}`,
		`sse_drops_total{route="/world/events",transport="sse"} 0`,
		`sse_resumes_total{route="/world/events",transport="sse"} 0`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("GET /metrics has no %q", want)
		}
	}
}
