package e2e

// The play room on three instances that share a three-node NATS cluster:
// every instance shows the same moves, and the room survives the loss of
// the instance that makes them.

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sse-demo/movingobject/internal/apptest"
	"github.com/sse-demo/movingobject/internal/logwatch"
	"github.com/sse-demo/movingobject/internal/natstest"
	"github.com/sse-demo/movingobject/server/servertest"
	"github.com/sse-demo/movingobject/stream/sse"
)

// watcher reads one client's /play/events in the background, as a
// browser's EventSource does: when a stream ends, it opens another on its
// next server with the seq of the last move it got as Last-Event-ID, and
// requires that init to say so. Its record runs on across streams.
type watcher struct {
	name string
	next *apptest.Program // where it reconnects; nil: it stops when its stream ends

	mu      sync.Mutex // guards what follows
	start   uint64     // the seq of its first init
	seqs    []uint64
	at      []time.Time // when each move came
	ts      []int64     // each move's ts: when the ticker made it
	pos     map[uint64][2]int
	seen    map[string]int // push id: how many moves applied it
	streams int            // streams opened
	err     error          // why reading stopped, once it has
	wake    chan struct{}  // closed, and replaced, at each move
	done    chan struct{}  // closed when reading stops
}

// watch opens /play/events on s for a client called name, and reads it
// in the background until the test ends; when the stream ends, the
// client reconnects to next, unless that is nil.
func watch(tb testing.TB, name string, s, next *apptest.Program) *watcher {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &watcher{name: name, next: next, pos: map[uint64][2]int{}, seen: map[string]int{}, streams: 1,
		wake: make(chan struct{}), done: make(chan struct{})}
	res, dec, in, err := playConnect(ctx, s, "")
	if err != nil {
		cancel()
		tb.Fatalf("client %s: %v", name, err)
	}
	w.start = in.Seq
	go w.read(ctx, res, dec)
	tb.Cleanup(func() { // before the servers: cleanups run last first
		cancel()
		<-w.done
	})
	return w
}

// playConnect opens /play/events on s, resuming after lastID unless it
// is empty, and reads its init. It returns errors rather than failing a
// test, for watchers that reconnect on goroutines of their own.
func playConnect(ctx context.Context, s *apptest.Program, lastID string) (*http.Response, *sse.Decoder, apptest.Init, error) {
	var header []string
	if lastID != "" {
		header = []string{"Last-Event-ID", lastID}
	}
	var in apptest.Init
	res, err := s.Request(ctx, http.MethodGet, "/play/events", append(header, "Accept", "text/event-stream")...)
	if err != nil {
		return nil, nil, in, err
	}
	if res.StatusCode != http.StatusOK {
		res.Body.Close()
		return nil, nil, in, fmt.Errorf("GET /play/events (Last-Event-ID %q): status %s; want 200", lastID, res.Status)
	}
	dec := sse.NewDecoder(res.Body)
	if _, err := apptest.ReadEvent(dec, "init", &in); err != nil {
		res.Body.Close()
		return nil, nil, in, fmt.Errorf("GET /play/events (Last-Event-ID %q): %w", lastID, err)
	}
	return res, dec, in, nil
}

// read records the moves of each stream in turn, until one ends with no
// next server to go to, or its reconnection fails, or ctx is done.
func (w *watcher) read(ctx context.Context, res *http.Response, dec *sse.Decoder) {
	defer close(w.done)
	for {
		err := w.record(dec)
		res.Body.Close()
		if ctx.Err() == nil && w.next != nil {
			last := w.last()
			var in apptest.Init
			res, dec, in, err = playConnect(ctx, w.next, strconv.FormatUint(last, 10))
			if err == nil && (!in.Resumed || in.Seq != last) {
				res.Body.Close()
				err = fmt.Errorf("reconnected: init %+v; want resumed at %d", in, last)
			}
			if err == nil {
				w.mu.Lock()
				w.streams++
				w.mu.Unlock()
				continue
			}
		}
		w.mu.Lock()
		w.err = err
		close(w.wake)
		w.mu.Unlock()
		return
	}
}

// record records the moves of one stream until it ends, skipping its
// viewers events, and returns why it ended.
func (w *watcher) record(dec *sse.Decoder) error {
	for {
		ev, err := dec.Next()
		if err != nil {
			return err
		}
		if ev.Name == "viewers" {
			continue
		}
		var m apptest.PlayMoveData
		if err := decodeStrict(ev.Data, &m); err != nil {
			return err
		}
		w.mu.Lock()
		w.seqs, w.at, w.ts = append(w.seqs, m.Seq), append(w.at, time.Now()), append(w.ts, m.TS)
		w.pos[m.Seq] = [2]int{m.X, m.Y}
		for _, p := range m.Pushes {
			w.seen[p.ID]++
		}
		close(w.wake)
		w.wake = make(chan struct{})
		w.mu.Unlock()
	}
}

