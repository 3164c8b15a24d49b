package hub_test

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sse-demo/movingobject/simulation"
	"github.com/sse-demo/movingobject/stream/internal/hub"
	"github.com/sse-demo/movingobject/stream/sse"
)

// TestMain fails the package's tests if any goroutine outlives them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// The world every test shares: a fixed start, so that no test reads the
// real clock, and epochs of 50 moves, so that ranges cross epoch jumps.
var (
	worldCfg   = simulation.DefaultConfig()
	worldStart = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	worldEpoch = 50 * worldCfg.Interval
)

// window is the replay of the small hubs: ten intervals, so that a hub keeps
// the newest move and the ten before it.
const window = 10

func newWorld(tb testing.TB) *simulation.World {
	tb.Helper()
	w, err := simulation.NewWorld(worldCfg, 42, worldStart, worldEpoch)
	if err != nil {
		tb.Fatalf("NewWorld(%+v, 42, %v, %v) = %v; want no error", worldCfg, worldStart, worldEpoch, err)
	}
	return w
}

// newSmallHub returns a hub of a new world that replays window moves.
func newSmallHub(tb testing.TB) *hub.Hub {
	tb.Helper()
	return hub.New(newWorld(tb), window*worldCfg.Interval)
}

// wantEvent returns the data and the SSE event of move seq of w, written by
// hand from a cursor of w rather than by the hub's encoders.
func wantEvent(w *simulation.World, seq uint64) (data, event string) {
	p := w.Cursor(seq).Position()
	data = fmt.Sprintf(`{"seq":%d,"x":%d,"y":%d,"ts":%d}`, p.Seq, p.X, p.Y, w.Time(seq).UnixMilli())
	return data, fmt.Sprintf("id: %d\nevent: move\ndata: %s\n\n", seq, data)
}

// checkEntry fails tb unless e is move seq of w, as a cursor makes it.
func checkEntry(tb testing.TB, w *simulation.World, seq uint64, e *hub.Entry) {
	tb.Helper()
	if e == nil {
		tb.Fatalf("entry %d = nil; want the move", seq)
	}
	if want := w.Cursor(seq).Position(); e.Pos != want {
		tb.Fatalf("entry %d: Pos = %+v; want %+v", seq, e.Pos, want)
	}
	if want := w.Time(seq); !e.Due.Equal(want) {
		tb.Fatalf("entry %d: Due = %v; want %v", seq, e.Due, want)
	}
	data, event := wantEvent(w, seq)
	if string(e.Data) != data || string(e.Event) != event {
		tb.Fatalf("entry %d: Data, Event = %q, %q; want %q, %q", seq, e.Data, e.Event, data, event)
	}
}

// TestHub_Event checks the bytes of a few moves, the first ones, those
// around an epoch jump and a late one, and that a decoder that follows the
// spec reads them back as move events with the seq as id.
func TestHub_Event(t *testing.T) {
	w := newWorld(t)
	h := hub.New(w, 0)
	for _, seq := range []uint64{0, 1, 2, 49, 50, 51, 1234} {
		t.Run(fmt.Sprint(seq), func(t *testing.T) {
			e := h.Upto(seq)
			checkEntry(t, w, seq, e)
			got, err := sse.NewDecoder(bytes.NewReader(e.Event)).Next()
			if err != nil {
				t.Fatalf("Decoder.Next() of %q = %v; want the event", e.Event, err)
			}
			data, _ := wantEvent(w, seq)
			if want := (sse.Event{ID: fmt.Sprint(seq), Name: "move", Data: data}); got != want {
				t.Fatalf("Decoder.Next() = %+v; want %+v", got, want)
			}
		})
	}
}

// TestHub_Upto checks that Upto makes the moves in order, each once, that
// Latest follows it, and that every move agrees with a cursor of the world,
// across epoch jumps, whether asked for one at a time or a few at once.
func TestHub_Upto(t *testing.T) {
	for _, tt := range []struct {
		name   string
		replay time.Duration
		stride uint64
	}{
		{"one at a time", 0, 1},
		{"three at a time", 0, 3},
		{"one at a time in a small window", window * worldCfg.Interval, 1},
		{"a window at a time in a small window", window * worldCfg.Interval, window},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			h := hub.New(w, tt.replay)
			if got := h.Latest(); got != 0 {
				t.Fatalf("Latest() = %d before any move; want 0", got)
			}
			if got := h.Entry(0); got != nil {
				t.Fatalf("Entry(0) = %+v before any move; want nil", got)
			}
			c := w.Cursor(0)
			for seq := uint64(0); seq <= 240; seq += tt.stride {
				e := h.Upto(seq)
				checkEntry(t, w, seq, e)
				if got := h.Latest(); got != seq {
					t.Fatalf("Latest() = %d after Upto(%d); want %d", got, seq, seq)
				}
				if again := h.Upto(seq); again != e {
					t.Fatalf("Upto(%d) again = %p; want the same entry %p", seq, again, e)
				}
				for c.Position().Seq < seq { // every move on the way was made too
					p := c.Next()
					if e := h.Entry(p.Seq); e == nil || e.Pos != p {
						t.Fatalf("Entry(%d) after Upto(%d) = %+v; want Pos %+v", p.Seq, seq, e, p)
					}
				}
				if got := h.Entry(seq + 1); got != nil {
					t.Fatalf("Entry(%d) after Upto(%d) = %+v; want nil, not made yet", seq+1, seq, got)
				}
			}
		})
	}
}

