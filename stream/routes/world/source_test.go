package world

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/sse-demo/movingobject/simulation"
	"github.com/sse-demo/movingobject/stream/internal/hub"
	"github.com/sse-demo/movingobject/stream/internal/pace"
	"github.com/sse-demo/movingobject/stream/internal/sourcetest"
	"github.com/sse-demo/movingobject/stream/transport"
)

// TestWorldSource checks that a viewer of the world gets, in one call at a
// chosen now, every move from its next one to the one due at now (at most
// transport.MaxBatch, the rest at the next call), each as the world makes it, and an
// error wrapping transport.ErrBehind when its next move has left the hub's window.
func TestWorldSource(t *testing.T) {
	cfg := simulation.DefaultConfig()
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	world, err := simulation.NewWorld(cfg, 7, start, 50*cfg.Interval)
	if err != nil {
		t.Fatalf("NewWorld = %v; want no error", err)
	}
	at := func(seq uint64) pace.Time { return pace.At(world.Time(seq)) }
	const next = 101 // the first move the source writes
	for _, tt := range []struct {
		name    string
		replay  int    // the hub's window in intervals; 0 for the default
		ahead   uint64 // a move another reader made before, 0 for none
		calls   []sourcetest.Call
		wantDue pace.Time
		wantErr bool
	}{
		{name: "before due", calls: []sourcetest.Call{{Now: at(next) - 1, Want: 0}}, wantDue: at(next)},
		{name: "on time", calls: []sourcetest.Call{{Now: at(next), Want: 1}, {Now: at(next), Want: 0}}, wantDue: at(next + 1)},
		{name: "half an interval late", calls: []sourcetest.Call{{Now: at(next) + cfg.Interval/2, Want: 1}}, wantDue: at(next + 1)},
		{name: "ten moves due", calls: []sourcetest.Call{{Now: at(next + 9), Want: 10}, {Now: at(next + 9), Want: 0}}, wantDue: at(next + 10)},
		{name: "ten moves due, made by a reader ahead", ahead: next + 50, calls: []sourcetest.Call{{Now: at(next + 9), Want: 10}}, wantDue: at(next + 10)},
		{name: "on time, call after call", calls: []sourcetest.Call{{Now: at(next), Want: 1}, {Now: at(next + 1), Want: 1}, {Now: at(next+2) + 1, Want: 1}}, wantDue: at(next + 3)},
		{name: "transport.MaxBatch moves due", calls: []sourcetest.Call{{Now: at(next + transport.MaxBatch - 1), Want: transport.MaxBatch}, {Now: at(next + transport.MaxBatch - 1), Want: 0}}, wantDue: at(next + transport.MaxBatch)},
		{name: "101 moves due", calls: []sourcetest.Call{{Now: at(next + 100), Want: transport.MaxBatch}, {Now: at(next + 100), Want: 101 - transport.MaxBatch}, {Now: at(next + 100), Want: 0}}, wantDue: at(next + 101)},
		{name: "in a small window", replay: 10, ahead: next + 5, calls: []sourcetest.Call{{Now: at(next + 8), Want: 9}}, wantDue: at(next + 9)},
		{name: "left the window", replay: 10, ahead: next + 11, calls: []sourcetest.Call{{Now: at(next), Want: 0}}, wantErr: true},
		{name: "more moves due than the window", replay: 10, calls: []sourcetest.Call{{Now: at(next + 20), Want: 0}}, wantErr: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := hub.New(world, time.Duration(tt.replay)*cfg.Interval)
			if tt.ahead > 0 {
				h.Upto(tt.ahead)
			}
			src := newWorldSource(h, next, framingSSE)
			if tt.wantErr {
				c := tt.calls[0]
				if _, _, err := src.Next(nil, c.Now); !errors.Is(err, transport.ErrBehind) {
					t.Fatalf("Next(now %v) with Latest() %d = %v; want an error wrapping %v", c.Now, h.Latest(), err, transport.ErrBehind)
				}
				return
			}
			out := sourcetest.Run(t, src, tt.calls)
			c := world.Cursor(next - 1)
			for _, m := range sourcetest.Moves(t, out) {
				p := c.Next()
				got := simulation.Position{Seq: m.Seq, X: m.X, Y: m.Y}
				if got != p || m.ID != strconv.FormatUint(p.Seq, 10) || m.TS != world.Time(p.Seq).UnixMilli() {
					t.Fatalf("move %+v; want id %d, %+v, ts %d", m, p.Seq, p, world.Time(p.Seq).UnixMilli())
				}
			}
			if got := src.Due(); got != tt.wantDue {
				t.Fatalf("Due() = %v; want %v", got, tt.wantDue)
			}
		})
	}
}