// waitFor waits until ok, called with w.mu held, holds.
func (w *watcher) waitFor(tb testing.TB, what string, ok func() bool) {
	tb.Helper()
	deadline := time.NewTimer(apptest.WaitBound)
	defer deadline.Stop()
	for {
		w.mu.Lock()
		done, wake, err := ok(), w.wake, w.err
		w.mu.Unlock()
		if done {
			return
		}
		if err != nil {
			tb.Fatalf("client %s: stream ended (%v) before %s", w.name, err, what)
		}
		select {
		case <-wake:
		case <-deadline.C:
			tb.Fatalf("client %s: not %s within %v", w.name, what, apptest.WaitBound)
		}
	}
}

// waitShown waits until w has shown every push in ids, and then more
// moves.
func (w *watcher) waitShown(tb testing.TB, ids []string, more int) {
	tb.Helper()
	var after uint64
	w.waitFor(tb, "shown every accepted push", func() bool {
		for _, id := range ids {
			if w.seen[id] == 0 {
				return false
			}
		}
		after = w.lastLocked()
		return true
	})
	w.waitFor(tb, fmt.Sprintf("moved %d times more", more), func() bool { return w.lastLocked() >= after+uint64(more) })
}

// last returns the newest seq w got.
func (w *watcher) last() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastLocked()
}

// lastLocked returns the newest seq w got, that of its first init before
// any move; w.mu is held.
func (w *watcher) lastLocked() uint64 {
	if len(w.seqs) == 0 {
		return w.start
	}
	return w.seqs[len(w.seqs)-1]
}

// opened returns how many streams w opened.
func (w *watcher) opened() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.streams
}

// resumed finds the first move that w got of those made after moment t
// (by their ts), and returns how long after t it was made, and came to
// w; ok is false when w has none.
func (w *watcher) resumed(t time.Time) (made, came time.Duration, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, ts := range w.ts {
		if ts > t.UnixMilli() {
			return time.UnixMilli(ts).Sub(t), w.at[i].Sub(t), true
		}
	}
	return 0, 0, false
}

// pushes are the pushes a test sent, by their answer.
type pushes struct {
	accepted []string // 202: each must be applied by exactly one move
	maybe    []string // 502 or 504, a proxy's: the instance went away while it was sent; applied once at most
}

// send posts a push with id to s, with header (name, value pairs), and
// records it by its answer, which must be 202, or a proxy's 502 or 504.
func (p *pushes) send(tb testing.TB, s *apptest.Program, id string, header ...string) {
	tb.Helper()
	n := len(p.accepted) + len(p.maybe)
	status, body, _, err := s.Post(context.Background(), "/play/push", fmt.Sprintf(`{"dir":%q,"id":%q}`, apptest.Dirs[n%len(apptest.Dirs)], id), header...)
	switch {
	case err != nil:
		tb.Fatal(err)
	case status == http.StatusAccepted:
		p.accepted = append(p.accepted, id)
	case status == http.StatusBadGateway || status == http.StatusGatewayTimeout:
		tb.Logf("push %s = %d %q: the proxy lost the instance; it may or may not be applied", id, status, body)
		p.maybe = append(p.maybe, id)
	default:
		tb.Fatalf("push %s = %d %q; want 202", id, status, body)
	}
}

// msgTickerStarted is what an instance logs each time it starts making
// moves: after it took the lease, or held it again after a gap.
const msgTickerStarted = "ticker started"

// onlyTicker returns the index of the one server of servers that says it
// makes the moves, failing the test if two do at once. It asks each
// server's /healthz after every time one logs that its ticker started: a
// lease taken or renewed while the cluster is slow may have run out by
// the time the answer came, and then the ticker stops until it holds the
// lease again.
func onlyTicker(tb testing.TB, servers []*apptest.Program) int {
	tb.Helper()
	logs := make([]*logwatch.Watch, len(servers))
	for i, s := range servers {
		logs[i] = s.Log
	}
	started := 0
	for {
		started = logwatch.WaitTotal(tb, logs, msgTickerStarted, started+1)
		ticker := -1
		for i, s := range servers {
			if s.Health(tb).Ticker {
				if ticker >= 0 {
					tb.Fatalf("instances %d and %d both say they make the moves", ticker, i)
				}
				ticker = i
			}
		}
		if ticker >= 0 {
			return ticker
		}
		tb.Logf("tickers started %d times, and no instance says it holds the lease now; waiting for the next start", started)
	}
}

