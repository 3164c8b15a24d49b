package world_test

// These tests check the shared world over its four transports: short
// polling (/world/poll), long polling (/world/poll with wait), Server-Sent
// Events (/world/events) and WebSocket (/world/ws). Each test serves the
// route alone with serve, over loopback.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/sse-demo/movingobject/internal/apptest"
	"github.com/sse-demo/movingobject/internal/logwatch"
	"github.com/sse-demo/movingobject/stream/transport"
	"github.com/sse-demo/movingobject/stream/transport/limits"
	"go.uber.org/goleak"
)

// pollBody is the answer of a poll.
type pollBody struct {
	Init  *apptest.Init      `json:"init"`
	Moves []apptest.MoveData `json:"moves"`
}

// pollAnswer is a poll's response, read whole.
type pollAnswer struct {
	status int
	header http.Header
	raw    []byte
}

// pollRaw sends GET path and reads the whole answer. It returns errors
// rather than failing a test, for polls sent from goroutines of their own.
func pollRaw(s *server, ctx context.Context, path string) (pollAnswer, error) {
	res, err := s.Request(ctx, http.MethodGet, path)
	if err != nil {
		return pollAnswer{}, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return pollAnswer{}, fmt.Errorf("GET %s: read body: %w", path, err)
	}
	return pollAnswer{status: res.StatusCode, header: res.Header, raw: raw}, nil
}

// decode checks the headers of an answer of 200 and decodes its body; a
// field the client does not know is an error.
func (a pollAnswer) decode() (pollBody, error) {
	var b pollBody
	if a.status != http.StatusOK {
		return b, fmt.Errorf("status %d (%q); want 200", a.status, a.raw)
	}
	if ct, cc := a.header.Get("Content-Type"), a.header.Get("Cache-Control"); ct != "application/json" || cc != "no-store" {
		return b, fmt.Errorf("Content-Type %q, Cache-Control %q; want application/json, no-store", ct, cc)
	}
	jd := json.NewDecoder(bytes.NewReader(a.raw))
	jd.DisallowUnknownFields()
	if err := jd.Decode(&b); err != nil || b.Moves == nil {
		return b, fmt.Errorf("body %q: %v; want a JSON object with a moves list", a.raw, err)
	}
	return b, nil
}

// poll sends GET path and returns its decoded answer and its size.
func poll(s *server, tb testing.TB, path string) (pollBody, int) {
	tb.Helper()
	a, err := pollRaw(s, context.Background(), path)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := a.decode()
	if err != nil {
		tb.Fatalf("GET %s: %v", path, err)
	}
	return b, len(a.raw)
}

// wsStream is a WebSocket client of /world/ws.
type wsStream struct {
	tb  testing.TB
	c   *websocket.Conn
	res *http.Response
}

// dialWS opens a WebSocket on path with opts (nil for none), through the
// server's client unless opts name one.
func dialWS(s *server, ctx context.Context, path string, opts *websocket.DialOptions) (*websocket.Conn, *http.Response, error) {
	if opts == nil {
		opts = &websocket.DialOptions{}
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = s.Client
	}
	return websocket.Dial(ctx, "ws://"+s.Host()+path, opts)
}

// writeWatch is a client's connection that tells of each write on wrote,
// without waiting when a signal is already pending.
type writeWatch struct {
	net.Conn
	wrote chan<- struct{}
}

func (c writeWatch) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	select {
	case c.wrote <- struct{}{}:
	default:
	}
	return n, err
}

// openWS opens a WebSocket on path, which must be upgraded.
func openWS(s *server, tb testing.TB, path string, opts *websocket.DialOptions) *wsStream {
	tb.Helper()
	c, res, err := dialWS(s, context.Background(), path, opts)
	if err != nil {
		tb.Fatalf("dial %s: %v; want a WebSocket", path, err)
	}
	tb.Cleanup(func() { c.CloseNow() })
	return &wsStream{tb: tb, c: c, res: res}
}

