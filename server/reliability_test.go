package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sse-demo/movingobject/internal/apptest"
	"github.com/sse-demo/movingobject/internal/logwatch"
	"github.com/sse-demo/movingobject/server/servertest"
	"github.com/sse-demo/movingobject/stream/sse"
)

func TestStreamLimit(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name       string
		args       []string
		wantStatus int
	}{
		{"server", []string{"-max-streams", "2", "-max-streams-per-ip", "0"}, http.StatusServiceUnavailable},
		{"per address", []string{"-max-streams", "100", "-max-streams-per-ip", "2"}, http.StatusTooManyRequests},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := servertest.Start(t, tt.args...)
			a := s.Open(t, "/events?interval=10")
			a.Init()
			b := s.Open(t, "/events?interval=10")
			b.Init()

			res := s.Get(t, "/events?interval=10")
			body, _ := io.ReadAll(res.Body)
			retry, err := strconv.Atoi(res.Header.Get("Retry-After"))
			if res.StatusCode != tt.wantStatus || err != nil || retry < 5 || retry > 10 {
				t.Fatalf("third GET /events = %d %q, Retry-After %q; want %d with Retry-After in [5, 10]",
					res.StatusCode, body, res.Header.Get("Retry-After"), tt.wantStatus)
			}
			if ct := res.Header.Get("Content-Type"); strings.HasPrefix(ct, "text/event-stream") {
				t.Errorf("refused stream: Content-Type %q; want no stream", ct)
			}
			// The open streams are untouched.
			a.Moves(2)
			b.Moves(2)

			a.Res.Body.Close()
			s.WaitClosed(t, 1)
			c := s.Open(t, "/events?interval=10")
			c.Init()
			c.Moves(1)
		})
	}
}

func TestStalledClientIsDropped(t *testing.T) {
	t.Parallel()
	s := servertest.Start(t, "-write-timeout", "300ms")
	normal := s.Open(t, "/events?seed=1&interval=10")
	normal.Init()

	// The stalled client never reads, and keeps the kernel's buffers small
	// (a small receive buffer, and a small segment size, which keeps the
	// server's send buffer from growing) so that the server's writes block
	// after some 20 KB rather than megabytes.
	stalled, err := s.DialStream("/events?seed=2&interval=10", shrinkBuffers)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()

	// Read the normal stream all along, as a browser would, until it has
	// had 20 moves more once the stalled client is dropped.
	type result struct {
		moves int
		err   error
	}
	dropped := make(chan struct{})
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() { done <- r }()
		for want, after := uint64(1), -1; after < 20; want++ {
			var m apptest.MoveData
			if _, err := apptest.ReadEvent(normal.Dec, "move", &m); err != nil || m.Seq != want {
				r.err = fmt.Errorf("normal stream: move seq %d (%v); want move seq %d", m.Seq, err, want)
				return
			}
			r.moves++
			select {
			case <-dropped:
				after++
			default:
			}
		}
	}()

	s.WaitOpened(t, 2)
	// The stalled one is dropped, the normal one stays.
	s.WaitClosed(t, 1)
	close(dropped)
	var r result
	select {
	case r = <-done:
	case <-time.After(apptest.WaitBound):
		t.Fatalf("normal stream: no 20 moves within %v of the stalled one's drop", apptest.WaitBound)
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Logf("normal client: %d moves in order while the other stalled and after", r.moves)

	// The server closed the stalled connection: once read, it ends.
	if err := stalled.SetReadDeadline(time.Now().Add(apptest.WaitBound)); err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, stalled)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("stalled connection: read %d bytes, then %v; want the server to have closed it", n, err)
	}
	t.Logf("stalled client: the server had written %d bytes before dropping it", n)
}

