package world_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/sse-demo/movingobject/internal/apptest"
	"github.com/sse-demo/movingobject/stream/transport"
	"github.com/sse-demo/movingobject/stream/transport/limits"
)

// TestWorldShared checks that viewers of one handler see the same moves,
// and so do the viewers of a second handler of the same world and of a
// handler of another world made with the same parameters (another server).
func TestWorldShared(t *testing.T) {
	t.Parallel()
	start := fastStart()
	w := newWorld(t, fastInterval, start)
	a, b, c := serve(t, w, options{}), serve(t, newWorld(t, fastInterval, start), options{}), serve(t, w, options{})
	// Every stream opens before any is read, so that they all read the
	// same moves at once.
	var streams []*apptest.Reader
	for _, s := range []*server{a, a, b, c} {
		streams = append(streams, s.Open(t, "/world/events"))
	}
	seen := make(map[uint64]apptest.Move)
	for _, es := range streams {
		in := es.Init()
		if in.Width != 300 || in.Height != 200 || in.Step != 9 || in.IntervalMS != 10 || in.Seed != 9 || in.Resumed {
			t.Errorf("init = %+v; want the world of the test, not resumed", in)
		}
		for _, m := range es.WorldMoves(in.Seq, 30) {
			if prev, ok := seen[m.Seq]; ok && prev != m {
				t.Errorf("move %d = %+v; another viewer saw %+v", m.Seq, m, prev)
			}
			seen[m.Seq] = m
		}
	}
}

// TestWorldResume checks that a stream that comes back with a
// Last-Event-ID within the replay window resumes there, on the same
// handler or on another with the same world, and gets every move it
// missed as first sent. An id older than the window gets a fresh init.
func TestWorldResume(t *testing.T) {
	t.Parallel()
	start := fastStart()
	opts := options{replay: 2 * time.Second} // 200 moves
	first := serve(t, newWorld(t, fastInterval, start), opts)
	es := first.Open(t, "/world/events")
	in := es.Init()
	want := es.WorldMoves(in.Seq, 40)
	// A second world and handler stand for a restart or another instance.
	other := serve(t, newWorld(t, fastInterval, start), opts)
	for _, tt := range []struct {
		name string
		s    *server
		cut  int
	}{
		{"same server", first, 10},
		{"other instance", other, 5},
	} {
		t.Run(tt.name, func(t *testing.T) {
			es := tt.s.Open(t, "/world/events", "Last-Event-ID", want[tt.cut].ID)
			in := es.Init()
			if !in.Resumed || in.Seq != want[tt.cut].Seq || in.X != want[tt.cut].X || in.Y != want[tt.cut].Y {
				t.Fatalf("init = %+v; want resumed at %+v", in, want[tt.cut])
			}
			for i, m := range es.WorldMoves(in.Seq, len(want)-tt.cut-1) {
				if w := want[tt.cut+1+i]; m != w {
					t.Fatalf("replayed move = %+v; want %+v as first sent", m, w)
				}
			}
		})
	}
	t.Run("past the replay window", func(t *testing.T) {
		es := other.Open(t, "/world/events", "Last-Event-ID", strconv.FormatUint(in.Seq-1000, 10))
		if got := es.Init(); got.Resumed || got.Seq <= in.Seq {
			t.Fatalf("init = %+v; want a fresh init after move %d", got, in.Seq)
		}
	})
}

// TestWorldLimit checks that world streams count against the limits for
// as long as they are open, although the tick writes them.
func TestWorldLimit(t *testing.T) {
	t.Parallel()
	limits := limits.New(1, limits.DefaultMaxStreamsPerIP)
	s := serve(t, newWorld(t, fastInterval, fastStart()), options{streams: transport.Options{Limits: limits}})
	es := s.Open(t, "/world/events")
	es.WorldMoves(es.Init().Seq, 3)
	if res := s.Get(t, "/world/events"); res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("second GET /world/events = %d; want 503 while the first is open", res.StatusCode)
	}
	es.Res.Body.Close()
	s.WaitClosed(t, 1)
	if res := s.Get(t, "/world/events"); res.StatusCode != http.StatusOK {
		t.Errorf("GET /world/events = %d once the first stream closed; want 200", res.StatusCode)
	}
}

// TestWorldHTTP2 checks the world over HTTP/2, whose streams the hub
// serves through the ResponseWriter rather than on a hijacked connection.
func TestWorldHTTP2(t *testing.T) {
	t.Parallel()
	s := serve(t, newWorld(t, fastInterval, fastStart()), options{tlsH2: true})
	es := s.Open(t, "/world/events")
	if es.Res.ProtoMajor != 2 {
		t.Errorf("response protocol %s; want HTTP/2", es.Res.Proto)
	}
	es.WorldMoves(es.Init().Seq, 20)
	es.Res.Body.Close()
}