// read reads the next message, which must be a text message holding a
// JSON object of type typ with no other field than v has.
func (ws *wsStream) read(typ string, v any) {
	ws.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), apptest.WaitBound)
	defer cancel()
	mt, b, err := ws.c.Read(ctx)
	if err != nil || mt != websocket.MessageText {
		ws.tb.Fatalf("read %s message: type %v, %q, %v; want a text message", typ, mt, b, err)
	}
	var msg struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(b, &msg); err != nil || msg.Type != typ {
		ws.tb.Fatalf("message %q (%v); want type %q", b, err, typ)
	}
	jd := json.NewDecoder(bytes.NewReader(b))
	jd.DisallowUnknownFields()
	if err := jd.Decode(v); err != nil {
		ws.tb.Fatalf("%s message %q: %v", typ, b, err)
	}
}

// init reads the init message.
func (ws *wsStream) init() apptest.Init {
	ws.tb.Helper()
	var m struct {
		Type string `json:"type"`
		apptest.Init
	}
	ws.read("init", &m)
	return m.Init
}

// moves reads n move messages, which must follow move after.
func (ws *wsStream) moves(after uint64, n int) []apptest.MoveData {
	ws.tb.Helper()
	ms := make([]apptest.MoveData, n)
	for i := range ms {
		var m struct {
			Type string `json:"type"`
			apptest.MoveData
		}
		ws.read("move", &m)
		if m.Seq != after+uint64(i)+1 {
			ws.tb.Fatalf("move message %d: seq %d; want %d", i, m.Seq, after+uint64(i)+1)
		}
		ms[i] = m.MoveData
	}
	return ms
}

// checkFollow fails tb unless moves follow move after, one by one, with
// no gap and no duplicate.
func checkFollow(tb testing.TB, what string, after uint64, moves []apptest.MoveData) {
	tb.Helper()
	for i, m := range moves {
		if m.Seq != after+uint64(i)+1 {
			tb.Fatalf("%s: move %d has seq %d; want %d, right after %d", what, i, m.Seq, after+uint64(i)+1, after)
		}
	}
}

// closedLine waits for the "stream closed" line of a stream over
// transport, which ended for reason.
func closedLine(s *server, tb testing.TB, transport, reason string) logwatch.Line {
	tb.Helper()
	return s.Log.WaitLine(tb, fmt.Sprintf("a %s stream closed with reason %q", transport, reason), func(l logwatch.Line) bool {
		return l["msg"] == apptest.MsgClosed && l["transport"] == transport && l["reason"] == reason
	})
}

// TestTransportsSamePositions checks that the four transports carry the
// same moves: from the same seq, each gets the moves after it, one by one,
// at the positions an SSE stream saw, each with the ts when it was due.
func TestTransportsSamePositions(t *testing.T) {
	t.Parallel()
	start := fastStart()
	s := serve(t, newWorld(t, fastInterval, start), options{})
	ref := s.Open(t, "/world/events")
	in := ref.Init()
	const n = 30
	seen := make(map[uint64]apptest.MoveData)
	for _, m := range ref.WorldMoves(in.Seq, n) {
		seen[m.Seq] = m.MoveData
	}
	from := strconv.FormatUint(in.Seq, 10)
	for _, tt := range []struct {
		name string
		read func(t *testing.T) (*apptest.Init, []apptest.MoveData) // the init, if any, and the moves after in.Seq
	}{
		{"sse", func(t *testing.T) (*apptest.Init, []apptest.MoveData) {
			es := s.Open(t, "/world/events", "Last-Event-ID", from)
			got := es.Init()
			ms := es.WorldMoves(in.Seq, n)
			out := make([]apptest.MoveData, len(ms))
			for i, m := range ms {
				out[i] = m.MoveData
			}
			return &got, out
		}},
		{"websocket", func(t *testing.T) (*apptest.Init, []apptest.MoveData) {
			ws := openWS(s, t, "/world/ws?after="+from, nil)
			got := ws.init()
			return &got, ws.moves(in.Seq, n)
		}},
		{"poll", func(t *testing.T) (*apptest.Init, []apptest.MoveData) {
			b, _ := poll(s, t, "/world/poll?after="+from)
			return b.Init, b.Moves
		}},
		{"longpoll", func(t *testing.T) (*apptest.Init, []apptest.MoveData) {
			b, _ := poll(s, t, "/world/poll?after="+from+"&wait=5000")
			return b.Init, b.Moves
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, moves := tt.read(t)
			if got != nil && (!got.Resumed || got.Seq != in.Seq || got.X != in.X || got.Y != in.Y) {
				t.Errorf("init = %+v; want resumed at move %d, (%d, %d)", *got, in.Seq, in.X, in.Y)
			}
			// The SSE stream read n moves, so n were due before the
			// polls: a poll gets them all.
			if len(moves) < n {
				t.Fatalf("%d moves after %d; want at least %d", len(moves), in.Seq, n)
			}
			checkFollow(t, tt.name, in.Seq, moves)
			for _, m := range moves {
				if want, ok := seen[m.Seq]; ok && m != want {
					t.Errorf("move %d = %+v; the SSE stream saw %+v", m.Seq, m, want)
				}
				if due := start.Add(time.Duration(m.Seq) * fastInterval).UnixMilli(); m.TS != due {
					t.Errorf("move %d: ts %d; want %d, when it was due", m.Seq, m.TS, due)
				}
			}
		})
	}
}