// TestHub_Window checks that a hub keeps the newest move and window moves
// before it, that older ones are gone for Entry and Upto, and that a jump
// further than the window refills it from the new seq.
func TestHub_Window(t *testing.T) {
	for _, tt := range []struct {
		name string
		upto []uint64 // the calls, in order
		kept uint64   // the newest move; it and the window before it are kept
	}{
		{"first fill", []uint64{100}, 100},
		{"first fill shorter than the window", []uint64{4}, 4},
		{"step by step past the window", []uint64{100, 105, 111, 112}, 112},
		{"one move short of the window", []uint64{100, 110}, 110},
		{"a jump of the window", []uint64{100, 111}, 111},
		{"a jump far beyond the window", []uint64{100, 5000}, 5000},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newSmallHub(t)
			for _, seq := range tt.upto {
				checkEntry(t, h.World(), seq, h.Upto(seq))
			}
			first := tt.kept - min(tt.kept, window)
			for seq := first; seq <= tt.kept; seq++ {
				checkEntry(t, h.World(), seq, h.Entry(seq))
			}
			for _, seq := range []uint64{first - 1, first - 2, first - window, 0, tt.upto[0]} {
				if seq >= first { // in the window, or wrapped round below 0
					continue
				}
				if got := h.Entry(seq); got != nil {
					t.Errorf("Entry(%d) = %+v; want nil, older than the window %d..%d", seq, got.Pos, first, tt.kept)
				}
				if got := h.Upto(seq); got != nil {
					t.Errorf("Upto(%d) = %+v; want nil, older than the window %d..%d", seq, got.Pos, first, tt.kept)
				}
			}
			if got := h.Latest(); got != tt.kept {
				t.Errorf("Latest() = %d; want %d", got, tt.kept)
			}
		})
	}
}

// TestHub_ResumeAt checks where a new stream starts at a fixed now: from
// the client's last event id when it is a due move still in the window,
// and otherwise from the move due at now, or the newest made when another
// reader's clock is ahead and that one has left the window.
func TestHub_ResumeAt(t *testing.T) {
	const current = 1000 // the move due at now
	now := worldStart.Add(current*worldCfg.Interval + worldCfg.Interval/2)
	for _, tt := range []struct {
		name        string
		ahead       uint64 // a move another reader made before, 0 for none
		at          time.Time
		lastID      string
		wantSeq     uint64
		wantResumed bool
	}{
		{"no id", 0, now, "", current, false},
		{"not a number", 0, now, "abc", current, false},
		{"a walk's resume token", 0, now, "995.1.2.3.abcdef0123456789", current, false},
		{"a sign", 0, now, "+995", current, false},
		{"negative", 0, now, "-5", current, false},
		{"beyond uint64", 0, now, "18446744073709551616", current, false},
		{"the move due at now", 0, now, "1000", current, true},
		{"in the window", 0, now, "995", 995, true},
		{"the oldest in the window", 0, now, "990", 990, true},
		{"just older than the window", 0, now, "989", current, false},
		{"long gone", 0, now, "3", current, false},
		{"the future", 0, now, "1001", current, false},
		{"the far future", 0, now, "18446744073709551615", current, false},
		{"the future, made by a reader ahead", 1005, now, "1003", current, false},
		{"in the window of a reader ahead", 1005, now, "998", 998, true},
		{"a reader ahead by more than the window", 1100, now, "", 1100, false},
		{"before the world starts", 0, worldStart.Add(-time.Hour), "", 0, false},
		{"the start position", 0, worldStart, "0", 0, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newSmallHub(t)
			if tt.ahead > 0 {
				h.Upto(tt.ahead)
			}
			e, resumed := h.ResumeAt(tt.lastID, tt.at)
			if e == nil || e.Pos.Seq != tt.wantSeq || resumed != tt.wantResumed {
				t.Fatalf("ResumeAt(%q, %v) = %+v, %v; want seq %d, %v", tt.lastID, tt.at, e, resumed, tt.wantSeq, tt.wantResumed)
			}
			checkEntry(t, h.World(), tt.wantSeq, e)
		})
	}
}

