package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRoute(t *testing.T) {
	m := New()
	r := m.Route("/x")
	r.Opened(true)
	r.Opened(false)
	r.Wrote(3, 240, 0.002)
	r.Closed(true)
	var none *Route // counts nothing, and must not panic
	none.Opened(true)
	none.Wrote(1, 1, 1)
	none.Closed(true)

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`sse_open_streams{route="/x"} 1`,
		`sse_resumes_total{route="/x"} 1`,
		`sse_drops_total{route="/x"} 1`,
		`sse_events_sent_total{route="/x"} 3`,
		`sse_bytes_sent_total{route="/x"} 240`,
		`sse_write_seconds_count{route="/x"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics have no %q", want)
		}
	}
}