// TestPollAfter checks what a poll answers for the client's after: the
// moves after it while it is in the replay window, and else an init at
// the move due now and no moves.
func TestPollAfter(t *testing.T) {
	t.Parallel()
	const interval = 20 * time.Millisecond
	start := fastStart()
	// A window of 250 moves: a client 25 moves behind is well inside it,
	// one 500 behind well outside, however slow the test.
	s := serve(t, newWorld(t, interval, start), options{replay: 5 * time.Second})
	for _, tt := range []struct {
		name     string
		after    func(now uint64) string // the query's after
		wait     string
		wantInit bool
		behind   uint64 // the least moves the answer holds
	}{
		{name: "no after", after: func(uint64) string { return "" }, wantInit: true},
		{name: "in the window", after: func(now uint64) string { return strconv.FormatUint(now-25, 10) }, behind: 25},
		{name: "at the move due", after: func(now uint64) string { return strconv.FormatUint(now, 10) }},
		{name: "older than the window", after: func(now uint64) string { return strconv.FormatUint(now-500, 10) }, wantInit: true},
		{name: "the first move", after: func(uint64) string { return "0" }, wantInit: true},
		{name: "long poll, no after", after: func(uint64) string { return "" }, wait: "30000", wantInit: true},
		{name: "long poll, older than the window", after: func(now uint64) string { return strconv.FormatUint(now-500, 10) }, wait: "30000", wantInit: true},
		{name: "long poll, in the window", after: func(now uint64) string { return strconv.FormatUint(now-25, 10) }, wait: "30000", behind: 25},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := seqAt(start, time.Now(), interval)
			after := tt.after(before)
			q := "?after=" + after
			if tt.wait != "" {
				q += "&wait=" + tt.wait
			}
			b, _ := poll(s, t, "/world/poll"+q)
			now := seqAt(start, time.Now(), interval)
			if tt.wantInit {
				if b.Init == nil || len(b.Moves) != 0 {
					t.Fatalf("answer %+v; want an init and no moves", b)
				}
				want := apptest.Init{Width: 300, Height: 200, Step: 9, IntervalMS: 20, Seed: 9, Seq: b.Init.Seq, X: b.Init.X, Y: b.Init.Y}
				if *b.Init != want || b.Init.Seq < before || b.Init.Seq > now {
					t.Fatalf("init = %+v; want the world of the test at a move in [%d, %d], not resumed, retry_ms 0", *b.Init, before, now)
				}
				return
			}
			if b.Init != nil {
				t.Fatalf("init = %+v; want none", *b.Init)
			}
			from, _ := strconv.ParseUint(after, 10, 64)
			checkFollow(t, "answer", from, b.Moves)
			if len(b.Moves) < int(tt.behind) || (len(b.Moves) > 0 && b.Moves[len(b.Moves)-1].Seq > now) {
				t.Fatalf("moves after %d: %+v; want at least %d, none after %d", from, b.Moves, tt.behind, now)
			}
		})
	}
}

