package stream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sse-demo/movingobject/simulation"
	"github.com/sse-demo/movingobject/stream/sse"
)

// pipeWriter is an http.ResponseWriter over one end of a [net.Pipe]: what
// the handler flushes reaches the test only when the test reads it, so a
// test that stops reading is a client whose socket is full, and write
// deadlines work as on a real connection.
type pipeWriter struct {
	conn   net.Conn
	header http.Header
	buf    bytes.Buffer // written, not yet flushed
}

func (w *pipeWriter) Header() http.Header                { return w.header }
func (w *pipeWriter) WriteHeader(int)                    {}
func (w *pipeWriter) Write(p []byte) (int, error)        { return w.buf.Write(p) }
func (w *pipeWriter) SetWriteDeadline(t time.Time) error { return w.conn.SetWriteDeadline(t) }
func (w *pipeWriter) FlushError() error                  { _, err := w.buf.WriteTo(w.conn); return err }

// subscriber is one viewer of a hub, served by Events on its own goroutine.
type subscriber struct {
	tb     testing.TB
	dec    *sse.Decoder
	cancel context.CancelFunc
	done   chan error // Events' result
}

// subscribe starts Events for a request with the given Last-Event-ID, and
// ends it at cleanup.
func subscribe(tb testing.TB, h *Hub, lastID string) *subscriber {
	tb.Helper()
	server, client := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/world/events", nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	w := &pipeWriter{conn: server, header: http.Header{}}
	c := echo.New().NewContext(req, w)
	s := &subscriber{tb: tb, dec: sse.NewDecoder(client), cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- h.Events(c) }()
	tb.Cleanup(func() {
		cancel()
		client.Close() // unblocks a write in progress
		s.wait()
		server.Close()
	})
	return s
}

// wait returns the result of Events, failing the test if it does not end.
func (s *subscriber) wait() error {
	s.tb.Helper()
	select {
	case err := <-s.done:
		s.done <- err // for the next call
		return err
	case <-time.After(10 * time.Second): // a bound on a hang, not a timing assertion
		s.tb.Fatal("Events did not return within 10s")
		return nil
	}
}

// next returns the next event, which must be named name, and its seq (the
// id, which for the world is the seq of the move).
func (s *subscriber) next(name string) (sse.Event, uint64) {
	s.tb.Helper()
	ev, err := s.dec.Next()
	if err != nil {
		s.tb.Fatalf("reading %s event: %v", name, err)
	}
	if ev.Name != name {
		s.tb.Fatalf("event %q (%q); want %q", ev.Name, ev.Data, name)
	}
	seq, err := strconv.ParseUint(ev.ID, 10, 64)
	if err != nil {
		s.tb.Fatalf("%s event id %q: want a seq", name, ev.ID)
	}
	return ev, seq
}

// moves reads n moves and checks that they follow seq after with no gap,
// at the world's positions.
func (s *subscriber) moves(w *simulation.World, after uint64, n int) uint64 {
	s.tb.Helper()
	c := w.Cursor(after)
	for range n {
		ev, seq := s.next("move")
		want := c.Next()
		data := string(appendMove(nil, want, w.Time(want.Seq)))
		if seq != want.Seq || ev.Data != data {
			s.tb.Fatalf("move id %d data %s; want id %d data %s", seq, ev.Data, want.Seq, data)
		}
	}
	return c.Position().Seq
}

