package server

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sse-demo/movingobject/internal/natsconn"
	"github.com/sse-demo/movingobject/metrics"
	"github.com/sse-demo/movingobject/simulation"
	"github.com/sse-demo/movingobject/stream/routes/play"
	"github.com/sse-demo/movingobject/stream/routes/walks"
	"github.com/sse-demo/movingobject/stream/routes/wire"
	"github.com/sse-demo/movingobject/stream/routes/world"
	"github.com/sse-demo/movingobject/stream/transport"
	"github.com/sse-demo/movingobject/stream/transport/limits"
)

// FuzzHTTP sends any query and headers to every route through the whole
// echo chain: no input panics the server or gets a 5xx, a stream starts
// with its retry field (but /wire/stream, which answers exactly the bytes
// of its raw), and a refusal names what it refused.
func FuzzHTTP(f *testing.F) {
	for _, s := range []struct {
		method, path, query, lastEventID, origin, requestID string
	}{
		{"GET", "/events", "", "", "", ""},
		{"GET", "/events", "seed=42&interval=10", "3.17.99.42.0123456789abcdef", "https://app.example", "req-1"},
		{"GET", "/events", "width=abc", "", "https://evil.example", ""},
		{"GET", "/events", "lastEventId=" + strings.Repeat("9", 300), "", "", ""},
		{"GET", "/events", "width=%zz&seed=-1", "\x00\r\n", "null", strings.Repeat("x", 100)},
		{"GET", "/", "width=320&height=240&seed=3", "", "", ""},
		{"GET", "/", "step=0&width=<script>", "", "", ""},
		{"OPTIONS", "/events", "", "", "https://app.example", ""},
		{"POST", "/events", "", "", "", ""},
		{"GET", "/healthz", "", "", "", ""},
		{"GET", "/world/events", "", "12", "", ""},
		{"GET", "/world", "", "", "", ""},
		{"GET", "/static/app.js", "", "", "", ""},
		{"GET", "/static/../server/server.go", "", "", "", ""},
		{"HEAD", "/nowhere", "", "", "", ""},
		{"GET", "/play/events", "", "3", "", ""},
		{"GET", "/play/events", "", "99999999999999999999", "", ""},
		{"POST", "/play/push", "", "", "https://evil.example", ""},
		{"GET", "/play", "", "", "", ""},
		{"GET", "/wire", "", "", "", ""},
		{"GET", "/wire/stream", "raw=ZGF0YTogaGkKCg", "", "", ""},
		{"GET", "/wire/stream", "raw=%2B", "", "", ""},
		{"GET", "/wire/stream", "raw=aGk%3D&raw=", "", "", ""},
		{"POST", "/wire/parse", "", "", "", ""},
		{"DELETE", "/wire/parse", "", "", "", ""},
	} {
		f.Add(s.method, s.path, s.query, s.lastEventID, s.origin, s.requestID, false)
		f.Add(s.method, s.path, s.query, s.lastEventID, s.origin, s.requestID, true)
	}
	streams := transport.New(transport.Options{Limits: limits.New(limits.DefaultMaxStreams, 0)})
	f.Cleanup(streams.Close)
	w, err := simulation.NewWorld(simulation.DefaultConfig(), 1, time.Now(), time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	e := newEcho(routes{
		events:  walks.New(streams, walks.Options{}),
		world:   world.New(streams, w, world.Options{}),
		play:    testRoom(f, streams),
		streams: streams,
		metrics: metrics.New(),
		origins: []string{"https://app.example"},
	}, slog.New(slog.DiscardHandler))
	f.Fuzz(func(t *testing.T, method, path, query, lastEventID, origin, requestID string, gone bool) {
		// A stream ends once its first events are flushed, or at once for
		// a client already gone.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		if gone {
			cancel()
		}
		req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
		req.Method, req.URL.Path, req.URL.RawQuery = method, path, query
		for name, v := range map[string]string{"Last-Event-ID": lastEventID, "Origin": origin, "X-Request-Id": requestID} {
			if v != "" {
				req.Header.Set(name, v)
			}
		}
		rec := &flushCancel{ResponseRecorder: httptest.NewRecorder(), Cancel: cancel}
		e.ServeHTTP(rec, req)
		body := rec.Body.String()
		if rec.Code >= 500 {
			t.Fatalf("%s %s?%s = %d %q; want no 5xx", method, path, query, rec.Code, body)
		}
		if path == "/wire/stream" && rec.Code == http.StatusOK {
			// The stream typed by hand: its bytes, exactly, and nothing else.
			raw, err := wire.DecodeRaw(req.URL.Query().Get("raw"))
			if err != nil || body != string(raw) {
				t.Fatalf("GET /wire/stream?%s = 200 %q; want the bytes of raw (%v)", query, body, err)
			}
		} else if strings.HasPrefix(rec.Header().Get("Content-Type"), "text/event-stream") {
			if rec.Code != http.StatusOK || !strings.HasPrefix(body, "retry: ") || !strings.Contains(body, "\nevent: init\n") {
				t.Fatalf("%s %s?%s = %d %q; want 200, a retry field then the init event", method, path, query, rec.Code, body)
			}
		}
		if rec.Code == http.StatusBadRequest && path == "/events" {
			name, _, _ := strings.Cut(body, ":")
			if !strings.Contains(" width height step interval seed Last-Event-ID ", " "+name+" ") {
				t.Fatalf("GET /events?%s = 400 %q; want it to name the parameter", query, body)
			}
		}
	})
}

// testRoom opens a play room on an embedded NATS server with its store in
// a temporary directory, until the test ends. A client that names a move
// this instance has not read yet waits for it for a millisecond, not the
// default 3 s.
func testRoom(tb testing.TB, streams *transport.Streams) *play.Handler {
	tb.Helper()
	nc, stop, err := natsconn.Embedded(tb.TempDir(), false, natsconn.SyncAlways, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatalf("embedded NATS: %v", err)
	}
	h, err := play.Open(context.Background(), streams, nc, play.Options{Walk: simulation.DefaultConfig(), Seed: 1, AheadWait: time.Millisecond})
	if err != nil {
		stop()
		tb.Fatalf("open the play room: %v", err)
	}
	tb.Cleanup(func() {
		h.Close()
		stop()
	})
	return h
}

// flushCancel is a recorder that cancels the request once the handler
// flushes, so that a stream ends after its first events.
type flushCancel struct {
	*httptest.ResponseRecorder
	Cancel context.CancelFunc
}

// Flush records the flush and cancels the request.
func (r *flushCancel) Flush() {
	r.ResponseRecorder.Flush()
	r.Cancel()
}