// checkRoom checks what the clients of one play room saw, over all their
// streams: each client's moves follow its first init with no gap and no
// repeat; every client saw the same position for a seq; no client waited
// over 3 s between two moves; every accepted push was applied by exactly
// one move, every maybe push by one at most, and no other push by any. It
// returns the longest wait between two moves of a client.
func checkRoom(tb testing.TB, watchers []*watcher, p *pushes) time.Duration {
	tb.Helper()
	return checkRoomPaused(tb, watchers, p, 0)
}

// checkRoomPaused checks as checkRoom does, but lets each client wait
// once for longer than 3 s between two moves, up to pause (the log
// electing a leader after losing a node); 0 allows no such pause.
func checkRoomPaused(tb testing.TB, watchers []*watcher, p *pushes, pause time.Duration) time.Duration {
	tb.Helper()
	agreed := map[uint64][2]int{}
	var longest time.Duration
	for _, w := range watchers {
		w.mu.Lock()
		prev := w.start
		long := 0 // waits of over 3 s
		for i, seq := range w.seqs {
			if seq != prev+1 {
				tb.Errorf("client %s: move %d after move %d; want no gap and no repeat", w.name, seq, prev)
			}
			prev = seq
			if pos, ok := agreed[seq]; ok && pos != w.pos[seq] {
				tb.Errorf("client %s: move %d at %v; another client saw it at %v", w.name, seq, w.pos[seq], pos)
			}
			agreed[seq] = w.pos[seq]
			if i > 0 {
				gap := w.at[i].Sub(w.at[i-1])
				longest = max(longest, gap)
				if gap > 3*time.Second {
					if long++; long > 1 || gap > pause {
						tb.Errorf("client %s: %v between moves %d and %d; want moves again within 3 s (once within %v)", w.name, gap, w.seqs[i-1], seq, pause)
					}
				}
			}
		}
		for _, id := range p.accepted {
			if n := w.seen[id]; n != 1 {
				tb.Errorf("client %s: push %s applied by %d moves; want exactly one", w.name, id, n)
			}
		}
		for _, id := range p.maybe {
			if n := w.seen[id]; n > 1 {
				tb.Errorf("client %s: push %s (no answer) applied by %d moves; want one at most", w.name, id, n)
			}
		}
		for id := range w.seen {
			if !slices.Contains(p.accepted, id) && !slices.Contains(p.maybe, id) {
				tb.Errorf("client %s: push %s applied; it was never sent", w.name, id)
			}
		}
		w.mu.Unlock()
	}
	return longest
}

// TestPlayInstances runs three instances on a three-node NATS cluster,
// each stream replicated on all three nodes, with a client on each and
// pushes sent to each in turn; then it stops the instance that makes the
// moves, and its client comes back on the next instance with its last
// event id, as a browser would. Every accepted push must show in exactly
// one move, every client's moves must be gap-free and agree on the
// position of each seq, and the moves must go on within 3 s (see
// [checkRoom]).
func TestPlayInstances(t *testing.T) {
	t.Parallel()
	nats := natstest.StartCluster(t, 3).URLs
	args := []string{"-nats", nats, "-world-interval", "50ms", "-world-width", "300", "-world-height", "200", "-world-step", "4"}
	servers := make([]*apptest.Program, 3)
	for i := range servers {
		servers[i] = servertest.Start(t, args...)
	}
	ticker := onlyTicker(t, servers)
	watchers := make([]*watcher, 3)
	for i, s := range servers {
		watchers[i] = watch(t, fmt.Sprint(i), s, servers[(i+1)%3])
	}

	var p pushes
	for i := range 12 {
		p.send(t, servers[i%3], "before"+strconv.Itoa(i))
	}
	for _, w := range watchers {
		w.waitShown(t, p.accepted, 5)
	}

	survivors := []*apptest.Program{servers[(ticker+1)%3], servers[(ticker+2)%3]}
	servers[ticker].Shutdown(t)
	for i := range 12 {
		p.send(t, survivors[i%2], "after"+strconv.Itoa(i))
	}
	for _, w := range watchers {
		w.waitShown(t, p.accepted, 5)
	}
	if w := watchers[ticker]; w.opened() != 2 {
		t.Errorf("client %s of the stopped instance opened %d streams; want 2", w.name, w.opened())
	}
	onlyTicker(t, survivors)
	if len(p.maybe) > 0 {
		t.Errorf("pushes %q not accepted; want every push accepted with no proxy in the way", p.maybe)
	}
	t.Logf("longest pause between two moves of a client: %v", checkRoom(t, watchers, &p))
}

