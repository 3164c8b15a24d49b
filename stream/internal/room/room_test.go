package room

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"

	"github.com/sse-demo/movingobject/internal/apptest"
	"github.com/sse-demo/movingobject/internal/logwatch"
	"github.com/sse-demo/movingobject/internal/natstest"
	"github.com/sse-demo/movingobject/simulation"
	"github.com/sse-demo/movingobject/stream/payload"
)

// TestMain fails the package's tests if any goroutine outlives them: the
// embedded servers, connections and the rooms' own.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitBound turns a hang into a failure; it is no timing assertion.
const waitBound = natstest.WaitBound

// startNATS runs an embedded NATS server with JetStream until the test
// ends.
func startNATS(tb testing.TB) *server.Server {
	tb.Helper()
	return natstest.Start(tb)
}

// connect returns an in-process connection to ns, closed when the test
// ends.
func connect(tb testing.TB, ns *server.Server) *nats.Conn {
	tb.Helper()
	return natstest.Connect(tb, ns)
}

// testConfig is a small, fast room: 200x100, a move every 20 ms.
func testConfig(instance string) Config {
	return Config{
		Walk: simulation.Config{Width: 200, Height: 100, Step: 3, Interval: 20 * time.Millisecond},
		Seed: 7, Push: 20, Keep: 1000, Instance: instance,
	}
}

// open opens a room on nc, closed when the test ends.
func open(tb testing.TB, nc *nats.Conn, cfg Config) *Room {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	r, err := Open(ctx, nc, cfg)
	if err != nil {
		tb.Fatalf("Open(%+v) = %v", cfg, err)
	}
	tb.Cleanup(r.Close)
	return r
}

// watch counts a viewer of r until the test ends: the ticker makes moves
// only while someone watches, or someone pushed.
func watch(tb testing.TB, r *Room) {
	tb.Helper()
	tb.Cleanup(r.Join())
}

// waitMove waits until r has read move seq.
func waitMove(tb testing.TB, r *Room, seq uint64) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	if !r.WaitFor(ctx, seq) {
		tb.Fatalf("room %s: move %d not read within %v (latest %d)", r.Instance(), seq, waitBound, r.Latest())
	}
}

// push pushes p into r, failing the test on an error.
func push(tb testing.TB, r *Room, p payload.Push) (dup bool) {
	tb.Helper()
	dup, err := r.Push(context.Background(), p)
	if err != nil {
		tb.Fatalf("Push(%+v) = %v", p, err)
	}
	return dup
}

// waitPushes waits until every id has been applied by a move that r has
// read, and returns the moves up to the one that applied the last.
func waitPushes(tb testing.TB, r *Room, ids ...string) []*Entry {
	tb.Helper()
	deadline := time.NewTimer(waitBound)
	defer deadline.Stop()
	var moves []*Entry
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	for seq := uint64(1); len(want) > 0; seq++ {
		for r.Latest() < seq {
			select {
			case <-r.Arrived():
			case <-deadline.C:
				tb.Fatalf("pushes %v not applied within %v (latest move %d)", want, waitBound, r.Latest())
			}
		}
		e := r.Entry(seq)
		if e == nil {
			tb.Fatalf("move %d missing from the ring (latest %d)", seq, r.Latest())
		}
		moves = append(moves, e)
		for _, p := range e.Move.Pushes {
			delete(want, p.ID)
		}
	}
	return moves
}

// checkMoves fails tb unless every move in moves follows from the one
// before it, as the room's rule says: the pushes, each Push px in log
// order, reflected at the walls, then the walk's step. It is written from
// the rule, not from the ticker's code.
func checkMoves(tb testing.TB, cfg Config, prev simulation.Position, moves []*Entry) {
	tb.Helper()
	unit := map[string][2]int{"up": {0, -1}, "down": {0, 1}, "left": {-1, 0}, "right": {1, 0}}
	for _, e := range moves {
		if e.Move.Seq != prev.Seq+1 {
			tb.Fatalf("move %d follows move %d; want a gap-free sequence", e.Move.Seq, prev.Seq)
		}
		p := prev
		for _, pu := range e.Move.Pushes {
			d := unit[pu.Dir]
			p = cfg.Walk.Shift(p, d[0]*cfg.Push, d[1]*cfg.Push)
		}
		w, err := simulation.Resume(cfg.Walk, cfg.Seed, p)
		if err != nil {
			tb.Fatalf("move %d: resume at %+v: %v", e.Move.Seq, p, err)
		}
		want := w.Step()
		got := simulation.Position{Seq: e.Move.Seq, X: e.Move.X, Y: e.Move.Y}
		if got != want {
			tb.Fatalf("move %d = %+v after pushes %v from %+v; want %+v", e.Move.Seq, got, e.Move.Pushes, prev, want)
		}
		prev = got
	}
}