func TestAbandonedStreamsLeaveNoGoroutine(t *testing.T) {
	const n = 1000
	s := servertest.Start(t, "-max-streams-per-ip", "0")
	baseline := goleak.IgnoreCurrent()
	before := runtime.NumGoroutine()

	conns := make([]*net.TCPConn, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for w := range 10 {
		wg.Go(func() {
			for i := w; i < n; i += 10 {
				conn, err := s.DialStream("/events?interval=60000", nil)
				if err != nil {
					errs <- err
					return
				}
				conns[i] = conn
				if _, err := apptest.ReadRawInit(conn); err != nil {
					errs <- fmt.Errorf("stream %d: %w", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := s.Health(t).Streams; got != n {
		t.Errorf("open streams = %d; want %d", got, n)
	}
	open := runtime.NumGoroutine()

	for i, conn := range conns {
		if conn == nil {
			continue // its error failed the test
		}
		if i%2 == 1 {
			// Drop the connection: with a zero linger, Close sends RST.
			if err := conn.SetLinger(0); err != nil {
				t.Fatal(err)
			}
		}
		conn.Close()
	}
	s.WaitClosed(t, n)
	// goleak retries until the handlers, walks and connections have ended,
	// or fails.
	goleak.VerifyNone(t, baseline)
	t.Logf("goroutines: %d before, %d with %d streams open, %d after", before, open, n, runtime.NumGoroutine())
}

// shutdownClient is one client of TestShutdownWithOpenStreams.
type shutdownClient struct {
	query string
	raw   bytes.Buffer // the body as it came
	last  apptest.Move // the last move read
	err   error        // how the stream ended
}

func TestShutdownWithOpenStreams(t *testing.T) {
	t.Parallel()
	const n = 200
	args := []string{"-max-streams-per-ip", "0", "-shutdown-timeout", "5s"}
	first := servertest.Start(t, args...)
	clients := make([]*shutdownClient, n)
	moving := make(chan struct{}, n)
	var wg sync.WaitGroup
	for i := range clients {
		c := &shutdownClient{query: fmt.Sprintf("/events?seed=%d&interval=20", i)}
		clients[i] = c
		res := first.Get(t, c.query)
		dec := sse.NewDecoder(io.TeeReader(res.Body, &c.raw))
		if _, err := apptest.ReadEvent(dec, "init", new(apptest.Init)); res.StatusCode != http.StatusOK || err != nil {
			t.Fatalf("GET %s = %d, %v; want 200 and an init event first", c.query, res.StatusCode, err)
		}
		wg.Go(func() {
			for {
				ev, err := apptest.ReadEvent(dec, "move", &c.last.MoveData)
				if err != nil {
					c.err = err
					return
				}
				c.last.ID = ev.ID
				if c.last.Seq == 1 {
					moving <- struct{}{}
				}
			}
		})
	}
	for range n {
		select {
		case <-moving:
		case <-time.After(apptest.WaitBound):
			t.Fatalf("not every stream had a move within %v", apptest.WaitBound)
		}
	}

	first.Stop()
	readers := make(chan struct{})
	go func() { wg.Wait(); close(readers) }()
	select {
	case <-readers:
	case <-time.After(apptest.WaitBound):
		t.Fatalf("streams still open %v after shutdown", apptest.WaitBound)
	}
	// Run returns nil only when Shutdown finished before its timeout.
	if err := first.Shutdown(t); err != nil {
		t.Fatalf("Run() = %v; want nil within -shutdown-timeout", err)
	}

	for i, c := range clients {
		// The raw body has at least the init event; a stream cut in the
		// middle of an event would not end with its blank line.
		if !errors.Is(c.err, io.EOF) || !bytes.HasSuffix(c.raw.Bytes(), []byte("\n\n")) {
			tail := c.raw.Bytes()[max(0, c.raw.Len()-40):]
			t.Fatalf("client %d: stream ended with %v, last bytes %q; want a clean end after a whole event", i, c.err, tail)
		}
	}

	var seqs []int
	for _, c := range clients {
		seqs = append(seqs, int(c.last.Seq))
	}
	t.Logf("%d streams ended cleanly at shutdown, after %d to %d moves", n, slices.Min(seqs), slices.Max(seqs))

	second := servertest.Start(t, args...)
	errs := make(chan error, n)
	for _, c := range clients {
		wg.Go(func() { errs <- resumeOnce(second, c) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// resumeOnce reopens c's stream with its last id on s and checks that it
// goes on with the next move.
func resumeOnce(s *apptest.Program, c *shutdownClient) error {
	res, err := s.Request(context.Background(), http.MethodGet, c.query, "Last-Event-ID", c.last.ID)
	if err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	defer res.Body.Close()
	dec := sse.NewDecoder(res.Body)
	var in apptest.Init
	var m apptest.MoveData
	if _, err := apptest.ReadEvent(dec, "init", &in); err != nil {
		return fmt.Errorf("resume %s: %w", c.query, err)
	}
	if _, err := apptest.ReadEvent(dec, "move", &m); err != nil {
		return fmt.Errorf("resume %s: %w", c.query, err)
	}
	if !in.Resumed || in.Seq != c.last.Seq || in.X != c.last.X || in.Y != c.last.Y || m.Seq != c.last.Seq+1 {
		return fmt.Errorf("resume %s after %+v: init %+v, then move seq %d; want resumed there, then seq %d",
			c.query, c.last.MoveData, in, m.Seq, c.last.Seq+1)
	}
	return nil
}

func TestHTTP2OverTLS(t *testing.T) {
	t.Parallel()
	s := servertest.StartTLS(t)
	if !strings.HasPrefix(s.URL, "https://") {
		t.Fatalf("server URL %q; want https", s.URL)
	}

	es := s.Open(t, "/events?seed=3&interval=10")
	if es.Res.ProtoMajor != 2 {
		t.Errorf("response protocol %s; want HTTP/2", es.Res.Proto)
	}
	if c, ok := es.Res.Header["Connection"]; ok {
		t.Errorf("HTTP/2 response has Connection: %q; want none (a connection-specific header)", c)
	}
	if in := es.Init(); in.Seed != 3 {
		t.Errorf("init = %+v; want seed 3", in)
	}
	for i, m := range es.Moves(5) {
		if m.Seq != uint64(i+1) {
			t.Errorf("move %d has seq %d; want %d", i, m.Seq, i+1)
		}
	}
	es.Res.Body.Close()
}

func TestEventsNotBuffered(t *testing.T) {
	t.Parallel()
	s := servertest.Start(t, "-heartbeat", "1h")
	// The first move is due in a minute and no heartbeat in an hour, so a
	// buffer anywhere in the middleware chain would hold the init event
	// back; the context only turns such a hang into a failure.
	ctx, cancel := context.WithTimeout(context.Background(), apptest.WaitBound/2)
	defer cancel()
	// Asking for compression does not get it.
	res, err := s.Request(ctx, http.MethodGet, "/events?interval=60000", "Accept-Encoding", "gzip, br")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ce := res.Header.Get("Content-Encoding"); ce != "" {
		t.Errorf("Content-Encoding = %q; want none on a stream", ce)
	}
	if _, err := apptest.ReadEvent(sse.NewDecoder(res.Body), "init", new(apptest.Init)); err != nil {
		t.Fatalf("first event: %v; want the init event before any move", err)
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	const allowed, other = "https://app.example", "https://evil.example"
	for _, tt := range []struct {
		name        string
		args        []string
		origin      string
		wantOrigin  string // Access-Control-Allow-Origin
		wantCredits string // Access-Control-Allow-Credentials
	}{
		{"off by default", nil, allowed, "", ""},
		{"allowed", []string{"-allow-origin", "https://x.example, " + allowed}, allowed, allowed, "true"},
		{"repeated flag", []string{"-allow-origin", "https://x.example", "-allow-origin", allowed}, allowed, allowed, "true"},
		{"refused", []string{"-allow-origin", allowed}, other, "", ""},
		{"absent", []string{"-allow-origin", allowed}, "", "", ""},
		{"any, without credentials", []string{"-allow-origin", "*"}, other, other, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := servertest.Start(t, tt.args...)
			var hdr []string
			if tt.origin != "" {
				hdr = []string{"Origin", tt.origin}
			}
			es := s.Open(t, "/events?interval=10", hdr...)
			es.Init()
			got := es.Res.Header
			if got.Get("Access-Control-Allow-Origin") != tt.wantOrigin || got.Get("Access-Control-Allow-Credentials") != tt.wantCredits {
				t.Errorf("Origin %q: Access-Control-Allow-Origin %q, -Credentials %q; want %q, %q", tt.origin,
					got.Get("Access-Control-Allow-Origin"), got.Get("Access-Control-Allow-Credentials"), tt.wantOrigin, tt.wantCredits)
			}
			if tt.origin == "" {
				return
			}
			res, err := s.Request(context.Background(), http.MethodOptions, "/events", "Origin", tt.origin,
				"Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "last-event-id")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.Header.Get("Access-Control-Allow-Origin") != tt.wantOrigin {
				t.Errorf("preflight from %q: Access-Control-Allow-Origin %q; want %q", tt.origin, res.Header.Get("Access-Control-Allow-Origin"), tt.wantOrigin)
			}
			if tt.wantOrigin != "" && !strings.Contains(strings.ToLower(res.Header.Get("Access-Control-Allow-Headers")), "last-event-id") {
				t.Errorf("preflight: Access-Control-Allow-Headers %q; want Last-Event-ID", res.Header.Get("Access-Control-Allow-Headers"))
			}
		})
	}
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	s := servertest.Start(t)
	page := map[string]string{
		"Content-Security-Policy": "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"X-Frame-Options":         "DENY",
	}
	for _, tt := range []struct {
		path string
		want map[string]string
	}{
		{"/", page},
		{"/?width=1", page}, // the 400 page too
		{"/static/app.js", map[string]string{"X-Content-Type-Options": "nosniff"}},
		{"/healthz", map[string]string{"X-Content-Type-Options": "nosniff"}},
		{"/events?width=1", map[string]string{"X-Content-Type-Options": "nosniff"}},
	} {
		t.Run(tt.path, func(t *testing.T) {
			res := s.Get(t, tt.path)
			for name, want := range tt.want {
				if got := res.Header.Get(name); got != want {
					t.Errorf("GET %s: %s = %q; want %q", tt.path, name, got, want)
				}
			}
			if id := res.Header.Get("X-Request-Id"); id == "" {
				t.Errorf("GET %s: no X-Request-Id", tt.path)
			}
		})
	}
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	s := servertest.Start(t)
	for _, tt := range []struct {
		name, sent string
		kept       bool
	}{
		{"none", "", false},
		{"a proxy's", "req-42.a_B", true},
		{"too long", strings.Repeat("a", 65), false},
		{"odd bytes", "a b\"c", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var hdr []string
			if tt.sent != "" {
				hdr = []string{"X-Request-Id", tt.sent}
			}
			got := s.Get(t, "/healthz", hdr...).Header.Get("X-Request-Id")
			if got == "" || (got == tt.sent) != tt.kept {
				t.Errorf("X-Request-Id %q sent: got %q; want kept %v", tt.sent, got, tt.kept)
			}
		})
	}
}

func TestRequestLog(t *testing.T) {
	t.Parallel()
	s := servertest.Start(t, "-world-interval", "1m") // a long poll waits for the next move
	es := s.Open(t, "/events?interval=10", "X-Request-Id", "stream-1")
	es.Init()
	es.Moves(1)
	es.Res.Body.Close() // a client that leaves
	s.Log.WaitLine(t, "the stream's request line", func(l logwatch.Line) bool {
		return l["msg"] == "request" && l["request_id"] == "stream-1" && l["method"] == "GET" &&
			l["uri"] == "/events?interval=10" && l["status"] == "200"
	})
	s.Log.WaitLine(t, "a debug line for the client that left, with its request id", func(l logwatch.Line) bool {
		return l["level"] == "DEBUG" && l["request_id"] == "stream-1" && l["msg"] == apptest.MsgClosed &&
			l["route"] == "/events" && l["reason"] == "client gone"
	})
	// A long poll whose client leaves before its answer is logged as 499,
	// nginx's status for it, and is no error.
	var first struct{ Init apptest.Init }
	if err := json.NewDecoder(s.Get(t, "/world/poll").Body).Decode(&first); err != nil || first.Init.Seq == 0 {
		t.Fatalf("GET /world/poll: %+v, %v; want an init", first, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() {
		_, err := s.Request(ctx, http.MethodGet, fmt.Sprintf("/world/poll?after=%d&wait=30000", first.Init.Seq), "X-Request-Id", "poll-1")
		res <- err
	}()
	s.Log.WaitLine(t, "the long poll held", func(l logwatch.Line) bool {
		return l["msg"] == apptest.MsgOpened && l["request_id"] == "poll-1"
	})
	cancel()
	if err := <-res; err == nil {
		t.Error("long poll answered; want the client to leave first")
	}
	s.Log.WaitLine(t, "the long poll's request line, 499", func(l logwatch.Line) bool {
		return l["msg"] == "request" && l["request_id"] == "poll-1" && l["status"] == "499" && l["level"] == "INFO"
	})
	var bad []string
	for _, l := range s.Log.All() {
		if l["level"] == "ERROR" || l["level"] == "WARN" {
			bad = append(bad, l["level"]+" "+l["msg"])
		}
	}
	if len(bad) > 0 {
		t.Errorf("log has %q after a client left; want no WARN or ERROR:\n%s", bad, s.Log)
	}
}

func TestRefusedRequests(t *testing.T) {
	t.Parallel()
	s := servertest.Start(t)
	long := strings.Repeat("1", 257) // one byte more than the documented 256
	for _, tt := range []struct {
		name       string
		path       string
		header     []string
		wantStatus int
		wantBody   string
	}{
		{"long Last-Event-ID", "/events", []string{"Last-Event-ID", long}, http.StatusBadRequest, "Last-Event-ID: must be at most 256 bytes"},
		{"long lastEventId", "/events?lastEventId=" + long, nil, http.StatusBadRequest, "Last-Event-ID: must be at most 256 bytes"},
		{"huge header", "/events", []string{"X-Big", strings.Repeat("a", 32<<10)}, http.StatusRequestHeaderFieldsTooLarge, ""},
		{"huge header on a page", "/", []string{"Cookie", strings.Repeat("a", 32<<10)}, http.StatusRequestHeaderFieldsTooLarge, ""},
		// Past the server's 16 KiB of request line and headers, net/http
		// answers before /wire/stream's own 414 for a URI over 12 KiB.
		{"request line past the header limit", "/wire/stream?raw=" + strings.Repeat("A", 30000), nil, http.StatusRequestHeaderFieldsTooLarge, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := s.Get(t, tt.path, tt.header...)
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tt.wantStatus || !strings.Contains(string(body), tt.wantBody) {
				t.Errorf("GET %s = %d %q; want %d %q", tt.path, res.StatusCode, body, tt.wantStatus, tt.wantBody)
			}
		})
	}
	// At the limit, a bad id still only starts a fresh walk.
	es := s.Open(t, "/events?interval=10", "Last-Event-ID", long[1:])
	if in := es.Init(); in.Resumed {
		t.Errorf("init = %+v; want a fresh walk for a %d-byte id", in, len(long)-1)
	}
}