// newTestHub returns a hub for a 10 ms world started a minute ago, closed
// at cleanup.
func newTestHub(tb testing.TB, o HubOptions) (*Hub, *simulation.World) {
	tb.Helper()
	cfg := simulation.Config{Width: 200, Height: 100, Step: 7, Interval: 10 * time.Millisecond}
	w, err := simulation.NewWorld(cfg, 3, time.Now().Add(-time.Minute), time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	h := NewHub(w, o)
	tb.Cleanup(h.Close)
	return h, w
}

// initSeq reads the init event and returns its seq and resumed flag.
func (s *subscriber) init() (uint64, bool) {
	s.tb.Helper()
	ev, seq := s.next("init")
	return seq, strings.Contains(ev.Data, `"resumed":true`)
}

func TestHub_Ordering(t *testing.T) {
	h, w := newTestHub(t, HubOptions{})
	subs := []*subscriber{subscribe(t, h, ""), subscribe(t, h, ""), subscribe(t, h, "")}
	for i, s := range subs {
		seq, resumed := s.init()
		if resumed {
			t.Errorf("subscriber %d: init resumed; want a fresh init", i)
		}
		s.moves(w, seq, 30)
	}
}

// TestHub_SlowSubscriber checks that a subscriber that stops reading holds
// up neither the others nor the tick, and that it then gets every move it
// missed, in order.
func TestHub_SlowSubscriber(t *testing.T) {
	h, w := newTestHub(t, HubOptions{})
	slow, fast := subscribe(t, h, ""), subscribe(t, h, "")
	slowSeq, _ := slow.init()
	fastSeq, _ := fast.init()
	fastSeq = fast.moves(w, fastSeq, 50) // while slow reads nothing
	if fastSeq < slowSeq+40 {
		t.Fatalf("fast subscriber at move %d; want at least %d", fastSeq, slowSeq+40)
	}
	slow.moves(w, slowSeq, int(fastSeq-slowSeq)+5)
}

// TestHub_DropsStalledSubscriber checks that a subscriber that stays stuck
// past the write timeout is dropped while another goes on, gap-free.
func TestHub_DropsStalledSubscriber(t *testing.T) {
	h, _ := newTestHub(t, HubOptions{Options: Options{WriteTimeout: 200 * time.Millisecond}})
	stalled, live := subscribe(t, h, ""), subscribe(t, h, "")
	stalled.init()
	seq, _ := live.init()
	seqs := make(chan uint64, 100000)
	go func() { // the live client reads all along, until cleanup closes it
		defer close(seqs)
		for {
			ev, err := live.dec.Next()
			if err != nil {
				return
			}
			n, _ := strconv.ParseUint(ev.ID, 10, 64)
			seqs <- n
		}
	}()
	if err := stalled.wait(); err != nil {
		t.Errorf("Events() = %v; want nil after dropping the client", err)
	}
	dropped := h.latest.Load()
	for n := range seqs {
		if n != seq+1 {
			t.Fatalf("live subscriber got move %d after %d; want %d", n, seq, seq+1)
		}
		if seq = n; seq > dropped+10 {
			break
		}
	}
	if seq <= dropped+10 {
		t.Fatalf("live subscriber stopped at move %d; want moves past %d", seq, dropped+10)
	}
}

func TestHub_Resume(t *testing.T) {
	h, w := newTestHub(t, HubOptions{Replay: time.Second}) // 100 moves
	subscribe(t, h, "").init()                             // starts the world
	ago := func(n uint64) func(uint64) string {
		return func(now uint64) string { return strconv.FormatUint(now-n, 10) }
	}
	fixed := func(id string) func(uint64) string { return func(uint64) string { return id } }
	for _, tt := range []struct {
		name        string
		lastID      func(now uint64) string
		wantResumed bool
		wantAgo     uint64 // for a resumed stream: the init's seq is now-wantAgo
	}{
		{"just missed", ago(1), true, 1},
		{"half the window", ago(50), true, 50},
		{"older than the window", ago(500), false, 0},
		{"in the future", func(now uint64) string { return strconv.FormatUint(now+1000, 10) }, false, 0},
		{"zero", fixed("0"), false, 0},
		{"garbage", fixed("abc"), false, 0},
		{"negative", fixed("-5"), false, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			now := h.latest.Load()
			s := subscribe(t, h, tt.lastID(now))
			seq, resumed := s.init()
			if resumed != tt.wantResumed || (resumed && seq != now-tt.wantAgo) || (!resumed && seq < now) {
				t.Fatalf("init at %d, resumed %v; want resumed %v (at %d), or fresh at %d or later", seq, resumed, tt.wantResumed, now-tt.wantAgo, now)
			}
			// The replayed moves, then live ones, with no gap.
			s.moves(w, seq, 60)
		})
	}
}