func TestPushesAppliedInLogOrder(t *testing.T) {
	t.Parallel()
	ns := startNATS(t)
	r := open(t, connect(t, ns), testConfig("a"))
	dirs := []string{"up", "right", "right", "down", "left", "up", "up", "down"}
	var ids []string
	for i, d := range dirs {
		id := fmt.Sprintf("p%d", i)
		ids = append(ids, id)
		if push(t, r, payload.Push{ID: id, Dir: d}) {
			t.Fatalf("Push(%s) = duplicate; want a new push", id)
		}
	}
	moves := waitPushes(t, r, ids...)
	var got []string
	for _, e := range moves {
		for _, p := range e.Move.Pushes {
			got = append(got, p.ID+":"+p.Dir)
		}
	}
	var want []string
	for i, d := range dirs {
		want = append(want, ids[i]+":"+d)
	}
	if !slices.Equal(got, want) {
		t.Errorf("pushes applied = %v; want %v, in the order pushed", got, want)
	}
	checkMoves(t, r.cfg, r.Start(), moves)
	// Nobody watches this room: it moves only to apply pushes.
	for _, e := range moves {
		if len(e.Move.Pushes) == 0 {
			t.Errorf("move %d applied no push in a room nobody watches; want no such move", e.Move.Seq)
		}
	}
	if !r.Ticker() {
		t.Errorf("Ticker() = false; want true for the only instance")
	}
}

func TestSamePushIDAppliedOnce(t *testing.T) {
	t.Parallel()
	ns := startNATS(t)
	r := open(t, connect(t, ns), testConfig("a"))
	if push(t, r, payload.Push{ID: "same", Dir: "left"}) {
		t.Fatal("first Push(same) = duplicate; want new")
	}
	if !push(t, r, payload.Push{ID: "same", Dir: "left"}) {
		t.Error("second Push(same) = new; want duplicate")
	}
	if !push(t, r, payload.Push{ID: "same", Dir: "right"}) {
		t.Error("Push(same) with another dir = new; want duplicate: the id decides")
	}
	push(t, r, payload.Push{ID: "after", Dir: "down"})
	moves := waitPushes(t, r, "same", "after")
	n := 0
	for _, e := range moves {
		for _, p := range e.Move.Pushes {
			if p.ID == "same" {
				n++
				if p.Dir != "left" {
					t.Errorf("push same applied with dir %q; want the first one's, left", p.Dir)
				}
			}
		}
	}
	if n != 1 {
		t.Errorf("push same applied %d times; want once", n)
	}
	checkMoves(t, r.cfg, r.Start(), moves)
}

