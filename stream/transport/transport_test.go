package transport_test

// The transports with the handler alone: each test serves a Feed of a
// counting source with net/http/httptest and reads it over loopback, as a
// browser or a WebSocket client would.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"

	"github.com/sse-demo/movingobject/internal/apptest"
	"github.com/sse-demo/movingobject/internal/logwatch"
	"github.com/sse-demo/movingobject/stream/internal/pace"
	"github.com/sse-demo/movingobject/stream/payload"
	"github.com/sse-demo/movingobject/stream/sse"
	"github.com/sse-demo/movingobject/stream/transport"
	"github.com/sse-demo/movingobject/stream/transport/limits"
)

// counter is a source of moves 1, 2, 3, … one every interval, as SSE
// events (with the seq as id) or as WebSocket messages, one per call.
type counter struct {
	every   time.Duration
	next    pace.Time
	seq     uint64
	message bool
}

func newCounter(every time.Duration, message bool) *counter {
	return &counter{every: every, next: pace.Now() + every, message: message}
}

func (c *counter) Due() pace.Time { return c.next }

func (c *counter) Next(dst []byte, now pace.Time) ([]byte, int, error) {
	n := 0
	for ; c.next <= now && n < transport.MaxBatch && (n == 0 || !c.message); n++ {
		c.seq++
		m := payload.Move{Seq: c.seq, X: int(c.seq % 7), Y: 3, TS: 1}
		if c.message {
			dst = m.AppendMessage(dst)
		} else {
			var err error
			if dst, err = (sse.Event{ID: strconv.FormatUint(c.seq, 10), Name: payload.EventMove, Data: string(m.AppendJSON(nil))}).AppendTo(dst); err != nil {
				return dst, n, err
			}
		}
		c.next += c.every
	}
	return dst, n, nil
}

// silent is a source with no event, ever.
type silent struct{}

func (silent) Due() pace.Time                                    { return pace.Now() + time.Hour }
func (silent) Next(dst []byte, _ pace.Time) ([]byte, int, error) { return dst, 0, nil }

// testInit is the init of every feed of these tests.
var testInit = payload.Init{Width: 300, Height: 200, Step: 9, IntervalMS: 10, Seed: 42, Resumed: true, Seq: 7, X: 10, Y: 20}

// site is a Streams served by an httptest server, with its log.
type site struct {
	streams *transport.Streams
	srv     *httptest.Server
	log     *logwatch.Watch
	ended   chan struct{} // receives once for every OnEnd call
}

// serve serves GET path with route, given the Streams of o, over HTTP/1.1
// on loopback (or HTTP/2 over TLS with tlsH2). The log goes to s.log at
// Debug level. Every feed's OnEnd sends on s.ended.
func serve(tb testing.TB, o transport.Options, tlsH2 bool, route func(s *site) echo.HandlerFunc) *site {
	tb.Helper()
	s := &site{log: logwatch.New(), ended: make(chan struct{}, 100)}
	o.Logger = slog.New(slog.NewTextHandler(s.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s.streams = transport.New(o)
	e := echo.New()
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Response().Header().Set(echo.HeaderXRequestID, "req-1")
			return next(c)
		}
	})
	h := route(s)
	for _, path := range []string{"/events", "/ws", "/poll"} {
		e.GET(path, h)
	}
	s.srv = httptest.NewUnstartedServer(e)
	if tlsH2 {
		s.srv.EnableHTTP2 = true
		s.srv.StartTLS()
	} else {
		s.srv.Start()
	}
	tb.Cleanup(func() {
		s.streams.Close()
		s.srv.Close()
	})
	return s
}

// feed returns a feed of src whose OnEnd reports on s.ended.
func (s *site) feed(src pace.Source) transport.Feed {
	return transport.Feed{
		Init: testInit, ID: "7", Source: src,
		Then:  []sse.Event{{Name: payload.EventViewers, Data: `{"viewers":3}`}},
		OnEnd: func() { s.ended <- struct{}{} },
	}
}

// sseRoute serves an event stream of moves every 10 ms.
func sseRoute(s *site) echo.HandlerFunc {
	return func(c echo.Context) error { return s.streams.SSE(c, s.feed(newCounter(10*time.Millisecond, false))) }
}

// waitEnded waits for n calls of OnEnd, and fails if another follows at
// once.
func (s *site) waitEnded(tb testing.TB, n int) {
	tb.Helper()
	for i := range n {
		select {
		case <-s.ended:
		case <-time.After(apptest.WaitBound):
			tb.Fatalf("OnEnd called %d times; want %d", i, n)
		}
	}
}

