package play_test

// Tests of the play route alone: GET /play/events and POST /play/push,
// served over loopback by an httptest server. Each test starts its own
// embedded NATS server for the room.

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sse-demo/movingobject/internal/apptest"
	"github.com/sse-demo/movingobject/internal/logwatch"
	"github.com/sse-demo/movingobject/internal/natsconn"
	"github.com/sse-demo/movingobject/simulation"
	"github.com/sse-demo/movingobject/stream/routes/play"
	"github.com/sse-demo/movingobject/stream/routes/world"
	"github.com/sse-demo/movingobject/stream/transport"
)

// walk is the room's box and pace: the fast room that apptest.PlayArgs
// gives the program, a move every 20 ms in a 300x200 box.
var walk = simulation.Config{Width: 300, Height: 200, Step: 4, Interval: 20 * time.Millisecond}

// route is what a test sets of the play route that start serves.
type route struct {
	// dir is the NATS store. Empty means a directory of the test's own.
	// A test that restarts the route gives the same dir again.
	dir string
	// trusted are the proxies whose X-Forwarded-For and X-Forwarded-Host
	// count, as the program's -trusted-proxy flag gives them.
	trusted []netip.Prefix
	// tlsH2 serves HTTPS and HTTP/2.
	tlsH2 bool
	// viewersEvery is the least time between two viewers events; 0 means
	// the default, a second.
	viewersEvery time.Duration
}

// start serves the play route alone, with the room that the program
// makes from the flags of apptest.PlayArgs. The room runs on an embedded
// NATS server with its store in r.dir, and a transport.Streams delivers
// its streams. Stop and Shutdown close the streams, then the room, then
// the NATS server, and the end of the test does too. The handler is
// returned for what the program reads of it besides its routes.
func start(tb testing.TB, r route) (*apptest.Program, *play.Handler) {
	tb.Helper()
	if r.dir == "" {
		r.dir = tb.TempDir()
	}
	logs := logwatch.New()
	log := apptest.Logger(logs)
	nc, stopNATS, err := natsconn.Embedded(r.dir, false, natsconn.SyncAlways, log.With("nats", "embedded"))
	if err != nil {
		tb.Fatalf("embedded NATS server in %s: %v", r.dir, err)
	}
	streams := transport.New(transport.Options{Logger: log})
	ctx, cancel := context.WithTimeout(context.Background(), apptest.WaitBound)
	defer cancel()
	h, err := play.Open(ctx, streams, nc, play.Options{
		Walk: walk, Seed: 5, Push: play.DefaultPush,
		// The program keeps as many moves as the world replays.
		Keep:   int(world.DefaultReplay/walk.Interval) + 1,
		Logger: log, TrustedProxies: r.trusted, ViewersEvery: r.viewersEvery,
	})
	if err != nil {
		streams.Close()
		stopNATS()
		tb.Fatalf("play.Open: %v", err)
	}
	e := echo.New()
	e.HTTPErrorHandler = apptest.PlainError(nil)
	e.GET("/play/events", h.Events)
	e.POST("/play/push", h.Push)
	stop := func() {
		streams.Close()
		h.Close()
		stopNATS()
	}
	return apptest.Serve(tb, e, logs, stop, r.tlsH2), h
}

func TestPlayStream(t *testing.T) {
	t.Parallel()
	s, h := start(t, route{})
	if !h.Ticker() {
		t.Error("Ticker() = false; want true for the only instance")
	}
	es, in, viewers := s.PlayOpen(t)
	if in.Width != 300 || in.Height != 200 || in.Step != 4 || in.IntervalMS != 20 || in.Seed != 5 || in.Resumed {
		t.Errorf("init = %+v; want the room's 300x200, step 4, 20 ms, seed 5, not resumed", in)
	}
	if viewers != 1 {
		t.Errorf("viewers on open = %d; want 1", viewers)
	}
	es.PlayMoves(in.Seq, 5, nil)
}

// TestPlayPush: a push is applied by the next moves, listed in the move,
// in the order pushed; the same id is applied once.
func TestPlayPush(t *testing.T) {
	t.Parallel()
	s, _ := start(t, route{})
	es, in, _ := s.PlayOpen(t)
	s.Push(t, "first", "up")
	s.Push(t, "twice", "left")
	s.Push(t, "twice", "left")
	s.Push(t, "last", "right", "Origin", s.URL, "Sec-Fetch-Site", "same-origin")
	ms := es.PlayMoves(in.Seq, 1000, apptest.Applies("last"))
	var got []string
	for _, m := range ms {
		for _, p := range m.Pushes {
			got = append(got, p.ID+":"+p.Dir)
		}
	}
	if want := []string{"first:up", "twice:left", "last:right"}; !slices.Equal(got, want) {
		t.Errorf("pushes applied = %v; want %v", got, want)
	}
	// The moves go on, none applying a push again.
	for _, m := range es.PlayMoves(ms[len(ms)-1].Seq, 5, nil) {
		if len(m.Pushes) > 0 {
			t.Errorf("move %d applied %v again", m.Seq, m.Pushes)
		}
	}
}