// TestLongPoll checks how a long poll ends: with the next move as soon as
// it falls due, with an empty list when wait runs out first, and leaving no
// goroutine behind.
func TestLongPoll(t *testing.T) {
	fast := fastStart()
	fastServer := serve(t, newWorld(t, fastInterval, fast), options{})
	still := serve(t, newWorld(t, stillInterval, stillStart()), options{})
	baseline := goleak.IgnoreCurrent()
	for _, tt := range []struct {
		name       string
		s          *server
		after      func() uint64
		wait       time.Duration
		wantMoves  bool   // else {"moves":[]}
		wantReason string // of the stream's closed line
	}{
		{"a move falls due", fastServer, func() uint64 { return seqAt(fast, time.Now(), fastInterval) }, 30 * time.Second, true, "answered"},
		{"wait runs out", still, func() uint64 { return 0 }, 50 * time.Millisecond, false, "wait ran out"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			after := tt.after()
			began := time.Now()
			a, err := pollRaw(tt.s, context.Background(), fmt.Sprintf("/world/poll?after=%d&wait=%d", after, tt.wait.Milliseconds()))
			if err != nil {
				t.Fatal(err)
			}
			took := time.Since(began)
			b, err := a.decode()
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantMoves {
				if b.Init != nil || len(b.Moves) == 0 || took >= tt.wait {
					t.Fatalf("answer %q after %v; want moves before wait (%v) ran out", a.raw, took, tt.wait)
				}
				checkFollow(t, "answer", after, b.Moves)
			} else if string(a.raw) != `{"moves":[]}` || took < tt.wait {
				t.Fatalf("answer %q after %v; want {\"moves\":[]} once wait (%v) ran out", a.raw, took, tt.wait)
			}
			l := closedLine(tt.s, t, "longpoll", tt.wantReason)
			if l["route"] != "/world/poll" || l["level"] != "DEBUG" || l["events"] != strconv.Itoa(len(b.Moves)) || l["bytes"] != strconv.Itoa(len(a.raw)) {
				t.Errorf("closed line %v; want route /world/poll at DEBUG, %d events and %d bytes", l, len(b.Moves), len(a.raw))
			}
			if id := a.header.Get("X-Request-Id"); id == "" || l["request_id"] != id {
				t.Errorf("closed line %v; want the request_id of the answer's X-Request-Id %q", l, id)
			}
			if got := tt.s.streams.Open(); got != 0 {
				t.Errorf("open streams = %d once the long poll answered; want 0", got)
			}
		})
	}
	// goleak retries until the handlers and connections have ended, or fails.
	goleak.VerifyNone(t, baseline)
}

// TestLongPollClientLeaves checks that a client that leaves while its long
// poll is held frees its slot and its goroutines at once.
func TestLongPollClientLeaves(t *testing.T) {
	s := serve(t, newWorld(t, stillInterval, stillStart()), options{})
	baseline := goleak.IgnoreCurrent()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := pollRaw(s, ctx, "/world/poll?after=0&wait=30000")
		done <- err
	}()
	s.WaitOpened(t, 1)
	if got := s.streams.Open(); got != 1 {
		t.Errorf("open streams = %d while the long poll is held; want 1", got)
	}
	left := time.Now()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("long poll = %v; want it canceled", err)
	}
	l := closedLine(s, t, "longpoll", "client gone")
	if d, err := time.ParseDuration(l["duration"]); err != nil || d >= 30*time.Second || time.Since(left) >= 30*time.Second {
		t.Errorf("closed line %v; want the hold ended when the client left, long before wait", l)
	}
	if got := s.streams.Open(); got != 0 {
		t.Errorf("open streams = %d once the client left; want 0", got)
	}
	// The route returns the client's context error, which the program
	// logs as status 499.
	s.Log.WaitLine(t, "the route's error, context canceled", func(l logwatch.Line) bool {
		return l["msg"] == apptest.MsgHandlerError && l["path"] == "/world/poll" && l["err"] == context.Canceled.Error()
	})
	goleak.VerifyNone(t, baseline)
}

