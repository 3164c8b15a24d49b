package world_test

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/sse-demo/movingobject/internal/apptest"
	"github.com/sse-demo/movingobject/server/servertest"
)

// TestWorldShared checks that viewers of one server, and of two servers
// with the same flags, see the same moves.
func TestWorldShared(t *testing.T) {
	args := apptest.WorldArgs(t)
	a, b := servertest.Start(t, args...), servertest.Start(t, args...)
	seen := make(map[uint64]apptest.Move)
	for _, s := range []*apptest.Program{a, a, b} {
		es := s.Open(t, "/world/events")
		in := es.Init()
		if in.Width != 300 || in.Height != 200 || in.Step != 9 || in.IntervalMS != 10 || in.Seed != 9 || in.Resumed {
			t.Errorf("init = %+v; want the world of the flags, not resumed", in)
		}
		for _, m := range es.WorldMoves(in.Seq, 30) {
			if prev, ok := seen[m.Seq]; ok && prev != m {
				t.Errorf("move %d = %+v; another viewer saw %+v", m.Seq, m, prev)
			}
			seen[m.Seq] = m
		}
	}
}

func TestWorldResume(t *testing.T) {
	args := apptest.WorldArgs(t, "-world-replay", "2s") // 200 moves
	first := servertest.Start(t, args...)
	es := first.Open(t, "/world/events")
	in := es.Init()
	want := es.WorldMoves(in.Seq, 40)
	// A second process stands for a restart or another instance.
	other := servertest.Start(t, args...)
	for _, tt := range []struct {
		name string
		s    *apptest.Program
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

// TestWorldLimit checks that world streams count against -max-streams for
// as long as they are open, although the tick writes them.
func TestWorldLimit(t *testing.T) {
	s := servertest.Start(t, apptest.WorldArgs(t, "-max-streams", "1")...)
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
	s := servertest.StartTLS(t, apptest.WorldArgs(t)...)
	es := s.Open(t, "/world/events")
	if es.Res.ProtoMajor != 2 {
		t.Errorf("response protocol %s; want HTTP/2", es.Res.Proto)
	}
	es.WorldMoves(es.Init().Seq, 20)
	es.Res.Body.Close()
}