func TestPlayPushRefused(t *testing.T) {
	// Each case comes from an address of its own behind a trusted proxy,
	// so that the push limit refuses none.
	t.Parallel()
	s, _ := start(t, route{trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	for i, tt := range []struct {
		name   string
		body   string
		header []string
		status int
		want   string // the start of the answer
	}{
		{"not JSON", `dir=up`, nil, 400, "body:"},
		{"JSON not an object", `["up"]`, nil, 400, "body:"},
		{"trailing data", `{"dir":"up","id":"a"} x`, nil, 400, "body:"},
		{"unknown dir", `{"dir":"north","id":"a"}`, nil, 400, "dir:"},
		{"dir not a string", `{"dir":1,"id":"a"}`, nil, 400, "dir:"},
		{"no dir", `{"id":"a"}`, nil, 400, "dir:"},
		{"no id", `{"dir":"up"}`, nil, 400, "id:"},
		{"id too long", `{"dir":"up","id":"` + strings.Repeat("a", 65) + `"}`, nil, 400, "id:"},
		{"id with a dot", `{"dir":"up","id":"a.b"}`, nil, 400, "id:"},
		{"id not a string", `{"dir":"up","id":7}`, nil, 400, "id:"},
		{"body over 1 KiB", `{"dir":"up","id":"a","pad":"` + strings.Repeat("x", 1024) + `"}`, nil, 413, "body:"},
		{"cross-site origin", `{"dir":"up","id":"a"}`, []string{"Origin", "https://evil.example"}, 403, "cross-site"},
		{"opaque origin", `{"dir":"up","id":"a"}`, []string{"Origin", "null"}, 403, "cross-site"},
		{"cross-site fetch", `{"dir":"up","id":"a"}`, []string{"Sec-Fetch-Site", "cross-site"}, 403, "cross-site"},
		{"same-site fetch", `{"dir":"up","id":"a"}`, []string{"Sec-Fetch-Site", "same-site"}, 403, "cross-site"},
		{"own origin, other port", `{"dir":"up","id":"a"}`, []string{"Origin", "http://127.0.0.1:1"}, 403, "cross-site"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			header := append([]string{"X-Forwarded-For", fmt.Sprintf("192.0.2.%d", i+1)}, tt.header...)
			status, body, _, err := s.Post(context.Background(), "/play/push", tt.body, header...)
			if err != nil {
				t.Fatal(err)
			}
			if status != tt.status || !strings.HasPrefix(body, tt.want) {
				t.Errorf("POST /play/push %s = %d %q; want %d starting %q", tt.body, status, body, tt.status, tt.want)
			}
		})
	}
	// A GET is no push.
	if res := s.Get(t, "/play/push"); res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /play/push = %d; want 405", res.StatusCode)
	}
}

// pushUntilLimited sends pushes with header until one is refused with
// 429, and returns how many were accepted and the Retry-After of the
// refusal. The limit is 10 a second, so a refusal must come before
// 10 + 10 a second of the time taken (plus one).
func pushUntilLimited(tb testing.TB, s *apptest.Program, prefix string, header ...string) (accepted int, retryAfter string) {
	tb.Helper()
	start := time.Now()
	for i := range 200 {
		status, body, h, err := s.Post(context.Background(), "/play/push", fmt.Sprintf(`{"dir":"down","id":"%s%d"}`, prefix, i), header...)
		if err != nil {
			tb.Fatal(err)
		}
		switch status {
		case http.StatusAccepted:
			accepted++
		case http.StatusTooManyRequests:
			if allowed := 11 + int(10*time.Since(start).Seconds()); accepted > allowed {
				tb.Errorf("%d pushes accepted in %v before a 429; want at most %d", accepted, time.Since(start), allowed)
			}
			return accepted, h.Get("Retry-After")
		default:
			tb.Fatalf("push %d = %d %q; want 202 or 429", i, status, body)
		}
	}
	tb.Fatalf("200 pushes in %v and none refused; want 429 past 10 a second", time.Since(start))
	return 0, ""
}

