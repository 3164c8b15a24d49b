package walks

import (
	"testing"
	"time"

	"github.com/sse-demo/movingobject/simulation"
	"github.com/sse-demo/movingobject/stream/internal/pace"
	"github.com/sse-demo/movingobject/stream/internal/sourcetest"
	"github.com/sse-demo/movingobject/stream/transport"
)

// TestWalkSource checks how many moves a walk writes in one call at a
// chosen now: one on time, every one due when late, at most transport.MaxBatch, and
// then none until Due, which is after now. The moves are the walk's, one
// after the other, each with a resume token for its position and the time
// it was written.
func TestWalkSource(t *testing.T) {
	cfg := simulation.Config{Width: 200, Height: 100, Step: 7, Interval: 100 * time.Millisecond}
	const seed = 4242
	every := cfg.Interval
	due := pace.Time(time.Hour) // when the first move falls due: any moment of the clock
	for _, tt := range []struct {
		name    string
		now     pace.Time
		want    int
		wantDue pace.Time
	}{
		{"before due", due - 1, 0, due},
		{"an interval before due", due - every, 0, due},
		{"on time", due, 1, due + every},
		{"half an interval late", due + every/2, 1, due + every},
		{"one interval late", due + every, 2, due + 2*every},
		{"four intervals late", due + 4*every, 5, due + 5*every},
		{"just short of five intervals late", due + 5*every - 1, 5, due + 5*every},
		{"transport.MaxBatch moves due", due + (transport.MaxBatch-1)*every, transport.MaxBatch, due + transport.MaxBatch*every},
		{"one more than transport.MaxBatch due", due + transport.MaxBatch*every, transport.MaxBatch, due + (transport.MaxBatch+1)*every},
		{"far behind", due + 1000*every + every/3, transport.MaxBatch, due + 1001*every + every/3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			signer := newTokenSigner(newTokenKey([]byte(DefaultResumeKey)), cfg)
			src := &walkSource{walker: *simulation.NewWalker(cfg, seed), signer: signer, every: every, next: due}
			ref := simulation.NewWalker(cfg, seed)
			out := sourcetest.Run(t, src, []sourcetest.Call{{Now: tt.now, Want: tt.want}, {Now: tt.now, Want: 0}})
			for i, m := range sourcetest.Moves(t, out) {
				want := ref.Step()
				tokSeed, tokPos, ok := signer.parse(m.ID)
				got := simulation.Position{Seq: m.Seq, X: m.X, Y: m.Y}
				if got != want || !ok || tokSeed != seed || tokPos != want {
					t.Fatalf("move %d: data %+v, id %q parsed as %d, %+v, %v; want %+v of seed %d in both", i, m, m.ID, tokSeed, tokPos, ok, want, seed)
				}
				if wantTS := pace.Wall(tt.now).UnixMilli(); m.TS != wantTS {
					t.Fatalf("move %d: ts = %d; want %d, when it was written", i, m.TS, wantTS)
				}
			}
			if got := src.Due(); got != tt.wantDue || got <= tt.now {
				t.Fatalf("Due() = %v after Next(now %v); want %v, after now", got, tt.now, tt.wantDue)
			}
			more := sourcetest.Run(t, src, []sourcetest.Call{{Now: src.Due(), Want: 1}}) // the walk goes on with the next move
			if m := sourcetest.Moves(t, more); m[0].Seq != uint64(tt.want)+1 {
				t.Fatalf("Next(Due()) wrote move %d; want %d", m[0].Seq, tt.want+1)
			}
		})
	}
}