// get sends GET path with the header pairs and closes the body at cleanup.
func (s *site) get(tb testing.TB, ctx context.Context, path string, header ...string) *http.Response {
	tb.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.srv.URL+path, nil)
	if err != nil {
		tb.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := s.srv.Client().Do(req)
	if err != nil {
		tb.Fatalf("GET %s: %v", path, err)
	}
	tb.Cleanup(func() { res.Body.Close() })
	return res
}

// readOpening reads an event stream's opening as a browser would: the
// retry field, the init event and the viewers event after it.
func readOpening(tb testing.TB, res *http.Response) *sse.Decoder {
	tb.Helper()
	if res.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(res.Body)
		tb.Fatalf("status %d %q; want 200", res.StatusCode, body)
	}
	for name, want := range map[string]string{
		"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache", "X-Accel-Buffering": "no",
	} {
		if got := res.Header.Get(name); got != want {
			tb.Errorf("header %s = %q; want %q", name, got, want)
		}
	}
	br := bufio.NewReader(res.Body)
	if first, err := br.Peek(len("retry: ")); err != nil || string(first) != "retry: " {
		tb.Fatalf("stream starts %q (%v); want the retry field first", first, err)
	}
	dec := sse.NewDecoder(br)
	ev, err := dec.Next()
	if err != nil || ev.Name != payload.EventInit || ev.ID != "7" {
		tb.Fatalf("first event %+v, %v; want init with id 7", ev, err)
	}
	retry, ok := dec.Retry()
	if !ok || retry < transport.DefaultRetry || retry > transport.DefaultRetry*3/2 {
		tb.Errorf("retry %v, %v; want within [%v, %v]", retry, ok, transport.DefaultRetry, transport.DefaultRetry*3/2)
	}
	checkInit(tb, []byte(ev.Data), retry, false)
	if ev, err := dec.Next(); err != nil || ev.Name != payload.EventViewers || ev.Data != `{"viewers":3}` || ev.ID != "7" {
		tb.Fatalf("second event %+v, %v; want the viewers event of Then, last id still 7", ev, err)
	}
	return dec
}

// checkInit checks that data is the feed's init with the retry sent.
func checkInit(tb testing.TB, data []byte, retry time.Duration, typed bool) {
	tb.Helper()
	want := testInit
	want.RetryMS = retry.Milliseconds()
	var got struct {
		Type string `json:"type"`
		payload.Init
	}
	jd := json.NewDecoder(strings.NewReader(string(data)))
	jd.DisallowUnknownFields()
	if err := jd.Decode(&got); err != nil || got.Init != want || (got.Type == "init") != typed {
		tb.Errorf("init %s, %v; want %+v (typed %v)", data, err, want, typed)
	}
}

// readMoves reads n moves, which must follow each other from 1, each with
// its seq as id.
func readMoves(tb testing.TB, dec *sse.Decoder, n int) {
	tb.Helper()
	for want := uint64(1); want <= uint64(n); want++ {
		ev, err := dec.Next()
		var m payload.Move
		if err == nil {
			err = json.Unmarshal([]byte(ev.Data), &m)
		}
		if err != nil || ev.Name != payload.EventMove || m.Seq != want || ev.ID != strconv.FormatUint(want, 10) {
			tb.Fatalf("event %+v, %v; want move %d", ev, err, want)
		}
	}
}

// TestSSE checks an event stream over HTTP/1.1, where the engine writes
// the taken-over connection, and over HTTP/2, where the handler writes
// through the ResponseWriter: the opening, the moves in order, and the
// stream's end logged and OnEnd called once when the client leaves.
func TestSSE(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		h2    bool
		close bool // Connection: close
	}{
		{"HTTP/1.1", false, true}, // the engine's stream ends with the connection
		{"HTTP/2", true, false},   // connection-specific headers are forbidden in HTTP/2
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := serve(t, transport.Options{}, tt.h2, sseRoute)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			res := s.get(t, ctx, "/events")
			if want := map[bool]int{false: 1, true: 2}[tt.h2]; res.ProtoMajor != want {
				t.Fatalf("protocol %s; want HTTP/%d", res.Proto, want)
			}
			// net/http reads Connection: close into Close, and drops it.
			if res.Close != tt.close {
				t.Errorf("Close = %v; want %v", res.Close, tt.close)
			}
			readMoves(t, readOpening(t, res), 20)
			if n := s.streams.Open(); n != 1 {
				t.Errorf("Open() = %d with one stream; want 1", n)
			}
			cancel()
			res.Body.Close()
			s.waitEnded(t, 1)
			line := s.log.WaitLine(t, "stream closed", func(l logwatch.Line) bool { return l["msg"] == apptest.MsgClosed })
			for k, want := range map[string]string{
				"request_id": "req-1", "route": "/events", "transport": "sse", "seed": "42", "resumed": "true", "seq": "7", "reason": "client gone",
			} {
				if line[k] != want {
					t.Errorf("stream closed line: %s=%q; want %q (%v)", k, line[k], want, line)
				}
			}
			if err := apptest.CheckStreamLine(line); err != nil {
				t.Error(err)
			}
			if n := s.streams.Open(); n != 0 {
				t.Errorf("Open() = %d once the stream ended; want 0", n)
			}
		})
	}
}