// TestWebSocketResume checks a WebSocket that closes, and one that comes
// back with after: the moves it missed follow at once, with no gap and no
// duplicate; with an after older than the window, a fresh init.
func TestWebSocketResume(t *testing.T) {
	t.Parallel()
	s := serve(t, newWorld(t, fastInterval, fastStart()), options{replay: 2 * time.Second})
	ws := openWS(s, t, "/world/ws", nil)
	in := ws.init()
	if in.Resumed || in.Width != 300 || in.Height != 200 || in.Step != 9 || in.IntervalMS != 10 || in.Seed != 9 || in.RetryMS < 2000 || in.RetryMS > 3000 {
		t.Errorf("init = %+v; want the world of the test, not resumed, retry_ms in [2000, 3000]", in)
	}
	first := ws.moves(in.Seq, 20)
	if err := ws.c.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Fatalf("Close() = %v; want the close handshake done", err)
	}
	closedLine(s, t, "websocket", "client gone")
	last := first[len(first)-1]

	for _, tt := range []struct {
		name        string
		after       uint64
		wantResumed bool
	}{
		{"within the window", last.Seq, true},
		{"past the window", in.Seq - 1000, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ws := openWS(s, t, "/world/ws?after="+strconv.FormatUint(tt.after, 10), nil)
			got := ws.init()
			if tt.wantResumed && (!got.Resumed || got.Seq != last.Seq || got.X != last.X || got.Y != last.Y) {
				t.Fatalf("init = %+v; want resumed at %+v", got, last)
			}
			if !tt.wantResumed && (got.Resumed || got.Seq <= last.Seq) {
				t.Fatalf("init = %+v; want a fresh init after move %d", got, last.Seq)
			}
			ws.moves(got.Seq, 40) // no gap, no duplicate
		})
	}
}

// TestWebSocketHeartbeat checks that a silent WebSocket gets a ping every
// heartbeat, and that a client that answers none is dropped once the write
// timeout runs out.
func TestWebSocketHeartbeat(t *testing.T) {
	t.Parallel()
	t.Run("pings", func(t *testing.T) {
		t.Parallel()
		// The default write timeout, so that a pong late on a loaded
		// machine drops no one.
		s := serve(t, newWorld(t, stillInterval, stillStart()), options{streams: transport.Options{Heartbeat: 50 * time.Millisecond}})
		// The client closes once its third pong is out, since a pong
		// written after the close frame fails the client's Read. Its
		// connection tells of each write, and the next write after the
		// third ping is that ping's pong. The client answers no later
		// ping, which could come while it closes.
		wrote := make(chan struct{}, 1)
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				return writeWatch{Conn: c, wrote: wrote}, nil
			}}}
		pings := make(chan struct{}, 3)
		var pinged atomic.Int32
		ws := openWS(s, t, "/world/ws", &websocket.DialOptions{HTTPClient: client, OnPingReceived: func(context.Context, []byte) bool {
			n := pinged.Add(1)
			if n > 3 {
				return false
			}
			if n == 3 {
				select { // forget the earlier writes
				case <-wrote:
				default:
				}
			}
			pings <- struct{}{}
			return true
		}})
		ws.init()
		read := make(chan error, 1)
		go func() { // answers the pings; no message comes
			_, _, err := ws.c.Read(context.Background())
			read <- err
		}()
		timeout := time.After(apptest.WaitBound)
		for i := range 3 {
			select {
			case <-pings:
			case <-timeout:
				t.Fatalf("%d pings within %v; want 3, one every 50ms", i, apptest.WaitBound)
			}
		}
		select {
		case <-wrote:
		case <-timeout:
			t.Fatalf("the third pong not written within %v", apptest.WaitBound)
		}
		ws.c.Close(websocket.StatusNormalClosure, "")
		if err := <-read; websocket.CloseStatus(err) != websocket.StatusNormalClosure {
			t.Errorf("Read() = %v; want the normal closure", err)
		}
		if l := closedLine(s, t, "websocket", "client gone"); l["events"] != "0" {
			t.Errorf("closed line %v; want no event", l)
		}
	})
	t.Run("a client that does not answer is dropped", func(t *testing.T) {
		t.Parallel()
		s := serve(t, newWorld(t, stillInterval, stillStart()), options{streams: transport.Options{
			Heartbeat: 50 * time.Millisecond, WriteTimeout: 100 * time.Millisecond}})
		ws := openWS(s, t, "/world/ws", nil)
		ws.init()
		// Reads nothing more, so answers no ping.
		l := closedLine(s, t, "websocket", "slow client dropped")
		if l["level"] != "INFO" {
			t.Errorf("closed line %v; want it at INFO", l)
		}
	})
}

