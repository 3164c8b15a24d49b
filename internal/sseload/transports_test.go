package sseload

// The tests in this file run each transport's client against a fake
// server. The fake hand-writes what the real server sends, in the
// transport's own framing. It sends an init at seq 5, then moves 6, 7 and
// 9, so move 8 is lost. The last request the client makes is the poll after
// 9, or the stream or socket reopened after 9. That request tells the test
// that the client took everything. The fake holds it unanswered until the
// test ends the client.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitBound turns a hang into a failure. It is not a timing assertion.
const waitBound = 10 * time.Second

// initJSON is the world's init at seq 5, as the server writes it.
const initJSON = `{"width":800,"height":600,"step":5,"interval_ms":100,"seed":1,"resumed":false,"seq":5,"x":10,"y":20,"retry_ms":2000}`

// age is how old the fake server makes each move's ts, so that every
// delay is at least this.
const age = 5000

// moveJSON is a move as the server writes it, made age ms ago.
func moveJSON(seq int) string {
	return fmt.Sprintf(`{"seq":%d,"x":%d,"y":20,"ts":%d}`, seq, 10+seq, time.Now().UnixMilli()-age)
}

// fake is an httptest server that counts the bytes it writes, and records
// each request's query and client address.
type fake struct {
	*httptest.Server
	written atomic.Int64
	mu      sync.Mutex // guards queries, remotes, headers
	queries []string
	remotes []string
	headers []http.Header
	last    chan struct{} // closed by hold
}

// newFake starts a fake whose handler gets the number of each request,
// from 0.
func newFake(tb testing.TB, handle func(w http.ResponseWriter, r *http.Request, n int)) *fake {
	tb.Helper()
	f := &fake{last: make(chan struct{})}
	f.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		n := len(f.queries)
		f.queries = append(f.queries, r.URL.RawQuery)
		f.remotes = append(f.remotes, r.RemoteAddr)
		f.headers = append(f.headers, r.Header.Clone())
		f.mu.Unlock()
		handle(w, r, n)
	}))
	f.Listener = countListener{Listener: f.Listener, written: &f.written}
	f.Start()
	tb.Cleanup(f.Close)
	return f
}

// hold marks the request the client makes once it has taken everything,
// and leaves it unanswered until the client goes.
func (f *fake) hold(r *http.Request) {
	close(f.last)
	<-r.Context().Done()
}

// countListener counts the bytes written to its connections.
type countListener struct {
	net.Listener
	written *atomic.Int64
}

func (l countListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countWriter{Conn: conn, written: l.written}, nil
}

type countWriter struct {
	net.Conn
	written *atomic.Int64
}

func (cw countWriter) Write(p []byte) (int, error) {
	n, err := cw.Conn.Write(p)
	cw.written.Add(int64(n))
	return n, err
}

// runClient runs one client of cfg's transport, from 127.0.0.2, against
// f until f's last request, and returns what it counted (all of it in the
// window) and the bytes f had written by then.
func runClient(tb testing.TB, f *fake, cfg Config) (Result, int64) {
	tb.Helper()
	follow, err := follower(cfg)
	if err != nil {
		tb.Fatalf("follower(%+v) = %v", cfg, err)
	}
	u, err := url.Parse(cfg.URL)
	if err != nil {
		tb.Fatal(err)
	}
	c := newCounters(1)
	c.measuring.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		follow(ctx, newClient(c, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}), u)
	}()
	select {
	case <-f.last:
	case <-done:
		tb.Fatalf("client of %s ended before its last request", cfg.Transport)
	case <-time.After(waitBound):
		tb.Fatalf("no last request from the client of %s after %v", cfg.Transport, waitBound)
	}
	written := f.written.Load()
	r := c.result()
	cancel()
	<-done
	r.Seconds = 1
	r.Finish()
	return r, written
}

// checkMoves checks the counts that every fake's script gives.
func checkMoves(tb testing.TB, r Result, written int64) {
	tb.Helper()
	if r.Events != 3 || r.Lost != 1 {
		tb.Errorf("events, lost = %d, %d; want 3, 1", r.Events, r.Lost)
	}
	if r.BytesIn != uint64(written) {
		tb.Errorf("BytesIn = %d; want %d, the bytes the server wrote", r.BytesIn, written)
	}
	if r.BytesOut == 0 {
		tb.Errorf("BytesOut = 0; want the requests counted")
	}
	// Every move was made age ms before it was written.
	if r.DelayP50MS < age || r.DelayMaxMS > float64(age+waitBound.Milliseconds()) {
		tb.Errorf("delay p50 %v, max %v ms; want within [%d, %d]", r.DelayP50MS, r.DelayMaxMS, age, age+waitBound.Milliseconds())
	}
}