// TestWorldSourceMessages checks the WebSocket framing of the world's
// source: one move per call however many are due, each a message of type
// move with the move as the world makes it, and Due left at once while
// more are due, so that a transport writes them one message after another.
func TestWorldSourceMessages(t *testing.T) {
	cfg := simulation.DefaultConfig()
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	world, err := simulation.NewWorld(cfg, 7, start, 50*cfg.Interval)
	if err != nil {
		t.Fatalf("NewWorld = %v; want no error", err)
	}
	at := func(seq uint64) pace.Time { return pace.At(world.Time(seq)) }
	const next = 101
	for _, tt := range []struct {
		name string
		due  int // moves due at the calls' now
	}{
		{"one due", 1},
		{"five due", 5},
		{"more than transport.MaxBatch due", transport.MaxBatch + 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := newWorldSource(hub.New(world, 0), next, framingMessage)
			now := at(next + uint64(tt.due) - 1)
			c := world.Cursor(next - 1)
			for i := range tt.due {
				if src.Due() > now {
					t.Fatalf("call %d: Due() = %v; want at most now %v while moves are due", i, src.Due(), now)
				}
				out, n, err := src.Next(nil, now)
				if err != nil || n != 1 {
					t.Fatalf("call %d: Next() = %d events, %v; want 1, nil", i, n, err)
				}
				var m struct {
					Type string `json:"type"`
					sourcetest.Move
				}
				jd := json.NewDecoder(bytes.NewReader(out))
				jd.DisallowUnknownFields()
				if err := jd.Decode(&m); err != nil || jd.More() {
					t.Fatalf("call %d: message %q: %v; want one JSON object of type and move fields", i, out, err)
				}
				p := c.Next()
				if got := (simulation.Position{Seq: m.Seq, X: m.X, Y: m.Y}); m.Type != "move" || got != p || m.TS != world.Time(p.Seq).UnixMilli() {
					t.Fatalf("call %d: message %q; want type move, %+v, ts %d", i, out, p, world.Time(p.Seq).UnixMilli())
				}
			}
			if out, n, err := src.Next(nil, now); n != 0 || len(out) != 0 || err != nil {
				t.Fatalf("Next() after the moves due = %q, %d, %v; want nothing", out, n, err)
			}
			if got, want := src.Due(), at(next+uint64(tt.due)); got != want {
				t.Fatalf("Due() = %v; want %v, the next move's", got, want)
			}
		})
	}
}

// fanOut is the world's fan-out without the network: streams viewers of
// one hub, each an [pace.Stream] of a world source, as the engine holds
// them, written to /dev/null with one write(2) per stream per move.
type fanOut struct {
	world   *simulation.World
	hub     *hub.Hub
	streams []*pace.Stream
	null    *os.File
	buf     []byte
	next    uint64 // the move the next call writes
}

func newFanOut(tb testing.TB, streams int) *fanOut {
	tb.Helper()
	cfg := simulation.DefaultConfig()
	world, err := simulation.NewWorld(cfg, 7, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), 0)
	if err != nil {
		tb.Fatalf("NewWorld = %v; want no error", err)
	}
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { null.Close() })
	f := &fanOut{world: world, hub: hub.New(world, 0), null: null, buf: make([]byte, 0, 4096), next: 1}
	for range streams {
		f.streams = append(f.streams, pace.NewStream(newWorldSource(f.hub, f.next, framingSSE), time.Hour, 0, 0))
	}
	return f
}

// move writes the next move to every stream, at the moment it falls due,
// and returns the bytes written.
func (f *fanOut) move(tb testing.TB) int {
	now := pace.At(f.world.Time(f.next))
	f.next++
	written := 0
	for _, s := range f.streams {
		out, events, _, err := s.Next(f.buf[:0], now)
		if err != nil || events != 1 {
			tb.Fatalf("Next(move %d) = %d events, %v; want 1, nil", f.next-1, events, err)
		}
		n, err := writeNull(f.null, out)
		if err != nil || n != len(out) {
			tb.Fatalf("write(2) of %d bytes = %d, %v", len(out), n, err)
		}
		s.Wrote(n, events, now)
		f.buf, written = out[:0], written+n
	}
	return written
}

// TestWorldFanOutAllocs checks that fanning a move out to the world's
// viewers allocates nothing per viewer: whatever a move costs in
// allocations (the hub makes and encodes it once), ten times the viewers
// cost the same.
func TestWorldFanOutAllocs(t *testing.T) {
	allocs := func(streams int) float64 {
		f := newFanOut(t, streams)
		f.move(t) // the first move sizes the buffer
		return testing.AllocsPerRun(50, func() { f.move(t) })
	}
	few, many := allocs(10), allocs(100)
	if few != many {
		t.Errorf("one move to 10 viewers allocates %v times, to 100 viewers %v; want the same (nothing per viewer)", few, many)
	}
}

// BenchmarkWorld_FanOut fans one move out to every viewer of the world per
// op: the hub makes and encodes it once, then each viewer's stream asks
// its source for it and writes it with one write(2) to /dev/null. ns/stream
// is the cost per viewer per move; allocs/op, the same at every count, is
// the move's, not the viewers'.
func BenchmarkWorld_FanOut(b *testing.B) {
	for _, streams := range []int{1, 1000, 10000} {
		b.Run(fmt.Sprintf("streams=%d", streams), func(b *testing.B) {
			f := newFanOut(b, streams)
			f.move(b)
			b.ReportAllocs()
			var n int
			for b.Loop() {
				n = f.move(b)
			}
			b.SetBytes(int64(n))
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(streams), "ns/stream")
		})
	}
}