// TestTransportsShutdown checks that shutdown ends a WebSocket with a
// close frame (going away) and answers a held long poll with no move.
func TestTransportsShutdown(t *testing.T) {
	t.Parallel()
	s := serve(t, newWorld(t, stillInterval, stillStart()), options{})
	ws := openWS(s, t, "/world/ws", nil)
	ws.init()
	read := make(chan error, 1)
	go func() {
		_, _, err := ws.c.Read(context.Background())
		read <- err
	}()
	polled := make(chan pollAnswer, 1)
	go func() {
		a, err := pollRaw(s, context.Background(), "/world/poll?after=0&wait=30000")
		if err != nil {
			a.raw = []byte(err.Error())
		}
		polled <- a
	}()
	s.WaitOpened(t, 2)
	s.Shutdown(t)
	if err := <-read; websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Errorf("WebSocket Read() = %v; want a close frame, going away", err)
	}
	if a := <-polled; a.status != http.StatusOK || string(a.raw) != `{"moves":[]}` {
		t.Errorf("held long poll = %d %q; want 200 {\"moves\":[]}", a.status, a.raw)
	}
	for _, transport := range []string{"websocket", "longpoll"} {
		closedLine(s, t, transport, "shutdown")
	}
}

// TestTransportsBadRequest checks that a bad after or wait gets a 400
// naming it and its range, on /world/ws before the upgrade.
func TestTransportsBadRequest(t *testing.T) {
	t.Parallel()
	start := fastStart()
	s := serve(t, newWorld(t, fastInterval, start), options{})
	const waitRange = "wait: must be an integer in [1, 30000]"
	for _, tt := range []struct {
		path string
		want string // the message, or its start for after: the range ends at the move due
	}{
		{"/world/poll?after=x", "after: must be an integer in [0, "},
		{"/world/poll?after=-1", "after: must be an integer in [0, "},
		{"/world/poll?after=99999999999", "after: must be an integer in [0, "},
		{"/world/poll?after=0&wait=0", waitRange},
		{"/world/poll?after=0&wait=30001", waitRange},
		{"/world/poll?wait=1s", waitRange},
		{"/world/ws?after=x", "after: must be an integer in [0, "},
		{"/world/ws?after=99999999999", "after: must be an integer in [0, "},
	} {
		t.Run(tt.path, func(t *testing.T) {
			before := seqAt(start, time.Now(), fastInterval)
			var status int
			var body []byte
			if strings.HasPrefix(tt.path, "/world/ws") {
				c, res, err := dialWS(s, context.Background(), tt.path, nil)
				if err == nil {
					c.CloseNow()
					t.Fatalf("dial %s: upgraded; want a 400", tt.path)
				}
				if res == nil {
					t.Fatalf("dial %s: %v; want a 400", tt.path, err)
				}
				status = res.StatusCode
				body, _ = io.ReadAll(res.Body)
				res.Body.Close()
			} else {
				a, err := pollRaw(s, context.Background(), tt.path)
				if err != nil {
					t.Fatal(err)
				}
				status, body = a.status, a.raw
			}
			now := seqAt(start, time.Now(), fastInterval)
			msg := strings.TrimSuffix(string(body), "\n") // as the program answers it
			if status != http.StatusBadRequest || !strings.HasPrefix(msg, tt.want) {
				t.Fatalf("GET %s = %d %q; want 400 %q", tt.path, status, msg, tt.want)
			}
			if tt.want == waitRange {
				if msg != waitRange {
					t.Fatalf("GET %s: %q; want %q", tt.path, msg, waitRange)
				}
				return
			}
			// The range ends at the move due when the request came.
			last, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(msg, tt.want), "]"), 10, 64)
			if err != nil || last < before || last > now {
				t.Fatalf("GET %s: %q; want the range to end at a move in [%d, %d]", tt.path, msg, before, now)
			}
		})
	}
}

