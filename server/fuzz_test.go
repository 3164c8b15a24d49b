package server

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sse-demo/movingobject/metrics"
	"github.com/sse-demo/movingobject/simulation"
	"github.com/sse-demo/movingobject/stream"
	"github.com/sse-demo/movingobject/stream/hub"
	"github.com/sse-demo/movingobject/stream/play"
	"github.com/sse-demo/movingobject/stream/room"
	"github.com/sse-demo/movingobject/stream/streamtest"
	"github.com/sse-demo/movingobject/stream/walks"
	"github.com/sse-demo/movingobject/stream/wire"
	"github.com/sse-demo/movingobject/stream/world"
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
	streams := stream.NewServer(stream.Options{})
	f.Cleanup(streams.Close)
	w, err := simulation.NewWorld(simulation.DefaultConfig(), 1, time.Now(), time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	e := newEcho(routes{
		events:  walks.New(streams, walks.Options{}),
		world:   world.New(streams, hub.New(w, 0), world.Options{}),
		play:    play.New(streams, testRoom(f), play.Options{AheadWait: time.Millisecond}),
		metrics: metrics.New(),
		guard:   streamGuard{limit: stream.NewLimiter(stream.DefaultMaxStreams, 0), origins: []string{"https://app.example"}},
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
		rec := &streamtest.FlushCancel{ResponseRecorder: httptest.NewRecorder(), Cancel: cancel}
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
// a temporary directory, as Run does, until the test ends.
func testRoom(tb testing.TB) *room.Room {
	tb.Helper()
	w := &worldConfig{walk: simulation.DefaultConfig(), seed: 1, replay: hub.DefaultReplay}
	p := &playConfig{push: room.DefaultPush, data: tb.TempDir(), timeout: room.DefaultTimeout}
	r, closeRoom, err := p.open(context.Background(), "127.0.0.1:0", w, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatalf("open the play room: %v", err)
	}
	tb.Cleanup(closeRoom)
	return r
}