// TestFencing: a move is written once. A ticker that publishes move n
// after another wrote it fails, whatever it carries; of two tickers that
// publish move n at once, one succeeds.
func TestFencing(t *testing.T) {
	t.Parallel()
	ns := startNATS(t)
	cfg := testConfig("a")
	cfg.Walk.Interval = simulation.MaxInterval // the room's ticker makes move 1, then waits
	r := open(t, connect(t, ns), cfg)
	watch(t, r)
	waitMove(t, r, 1)

	one := r.Entry(1)
	stale := record{PlayMove: one.Move, PushSeq: one.PushSeq}
	start := record{PlayMove: payload.PlayMove{Move: payload.Move{X: r.start.X, Y: r.start.Y}}}
	if err := r.publishMove(context.Background(), r.nextMove(start, nil, time.Now())); !errors.Is(err, errFenced) {
		t.Fatalf("publish move 1 again = %v; want %v", err, errFenced)
	}

	// Two tickers race for move 2, from the same move 1.
	other := open(t, connect(t, ns), testConfig("b"))
	waitMove(t, other, 1)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, room := range []*Room{r, other} {
		wg.Go(func() {
			mv := room.nextMove(stale, []logged{{seq: 99, push: payload.Push{ID: fmt.Sprint(i), Dir: "up"}, ok: i == 0}}, time.Now())
			errs[i] = room.publishMove(context.Background(), mv)
		})
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, errFenced):
			t.Errorf("ticker %d: publish move 2 = %v; want nil or %v", i, err, errFenced)
		}
	}
	if won != 1 {
		t.Fatalf("publish move 2 succeeded %d times (%v); want once", won, errs)
	}
	waitMove(t, r, 2)
	waitMove(t, other, 2)
	if a, b := r.Entry(2), other.Entry(2); a == nil || b == nil || string(a.Event) != string(b.Event) {
		t.Errorf("move 2 differs between the instances: %q and %q", a.Event, b.Event)
	}
}

// TestLeaseTakeover: when the ticker stops renewing its lease (its
// connection is gone), another instance takes over once the key expires,
// and goes on from the last move, gap-free, with the pushes accepted
// meanwhile. The lease is shorter than the default, so that the test
// waits less for the key to expire.
func TestLeaseTakeover(t *testing.T) {
	t.Parallel()
	ns := startNATS(t)
	short := func(instance string) Config {
		cfg := testConfig(instance)
		cfg.LeaseTTL, cfg.Renew = time.Second, 200*time.Millisecond
		return cfg
	}
	ncA := connect(t, ns)
	a := open(t, ncA, short("a"))
	watch(t, a)
	waitMove(t, a, 3) // a holds the lease: it was alone
	if !a.Ticker() {
		t.Fatal("a.Ticker() = false; want true, alone")
	}
	b := open(t, connect(t, ns), short("b"))
	watch(t, b)
	waitMove(t, b, a.Latest()+2)
	if b.Ticker() {
		t.Fatal("b.Ticker() = true while a holds the lease")
	}

	ncA.Close() // a stops renewing; its key expires on the server
	died := time.Now()
	stopped := b.Latest()
	push(t, b, payload.Push{ID: "during", Dir: "down"})
	waitMove(t, b, stopped+3)
	if !b.Ticker() {
		t.Error("b.Ticker() = false; want true after a died")
	}
	if a.Ticker() {
		t.Error("a.Ticker() = true after its connection closed")
	}
	moves := waitPushes(t, b, "during")
	checkMoves(t, b.cfg, b.Start(), moves)
	t.Logf("takeover after the ticker died: %v", time.Since(died))
}

// TestLeaseRetaken: a ticker whose lease is taken from it (here the key
// is deleted behind its back) stops, takes the lease again at its next
// try, and goes on from the last move, gap-free. The TTL is longer than
// the test's bound, so no key expires meanwhile.
func TestLeaseRetaken(t *testing.T) {
	t.Parallel()
	ns := startNATS(t)
	logs := logwatch.New()
	cfg := testConfig("a")
	cfg.LeaseTTL, cfg.Renew, cfg.Logger = 2*waitBound, 100*time.Millisecond, apptest.Logger(logs)
	a := open(t, connect(t, ns), cfg)
	watch(t, a)
	waitMove(t, a, 2)

	js := natstest.JetStream(t, ns)
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	kv, err := js.KeyValue(ctx, "PLAY_LEASE")
	if err != nil {
		t.Fatalf("bucket PLAY_LEASE: %v", err)
	}
	if err := kv.Delete(ctx, "ticker"); err != nil {
		t.Fatalf("delete the lease: %v", err)
	}
	logs.WaitCount(t, "ticker lease lost", 1)
	logs.WaitCount(t, "ticker lease taken: this instance makes the moves", 2)
	waitMove(t, a, a.Latest()+3)
	if !a.Ticker() {
		t.Error("a.Ticker() = false after its moves went on; want true")
	}
	var moves []*Entry
	for seq := uint64(1); seq <= a.Latest(); seq++ {
		moves = append(moves, a.Entry(seq))
	}
	checkMoves(t, a.cfg, a.Start(), moves)
}

