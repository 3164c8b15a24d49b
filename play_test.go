package main

// End-to-end tests of the play room: /play/events and POST /play/push on
// the real program, with its embedded NATS server.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// playArgs are flags for a fast play room (a move every 20 ms in a
// 300x200 box) with its store in dir.
func playArgs(dir string, extra ...string) []string {
	return append([]string{"-data", dir, "-world-interval", "20ms", "-world-width", "300", "-world-height", "200",
		"-world-step", "4", "-world-seed", "5"}, extra...)
}

// playMoveData is the data of a move of the play room.
type playMoveData struct {
	Seq    uint64
	X, Y   int
	TS     int64
	Pushes []pushData `json:"pushes"`
}

// pushData is a push, as a move lists it.
type pushData struct {
	ID  string `json:"id"`
	Dir string `json:"dir"`
}

// playMove is a move of the play room as the client saw it.
type playMove struct {
	id string
	playMoveData
}

// playOpen opens /play/events with header and reads its init and
// viewers events.
func (s *Server) playOpen(tb testing.TB, header ...string) (*eventStream, initData, int) {
	tb.Helper()
	es := s.open(tb, "/play/events", header...)
	in := es.init()
	return es, in, es.viewers()
}

// viewers reads a viewers event.
func (es *eventStream) viewers() int {
	es.tb.Helper()
	var v struct{ Viewers int }
	if _, err := readEvent(es.dec, "viewers", &v); err != nil {
		es.tb.Fatal(err)
	}
	return v.Viewers
}

// playMoves reads moves of the play room until until accepts one, or n
// moves, skipping viewers events; it checks that each move follows the
// one before with its seq as id, and returns them.
func (es *eventStream) playMoves(after uint64, n int, until func(playMove) bool) []playMove {
	es.tb.Helper()
	var ms []playMove
	for len(ms) < n {
		ev, err := es.dec.Next()
		if err != nil {
			es.tb.Fatalf("reading play moves after %d: %v", after, err)
		}
		if ev.Name == "viewers" {
			continue
		}
		var m playMove
		jd := json.NewDecoder(strings.NewReader(ev.Data))
		jd.DisallowUnknownFields()
		if ev.Name != "move" || jd.Decode(&m.playMoveData) != nil {
			es.tb.Fatalf("event %q %q; want a move", ev.Name, ev.Data)
		}
		m.id = ev.ID
		if want := after + uint64(len(ms)) + 1; m.Seq != want || m.id != strconv.FormatUint(want, 10) {
			es.tb.Fatalf("move seq %d id %q; want %d: gap-free", m.Seq, m.id, want)
		}
		if m.X < 0 || m.X > 300 || m.Y < 0 || m.Y > 200 {
			es.tb.Errorf("move %d at (%d, %d): outside 300x200", m.Seq, m.X, m.Y)
		}
		ms = append(ms, m)
		if until != nil && until(m) {
			break
		}
	}
	return ms
}

// applies returns a test for a move that applied the push with this id.
func applies(id string) func(playMove) bool {
	return func(m playMove) bool {
		return slices.ContainsFunc(m.Pushes, func(p pushData) bool { return p.ID == id })
	}
}