// TestSSEConnectionHeader checks the Connection header of a stream that
// the handler writes itself: keep-alive on HTTP/1.x, none on HTTP/2.
func TestSSEConnectionHeader(t *testing.T) {
	t.Parallel()
	streams := transport.New(transport.Options{})
	defer streams.Close()
	e := echo.New()
	for _, tt := range []struct {
		proto int
		want  string
	}{
		{1, "keep-alive"},
		{2, ""}, // connection-specific headers are forbidden in HTTP/2
	} {
		t.Run("HTTP/"+strconv.Itoa(tt.proto), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/events", nil)
			req.ProtoMajor = tt.proto
			rec := &flushCancel{ResponseRecorder: httptest.NewRecorder(), cancel: cancel} // no Hijack: the handler writes
			if err := streams.SSE(e.NewContext(req, rec), transport.Feed{Init: testInit, Source: silent{}}); err != nil {
				t.Fatalf("SSE() = %v", err)
			}
			if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Body.String(), "retry: ") {
				t.Fatalf("SSE() = %d %q; want 200 and the retry field", rec.Code, rec.Body)
			}
			if got := rec.Header().Get("Connection"); got != tt.want {
				t.Errorf("Connection = %q; want %q", got, tt.want)
			}
		})
	}
}

// flushCancel is a recorder that cancels the request once the handler
// flushes, so that a stream ends after its opening.
type flushCancel struct {
	*httptest.ResponseRecorder
	cancel context.CancelFunc
}

func (r *flushCancel) Flush() {
	r.ResponseRecorder.Flush()
	r.cancel()
}

// TestWebSocket checks a WebSocket stream: the init message, Then as a
// typed message, then one message per move; and a close frame (1001) at
// shutdown.
func TestWebSocket(t *testing.T) {
	t.Parallel()
	s := serve(t, transport.Options{}, false, func(s *site) echo.HandlerFunc {
		return func(c echo.Context) error {
			return s.streams.WebSocket(c, s.feed(newCounter(10*time.Millisecond, true)))
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), apptest.WaitBound)
	defer cancel()
	c, _, err := websocket.Dial(ctx, s.srv.URL+"/ws", &websocket.DialOptions{HTTPClient: s.srv.Client()})
	if err != nil {
		t.Fatalf("Dial = %v; want a WebSocket", err)
	}
	defer c.CloseNow()
	read := func() []byte {
		typ, b, err := c.Read(ctx)
		if err != nil || typ != websocket.MessageText {
			t.Fatalf("Read = %v %q, %v; want a text message", typ, b, err)
		}
		return b
	}
	first := read()
	var retry struct {
		RetryMS int64 `json:"retry_ms"`
	}
	json.Unmarshal(first, &retry)
	checkInit(t, first, time.Duration(retry.RetryMS)*time.Millisecond, true)
	if b := read(); string(b) != `{"type":"viewers","viewers":3}` {
		t.Errorf("second message %s; want the viewers event of Then as a typed message", b)
	}
	for want := uint64(1); want <= 10; want++ {
		b := read()
		var m struct {
			Type string `json:"type"`
			payload.Move
		}
		if err := json.Unmarshal(b, &m); err != nil || m.Type != "move" || m.Seq != want {
			t.Fatalf("message %s, %v; want move %d, one per message", b, err, want)
		}
	}
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		s.streams.Close()
	}()
	for {
		if _, _, err := c.Read(ctx); err != nil {
			if got := websocket.CloseStatus(err); got != websocket.StatusGoingAway {
				t.Errorf("after Close: %v (status %v); want a close frame %v", err, got, websocket.StatusGoingAway)
			}
			break
		}
	}
	c.CloseNow() // the server waits for the client's side of the close handshake
	<-closed
	s.waitEnded(t, 1)
}