// FuzzWalkSource calls a walk's source at any sequence of moments: the
// moves it writes are the walk's, numbered from 1 with none skipped, each
// along one axis by at most the step and by at least 1 but where the wall
// it bounced off takes all of it back, each with a resume token of its
// position; each call writes every move due, at most transport.MaxBatch, and leaves
// Due after now.
func FuzzWalkSource(f *testing.F) {
	f.Add(uint64(42), uint16(100), uint8(5), []byte{0, 16, 16, 40, 3, 255, 1})
	f.Add(uint64(0), uint16(10), uint8(9), []byte{255, 255, 0, 0, 200, 17})
	f.Add(uint64(MaxSeed), uint16(60000), uint8(0), []byte{15, 16, 17, 32})
	f.Fuzz(func(t *testing.T, seed uint64, intervalMS uint16, step uint8, advances []byte) {
		cfg := simulation.Config{
			Width: 10, Height: 12, // a small box, so that moves often bounce
			Step:     1 + int(step)%10,
			Interval: time.Duration(min(max(intervalMS, 10), 60000)) * time.Millisecond,
		}
		seed %= MaxSeed + 1
		every := cfg.Interval
		walker := simulation.NewWalker(cfg, seed)
		start := walker.Position()
		signer := newTokenSigner(newTokenKey([]byte(DefaultResumeKey)), cfg)
		src := &walkSource{walker: *walker, signer: signer, every: every, next: every}
		var out []byte
		var now pace.Time
		total := 0
		for _, a := range advances {
			if a == 255 {
				now += 200 * every // a stall of more than transport.MaxBatch moves
			} else {
				now += time.Duration(a) * every / 16
			}
			due := src.Due()
			want := 0
			if now >= due {
				want = int(min(transport.MaxBatch, (now-due)/every+1))
			}
			var n int
			var err error
			if out, n, err = src.Next(out, now); err != nil || n != want {
				t.Fatalf("Next(now %v) with Due %v = %d, %v; want %d", now, due, n, err, want)
			}
			if got := src.Due(); got <= now {
				t.Fatalf("Due() = %v after Next(now %v); want after now", got, now)
			}
			total += n
		}
		moves := sourcetest.Moves(t, out)
		if len(moves) != total {
			t.Fatalf("decoded %d moves; want the %d Next reported", len(moves), total)
		}
		prev := start
		for i, m := range moves {
			p := simulation.Position{Seq: m.Seq, X: m.X, Y: m.Y}
			if p.Seq != uint64(i)+1 || p.X < 0 || p.X > cfg.Width || p.Y < 0 || p.Y > cfg.Height {
				t.Fatalf("move %d = %+v; want seq %d inside the %dx%d box", i, p, i+1, cfg.Width, cfg.Height)
			}
			dx, dy := abs(p.X-prev.X), abs(p.Y-prev.Y)
			if (dx != 0 && dy != 0) || dx+dy > cfg.Step || (dx+dy == 0 && !nearWall(prev, cfg)) {
				t.Fatalf("move %+v after %+v; want one axis, by 1 to %d (0 only by a wall)", p, prev, cfg.Step)
			}
			if tokSeed, tokPos, ok := signer.parse(m.ID); !ok || tokSeed != seed || tokPos != p {
				t.Fatalf("move %+v: id %q parsed as %d, %+v, %v; want seed %d and the move's position", p, m.ID, tokSeed, tokPos, ok, seed)
			}
			prev = p
		}
	})
}

// nearWall reports whether a move from p can bounce back to where it
// started: a move of d towards a wall d/2 away ends where it began.
func nearWall(p simulation.Position, cfg simulation.Config) bool {
	return 2*min(p.X, cfg.Width-p.X) <= cfg.Step || 2*min(p.Y, cfg.Height-p.Y) <= cfg.Step
}

func abs(v int) int { return max(v, -v) }

// BenchmarkWalkSource measures a walk's move without the network: 10,000
// walks each make one move per round, in turn, so that each walk's state
// is as cold as it is on a server holding that many streams.
func BenchmarkWalkSource(b *testing.B) {
	const walks = 10000
	cfg := simulation.DefaultConfig()
	key := newTokenKey([]byte(DefaultResumeKey))
	srcs := make([]*walkSource, walks)
	for i := range srcs {
		srcs[i] = &walkSource{walker: *simulation.NewWalker(cfg, uint64(i)), signer: newTokenSigner(key, cfg), every: cfg.Interval, next: cfg.Interval}
	}
	var out []byte
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		now := pace.Time(i+1) * cfg.Interval
		for _, src := range srcs {
			var err error
			if out, _, err = src.Next(out[:0], now); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/walks, "ns/move")
}
