package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sse-demo/movingobject/internal/apptest"
	"github.com/sse-demo/movingobject/server/servertest"
)

func TestWorldPage(t *testing.T) {
	t.Parallel()
	s := servertest.Start(t, apptest.WorldArgs(t)...)
	res := s.Get(t, "/world")
	body, _ := io.ReadAll(res.Body)
	want := `<canvas id="board" data-testid="board" width="300" height="200" data-events-url="/world/events"`
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
		t.Errorf("GET /world = %d, body without %q; want 200 with it", res.StatusCode, want)
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	s := servertest.Start(t, apptest.WorldArgs(t)...)
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

// TestWirePage checks the wire page as served: 200 under the pages'
// policy, one option per preset with its escaped text, and the footer's
// curl command on this server.
func TestWirePage(t *testing.T) {
	t.Parallel()
	s := servertest.Start(t)
	res := s.Get(t, "/wire")
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /wire = %d; want 200", res.StatusCode)
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("Content-Security-Policy = %q; want default-src 'self'", csp)
	}
	for _, want := range []string{
		`<main class="wire-page" data-stream-url="/wire/stream" data-parse-url="/wire/parse" data-max-bytes="8192">`,
		`<option value="cr" data-text="data: a CR\rdata: ends a line\r\rdata: and so does CRLF\r` + "\n" + `\r` + "\n" + `"`,
		`<option value="bom" data-text="\xEF\xBB\xBFdata: first`,
		`<option value="nul-id" data-text="id: 1` + "\n" + `data: a` + "\n\n" + `id: 2\03`,
		`<script type="module" src="/static/wire.js"></script>`,
		`curl -N &#39;` + s.URL + `/wire/stream?raw=OiBhIGNvbW1lbnQKaWQ6IDEKZXZlbnQ6IGdyZWV0aW5nCmRhdGE6IGhlbGxvCgpkYXRhOiB3b3JsZAoK&#39;`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("GET /wire has no %q", want)
		}
	}
}