// TestWebSocketOutlastsWriteTimeout checks that a WebSocket stream goes on
// past the server's WriteTimeout, which net/http leaves on the connection
// it gives up: the upgrade clears it.
func TestWebSocketOutlastsWriteTimeout(t *testing.T) {
	streams := transport.New(transport.Options{})
	defer streams.Close()
	e := echo.New()
	e.GET("/ws", func(c echo.Context) error {
		return streams.WebSocket(c, transport.Feed{Source: newCounter(10*time.Millisecond, true)}) // init at seq 0
	})
	srv := httptest.NewUnstartedServer(e)
	srv.Config.WriteTimeout = 50 * time.Millisecond
	srv.Start()
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, _, err := websocket.Dial(ctx, srv.URL+"/ws", &websocket.DialOptions{HTTPClient: srv.Client()})
	if err != nil {
		t.Fatalf("Dial = %v; want a WebSocket", err)
	}
	defer c.CloseNow()
	start := time.Now()
	var prev uint64
	for i := 0; time.Since(start) < 4*srv.Config.WriteTimeout; i++ {
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("message %d, %v after the upgrade: %v; want messages past the write timeout of %v", i, time.Since(start), err, srv.Config.WriteTimeout)
		}
		var m struct {
			Type string `json:"type"`
			Seq  uint64 `json:"seq"`
		}
		if err := json.Unmarshal(b, &m); err != nil || (i > 0 && (m.Type != "move" || m.Seq != prev+1)) {
			t.Fatalf("message %d = %q, %v; want move %d", i, b, err, prev+1)
		}
		prev = m.Seq
	}
	c.Close(websocket.StatusNormalClosure, "")
}

// answer is the source of a long poll: one answer, due after a delay.
type answer struct {
	due  pace.Time
	body string
}

func (a *answer) Due() pace.Time { return a.due }
func (a *answer) Next(dst []byte, now pace.Time) ([]byte, int, error) {
	if now < a.due {
		return dst, 0, nil
	}
	return append(dst, a.body...), 1, nil
}

// TestLongPoll checks a long poll that its source answers, one whose wait
// runs out, and one held longer than the server's WriteTimeout, which
// counts from the request's start: the answer extends the deadline.
func TestLongPoll(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		due      time.Duration
		wait     time.Duration
		want     string
		reason   string
		deadline time.Duration // the server's WriteTimeout; 0 for none
	}{
		{"answered", 20 * time.Millisecond, time.Hour, `{"moves":[1]}`, "answered", 0},
		{"wait ran out", time.Hour, 20 * time.Millisecond, `{"moves":[]}`, "wait ran out", 0},
		{"after the write timeout", time.Hour, 300 * time.Millisecond, `{"moves":[]}`, "wait ran out", 50 * time.Millisecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			logs := logwatch.New()
			streams := transport.New(transport.Options{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			defer streams.Close()
			e := echo.New()
			e.GET("/poll", func(c echo.Context) error {
				return streams.LongPoll(c, transport.Feed{Init: testInit, Source: &answer{due: pace.Now() + tt.due, body: `{"moves":[1]}`}}, tt.wait)
			})
			srv := httptest.NewUnstartedServer(e)
			srv.Config.WriteTimeout = tt.deadline
			srv.Start()
			defer srv.Close()
			res, err := srv.Client().Get(srv.URL + "/poll")
			if err != nil {
				t.Fatalf("GET a long poll: %v; want an answer", err)
			}
			defer res.Body.Close()
			body, err := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusOK || err != nil || string(body) != tt.want || res.Header.Get("Content-Type") != "application/json" {
				t.Errorf("long poll = %d %q %q, %v; want 200 application/json %s", res.StatusCode, res.Header.Get("Content-Type"), body, err, tt.want)
			}
			line := logs.WaitLine(t, "stream closed", func(l logwatch.Line) bool { return l["msg"] == apptest.MsgClosed })
			if line["reason"] != tt.reason || line["transport"] != "longpoll" {
				t.Errorf("stream closed line %v; want reason %q, transport longpoll", line, tt.reason)
			}
		})
	}
}

