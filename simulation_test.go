package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sse-demo/movingobject/internal/apptest"
	"github.com/sse-demo/movingobject/server/servertest"
	"github.com/sse-demo/movingobject/simulation"
)

func TestEventsStream(t *testing.T) {
	t.Parallel()
	s := servertest.Start(t)
	es := s.Open(t, "/events?seed=7&interval=10&width=300&height=200&step=9")
	in := es.Init()
	// The documented default: -retry 2s, plus up to half again at random.
	const minRetry, maxRetry = 2 * time.Second, 3 * time.Second
	retry, ok := es.Dec.Retry()
	if !ok || retry < minRetry || retry > maxRetry {
		t.Errorf("retry = %v, %v; want in [%v, %v]", retry, ok, minRetry, maxRetry)
	}
	want := apptest.Init{Width: 300, Height: 200, Step: 9, IntervalMS: 10, Seed: 7, Resumed: false, Seq: 0, X: in.X, Y: in.Y, RetryMS: retry.Milliseconds()}
	if in != want || in.X < 0 || in.X > 300 || in.Y < 0 || in.Y > 200 {
		t.Errorf("init = %+v; want %+v, inside 300x200", in, want)
	}
	prev := simulation.Position{X: in.X, Y: in.Y}
	var lastTS int64
	for i, m := range es.Moves(50) {
		if m.Seq != uint64(i+1) {
			t.Fatalf("move %d has seq %d; want %d", i, m.Seq, i+1)
		}
		if m.X < 0 || m.X > 300 || m.Y < 0 || m.Y > 200 {
			t.Errorf("move %d at (%d, %d): outside 300x200", m.Seq, m.X, m.Y)
		}
		dx, dy := abs(m.X-prev.X), abs(m.Y-prev.Y)
		if (dx != 0 && dy != 0) || dx > 9 || dy > 9 {
			t.Errorf("move %d from (%d, %d) to (%d, %d): not one axis within step 9", m.Seq, prev.X, prev.Y, m.X, m.Y)
		}
		if m.TS < lastTS || m.ID == "" {
			t.Errorf("move %d: ts %d after %d, id %q; want rising ts and an id", m.Seq, m.TS, lastTS, m.ID)
		}
		prev, lastTS = simulation.Position{X: m.X, Y: m.Y}, m.TS
	}
}

func TestEventsSameSeedSameWalk(t *testing.T) {
	t.Parallel()
	s := servertest.Start(t)
	a := s.Open(t, "/events?seed=99&interval=10")
	b := s.Open(t, "/events?seed=99&interval=10")
	ia, ib := a.Init(), b.Init()
	ia.RetryMS, ib.RetryMS = 0, 0 // jittered per connection
	if ia != ib {
		t.Fatalf("init = %+v and %+v; want the same for seed 99", ia, ib)
	}
	ma, mb := a.Moves(20), b.Moves(20)
	for i := range ma {
		if ma[i].ID != mb[i].ID || ma[i].X != mb[i].X || ma[i].Y != mb[i].Y {
			t.Fatalf("move %d = %+v and %+v; want the same walk", i+1, ma[i], mb[i])
		}
	}
}

func TestEventsResume(t *testing.T) {
	t.Parallel()
	first := servertest.Start(t)
	const path = "/events?seed=11&interval=10&step=40"
	whole := first.Open(t, path)
	whole.Init()
	want := whole.Moves(60)
	// A second process stands for a restart or another instance: no state
	// is shared, only the resume token travels.
	other := servertest.Start(t)
	for _, cut := range []int{1, 17, 40} {
		token := want[cut-1].ID
		for _, tt := range []struct {
			name   string
			s      *apptest.Program
			path   string
			header []string
		}{
			{"header", first, path, []string{"Last-Event-ID", token}},
			{"query", first, path + "&lastEventId=" + url.QueryEscape(token), nil},
			{"header wins over query", first, path + "&lastEventId=garbage", []string{"Last-Event-ID", token}},
			{"other instance", other, path, []string{"Last-Event-ID", token}},
			{"no seed in query", other, "/events?interval=10&step=40", []string{"Last-Event-ID", token}},
		} {
			t.Run(fmt.Sprintf("%s/after %d", tt.name, cut), func(t *testing.T) {
				t.Parallel()
				es := tt.s.Open(t, tt.path, tt.header...)
				in := es.Init()
				if !in.Resumed || in.Seq != uint64(cut) || in.Seed != 11 || in.X != want[cut-1].X || in.Y != want[cut-1].Y {
					t.Errorf("init = %+v; want resumed at move %+v", in, want[cut-1])
				}
				for i, m := range es.Moves(len(want) - cut) {
					w := want[cut+i]
					if m.Seq != w.Seq || m.X != w.X || m.Y != w.Y || m.ID != w.ID {
						t.Fatalf("resumed move = %+v; want %+v as in the uninterrupted stream", m, w)
					}
				}
			})
		}
	}
}

