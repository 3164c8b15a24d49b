package simulation

import (
	"testing"
	"time"
)

var worldStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newTestWorld(tb testing.TB, cfg Config, seed uint64, epoch time.Duration) *World {
	tb.Helper()
	w, err := NewWorld(cfg, seed, worldStart, epoch)
	if err != nil {
		tb.Fatalf("NewWorld(%+v, %d, %v, %v) = %v; want no error", cfg, seed, worldStart, epoch, err)
	}
	return w
}

// TestWorld_Cursor checks that a cursor placed anywhere, in particular
// around epoch boundaries, agrees with one that walked there, and that two
// worlds made with the same parameters agree.
func TestWorld_Cursor(t *testing.T) {
	cfg := DefaultConfig()
	for _, tt := range []struct {
		name  string
		epoch time.Duration
	}{
		{"endless", 0},
		{"epoch of 100 moves", 100 * cfg.Interval},
		{"epoch of 1 move", cfg.Interval},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, b := newTestWorld(t, cfg, 42, tt.epoch), newTestWorld(t, cfg, 42, tt.epoch)
			walked := a.Cursor(0)
			for seq := uint64(1); seq <= 450; seq++ {
				want := walked.Next()
				if want.Seq != seq || want.X < 0 || want.X > cfg.Width || want.Y < 0 || want.Y > cfg.Height {
					t.Fatalf("Next() = %+v; want seq %d inside the box", want, seq)
				}
				if got := b.Cursor(seq).Position(); got != want {
					t.Fatalf("Cursor(%d).Position() = %+v; want %+v as walked", seq, got, want)
				}
			}
		})
	}
}

// TestWorld_EndlessIsTheWalk checks that a world with no epochs is the
// walk of [NewWalker] with its seed.
func TestWorld_EndlessIsTheWalk(t *testing.T) {
	cfg := DefaultConfig()
	w := newTestWorld(t, cfg, 7, 0)
	want := walk(t, cfg, 7, 300)
	c := w.Cursor(0)
	if got := c.Position(); got != want[0] {
		t.Fatalf("Cursor(0).Position() = %+v; want %+v", got, want[0])
	}
	for _, p := range want[1:] {
		if got := c.Next(); got != p {
			t.Fatalf("Next() = %+v; want %+v", got, p)
		}
	}
}

// TestWorld_EpochsDiffer checks that each epoch starts a different walk.
func TestWorld_EpochsDiffer(t *testing.T) {
	cfg := DefaultConfig()
	w := newTestWorld(t, cfg, 7, 1000*cfg.Interval)
	starts := make(map[[2]int]uint64)
	for e := range uint64(20) {
		p := w.Cursor(e * 1000).Position()
		if other, ok := starts[[2]int{p.X, p.Y}]; ok {
			t.Errorf("epochs at %d and %d start at (%d, %d); want different starts", other, e*1000, p.X, p.Y)
		}
		starts[[2]int{p.X, p.Y}] = e * 1000
	}
}

func TestWorld_SeqAtTime(t *testing.T) {
	cfg := DefaultConfig()
	w := newTestWorld(t, cfg, 1, 0)
	for _, tt := range []struct {
		at   time.Duration // after start
		want uint64
	}{
		{-time.Hour, 0},
		{0, 0},
		{99 * time.Millisecond, 0},
		{100 * time.Millisecond, 1},
		{199 * time.Millisecond, 1},
		{24 * time.Hour, 864000},
	} {
		if got := w.SeqAt(worldStart.Add(tt.at)); got != tt.want {
			t.Errorf("SeqAt(start%+v) = %d; want %d", tt.at, got, tt.want)
		}
		if tt.want > 0 {
			if got := w.SeqAt(w.Time(tt.want)); got != tt.want {
				t.Errorf("SeqAt(Time(%d)) = %d; want %d", tt.want, got, tt.want)
			}
		}
	}
}

func TestNewWorld_Errors(t *testing.T) {
	cfg := DefaultConfig()
	for _, tt := range []struct {
		name    string
		cfg     Config
		epoch   time.Duration
		wantErr string
	}{
		{"bad config", Config{}, 0, "width: must be an integer in [10, 4000]"},
		{"negative epoch", cfg, -time.Second, "world epoch -1s: must be 0 (never) or at least the interval 100ms"},
		{"epoch below interval", cfg, time.Millisecond, "world epoch 1ms: must be 0 (never) or at least the interval 100ms"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewWorld(tt.cfg, 1, worldStart, tt.epoch)
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("NewWorld() = %v; want %q", err, tt.wantErr)
			}
		})
	}
}

func BenchmarkWorld_CursorDay(b *testing.B) {
	w, _ := NewWorld(DefaultConfig(), 1, worldStart, 24*time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		w.Cursor(864000 - 1) // the worst case of one-day epochs at 10 Hz
	}
}
