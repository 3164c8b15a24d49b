package stream

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/sse-demo/movingobject/simulation"
	"github.com/sse-demo/movingobject/stream/engine"
	"github.com/sse-demo/movingobject/stream/hub"
	"github.com/sse-demo/movingobject/stream/sse"
)

// sourceMove is a move event as a client reads it: its id, and its data
// decoded by encoding/json.
type sourceMove struct {
	ID  string `json:"-"`
	Seq uint64 `json:"seq"`
	X   int    `json:"x"`
	Y   int    `json:"y"`
	TS  int64  `json:"ts"`
}

// decodeMoves reads b as a browser would and returns its events, which
// must all be move events with the data of one.
func decodeMoves(tb testing.TB, b []byte) []sourceMove {
	tb.Helper()
	var moves []sourceMove
	dec := sse.NewDecoder(bytes.NewReader(b))
	for {
		ev, err := dec.Next()
		if err == io.EOF {
			return moves
		}
		if err != nil {
			tb.Fatalf("Decoder.Next() = %v; want an event or EOF", err)
		}
		if ev.Name != "move" {
			tb.Fatalf("event %+v; want a move event", ev)
		}
		m := sourceMove{ID: ev.ID}
		jd := json.NewDecoder(bytes.NewReader([]byte(ev.Data)))
		jd.DisallowUnknownFields()
		if err := jd.Decode(&m); err != nil {
			tb.Fatalf("move data %q: %v; want seq, x, y and ts", ev.Data, err)
		}
		moves = append(moves, m)
	}
}

// sourceCall is one call of a source's Next at now, and how many events it
// must append.
type sourceCall struct {
	now  engine.Time
	want int
}

// callSource calls src.Next for each call, after some bytes of an earlier
// event that it must keep, checks the counts and returns what it appended.
func callSource(tb testing.TB, src engine.Source, calls []sourceCall) []byte {
	tb.Helper()
	const before = ": earlier\n\n"
	out := []byte(before)
	for i, c := range calls {
		due := src.Due()
		var n int
		var err error
		prev := len(out)
		if out, n, err = src.Next(out, c.now); err != nil {
			tb.Fatalf("call %d: Next(now %v) = %v; want no error", i, c.now, err)
		}
		if got := len(decodeMoves(tb, out[prev:])); n != c.want || got != n {
			tb.Fatalf("call %d: Next(now %v) with Due %v = %d events, %d written; want %d", i, c.now, due, n, got, c.want)
		}
		if c.now < due && len(out) != prev {
			tb.Fatalf("call %d: Next(now %v) before Due %v appended %q; want nothing", i, c.now, due, out[prev:])
		}
	}
	if !bytes.HasPrefix(out, []byte(before)) {
		tb.Fatalf("Next changed the bytes it appends to: %q", out)
	}
	return out[len(before):]
}

// TestWalkSource checks how many moves a walk writes in one call at a
// chosen now: one on time, every one due when late, at most maxBatch, and
// then none until Due, which is after now. The moves are the walk's, one
// after the other, each with a resume token for its position and the time
// it was written.
func TestWalkSource(t *testing.T) {
	cfg := simulation.Config{Width: 200, Height: 100, Step: 7, Interval: 100 * time.Millisecond}
	const seed = 4242
	every := cfg.Interval
	due := engine.Time(time.Hour) // when the first move falls due: any moment of the engine's clock
	for _, tt := range []struct {
		name    string
		now     engine.Time
		want    int
		wantDue engine.Time
	}{
		{"before due", due - 1, 0, due},
		{"an interval before due", due - every, 0, due},
		{"on time", due, 1, due + every},
		{"half an interval late", due + every/2, 1, due + every},
		{"one interval late", due + every, 2, due + 2*every},
		{"four intervals late", due + 4*every, 5, due + 5*every},
		{"just short of five intervals late", due + 5*every - 1, 5, due + 5*every},
		{"maxBatch moves due", due + (maxBatch-1)*every, maxBatch, due + maxBatch*every},
		{"one more than maxBatch due", due + maxBatch*every, maxBatch, due + (maxBatch+1)*every},
		{"far behind", due + 1000*every + every/3, maxBatch, due + 1001*every + every/3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			signer := newTokenSigner(newTokenKey([]byte(DefaultResumeKey)), cfg)
			src := &walkSource{walker: *simulation.NewWalker(cfg, seed), signer: signer, every: every, next: due}
			ref := simulation.NewWalker(cfg, seed)
			out := callSource(t, src, []sourceCall{{tt.now, tt.want}, {tt.now, 0}})
			for i, m := range decodeMoves(t, out) {
				want := ref.Step()
				tokSeed, tokPos, ok := signer.parse(m.ID)
				got := simulation.Position{Seq: m.Seq, X: m.X, Y: m.Y}
				if got != want || !ok || tokSeed != seed || tokPos != want {
					t.Fatalf("move %d: data %+v, id %q parsed as %d, %+v, %v; want %+v of seed %d in both", i, m, m.ID, tokSeed, tokPos, ok, want, seed)
				}
				if wantTS := engine.Wall(tt.now).UnixMilli(); m.TS != wantTS {
					t.Fatalf("move %d: ts = %d; want %d, when it was written", i, m.TS, wantTS)
				}
			}
			if got := src.Due(); got != tt.wantDue || got <= tt.now {
				t.Fatalf("Due() = %v after Next(now %v); want %v, after now", got, tt.now, tt.wantDue)
			}
			more := callSource(t, src, []sourceCall{{src.Due(), 1}}) // the walk goes on with the next move
			if m := decodeMoves(t, more); m[0].Seq != uint64(tt.want)+1 {
				t.Fatalf("Next(Due()) wrote move %d; want %d", m[0].Seq, tt.want+1)
			}
		})
	}
}