func TestEventsBadLastEventIDStartsFresh(t *testing.T) {
	t.Parallel()
	s := servertest.Start(t)
	es := s.Open(t, "/events?seed=5&interval=10&width=200&height=100")
	es.Init()
	good := es.Moves(3)[2].ID
	parts := strings.Split(good, ".")
	edit := func(i int, v string) string {
		p := append([]string(nil), parts...)
		p[i] = v
		return strings.Join(p, ".")
	}
	const base = "/events?interval=10&width=200&height=100&seed=5"
	for _, tt := range []struct {
		name, id, path string
	}{
		{"garbage", "hello", base},
		{"forged position", edit(1, "7"), base},
		{"forged seq", edit(0, "1000"), base},
		{"forged tag", edit(4, "0000000000000000"), base},
		{"outside the box", edit(1, "9999"), base},
		{"negative", edit(2, "-1"), base},
		{"too few parts", "1.2.3", base},
		{"huge numbers", edit(0, "99999999999999999999999"), base},
		{"non-ASCII", "é.ü.☃.1.x", base},
		{"other box", good, "/events?interval=10&width=201&height=100&seed=5"},
		{"other seed", good, "/events?interval=10&width=200&height=100&seed=6"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			es := s.Open(t, tt.path, "Last-Event-ID", tt.id)
			if in := es.Init(); in.Resumed || in.Seq != 0 {
				t.Errorf("init = %+v; want a fresh walk (resumed false, seq 0)", in)
			}
			if m := es.Moves(1)[0]; m.Seq != 1 {
				t.Errorf("first move seq = %d; want 1", m.Seq)
			}
		})
	}
}

func TestBadParameters(t *testing.T) {
	t.Parallel()
	s := servertest.Start(t)
	for _, tt := range []struct {
		query, want string
	}{
		{"width=abc", "width: must be an integer in [10, 4000]"},
		{"width=9", "width: must be an integer in [10, 4000]"},
		{"width=4001", "width: must be an integer in [10, 4000]"},
		{"height=-5", "height: must be an integer in [10, 4000]"},
		{"height=1e3", "height: must be an integer in [10, 4000]"},
		{"step=0", "step: must be an integer in [1, 600]"},
		{"step=601", "step: must be an integer in [1, 600]"},
		{"width=50&step=51", "step: must be an integer in [1, 50]"},
		{"interval=9", "interval: must be an integer in [10, 60000] (milliseconds)"},
		{"interval=60001", "interval: must be an integer in [10, 60000] (milliseconds)"},
		{"interval=99999999999999999999", "interval: must be an integer in [10, 60000] (milliseconds)"},
		{"interval=0.5", "interval: must be an integer in [10, 60000] (milliseconds)"},
		{"seed=-1", "seed: must be an integer in [0, 9007199254740991]"},
		{"seed=9007199254740992", "seed: must be an integer in [0, 9007199254740991]"},
		{"width=x&step=0", "width: must be an integer in [10, 4000]"},
	} {
		t.Run(tt.query, func(t *testing.T) {
			res := s.Get(t, "/events?"+tt.query)
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusBadRequest || strings.TrimSpace(string(body)) != tt.want {
				t.Errorf("GET /events?%s = %d %q; want 400 %q", tt.query, res.StatusCode, body, tt.want)
			}
			if ct := res.Header.Get("Content-Type"); strings.HasPrefix(ct, "text/event-stream") {
				t.Errorf("GET /events?%s: Content-Type %q; want no stream", tt.query, ct)
			}
			res = s.Get(t, "/?"+tt.query)
			body, _ = io.ReadAll(res.Body)
			if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), tt.want) {
				t.Errorf("GET /?%s = %d, body without %q; want 400 naming the parameter", tt.query, res.StatusCode, tt.want)
			}
			if strings.Contains(string(body), "<canvas") {
				t.Errorf("GET /?%s: the 400 page has a canvas; want only the message and the form", tt.query)
			}
		})
	}
}