// TestTransportLimits checks that long polls (while held) and WebSockets
// count against the limits, and short polls do not. A stream past the cap
// of all streams gets 503, and one past the cap of its client's address
// 429, each with a Retry-After.
func TestTransportLimits(t *testing.T) {
	t.Parallel()
	for _, lim := range []struct {
		name    string
		limits  *limits.Limits
		refused int
	}{
		{"in all", limits.New(2, limits.DefaultMaxStreamsPerIP), http.StatusServiceUnavailable},
		{"per address", limits.New(limits.DefaultMaxStreams, 2), http.StatusTooManyRequests},
	} {
		t.Run(lim.name, func(t *testing.T) {
			t.Parallel()
			s := serve(t, newWorld(t, stillInterval, stillStart()), options{streams: transport.Options{Limits: lim.limits}})
			ws := openWS(s, t, "/world/ws", nil)
			ws.init()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			held := make(chan error, 1)
			go func() {
				_, err := pollRaw(s, ctx, "/world/poll?after=0&wait=30000")
				held <- err
			}()
			s.WaitOpened(t, 2)
			if got := s.streams.Open(); got != 2 {
				t.Errorf("open streams = %d; want 2, a WebSocket and a long poll", got)
			}
			for _, tt := range []struct {
				path string
				want int
			}{
				{"/world/ws", lim.refused},
				{"/world/poll?after=0&wait=1000", lim.refused},
				{"/world/events", lim.refused},
				{"/world/poll?after=0", http.StatusOK},
				{"/world/poll", http.StatusOK},
			} {
				t.Run(tt.path, func(t *testing.T) {
					var status int
					var header http.Header
					if strings.HasPrefix(tt.path, "/world/ws") {
						c, res, err := dialWS(s, context.Background(), tt.path, nil)
						if err == nil {
							c.CloseNow()
						}
						if res == nil {
							t.Fatalf("dial %s: %v; want a response", tt.path, err)
						}
						res.Body.Close()
						status, header = res.StatusCode, res.Header
					} else {
						a, err := pollRaw(s, context.Background(), tt.path)
						if err != nil {
							t.Fatal(err)
						}
						status, header = a.status, a.header
					}
					if status != tt.want {
						t.Errorf("GET %s = %d with 2 streams open; want %d", tt.path, status, tt.want)
					}
					if tt.want != http.StatusOK {
						ra := header.Get("Retry-After")
						if secs, err := strconv.Atoi(ra); err != nil || secs < 1 {
							t.Errorf("GET %s: Retry-After %q; want a whole number of seconds", tt.path, ra)
						}
					}
				})
			}
			cancel()
			<-held
			s.WaitClosed(t, 1)
			if b, _ := poll(s, t, "/world/poll?after=0&wait=1"); len(b.Moves) != 0 {
				t.Errorf("long poll once a slot is free = %+v; want no moves", b)
			}
		})
	}
}

// TestWebSocketOrigin checks that a page of another origin may open a
// WebSocket only when AllowOrigins lists it. CORS does not cover
// WebSocket, so the upgrade checks Origin.
func TestWebSocketOrigin(t *testing.T) {
	t.Parallel()
	const allowed, other = "https://app.example", "https://evil.example"
	w := newWorld(t, stillInterval, stillStart())
	origins := func(o ...string) options { return options{streams: transport.Options{AllowOrigins: o}} }
	off, on, anyOrigin := serve(t, w, origins()), serve(t, w, origins(allowed)), serve(t, w, origins("*"))
	for _, tt := range []struct {
		name   string
		s      *server
		origin string
		want   int
	}{
		{"no Origin", off, "", http.StatusSwitchingProtocols},
		{"same origin", off, "http://" + off.Host(), http.StatusSwitchingProtocols},
		{"other origin, CORS off", off, allowed, http.StatusForbidden},
		{"allowed origin", on, allowed, http.StatusSwitchingProtocols},
		{"other origin", on, other, http.StatusForbidden},
		{"any origin", anyOrigin, other, http.StatusSwitchingProtocols},
	} {
		t.Run(tt.name, func(t *testing.T) {
			opts := &websocket.DialOptions{HTTPHeader: http.Header{}}
			if tt.origin != "" {
				opts.HTTPHeader.Set("Origin", tt.origin)
			}
			c, res, err := dialWS(tt.s, context.Background(), "/world/ws", opts)
			if err == nil {
				c.CloseNow()
			} else if res != nil {
				res.Body.Close()
			}
			if res == nil || res.StatusCode != tt.want {
				t.Errorf("dial with Origin %q: %v, %v; want status %d", tt.origin, res, err, tt.want)
			}
		})
	}
}