// TestHub_ResumeAfterRestart checks that a second hub for the same world
// (a restart, or another instance) replays the moves the first one sent.
func TestHub_ResumeAfterRestart(t *testing.T) {
	h, w := newTestHub(t, HubOptions{})
	s := subscribe(t, h, "")
	seq, _ := s.init()
	last := s.moves(w, seq, 5)
	go func() { // read on, so that no write of the stream waits for the test
		for {
			if _, err := s.dec.Next(); err != nil {
				return // the client end closes at cleanup
			}
		}
	}()
	h.Close()
	if err := s.wait(); err != nil {
		t.Fatalf("Events() = %v after Close; want nil", err)
	}
	again := NewHub(w, HubOptions{})
	t.Cleanup(again.Close)
	r := subscribe(t, again, strconv.FormatUint(last, 10))
	if seq, resumed := r.init(); !resumed || seq != last {
		t.Fatalf("init at %d, resumed %v; want resumed at %d", seq, resumed, last)
	}
	r.moves(w, last, 30)
}

func TestHub_ClosedRefuses(t *testing.T) {
	h, _ := newTestHub(t, HubOptions{})
	h.Close()
	req := httptest.NewRequest(http.MethodGet, "/world/events", nil)
	err := h.Events(echo.New().NewContext(req, httptest.NewRecorder()))
	var he *echo.HTTPError
	if !errors.As(err, &he) || he.Code != http.StatusServiceUnavailable {
		t.Errorf("Events() after Close = %v; want a 503", err)
	}
}

// discardWriter is a connection that takes everything at once.
type discardWriter struct{ header http.Header }

func (w *discardWriter) Header() http.Header              { return w.header }
func (w *discardWriter) WriteHeader(int)                  {}
func (w *discardWriter) Write(p []byte) (int, error)      { return len(p), nil }
func (w *discardWriter) FlushError() error                { return nil }
func (w *discardWriter) SetWriteDeadline(time.Time) error { return nil }

// BenchmarkHub_Fanout measures the hub's share of delivering one move to
// one subscriber (the write to a connection that takes it at once), and
// shows that it allocates nothing.
func BenchmarkHub_Fanout(b *testing.B) {
	for _, subs := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("subscribers=%d", subs), func(b *testing.B) {
			h, _ := newTestHub(b, HubOptions{})
			if err := h.start(); err != nil {
				b.Fatal(err)
			}
			senders := make([]*sender, subs)
			for i := range senders {
				c := echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/", nil), &discardWriter{header: http.Header{}})
				senders[i] = newSender(c, time.Second)
			}
			seq := h.latest.Load()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := h.write(senders[i%subs], seq, seq); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkHub_FanOutDevNull measures the fast path's work per delivered
// move, minus the network: the tick writes each move to every stream with
// one write(2), here to /dev/null, so that what remains is the hub's share
// and the cost of entering the kernel. Allocations are per tick, not per
// stream.
func BenchmarkHub_FanOutDevNull(b *testing.B) {
	for _, subs := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("subscribers=%d", subs), func(b *testing.B) {
			h, _ := newTestHub(b, HubOptions{})
			h.fill(h.world.SeqAt(time.Now())) // the ring, without the tick loop
			latest := h.latest.Load()
			f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			raw, err := f.SyscallConn()
			if err != nil {
				b.Fatal(err)
			}
			conns := make([]*conn, subs)
			b.Cleanup(func() { // before Close, which would close the connections
				for _, s := range h.fan.shards {
					s.conns = nil
				}
			})
			for i := range conns {
				conns[i] = &conn{hijacked: newHijacked(nil, raw, time.Second, slog.New(slog.DiscardHandler))}
				s := h.fan.shards[i%len(h.fan.shards)]
				conns[i].shard, conns[i].idx = s, len(s.conns)
				s.conns = append(s.conns, conns[i])
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				for _, cn := range conns {
					cn.next = latest
				}
				h.fanOut(latest)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(subs), "ns/event")
		})
	}
}
