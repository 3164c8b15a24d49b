package simulation

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// boxes are the configurations the walk tests run in. They are the demo,
// the tightest boxes, and steps as large as the box allows.
var boxes = []Config{
	DefaultConfig(),
	{Width: 10, Height: 10, Step: 10, Interval: time.Second},
	{Width: 10, Height: 10, Step: 1, Interval: time.Second},
	{Width: 10, Height: 4000, Step: 10, Interval: time.Second},
	{Width: 4000, Height: 10, Step: 10, Interval: time.Second},
	{Width: 11, Height: 13, Step: 11, Interval: time.Second},
	{Width: 800, Height: 600, Step: 600, Interval: time.Second},
	{Width: 4000, Height: 4000, Step: 1000, Interval: time.Second},
}

// testSeeds covers small seeds, neighbours and the extremes.
var testSeeds = []uint64{0, 1, 2, 3, 42, 1 << 32, (1 << 32) + 1, math.MaxUint64 - 1, math.MaxUint64}

// walk returns positions 0..n of NewWalker(cfg, seed).
func walk(tb testing.TB, cfg Config, seed uint64, n int) []Position {
	tb.Helper()
	w := NewWalker(cfg, seed)
	ps := make([]Position, 0, n+1)
	ps = append(ps, w.Position())
	for range n {
		ps = append(ps, w.Step())
	}
	return ps
}

// oneMove reports whether a single move of distance 1..step along an axis of
// the given size, reflected at most once, can take coordinate v to v2. It
// tries the only three distances that could. These are |v2-v| with no wall,
// 2*size-v-v2 off the far wall, and v+v2 off the near wall.
func oneMove(v, v2, size, step int) bool {
	reflect := func(x int) int {
		switch {
		case x > size:
			return 2*size - x
		case x < 0:
			return -x
		}
		return x
	}
	for _, d := range []int{abs(v2 - v), 2*size - v - v2, v + v2} {
		if d >= 1 && d <= step && (reflect(v+d) == v2 || reflect(v-d) == v2) {
			return true
		}
	}
	return false
}

func TestWalker_StaysInBox(t *testing.T) {
	const steps = 2000
	for _, cfg := range boxes {
		t.Run(cfgName(cfg), func(t *testing.T) {
			for seed := range uint64(64) {
				ps := walk(t, cfg, seed*0x9e3779b97f4a7c15, steps)
				for i, p := range ps {
					if p.Seq != uint64(i) {
						t.Fatalf("seed %d: position %d has Seq %d; want %d", seed, i, p.Seq, i)
					}
					if p.X < 0 || p.X > cfg.Width || p.Y < 0 || p.Y > cfg.Height {
						t.Fatalf("seed %d: Step() = %+v; want inside [0, %d] x [0, %d]", seed, p, cfg.Width, cfg.Height)
					}
					if i == 0 {
						continue
					}
					prev := ps[i-1]
					dx, dy := p.X-prev.X, p.Y-prev.Y
					if dx != 0 && dy != 0 {
						t.Fatalf("seed %d: Step() from %+v = %+v; want one axis to change", seed, prev, p)
					}
					if abs(dx)+abs(dy) > cfg.Step {
						t.Fatalf("seed %d: Step() from %+v = %+v; want at most %d px", seed, prev, p, cfg.Step)
					}
					xMove := oneMove(prev.X, p.X, cfg.Width, cfg.Step) && dy == 0
					yMove := oneMove(prev.Y, p.Y, cfg.Height, cfg.Step) && dx == 0
					if !xMove && !yMove {
						t.Fatalf("seed %d: Step() from %+v = %+v; want one move of 1..%d px with at most one reflection", seed, prev, p, cfg.Step)
					}
				}
			}
		})
	}
}

func TestBounce(t *testing.T) {
	tests := []struct {
		v, size, want int
	}{
		{0, 10, 0},
		{10, 10, 10},
		{5, 10, 5},
		{11, 10, 9},
		{20, 10, 0},
		{-1, 10, 1},
		{-10, 10, 10},
		{805, 800, 795},
	}
	for _, tt := range tests {
		if got := bounce(tt.v, tt.size); got != tt.want {
			t.Errorf("bounce(%d, %d) = %d; want %d", tt.v, tt.size, got, tt.want)
		}
	}
}

