package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRoute(t *testing.T) {
	m := New()
	r := m.Route("/x", "sse")
	r.Requested()
	r.Opened(true)
	r.Opened(false)
	r.Wrote(3, 240, 0.002)
	r.Closed(true)
	p := m.Route("/p", "poll")
	p.Requested()
	p.Requested()
	p.Wrote(5, 300, 0.001)
	if again := m.Route("/x", "sse"); again != r {
		t.Errorf("Route(/x, sse) again = %p; want the first, %p", again, r)
	}
	var none *Route // counts nothing, and must not panic
	none.Requested()
	none.Opened(true)
	none.Wrote(1, 1, 1)
	none.Closed(true)

	m.Pushed("stored")
	m.Pushed("stored")
	m.Pushed("unavailable")

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`sse_requests_total{route="/x",transport="sse"} 1`,
		`sse_open_streams{route="/x",transport="sse"} 1`,
		`sse_resumes_total{route="/x",transport="sse"} 1`,
		`sse_drops_total{route="/x",transport="sse"} 1`,
		`sse_events_sent_total{route="/x",transport="sse"} 3`,
		`sse_bytes_sent_total{route="/x",transport="sse"} 240`,
		`sse_write_seconds_count{route="/x",transport="sse"} 1`,
		`sse_requests_total{route="/p",transport="poll"} 2`,
		`sse_open_streams{route="/p",transport="poll"} 0`,
		`sse_events_sent_total{route="/p",transport="poll"} 5`,
		`sse_bytes_sent_total{route="/p",transport="poll"} 300`,
		`sse_play_pushes_total{result="stored"} 2`,
		`sse_play_pushes_total{result="unavailable"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics have no %q", want)
		}
	}
}