// TestTransportMetrics checks that /metrics counts each transport under
// its label: requests, moves and bytes delivered, and open connections.
func TestTransportMetrics(t *testing.T) {
	t.Parallel()
	s := serve(t, newWorld(t, fastInterval, fastStart()), options{})
	es := s.Open(t, "/world/events")
	in := es.Init()
	es.WorldMoves(in.Seq, 5)
	from := strconv.FormatUint(in.Seq, 10)

	pollMoves, pollBytes := 0, 0
	for range 2 {
		b, n := poll(s, t, "/world/poll?after="+from)
		pollMoves, pollBytes = pollMoves+len(b.Moves), pollBytes+n
	}
	long, longBytes := poll(s, t, "/world/poll?after="+from+"&wait=5000")
	ws := openWS(s, t, "/world/ws", nil)
	ws.moves(ws.init().Seq, 5)
	ws.c.Close(websocket.StatusNormalClosure, "")
	closedLine(s, t, "websocket", "client gone")
	closedLine(s, t, "longpoll", "answered")

	got := scrape(s, t)
	for _, tt := range []struct {
		metric  string
		want    float64
		atLeast bool
	}{
		{`sse_requests_total{route="/world/poll",transport="poll"}`, 2, false},
		{`sse_events_sent_total{route="/world/poll",transport="poll"}`, float64(pollMoves), false},
		{`sse_bytes_sent_total{route="/world/poll",transport="poll"}`, float64(pollBytes), false},
		{`sse_requests_total{route="/world/poll",transport="longpoll"}`, 1, false},
		{`sse_open_streams{route="/world/poll",transport="longpoll"}`, 0, false},
		{`sse_events_sent_total{route="/world/poll",transport="longpoll"}`, float64(len(long.Moves)), false},
		{`sse_bytes_sent_total{route="/world/poll",transport="longpoll"}`, float64(longBytes), false},
		{`sse_requests_total{route="/world/ws",transport="websocket"}`, 1, false},
		{`sse_open_streams{route="/world/ws",transport="websocket"}`, 0, false},
		{`sse_events_sent_total{route="/world/ws",transport="websocket"}`, 5, true},
		{`sse_bytes_sent_total{route="/world/ws",transport="websocket"}`, 5 * 40, true}, // a move's frame is over 40 bytes
		{`sse_requests_total{route="/world/events",transport="sse"}`, 1, false},
		{`sse_open_streams{route="/world/events",transport="sse"}`, 1, false},
		{`sse_events_sent_total{route="/world/events",transport="sse"}`, 5, true},
	} {
		v, ok := got[tt.metric]
		if !ok || (!tt.atLeast && v != tt.want) || (tt.atLeast && v < tt.want) {
			t.Errorf("%s = %v (present %v); want %v (at least: %v)", tt.metric, v, ok, tt.want, tt.atLeast)
		}
	}
}

// scrape reads GET /metrics: each sample's name and labels, as written,
// with its value.
func scrape(s *server, tb testing.TB) map[string]float64 {
	tb.Helper()
	res := s.Get(tb, "/metrics")
	samples := make(map[string]float64)
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			tb.Fatalf("metrics line %q: %v", line, err)
		}
		samples[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		tb.Fatalf("read /metrics: %v", err)
	}
	return samples
}