// TestWalker_Moves checks the draw behind each move. Every direction and
// every distance 1..Step must occur, each about equally often.
func TestWalker_Moves(t *testing.T) {
	for _, cfg := range boxes {
		t.Run(cfgName(cfg), func(t *testing.T) {
			w := NewWalker(cfg, 7)
			cells := 4 * cfg.Step
			const perCell = 400
			counts := make([]int, cells) // indexed by dir*Step + d-1
			for n := range uint64(cells * perCell) {
				dir, d := w.move(n + 1)
				if dir < up || dir > right || d < 1 || d > cfg.Step {
					t.Fatalf("move(%d) = %d, %d; want direction in [0, 3] and distance in [1, %d]", n+1, dir, d, cfg.Step)
				}
				counts[dir*cfg.Step+d-1]++
			}
			// With 400 draws a cell, 200 and 600 lie 10 standard deviations out.
			for i, c := range counts {
				if c < perCell/2 || c > perCell*3/2 {
					t.Errorf("direction %d distance %d drawn %d times; want about %d", i/cfg.Step, i%cfg.Step+1, c, perCell)
				}
			}
		})
	}
}

// TestWalker_StartPositions checks that start positions spread over the box,
// corners included.
func TestWalker_StartPositions(t *testing.T) {
	cfg := Config{Width: 10, Height: 10, Step: 1, Interval: time.Second}
	seen := make(map[[2]int]int)
	for seed := range uint64(121 * 50) {
		p := NewWalker(cfg, seed).Position()
		if p.Seq != 0 || p.X < 0 || p.X > cfg.Width || p.Y < 0 || p.Y > cfg.Height {
			t.Fatalf("NewWalker(%+v, %d).Position() = %+v; want Seq 0 inside the box", cfg, seed, p)
		}
		seen[[2]int{p.X, p.Y}]++
	}
	if len(seen) != 121 {
		t.Errorf("start positions cover %d of 121 points; want all", len(seen))
	}
}

func TestWalker_SameSeedSameWalk(t *testing.T) {
	for _, cfg := range boxes {
		for _, seed := range testSeeds {
			a, b := walk(t, cfg, seed, 500), walk(t, cfg, seed, 500)
			for i := range a {
				if a[i] != b[i] {
					t.Fatalf("%s seed %d: Step() = %+v; want %+v as in the first walk", cfgName(cfg), seed, b[i], a[i])
				}
			}
		}
	}
}

func TestWalker_SeedsDiffer(t *testing.T) {
	cfg := DefaultConfig()
	seeds := append([]uint64{}, testSeeds...)
	for s := range uint64(200) {
		seeds = append(seeds, 1000+s)
	}
	walks := make(map[[50]Position]uint64)
	for _, seed := range seeds {
		var key [50]Position
		copy(key[:], walk(t, cfg, seed, 49))
		if other, ok := walks[key]; ok {
			t.Fatalf("seeds %d and %d give the same walk; want different walks", other, seed)
		}
		walks[key] = seed
	}
}

// TestWalker_Golden pins the walk's draws. A change here changes every walk
// a client might resume.
func TestWalker_Golden(t *testing.T) {
	tests := []struct {
		cfg   Config
		seed  uint64
		steps int
		want  Position
	}{
		{DefaultConfig(), 1, 0, Position{Seq: 0, X: 65, Y: 130}},
		{DefaultConfig(), 42, 10000, Position{Seq: 10000, X: 259, Y: 439}},
		{Config{Width: 10, Height: 10, Step: 10, Interval: time.Second}, 0, 1000, Position{Seq: 1000, X: 3, Y: 7}},
	}
	for _, tt := range tests {
		w := NewWalker(tt.cfg, tt.seed)
		for range tt.steps {
			w.Step()
		}
		if got := w.Position(); got != tt.want {
			t.Errorf("%s seed %d after %d steps: Position() = %+v; want %+v", cfgName(tt.cfg), tt.seed, tt.steps, got, tt.want)
		}
	}
}

func TestWalker_Accessors(t *testing.T) {
	for _, cfg := range boxes {
		w := NewWalker(cfg, 99)
		if got := w.Config(); got != cfg {
			t.Errorf("Config() = %+v; want %+v", got, cfg)
		}
		if got := w.Seed(); got != 99 {
			t.Errorf("Seed() = %d; want 99", got)
		}
		if got, want := w.Step(), w.Position(); got != want {
			t.Errorf("Step() = %+v; Position() = %+v; want the same", got, want)
		}
	}
}