// post sends POST path with body and header (name, value pairs).
func (s *Server) post(ctx context.Context, path, body string, header ...string) (status int, respBody string, h http.Header, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url+path, strings.NewReader(body))
	if err != nil {
		return 0, "", nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := s.client.Do(req)
	if err != nil {
		return 0, "", nil, fmt.Errorf("POST %s: %w", path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, string(b), res.Header, err
}

// push sends a push and requires 202 with its id.
func (s *Server) push(tb testing.TB, id, dir string, header ...string) {
	tb.Helper()
	status, body, _, err := s.post(context.Background(), "/play/push", fmt.Sprintf(`{"dir":%q,"id":%q}`, dir, id), header...)
	if err != nil {
		tb.Fatal(err)
	}
	if want := fmt.Sprintf(`{"id":%q}`, id); status != http.StatusAccepted || strings.TrimSpace(body) != want {
		tb.Fatalf("push %s %s = %d %q; want 202 %s", id, dir, status, body, want)
	}
}

func TestPlayStream(t *testing.T) {
	s := startServer(t, playArgs(t.TempDir())...)
	if !s.health(t).Ticker {
		t.Error(`/healthz "ticker" = false; want true for the only instance`)
	}
	es, in, viewers := s.playOpen(t)
	if in.Width != 300 || in.Height != 200 || in.Step != 4 || in.IntervalMS != 20 || in.Seed != 5 || in.Resumed {
		t.Errorf("init = %+v; want the room's 300x200, step 4, 20 ms, seed 5, not resumed", in)
	}
	if viewers != 1 {
		t.Errorf("viewers on open = %d; want 1", viewers)
	}
	es.playMoves(in.Seq, 5, nil)
}

// TestPlayPush: a push is applied by the next moves, listed in the move,
// in the order pushed; the same id is applied once.
func TestPlayPush(t *testing.T) {
	s := startServer(t, playArgs(t.TempDir())...)
	es, in, _ := s.playOpen(t)
	s.push(t, "first", "up")
	s.push(t, "twice", "left")
	s.push(t, "twice", "left")
	s.push(t, "last", "right", "Origin", s.url, "Sec-Fetch-Site", "same-origin")
	ms := es.playMoves(in.Seq, 1000, applies("last"))
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
	for _, m := range es.playMoves(ms[len(ms)-1].Seq, 5, nil) {
		if len(m.Pushes) > 0 {
			t.Errorf("move %d applied %v again", m.Seq, m.Pushes)
		}
	}
}

func TestPlayPushRefused(t *testing.T) {
	// Each case comes from an address of its own behind a trusted proxy,
	// so that the push limit refuses none.
	s := startServer(t, playArgs(t.TempDir(), "-trusted-proxy", "127.0.0.1")...)
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
			status, body, _, err := s.post(context.Background(), "/play/push", tt.body, header...)
			if err != nil {
				t.Fatal(err)
			}
			if status != tt.status || !strings.HasPrefix(body, tt.want) {
				t.Errorf("POST /play/push %s = %d %q; want %d starting %q", tt.body, status, body, tt.status, tt.want)
			}
		})
	}
	// A GET is no push.
	if res := s.get(t, "/play/push"); res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /play/push = %d; want 405", res.StatusCode)
	}
}