// TestWorldSource checks that a viewer of the world gets, in one call at a
// chosen now, every move from its next one to the one due at now (at most
// maxBatch, the rest at the next call), each as the world makes it, and an
// error wrapping errBehind when its next move has left the hub's window.
func TestWorldSource(t *testing.T) {
	cfg := simulation.DefaultConfig()
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	world, err := simulation.NewWorld(cfg, 7, start, 50*cfg.Interval)
	if err != nil {
		t.Fatalf("NewWorld = %v; want no error", err)
	}
	at := func(seq uint64) engine.Time { return engine.At(world.Time(seq)) }
	const next = 101 // the first move the source writes
	for _, tt := range []struct {
		name    string
		replay  int    // the hub's window in intervals; 0 for the default
		ahead   uint64 // a move another reader made before, 0 for none
		calls   []sourceCall
		wantDue engine.Time
		wantErr bool
	}{
		{name: "before due", calls: []sourceCall{{at(next) - 1, 0}}, wantDue: at(next)},
		{name: "on time", calls: []sourceCall{{at(next), 1}, {at(next), 0}}, wantDue: at(next + 1)},
		{name: "half an interval late", calls: []sourceCall{{at(next) + cfg.Interval/2, 1}}, wantDue: at(next + 1)},
		{name: "ten moves due", calls: []sourceCall{{at(next + 9), 10}, {at(next + 9), 0}}, wantDue: at(next + 10)},
		{name: "ten moves due, made by a reader ahead", ahead: next + 50, calls: []sourceCall{{at(next + 9), 10}}, wantDue: at(next + 10)},
		{name: "on time, call after call", calls: []sourceCall{{at(next), 1}, {at(next + 1), 1}, {at(next+2) + 1, 1}}, wantDue: at(next + 3)},
		{name: "maxBatch moves due", calls: []sourceCall{{at(next + maxBatch - 1), maxBatch}, {at(next + maxBatch - 1), 0}}, wantDue: at(next + maxBatch)},
		{name: "101 moves due", calls: []sourceCall{{at(next + 100), maxBatch}, {at(next + 100), 101 - maxBatch}, {at(next + 100), 0}}, wantDue: at(next + 101)},
		{name: "in a small window", replay: 10, ahead: next + 5, calls: []sourceCall{{at(next + 8), 9}}, wantDue: at(next + 9)},
		{name: "left the window", replay: 10, ahead: next + 11, calls: []sourceCall{{at(next), 0}}, wantErr: true},
		{name: "more moves due than the window", replay: 10, calls: []sourceCall{{at(next + 20), 0}}, wantErr: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := hub.New(world, time.Duration(tt.replay)*cfg.Interval)
			if tt.ahead > 0 {
				h.Upto(tt.ahead)
			}
			src := newWorldSource(h, next, framingSSE)
			if tt.wantErr {
				c := tt.calls[0]
				if _, _, err := src.Next(nil, c.now); !errors.Is(err, errBehind) {
					t.Fatalf("Next(now %v) with Latest() %d = %v; want an error wrapping %v", c.now, h.Latest(), err, errBehind)
				}
				return
			}
			out := callSource(t, src, tt.calls)
			c := world.Cursor(next - 1)
			for _, m := range decodeMoves(t, out) {
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
	at := func(seq uint64) engine.Time { return engine.At(world.Time(seq)) }
	const next = 101
	for _, tt := range []struct {
		name string
		due  int // moves due at the calls' now
	}{
		{"one due", 1},
		{"five due", 5},
		{"more than maxBatch due", maxBatch + 3},
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
					sourceMove
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

// FuzzWalkSource calls a walk's source at any sequence of moments: the
// moves it writes are the walk's, numbered from 1 with none skipped, each
// along one axis by at most the step and by at least 1 but where the wall
// it bounced off takes all of it back, each with a resume token of its
// position; each call writes every move due, at most maxBatch, and leaves
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
		var now engine.Time
		total := 0
		for _, a := range advances {
			if a == 255 {
				now += 200 * every // a stall of more than maxBatch moves
			} else {
				now += time.Duration(a) * every / 16
			}
			due := src.Due()
			want := 0
			if now >= due {
				want = int(min(maxBatch, (now-due)/every+1))
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
		moves := decodeMoves(t, out)
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
		now := engine.Time(i+1) * cfg.Interval
		for _, src := range srcs {
			var err error
			if out, _, err = src.Next(out[:0], now); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/walks, "ns/move")
}