func TestNewWalker_PanicsOnInvalidConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"zero", Config{}},
		{"step above box", Config{Width: 10, Height: 10, Step: 11, Interval: time.Second}},
		{"interval zero", Config{Width: 10, Height: 10, Step: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				r := recover()
				err, ok := r.(error)
				var fe *FieldError
				if !ok || !errors.As(err, &fe) || fe.Error() != tt.cfg.Validate().Error() {
					t.Errorf("NewWalker(%+v) panicked with %v; want an error wrapping %v", tt.cfg, r, tt.cfg.Validate())
				}
			}()
			NewWalker(tt.cfg, 1)
		})
	}
}

// TestResume_Equivalence is a property test. For random configurations,
// seeds and cut points n, resuming from position n must give the
// uninterrupted walk.
func TestResume_Equivalence(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2)) // fixed, so failures reproduce
	for trial := range 300 {
		cfg := boxes[r.IntN(len(boxes))]
		seed := r.Uint64()
		n := r.IntN(1500)
		if trial%10 == 0 {
			n = 0 // resume from the start position
		}
		k := 1 + r.IntN(100)
		checkResume(t, cfg, seed, n, k)
	}
}

// checkResume fails tb unless Resume from position n of the walk, followed by
// k steps, gives positions n+1..n+k of the uninterrupted walk.
func checkResume(tb testing.TB, cfg Config, seed uint64, n, k int) {
	tb.Helper()
	full := walk(tb, cfg, seed, n+k)
	w, err := Resume(cfg, seed, full[n])
	if err != nil {
		tb.Fatalf("Resume(%+v, %d, %+v) = %v; want nil error", cfg, seed, full[n], err)
	}
	if got := w.Position(); got != full[n] {
		tb.Fatalf("Resume(%+v, %d, %+v).Position() = %+v; want %+v", cfg, seed, full[n], got, full[n])
	}
	if w.Seed() != seed || w.Config() != cfg {
		tb.Fatalf("resumed Seed(), Config() = %d, %+v; want %d, %+v", w.Seed(), w.Config(), seed, cfg)
	}
	for i := n + 1; i <= n+k; i++ {
		if got := w.Step(); got != full[i] {
			tb.Fatalf("%s seed %d resumed at %d: Step() = %+v; want %+v", cfgName(cfg), seed, n, got, full[i])
		}
	}
}

func FuzzResume(f *testing.F) {
	f.Add(uint64(1), uint16(790), uint16(590), uint16(4), uint16(100), uint8(10))
	f.Add(uint64(0), uint16(0), uint16(0), uint16(9), uint16(0), uint8(255))
	f.Add(uint64(math.MaxUint64), uint16(3990), uint16(3990), uint16(999), uint16(4999), uint8(1))
	f.Fuzz(func(t *testing.T, seed uint64, width, height, step, n uint16, k uint8) {
		cfg := Config{
			Width:    MinSize + int(width)%(MaxSize-MinSize+1),
			Height:   MinSize + int(height)%(MaxSize-MinSize+1),
			Interval: time.Second,
		}
		cfg.Step = MinStep + int(step)%MaxStepFor(cfg.Width, cfg.Height)
		checkResume(t, cfg, seed, int(n)%5000, 1+int(k)%64)
	})
}