// TestLimits checks that the limits count streams of every transport but
// short polls: past the cap a stream is refused with 503 and Retry-After,
// its OnEnd is not called (it never began), and the slot of a stream that
// ends is given back.
func TestLimits(t *testing.T) {
	t.Parallel()
	s := serve(t, transport.Options{Limits: limits.New(1, 0)}, false, func(s *site) echo.HandlerFunc {
		return func(c echo.Context) error {
			switch c.Path() {
			case "/poll":
				if c.QueryParam("wait") != "" {
					return s.streams.LongPoll(c, s.feed(silent{}), time.Hour)
				}
				return s.streams.Poll(c, []byte(`{"moves":[]}`), 0)
			case "/ws":
				return s.streams.WebSocket(c, s.feed(newCounter(10*time.Millisecond, true)))
			}
			return s.streams.SSE(c, s.feed(newCounter(10*time.Millisecond, false)))
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	open := s.get(t, ctx, "/events")
	readMoves(t, readOpening(t, open), 1)
	for _, path := range []string{"/events", "/poll?wait=1000", "/ws"} {
		res := s.get(t, context.Background(), path)
		body, _ := io.ReadAll(res.Body)
		wait, err := strconv.Atoi(res.Header.Get("Retry-After"))
		if res.StatusCode != http.StatusServiceUnavailable || err != nil || wait < 5 || wait > 10 {
			t.Errorf("GET %s at the limit = %d %q, Retry-After %q; want 503 with Retry-After in [5, 10]", path, res.StatusCode, body, res.Header.Get("Retry-After"))
		}
	}
	if res := s.get(t, context.Background(), "/poll"); res.StatusCode != http.StatusOK {
		t.Errorf("short poll at the limit = %d; want 200: a short poll holds no slot", res.StatusCode)
	}
	select {
	case <-s.ended:
		t.Fatal("OnEnd called for a refused stream, or for a stream still open")
	default:
	}
	cancel()
	s.waitEnded(t, 1)
	if n := s.streams.Open(); n != 0 {
		t.Fatalf("Open() = %d once the stream ended; want 0", n)
	}
	again := s.get(t, context.Background(), "/events")
	readMoves(t, readOpening(t, again), 1)
}

// TestClose checks that Close ends an open event stream after its current
// event, logged as a shutdown, and refuses new streams with 503.
func TestClose(t *testing.T) {
	t.Parallel()
	s := serve(t, transport.Options{}, false, sseRoute)
	res := s.get(t, context.Background(), "/events")
	dec := readOpening(t, res)
	readMoves(t, dec, 2)
	s.streams.Close()
	for {
		if _, err := dec.Next(); err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("stream after Close: %v; want it to end", err)
			}
			break
		}
	}
	s.waitEnded(t, 1)
	line := s.log.WaitLine(t, "stream closed", func(l logwatch.Line) bool { return l["msg"] == apptest.MsgClosed })
	if line["reason"] != "shutdown" {
		t.Errorf("stream closed line %v; want reason shutdown", line)
	}
	refused := s.get(t, context.Background(), "/events")
	if body, _ := io.ReadAll(refused.Body); refused.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("GET /events after Close = %d %q; want 503", refused.StatusCode, body)
	}
	select {
	case <-s.ended:
		t.Error("OnEnd called for a refused stream; want it left to the route")
	default:
	}
}

// TestEndCounted checks that one OnEnd is called for each stream however
// it ends, across many streams that open and leave at once.
func TestEndCounted(t *testing.T) {
	t.Parallel()
	var ends atomic.Int64
	streams := transport.New(transport.Options{})
	e := echo.New()
	e.GET("/events", func(c echo.Context) error {
		return streams.SSE(c, transport.Feed{Init: testInit, Source: newCounter(time.Millisecond, false), OnEnd: func() { ends.Add(1) }})
	})
	srv := httptest.NewServer(e)
	const n = 20
	done := make(chan error, n)
	for range n {
		go func() {
			res, err := srv.Client().Get(srv.URL + "/events")
			if err != nil {
				done <- err
				return
			}
			_, err = bufio.NewReader(res.Body).ReadString('\n')
			res.Body.Close()
			done <- err
		}()
	}
	for range n {
		if err := <-done; err != nil {
			t.Fatalf("stream: %v", err)
		}
	}
	streams.Close() // ends the streams whose end was not noticed yet
	srv.Close()
	if got := ends.Load(); got != n {
		t.Errorf("OnEnd called %d times for %d streams; want once each", got, n)
	}
	if got := streams.Open(); got != 0 {
		t.Errorf("Open() = %d after Close; want 0", got)
	}
}