// TestHub_SameWorld checks that two hubs of the same world, made apart (a
// restart, or another instance) and filled in other orders, write the same
// bytes for every move.
func TestHub_SameWorld(t *testing.T) {
	a := hub.New(newWorld(t), 0)
	b := hub.New(newWorld(t), window*worldCfg.Interval)
	a.Upto(300)
	for seq := uint64(150); seq <= 300; seq++ {
		ea, eb := a.Entry(seq), b.Upto(seq)
		if ea == nil || eb == nil {
			t.Fatalf("Entry(%d), Upto(%d) = %v, %v; want both moves", seq, seq, ea, eb)
		}
		if !bytes.Equal(ea.Event, eb.Event) || !bytes.Equal(ea.Data, eb.Data) || ea.Pos != eb.Pos || !ea.Due.Equal(eb.Due) {
			t.Fatalf("move %d: hubs of one world differ: %q and %q", seq, ea.Event, eb.Event)
		}
	}
}

// TestHub_Concurrent runs readers that make moves and read back at once,
// as the streams of many viewers do: each checks every entry it gets
// against the moves a cursor made before. Run it with -race.
func TestHub_Concurrent(t *testing.T) {
	const (
		readers = 8
		last    = 3000
	)
	w := newWorld(t)
	h := hub.New(w, 4*window*worldCfg.Interval)
	size := uint64(4*window + 1)
	want := make([]string, last+1)
	for seq := range want {
		_, want[seq] = wantEvent(w, uint64(seq))
	}
	var wg sync.WaitGroup
	errs := make(chan string, readers)
	for r := range readers {
		wg.Go(func() {
			var seen uint64
			for seq := uint64(r % 3); seq <= last; seq += 1 + uint64(r%3) {
				e := h.Upto(seq)
				latest := h.Latest()
				if latest < seen {
					errs <- fmt.Sprintf("reader %d: Latest() = %d after %d; want it never to go back", r, latest, seen)
					return
				}
				seen = latest
				if e == nil && latest < seq+size {
					errs <- fmt.Sprintf("reader %d: Upto(%d) = nil with Latest() %d; want the move, still in the window", r, seq, latest)
					return
				}
				if e != nil && string(e.Event) != want[seq] {
					errs <- fmt.Sprintf("reader %d: Upto(%d).Event = %q; want %q", r, seq, e.Event, want[seq])
					return
				}
				back := seq - min(seq, uint64(r))
				if e := h.Entry(back); e != nil && string(e.Event) != want[back] {
					errs <- fmt.Sprintf("reader %d: Entry(%d).Event = %q; want %q", r, back, e.Event, want[back])
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	var failed []string
	for msg := range errs {
		failed = append(failed, msg)
	}
	if len(failed) > 0 {
		t.Fatal(strings.Join(failed, "\n"))
	}
	checkEntry(t, w, last, h.Entry(last))
}

// BenchmarkHub_Upto makes one new move per op, as the first viewer whose
// move fell due does.
func BenchmarkHub_Upto(b *testing.B) {
	h := hub.New(newWorld(b), 0)
	seq := h.Upto(0).Pos.Seq
	b.ReportAllocs()
	for b.Loop() {
		seq++
		if h.Upto(seq) == nil {
			b.Fatalf("Upto(%d) = nil; want the move", seq)
		}
	}
}

// TestHub_LatestCoversUpto checks that once Upto has returned a move,
// Latest counts it, even while another reader is still filling the window
// ([hub.Hub.Latest]: "the newest move made so far"). The reader that waits
// for the first move of the new window polls Entry, an atomic load, rather
// than Upto, which would wait for the fill to end.
func TestHub_LatestCoversUpto(t *testing.T) {
	const (
		replay = 10000 // moves in the window: a fill that lasts a while
		seq    = 1_000_000
		first  = seq - replay // the first move of seq's window
	)
	h := hub.New(newWorld(t), replay*worldCfg.Interval)
	filled := make(chan struct{})
	go func() {
		defer close(filled)
		h.Upto(seq)
	}()
	for h.Entry(first) == nil { // until the filling reader has made it, or has done
		select {
		case <-filled:
		default:
			continue
		}
		break
	}
	e := h.Upto(first)
	latest := h.Latest()
	<-filled
	if e == nil || latest < first {
		t.Errorf("Upto(%d) = %v while Upto(%d) fills the window, then Latest() = %d; want the move, and Latest() at least %d", first, e != nil, seq, latest, first)
	}
}
