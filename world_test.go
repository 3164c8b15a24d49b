package main

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// TestWorldShared checks that viewers of one server, and of two servers
// with the same flags, see the same moves.
func TestWorldShared(t *testing.T) {
	args := worldArgs(t)
	a, b := startServer(t, args...), startServer(t, args...)
	seen := make(map[uint64]move)
	for _, s := range []*Server{a, a, b} {
		es := s.open(t, "/world/events")
		in := es.init()
		if in.Width != 300 || in.Height != 200 || in.Step != 9 || in.IntervalMS != 10 || in.Seed != 9 || in.Resumed {
			t.Errorf("init = %+v; want the world of the flags, not resumed", in)
		}
		for _, m := range es.worldMoves(in.Seq, 30) {
			if prev, ok := seen[m.Seq]; ok && prev != m {
				t.Errorf("move %d = %+v; another viewer saw %+v", m.Seq, m, prev)
			}
			seen[m.Seq] = m
		}
	}
}

func TestWorldResume(t *testing.T) {
	args := worldArgs(t, "-world-replay", "2s") // 200 moves
	first := startServer(t, args...)
	es := first.open(t, "/world/events")
	in := es.init()
	want := es.worldMoves(in.Seq, 40)
	// A second process stands for a restart or another instance.
	other := startServer(t, args...)
	for _, tt := range []struct {
		name string
		s    *Server
		cut  int
	}{
		{"same server", first, 10},
		{"other instance", other, 5},
	} {
		t.Run(tt.name, func(t *testing.T) {
			es := tt.s.open(t, "/world/events", "Last-Event-ID", want[tt.cut].id)
			in := es.init()
			if !in.Resumed || in.Seq != want[tt.cut].Seq || in.X != want[tt.cut].X || in.Y != want[tt.cut].Y {
				t.Fatalf("init = %+v; want resumed at %+v", in, want[tt.cut])
			}
			for i, m := range es.worldMoves(in.Seq, len(want)-tt.cut-1) {
				if w := want[tt.cut+1+i]; m != w {
					t.Fatalf("replayed move = %+v; want %+v as first sent", m, w)
				}
			}
		})
	}
	t.Run("past the replay window", func(t *testing.T) {
		es := other.open(t, "/world/events", "Last-Event-ID", strconv.FormatUint(in.Seq-1000, 10))
		if got := es.init(); got.Resumed || got.Seq <= in.Seq {
			t.Fatalf("init = %+v; want a fresh init after move %d", got, in.Seq)
		}
	})
}

func TestWorldPage(t *testing.T) {
	s := startServer(t, worldArgs(t)...)
	res := s.get(t, "/world")
	body, _ := io.ReadAll(res.Body)
	want := `<canvas id="board" data-testid="board" width="300" height="200" data-events-url="/world/events"`
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
		t.Errorf("GET /world = %d, body without %q; want 200 with it", res.StatusCode, want)
	}
}

func TestMetrics(t *testing.T) {
	s := startServer(t, worldArgs(t)...)
	es := s.open(t, "/world/events")
	es.worldMoves(es.init().Seq, 5)
	res := s.get(t, "/metrics")
	body, _ := io.ReadAll(res.Body)
	for _, want := range []string{
		`sse_requests_total{route="/world/events",transport="sse"} 1`,
		`sse_open_streams{route="/world/events",transport="sse"} 1`,
		`sse_open_streams{route="/events",transport="sse"} 0`,
		`sse_events_sent_total{route="/world/events",transport="sse"}`,
		`sse_bytes_sent_total{route="/world/events",transport="sse"}`,
		`sse_write_seconds_bucket{route="/world/events",transport="sse",le="+Inf"}`,
		`sse_drops_total{route="/world/events",transport="sse"} 0`,
		`sse_resumes_total{route="/world/events",transport="sse"} 0`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("GET /metrics has no %q", want)
		}
	}
}

// TestWorldLimit checks that world streams count against -max-streams for
// as long as they are open, although the tick writes them.
func TestWorldLimit(t *testing.T) {
	s := startServer(t, worldArgs(t, "-max-streams", "1")...)
	es := s.open(t, "/world/events")
	es.worldMoves(es.init().Seq, 3)
	if res := s.get(t, "/world/events"); res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("second GET /world/events = %d; want 503 while the first is open", res.StatusCode)
	}
	es.res.Body.Close()
	s.waitClosed(t, 1)
	if res := s.get(t, "/world/events"); res.StatusCode != http.StatusOK {
		t.Errorf("GET /world/events = %d once the first stream closed; want 200", res.StatusCode)
	}
}

// TestWorldHTTP2 checks the world over HTTP/2, whose streams the hub
// serves through the ResponseWriter rather than on a hijacked connection.
func TestWorldHTTP2(t *testing.T) {
	s := startTLSServer(t, worldArgs(t)...)
	es := s.open(t, "/world/events")
	if es.res.ProtoMajor != 2 {
		t.Errorf("response protocol %s; want HTTP/2", es.res.Proto)
	}
	es.worldMoves(es.init().Seq, 20)
	es.res.Body.Close()
}