// TestPlayKill runs docs/operations.md's setup: three instances of the
// program, built and started as processes of their own, on a three-node
// NATS cluster, behind nginx with its config. Clients read
// /play/events and send pushes through nginx, which spreads them over the
// instances; then the instance that makes the moves is killed with
// SIGKILL, so that it cannot give up its lease. The clients whose stream
// was on it come back through nginx with their last event id, as a
// browser would; another instance takes the lease over and says so; the
// moves go on within 3 s of the kill; and [checkRoom] holds.
func TestPlayKill(t *testing.T) {
	t.Parallel()
	apptest.PrebuildProgram() // while the NATS cluster starts
	nginx := nginxPath(t)
	nats := natstest.StartCluster(t, 3).URLs
	bin := apptest.BuildProgram(t)
	args := []string{"-nats", nats, "-resume-key", rand.Text(), "-trusted-proxy", "127.0.0.1",
		"-max-streams-per-ip", "0", "-world-interval", "50ms", "-world-width", "300", "-world-height", "200", "-world-step", "4"}
	servers := make([]*apptest.Program, 3)
	for i := range servers {
		servers[i] = apptest.StartProgram(t, bin, args...)
	}
	lb := startNginx(t, nginx, servers)
	ticker := onlyTicker(t, servers)
	watchers := make([]*watcher, 6) // nginx sends two to each instance, in turn
	for i := range watchers {
		watchers[i] = watch(t, fmt.Sprint(i), lb, lb)
	}

	// Pushes as the page sends them, paced under nginx's limit of 10 a
	// second from one address (the test's).
	var p pushes
	pace := time.NewTicker(120 * time.Millisecond)
	defer pace.Stop()
	push := func(prefix string, n int) {
		for i := range n {
			<-pace.C
			p.send(t, lb, prefix+strconv.Itoa(i), "Origin", lb.URL, "Sec-Fetch-Site", "same-origin")
		}
	}
	push("before", 9)
	for _, w := range watchers {
		w.waitShown(t, p.accepted, 5)
	}

	// While the room has no ticker, pushes still go into the log.
	killed := time.Now()
	servers[ticker].Kill(t)
	push("after", 9)
	for _, w := range watchers {
		w.waitShown(t, p.accepted, 5)
	}
	onlyTicker(t, slices.Delete(slices.Clone(servers), ticker, ticker+1))

	var made, firstCame, lastCame time.Duration
	reconnected := 0
	for _, w := range watchers {
		m, c, ok := w.resumed(killed)
		switch {
		case !ok:
			t.Errorf("client %s: no move made after the kill", w.name)
		case c > 3*time.Second:
			t.Errorf("client %s: the first move after the kill came %v after it; want within 3 s", w.name, c)
		}
		made = m // the same move for every client: their moves agree
		if firstCame == 0 || c < firstCame {
			firstCame = c
		}
		lastCame = max(lastCame, c)
		if w.opened() > 1 {
			reconnected++
		}
	}
	if reconnected == 0 {
		t.Error("no client reconnected; want those of the killed instance to")
	}
	for i, s := range servers {
		if n := s.Log.Count("push stored"); n == 0 {
			t.Errorf("instance %d stored no push; want nginx to spread them over the instances", i)
		}
	}
	longest := checkRoom(t, watchers, &p)
	logRoomOnFailure(t, servers)
	t.Logf("takeover after SIGKILL: next move made %v after the kill, reaching the clients %v to %v after it; "+
		"%d of %d clients reconnected; longest pause between two moves of a client %v; %d pushes accepted, %d unanswered",
		made.Round(time.Millisecond), firstCame.Round(time.Millisecond), lastCame.Round(time.Millisecond),
		reconnected, len(watchers), longest.Round(time.Millisecond), len(p.accepted), len(p.maybe))
}

// logRoomOnFailure logs, once t has failed, what each instance said of
// its play room (the lease, the log, the followers), to tell why.
func logRoomOnFailure(t *testing.T, servers []*apptest.Program) {
	t.Helper()
	if !t.Failed() {
		return
	}
	for i, s := range servers {
		for _, l := range s.Log.All() {
			if l["room"] != "" && l["level"] != "DEBUG" {
				t.Logf("instance %d: %s %s %s %v", i, l["time"], l["level"], l["msg"], l)
			}
		}
	}
}

// decodeStrict decodes JSON data into v; a field that v lacks is an error.
func decodeStrict(data string, v any) error {
	dec := json.NewDecoder(strings.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("data %q: %w", data, err)
	}
	return nil
}