func TestPlayPushLimit(t *testing.T) {
	t.Parallel()
	s, _ := start(t, route{trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	accepted, retry := pushUntilLimited(t, s, "a", "X-Forwarded-For", "203.0.113.7")
	if accepted < 10 {
		t.Errorf("%d pushes accepted before the first 429; want at least 10", accepted)
	}
	if n, err := strconv.Atoi(retry); err != nil || n < 1 {
		t.Errorf("Retry-After = %q; want a whole number of seconds, at least 1", retry)
	}
	// Another client behind the same proxy has its own limit; a forged
	// hop left of the proxy's is not trusted.
	s.Push(t, "b0", "up", "X-Forwarded-For", "203.0.113.7, 198.51.100.1")
	s.Push(t, "b1", "up", "X-Forwarded-For", "198.51.100.2")
}

func TestPlayPushLimitUntrustedPeer(t *testing.T) {
	t.Parallel()
	s, _ := start(t, route{})
	pushUntilLimited(t, s, "a", "X-Forwarded-For", "203.0.113.7")
	// With no trusted proxy the header is the client's word, and the
	// limit counts the TCP peer. Each push below names a client of its
	// own. If the limit counted the header, each would find a full bucket
	// and pass. The peer's bucket is empty, and it gains a token every
	// 100 ms, so pushes sent faster than that meet a 429. One push alone
	// could pass on a token that came back meanwhile.
	for i := range 200 {
		body := fmt.Sprintf(`{"dir":"up","id":"other%d"}`, i)
		status, answer, _, err := s.Post(context.Background(), "/play/push", body, "X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i+1))
		if err != nil {
			t.Fatal(err)
		}
		switch status {
		case http.StatusTooManyRequests:
			return
		case http.StatusAccepted:
		default:
			t.Fatalf("push %d with another X-Forwarded-For = %d %q; want 202 or 429", i, status, answer)
		}
	}
	t.Errorf("200 pushes, each with another X-Forwarded-For, and none got 429; want 429: the peer is the same")
}

// TestPlayViewers: the viewers event counts the open streams, on open and
// when it changes.
func TestPlayViewers(t *testing.T) {
	t.Parallel()
	s, _ := start(t, route{viewersEvery: 20 * time.Millisecond})
	first, _, n := s.PlayOpen(t)
	if n != 1 {
		t.Fatalf("first stream: viewers %d on open; want 1", n)
	}
	second, _, n := s.PlayOpen(t)
	if n != 2 {
		t.Fatalf("second stream: viewers %d on open; want 2", n)
	}
	if got := first.NextViewers(); got != 2 {
		t.Errorf("first stream: viewers %d after the second opened; want 2", got)
	}
	second.Res.Body.Close()
	if got := first.NextViewers(); got != 1 {
		t.Errorf("first stream: viewers %d after the second closed; want 1", got)
	}
}

// TestPlayResumeAcrossRestart: the moves are in the NATS store, so a
// client resumes with Last-Event-ID after the route, its room and its
// NATS server restart on the same store, with no gap and the same
// positions.
func TestPlayResumeAcrossRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, _ := start(t, route{dir: dir})
	es, in, _ := s.PlayOpen(t)
	s.Push(t, "before", "down")
	seen := es.PlayMoves(in.Seq, 1000, apptest.Applies("before"))
	seen = append(seen, es.PlayMoves(seen[len(seen)-1].Seq, 3, nil)...)
	mid := seen[len(seen)-3] // resume from here: two moves the client has seen follow
	s.Shutdown(t)

	s2, _ := start(t, route{dir: dir})
	es2, in2, _ := s2.PlayOpen(t, "Last-Event-ID", mid.ID)
	if !in2.Resumed || in2.Seq != mid.Seq || in2.X != mid.X || in2.Y != mid.Y {
		t.Fatalf("init after restart = %+v; want resumed at move %d (%d, %d)", in2, mid.Seq, mid.X, mid.Y)
	}
	after := es2.PlayMoves(mid.Seq, 4, nil)
	for i, m := range after[:2] {
		if want := seen[len(seen)-2+i]; m.X != want.X || m.Y != want.Y || m.TS != want.TS {
			t.Errorf("move %d after restart = %+v; want %+v as before", m.Seq, m.PlayMoveData, want.PlayMoveData)
		}
	}
	s2.Push(t, "after", "up")
	es2.PlayMoves(after[len(after)-1].Seq, 1000, apptest.Applies("after"))
}

// TestPlayResumeAhead: a client whose last event id this instance has not
// read yet (it came from an instance further on) waits for it, rather
// than starting afresh.
func TestPlayResumeAhead(t *testing.T) {
	t.Parallel()
	s, _ := start(t, route{})
	_, in, _ := s.PlayOpen(t)
	ahead := in.Seq + 5
	es, in2, _ := s.PlayOpen(t, "Last-Event-ID", strconv.FormatUint(ahead, 10))
	if !in2.Resumed || in2.Seq != ahead {
		t.Fatalf("init = %+v; want resumed at move %d", in2, ahead)
	}
	es.PlayMoves(ahead, 3, nil)
}

// TestPlayHTTP2: over TLS the play room's stream is written through the
// ResponseWriter, from the same source.
func TestPlayHTTP2(t *testing.T) {
	t.Parallel()
	s, _ := start(t, route{tlsH2: true})
	es, in, viewers := s.PlayOpen(t)
	if es.Res.ProtoMajor != 2 {
		t.Errorf("response protocol %s; want HTTP/2", es.Res.Proto)
	}
	if viewers != 1 {
		t.Errorf("viewers = %d; want 1", viewers)
	}
	s.Push(t, "h2", "left")
	es.PlayMoves(in.Seq, 1000, apptest.Applies("h2"))
	es.Res.Body.Close()
}