func TestPage(t *testing.T) {
	t.Parallel()
	s := servertest.Start(t)
	res := s.Get(t, "/?width=320&height=240&seed=3")
	body, _ := io.ReadAll(res.Body)
	page := string(body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET / = %d; want 200", res.StatusCode)
	}
	for _, want := range []string{
		`<canvas id="board" data-testid="board" width="320" height="240" data-events-url="/events?height=240&amp;seed=3&amp;width=320"`,
		`<script type="module" src="/static/app.js"></script>`,
		`This browser does not support Server-Sent Events (EventSource)`,
		`max="240" data-testid="step-input"> <small>1 – 240 px</small>`, // the step fits the box
	} {
		if !strings.Contains(page, want) {
			t.Errorf("GET / has no %q", want)
		}
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("Content-Security-Policy = %q; want default-src 'self'", csp)
	}
	for path, ctype := range map[string]string{"/static/app.js": "javascript", "/static/style.css": "text/css"} {
		res := s.Get(t, path)
		if res.StatusCode != http.StatusOK || !strings.Contains(res.Header.Get("Content-Type"), ctype) {
			t.Errorf("GET %s = %d %q; want 200 %s", path, res.StatusCode, res.Header.Get("Content-Type"), ctype)
		}
	}
}

func TestHeartbeat(t *testing.T) {
	t.Parallel()
	s := servertest.Start(t, "-heartbeat", "20ms")
	// Moves come once a minute, so only heartbeats fill the silence. The
	// deadline, far beyond the heartbeat, makes a missing one fail, not hang.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := s.Request(ctx, http.MethodGet, "/events?interval=60000")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var lines []string
	for sc := bufio.NewScanner(res.Body); sc.Scan() && len(lines) < 8; {
		lines = append(lines, sc.Text())
		if sc.Text() == ": heartbeat" {
			if !slices.Contains(lines, "event: init") {
				t.Errorf("heartbeat before the init event: %q", lines)
			}
			return
		}
	}
	t.Errorf("stream = %q (%v); want a \": heartbeat\" comment", lines, ctx.Err())
}

func TestDisconnectLeavesNoGoroutine(t *testing.T) {
	s := servertest.Start(t)
	baseline := goleak.IgnoreCurrent()
	for range 5 {
		es := s.Open(t, "/events?interval=10")
		es.Init()
		es.Moves(3)
		es.Res.Body.Close()
	}
	// goleak retries until the handlers and walks have ended, or fails.
	goleak.VerifyNone(t, baseline)
}

func TestShutdownEndsStreams(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"/events?interval=10", "/world/events"} {
		t.Run(path, func(t *testing.T) {
			s := servertest.Start(t, "-world-interval", "10ms", "-world-start", time.Now().UTC().Format(time.RFC3339))
			es := s.Open(t, path)
			es.Init()
			es.Moves(2)
			s.Stop()
			for {
				_, err := es.Dec.Next()
				if errors.Is(err, io.EOF) {
					break // the stream ended cleanly
				}
				if err != nil {
					t.Fatalf("stream ended with %v; want a clean end (EOF)", err)
				}
			}
			s.Shutdown(t)
		})
	}
}

func TestShutdownClosesUnusedConnections(t *testing.T) {
	t.Parallel()
	// Browsers open connections ahead of need. net/http's Shutdown waits
	// 5 s for one that has sent nothing, longer than this timeout.
	s := servertest.Start(t, "-shutdown-timeout", "2s")
	preconnect, err := s.Dial(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer preconnect.Close()
	// The server accepts in order: once a later request is answered, it
	// has taken the preconnection too.
	if res := s.Get(t, "/healthz"); res.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz = %d; want 200", res.StatusCode)
	}
	s.Shutdown(t) // the cleanup then checks that run returned nil, not a timeout
	if n, err := preconnect.Read(make([]byte, 1)); err == nil {
		t.Errorf("preconnection read %d bytes after shutdown; want it closed", n)
	}
}

func abs(n int) int { return max(n, -n) }