// pushUntilLimited sends pushes with header until one is refused with
// 429, and returns how many were accepted and the Retry-After of the
// refusal. The limit is 10 a second, so a refusal must come before
// 10 + 10 a second of the time taken (plus one).
func pushUntilLimited(tb testing.TB, s *Server, prefix string, header ...string) (accepted int, retryAfter string) {
	tb.Helper()
	start := time.Now()
	for i := range 200 {
		status, body, h, err := s.post(context.Background(), "/play/push", fmt.Sprintf(`{"dir":"down","id":"%s%d"}`, prefix, i), header...)
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
	s := startServer(t, playArgs(t.TempDir(), "-trusted-proxy", "127.0.0.0/8")...)
	accepted, retry := pushUntilLimited(t, s, "a", "X-Forwarded-For", "203.0.113.7")
	if accepted < 10 {
		t.Errorf("%d pushes accepted before the first 429; want at least 10", accepted)
	}
	if n, err := strconv.Atoi(retry); err != nil || n < 1 {
		t.Errorf("Retry-After = %q; want a whole number of seconds, at least 1", retry)
	}
	// Another client behind the same proxy has its own limit; a forged
	// hop left of the proxy's is not trusted.
	s.push(t, "b0", "up", "X-Forwarded-For", "203.0.113.7, 198.51.100.1")
	s.push(t, "b1", "up", "X-Forwarded-For", "198.51.100.2")
}

func TestPlayPushLimitUntrustedPeer(t *testing.T) {
	s := startServer(t, playArgs(t.TempDir())...)
	pushUntilLimited(t, s, "a", "X-Forwarded-For", "203.0.113.7")
	// Without -trusted-proxy the header is the client's word: the limit
	// counts the TCP peer, whatever it says.
	status, _, _, err := s.post(context.Background(), "/play/push", `{"dir":"up","id":"other"}`, "X-Forwarded-For", "198.51.100.9")
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusTooManyRequests {
		t.Errorf("push with another X-Forwarded-For = %d; want 429: the peer is the same", status)
	}
}

// TestPlayViewers: the viewers event counts the open streams, on open and
// when it changes.
func TestPlayViewers(t *testing.T) {
	s := startServer(t, playArgs(t.TempDir())...)
	first, _, n := s.playOpen(t)
	if n != 1 {
		t.Fatalf("first stream: viewers %d on open; want 1", n)
	}
	second, _, n := s.playOpen(t)
	if n != 2 {
		t.Fatalf("second stream: viewers %d on open; want 2", n)
	}
	if got := first.nextViewers(); got != 2 {
		t.Errorf("first stream: viewers %d after the second opened; want 2", got)
	}
	second.res.Body.Close()
	if got := first.nextViewers(); got != 1 {
		t.Errorf("first stream: viewers %d after the second closed; want 1", got)
	}
}

// nextViewers reads moves up to the next viewers event, and returns its
// count.
func (es *eventStream) nextViewers() int {
	es.tb.Helper()
	for {
		ev, err := es.dec.Next()
		if err != nil {
			es.tb.Fatalf("waiting for a viewers event: %v", err)
		}
		if ev.Name == "viewers" {
			var v struct{ Viewers int }
			if err := json.Unmarshal([]byte(ev.Data), &v); err != nil {
				es.tb.Fatal(err)
			}
			return v.Viewers
		}
	}
}

// TestPlayResumeAcrossRestart: the moves are in the store under -data, so
// a client resumes with Last-Event-ID after the app restarts, with no gap
// and the same positions.
func TestPlayResumeAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, playArgs(dir)...)
	es, in, _ := s.playOpen(t)
	s.push(t, "before", "down")
	seen := es.playMoves(in.Seq, 1000, applies("before"))
	seen = append(seen, es.playMoves(seen[len(seen)-1].Seq, 3, nil)...)
	mid := seen[len(seen)-3] // resume from here: two moves the client has seen follow
	s.shutdown(t)

	s2 := startServer(t, playArgs(dir)...)
	es2, in2, _ := s2.playOpen(t, "Last-Event-ID", mid.id)
	if !in2.Resumed || in2.Seq != mid.Seq || in2.X != mid.X || in2.Y != mid.Y {
		t.Fatalf("init after restart = %+v; want resumed at move %d (%d, %d)", in2, mid.Seq, mid.X, mid.Y)
	}
	after := es2.playMoves(mid.Seq, 4, nil)
	for i, m := range after[:2] {
		if want := seen[len(seen)-2+i]; m.X != want.X || m.Y != want.Y || m.TS != want.TS {
			t.Errorf("move %d after restart = %+v; want %+v as before", m.Seq, m.playMoveData, want.playMoveData)
		}
	}
	s2.push(t, "after", "up")
	es2.playMoves(after[len(after)-1].Seq, 1000, applies("after"))
}

// TestPlayResumeAhead: a client whose last event id this instance has not
// read yet (it came from an instance further on) waits for it, rather
// than starting afresh.
func TestPlayResumeAhead(t *testing.T) {
	s := startServer(t, playArgs(t.TempDir())...)
	_, in, _ := s.playOpen(t)
	ahead := in.Seq + 5
	es, in2, _ := s.playOpen(t, "Last-Event-ID", strconv.FormatUint(ahead, 10))
	if !in2.Resumed || in2.Seq != ahead {
		t.Fatalf("init = %+v; want resumed at move %d", in2, ahead)
	}
	es.playMoves(ahead, 3, nil)
}