// TestLeaseHandover: a ticker that closes gives the lease up, and another
// instance goes on. The TTL is longer than the test's bound, so only the
// lease given up can let the other go on.
func TestLeaseHandover(t *testing.T) {
	t.Parallel()
	ns := startNATS(t)
	long := func(instance string) Config {
		cfg := testConfig(instance)
		cfg.LeaseTTL, cfg.Renew = 2*waitBound, 200*time.Millisecond
		return cfg
	}
	a := open(t, connect(t, ns), long("a"))
	watch(t, a)
	waitMove(t, a, 2)
	b := open(t, connect(t, ns), long("b"))
	watch(t, b)
	waitMove(t, b, a.Latest()+1)
	if b.Ticker() {
		t.Fatal("b.Ticker() = true while a holds the lease")
	}
	a.Close()
	stopped := b.Latest()
	waitMove(t, b, stopped+2)
	if !b.Ticker() {
		t.Error("b.Ticker() = false after a closed; want true")
	}
	var moves []*Entry
	for seq := uint64(1); seq <= b.Latest(); seq++ {
		moves = append(moves, b.Entry(seq))
	}
	checkMoves(t, b.cfg, b.Start(), moves)
}

// TestViewers: Join counts a viewer in the room at once, and every
// instance of the room counts the viewers of all. Package viewers tests
// the counting itself.
func TestViewers(t *testing.T) {
	t.Parallel()
	ns := startNATS(t)
	a := open(t, connect(t, ns), testConfig("a"))
	b := open(t, connect(t, ns), testConfig("b"))
	waitViewers := func(r *Room, want int) {
		t.Helper()
		deadline := time.NewTimer(waitBound)
		defer deadline.Stop()
		for {
			changed := r.viewers.Changed()
			if r.Viewers() == want {
				return
			}
			select {
			case <-changed:
			case <-deadline.C:
				t.Fatalf("%s.Viewers() = %d; want %d within %v", r.Instance(), r.Viewers(), want, waitBound)
			}
		}
	}
	leave1 := a.Join()
	if got := a.Viewers(); got != 1 {
		t.Errorf("a.Viewers() = %d right after Join; want 1", got)
	}
	leave2 := b.Join()
	waitViewers(a, 2)
	waitViewers(b, 2)
	leave2()
	leave2() // once only
	if got := b.Viewers(); got != 1 {
		t.Errorf("b.Viewers() = %d right after leave; want 1, a's", got)
	}
	leave1()
	waitViewers(b, 0)
}

// TestIdleRoomWakes: a room nobody watches makes no move until a viewer
// comes or a push is read, and then makes one at once, not at the next
// tick of its interval (a minute here, twice the tests' bound).
func TestIdleRoomWakes(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		wake func(testing.TB, *Room)
	}{
		{"viewer", func(tb testing.TB, r *Room) { watch(tb, r) }},
		{"push", func(tb testing.TB, r *Room) { push(tb, r, payload.Push{ID: "wake", Dir: "up"}) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ns := startNATS(t)
			cfg := testConfig("a")
			cfg.Walk.Interval = simulation.MaxInterval
			r := open(t, connect(t, ns), cfg)
			if r.Latest() != 0 {
				t.Fatalf("Latest() = %d before any viewer or push; want 0", r.Latest())
			}
			tt.wake(t, r)
			waitMove(t, r, 1)
		})
	}
}

func TestConfigRefused(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		mod  func(*Config)
	}{
		{"push beyond the box", func(c *Config) { c.Push = 101 }},
		{"negative push", func(c *Config) { c.Push = -1 }},
		{"renew over half the ttl", func(c *Config) { c.LeaseTTL, c.Renew = time.Second, 600*time.Millisecond }},
		{"prefix with a dot", func(c *Config) { c.Prefix = "a.b" }},
		{"bad walk", func(c *Config) { c.Walk.Step = 0 }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig("a")
			tt.mod(&cfg)
			if _, err := cfg.withDefaults(); err == nil {
				t.Errorf("withDefaults(%+v) = nil; want an error", cfg)
			}
		})
	}
}