func TestClient_Poll(t *testing.T) {
	for _, tt := range []struct {
		name      string
		transport string
		path      string
		interval  time.Duration
		want      []string // the queries of the four requests
	}{
		{"short", TransportPoll, "/world/poll", time.Millisecond,
			[]string{"", "after=5", "after=7", "after=9"}},
		{"long", TransportLongPoll, "/world/poll?v=1", 0,
			[]string{"v=1", "v=1&after=5&wait=30000", "v=1&after=7&wait=30000", "v=1&after=9&wait=30000"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bodies := []string{
				`{"init":` + initJSON + `,"moves":[]}`,
				`{"moves":[` + moveJSON(6) + `,` + moveJSON(7) + `]}`,
				`{"moves":[` + moveJSON(9) + `]}`,
			}
			var f *fake
			f = newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
				if n == len(bodies) {
					f.hold(r)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, bodies[n])
			})
			r, written := runClient(t, f, Config{URL: f.URL + tt.path, Transport: tt.transport, PollInterval: tt.interval})
			checkMoves(t, r, written)
			if r.Requests != 3 || r.Errors != 0 || r.Reconnects != 0 || r.Streams != 1 {
				t.Errorf("requests, errors, reconnects, open = %d, %d (%s), %d, %d; want 3, 0, 0, 1",
					r.Requests, r.Errors, r.FirstError, r.Reconnects, r.Streams)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if strings.Join(f.queries, " ") != strings.Join(tt.want, " ") {
				t.Errorf("queries = %q; want %q", f.queries, tt.want)
			}
			// One keep-alive connection, from the client's address.
			for i, a := range f.remotes {
				if a != f.remotes[0] || !strings.HasPrefix(a, "127.0.0.2:") {
					t.Errorf("request %d from %s; want all from one connection of 127.0.0.2, the first was %s", i, a, f.remotes[0])
				}
			}
		})
	}
}

// TestClient_PollBadStatus checks that a poll answered with an error status
// counts as an error, and that the poller dials again.
func TestClient_PollBadStatus(t *testing.T) {
	var f *fake
	f = newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			f.hold(r)
			return
		}
		http.Error(w, "after: must be an integer in [0, 99]", http.StatusBadRequest)
	})
	r, _ := runClient(t, f, Config{URL: f.URL + "/world/poll", Transport: TransportPoll, PollInterval: time.Millisecond})
	if r.Requests != 1 || r.Errors != 1 || r.Reconnects != 1 || r.Events != 0 ||
		!strings.Contains(r.FirstError, "400") || !strings.Contains(r.FirstError, "after: must be") {
		t.Errorf("requests, errors, reconnects, events = %d, %d (%q), %d, %d; want 1, 1 (status and message), 1, 0",
			r.Requests, r.Errors, r.FirstError, r.Reconnects, r.Events)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.remotes[0] == f.remotes[1] {
		t.Errorf("both polls from %s; want a new connection after the error", f.remotes[0])
	}
}

// TestPoller_TakeBadBody checks that a poll body that is not the
// contract's is an error.
func TestPoller_TakeBadBody(t *testing.T) {
	for _, body := range []string{``, `{}`, `{"moves":null}`, `{"moves":[{"x":1}]}`, `{"moves":[`, `[]`} {
		p := poller{client: newClient(newCounters(1), nil)}
		if err := p.take([]byte(body), time.Now()); err == nil {
			t.Errorf("take(%q) = nil; want an error", body)
		}
	}
}

func TestClient_SSE(t *testing.T) {
	var f *fake
	f = newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			f.hold(r)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "retry: 2000\n\nid: 5\nevent: init\ndata: "+initJSON+"\n\n")
		for _, seq := range []int{6, 7, 9} {
			fmt.Fprintf(w, "id: %d\nevent: move\ndata: %s\n\n", seq, moveJSON(seq))
		}
		// The stream ends, and the client comes back with the last id.
	})
	r, written := runClient(t, f, Config{URL: f.URL + "/world/events", Transport: TransportSSE})
	checkMoves(t, r, written)
	if r.Requests != 1 || r.Errors != 1 || r.Reconnects != 1 {
		t.Errorf("requests, errors, reconnects = %d, %d (%s), %d; want 1, 1 (the end of the stream), 1",
			r.Requests, r.Errors, r.FirstError, r.Reconnects)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if got := f.headers[1].Get("Last-Event-ID"); got != "9" {
		t.Errorf("Last-Event-ID = %q; want 9", got)
	}
}

func TestClient_WebSocket(t *testing.T) {
	var f *fake
	f = newFake(t, func(w http.ResponseWriter, r *http.Request, n int) {
		if n == 1 {
			f.hold(r)
			return
		}
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			t.Errorf("Accept() = %v", err)
			return
		}
		defer c.CloseNow()
		msgs := []string{`{"type":"init",` + initJSON[1:]}
		for _, seq := range []int{6, 7, 9} {
			msgs = append(msgs, `{"type":"move",`+moveJSON(seq)[1:])
		}
		for _, m := range msgs {
			if err := c.Write(r.Context(), websocket.MessageText, []byte(m)); err != nil {
				t.Errorf("Write(%s) = %v", m, err)
				return
			}
		}
		// The socket ends, and the client comes back with after.
		c.Close(websocket.StatusGoingAway, "restart")
	})
	r, written := runClient(t, f, Config{URL: f.URL + "/world/ws", Transport: TransportWebSocket})
	checkMoves(t, r, written)
	if r.Requests != 1 || r.Errors != 1 || r.Reconnects != 1 {
		t.Errorf("requests, errors, reconnects = %d, %d (%s), %d; want 1, 1 (the close), 1",
			r.Requests, r.Errors, r.FirstError, r.Reconnects)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if want := []string{"", "after=9"}; strings.Join(f.queries, " ") != strings.Join(want, " ") {
		t.Errorf("queries = %q; want %q", f.queries, want)
	}
}