func TestPlayDataRefused(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	used := t.TempDir()
	startServer(t, playArgs(used)...)
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"a file", playArgs(file), "-data " + file},
		{"in use", playArgs(used), "-data " + used + ": in use"},
		{"push beyond the box", playArgs(t.TempDir(), "-play-push", "201"), "-play-push: must be an integer in [1, 200]"},
		{"no NATS there", []string{"-nats", "nats://127.0.0.1:1", "-nats-timeout", "1s"}, "-nats nats://127.0.0.1:1: connect"},
		{"bad trusted proxy", []string{"-trusted-proxy", "proxy.example"}, "proxy.example"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), waitBound)
			defer cancel()
			err := run(ctx, append([]string{"-addr", "127.0.0.1:0"}, tt.args...), func(string) string { return "" }, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run(%q) = %v; want an error with %q", tt.args, err, tt.want)
			}
		})
	}
}

// TestBrowserPlay opens the play page in two browsers (two Chromium
// processes), each on an instance of its own, the instances sharing a
// three-node NATS cluster: a push in one browser shows in the other, and
// its round trip in its own.
func TestBrowserPlay(t *testing.T) {
	browserA, browserB := newBrowser(t), newBrowser(t)
	nats := startNATSCluster(t)
	args := []string{"-nats", nats, "-nats-replicas", "3", "-world-interval", "50ms"}
	s1, s2 := startServer(t, args...), startServer(t, args...)
	a, b := newTab(t, browserA), newTab(t, browserB)
	a.navigate(s1.url + "/play")
	b.navigate(s2.url + "/play")
	for _, tb := range []*tab{a, b} {
		tb.waitFor("the stream open", `document.getElementById('state').dataset.state === 'open'`)
		tb.waitFor("two viewers", `document.getElementById('viewers').textContent === '2'`)
	}

	a.do("push up", chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid=push-up]').click()`))
	a.waitFor("the push's round trip", `document.getElementById('roundtrip').dataset.id === document.getElementById('mine').dataset.id`)
	id := eval[string](a, `document.getElementById('mine').dataset.id`)
	b.waitFor("the other browser's push", fmt.Sprintf(`document.getElementById('lastpush').dataset.id === %q`, id))
	if got := b.text("lastpush"); !strings.HasPrefix(got, "up at ") {
		t.Errorf("last push seen in the other browser = %q; want up at a seq", got)
	}
	if rt := a.text("roundtrip"); !strings.HasSuffix(rt, " ms") {
		t.Errorf("round trip = %q; want milliseconds", rt)
	}

	// A key pushes too: D is right.
	b.do("press D", chromedp.Evaluate[chromedp.Void](`document.dispatchEvent(new KeyboardEvent('keydown', {key: 'd', bubbles: true}))`))
	b.waitFor("the key's push in its own browser", `document.getElementById('roundtrip').dataset.id === document.getElementById('mine').dataset.id`)
	id = eval[string](b, `document.getElementById('mine').dataset.id`)
	a.waitFor("the key's push in the other browser", fmt.Sprintf(`document.getElementById('lastpush').dataset.id === %q`, id))
	if got := a.text("lastpush"); !strings.HasPrefix(got, "right at ") {
		t.Errorf("last push seen = %q; want right at a seq", got)
	}
	a.checkClean(false)
	b.checkClean(false)
}

// TestPlayHTTP2: over TLS the play room's stream is written through the
// ResponseWriter, from the same source.
func TestPlayHTTP2(t *testing.T) {
	s := startTLSServer(t, playArgs(t.TempDir())...)
	es, in, viewers := s.playOpen(t)
	if es.res.ProtoMajor != 2 {
		t.Errorf("response protocol %s; want HTTP/2", es.res.Proto)
	}
	if viewers != 1 {
		t.Errorf("viewers = %d; want 1", viewers)
	}
	s.push(t, "h2", "left")
	es.playMoves(in.Seq, 1000, applies("h2"))
	es.res.Body.Close()
}