func TestResume_Errors(t *testing.T) {
	cfg := DefaultConfig()
	tests := []struct {
		name    string
		cfg     Config
		at      Position
		wantErr string // "" means accepted
	}{
		{"origin", cfg, Position{Seq: 7, X: 0, Y: 0}, ""},
		{"far corner", cfg, Position{Seq: math.MaxUint32, X: 800, Y: 600}, ""},
		{"x negative", cfg, Position{X: -1, Y: 300}, "resume at (-1, 300): outside the 800x600 box"},
		{"x past width", cfg, Position{X: 801, Y: 300}, "resume at (801, 300): outside the 800x600 box"},
		{"y negative", cfg, Position{X: 400, Y: -1}, "resume at (400, -1): outside the 800x600 box"},
		{"y past height", cfg, Position{X: 400, Y: 601}, "resume at (400, 601): outside the 800x600 box"},
		{"invalid config", Config{Width: 800, Height: 600, Step: 601, Interval: time.Second}, Position{}, "step: must be an integer in [1, 600]"},
		{"zero config", Config{}, Position{}, "width: must be an integer in [10, 4000]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := Resume(tt.cfg, 1, tt.at)
			if tt.wantErr == "" {
				if err != nil || w == nil {
					t.Fatalf("Resume(%+v) = %v, %v; want a walker", tt.at, w, err)
				}
				if got := w.Position(); got != tt.at {
					t.Errorf("Position() = %+v; want %+v", got, tt.at)
				}
				if got := w.Step(); got.Seq != tt.at.Seq+1 {
					t.Errorf("Step() = %+v; want Seq %d", got, tt.at.Seq+1)
				}
				return
			}
			if err == nil || w != nil {
				t.Fatalf("Resume(%+v, 1, %+v) = %v, %v; want error %q", tt.cfg, tt.at, w, err, tt.wantErr)
			}
			if got := err.Error(); got != tt.wantErr {
				t.Errorf("Resume(%+v, 1, %+v) = %q; want %q", tt.cfg, tt.at, got, tt.wantErr)
			}
			if strings.HasPrefix(tt.wantErr, "resume") {
				return
			}
			if fe := (*FieldError)(nil); !errors.As(err, &fe) {
				t.Errorf("Resume(%+v, 1, %+v) = %T; want *FieldError", tt.cfg, tt.at, err)
			}
		})
	}
}

func TestWalker_StepAllocs(t *testing.T) {
	for _, cfg := range boxes {
		w := NewWalker(cfg, 3)
		if got := testing.AllocsPerRun(1000, func() { w.Step() }); got != 0 {
			t.Errorf("%s: Step() allocates %v times; want 0", cfgName(cfg), got)
		}
	}
}

func BenchmarkWalker_Step(b *testing.B) {
	w := NewWalker(DefaultConfig(), 1)
	b.ReportAllocs()
	for b.Loop() {
		w.Step()
	}
}

func cfgName(c Config) string {
	return fmt.Sprintf("%dx%d/%d", c.Width, c.Height, c.Step)
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func TestConfig_Shift(t *testing.T) {
	c := Config{Width: 100, Height: 50, Step: 5, Interval: time.Second}
	tests := []struct {
		name   string
		p      Position
		dx, dy int
		want   Position
	}{
		{"inside", Position{Seq: 3, X: 10, Y: 10}, 20, 0, Position{Seq: 3, X: 30, Y: 10}},
		{"up to the wall", Position{X: 10, Y: 20}, 0, -20, Position{X: 10, Y: 0}},
		{"past the top", Position{X: 10, Y: 5}, 0, -20, Position{X: 10, Y: 15}},
		{"past the right", Position{X: 90, Y: 5}, 20, 0, Position{X: 90, Y: 5}},
		{"past the bottom", Position{X: 1, Y: 45}, 0, 20, Position{X: 1, Y: 35}},
		{"past the left", Position{X: 3, Y: 45}, -20, 0, Position{X: 17, Y: 45}},
		{"bounces twice", Position{X: 0, Y: 0}, 250, 0, Position{X: 50, Y: 0}},
		{"far negative", Position{X: 0, Y: 0}, 0, -140, Position{X: 0, Y: 40}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.Shift(tt.p, tt.dx, tt.dy); got != tt.want {
				t.Errorf("Shift(%v, %d, %d) = %v; want %v", tt.p, tt.dx, tt.dy, got, tt.want)
			}
		})
	}
}

// TestWalkerCopy checks that a copy of a walker is a walk of its own. The
// copy goes on as the original does, and stepping one leaves the other where
// it stood.
func TestWalkerCopy(t *testing.T) {
	w := NewWalker(DefaultConfig(), 7)
	for range 5 {
		w.Step()
	}
	c := *w
	at := w.Position()
	for i := range 10 {
		if got, want := c.Step(), walkAt(t, 7, 6+uint64(i)); got != want {
			t.Fatalf("copy's move %d = %+v; want %+v, the walk's", 6+i, got, want)
		}
	}
	if w.Position() != at {
		t.Errorf("original at %+v after its copy stepped; want %+v", w.Position(), at)
	}
}

// walkAt returns position seq of the walk with seed in the default
// box, stepped from its start.
func walkAt(tb testing.TB, seed, seq uint64) Position {
	tb.Helper()
	w := NewWalker(DefaultConfig(), seed)
	for w.Position().Seq < seq {
		w.Step()
	}
	return w.Position()
}
