package main

// The play room on three instances that share a three-node NATS cluster:
// every instance shows the same moves, and the room survives the loss of
// the instance that makes them.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

// startNATSCluster runs three NATS servers with JetStream on 127.0.0.1,
// clustered with routes as the README's nats-1.conf to nats-3.conf are
// (server names n1 to n3, cluster play, each routed to all three), each
// with its store in a directory of the test's, until the test ends. It
// returns their client URLs, comma-separated as -nats takes them, once
// the cluster is ready for -nats-replicas 3 (see [waitNATSCluster]).
func startNATSCluster(tb testing.TB) string {
	tb.Helper()
	ports := freePorts(tb, 3)
	routes := make([]*url.URL, len(ports))
	for i, port := range ports {
		routes[i] = &url.URL{Scheme: "nats", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	}
	servers := make([]*natsserver.Server, len(ports))
	urls := make([]string, len(ports))
	for i, port := range ports {
		ns, err := natsserver.NewServer(&natsserver.Options{
			ServerName: fmt.Sprintf("n%d", i+1), Host: "127.0.0.1", Port: -1,
			JetStream: true, StoreDir: tb.TempDir(),
			Cluster: natsserver.ClusterOpts{Name: "play", Host: "127.0.0.1", Port: port},
			Routes:  routes, NoSigs: true, NoLog: true,
		})
		if err != nil {
			tb.Fatalf("NATS server n%d: %v", i+1, err)
		}
		ns.Start()
		tb.Cleanup(func() {
			ns.Shutdown()
			ns.WaitForShutdown()
		})
		if !ns.ReadyForConnections(waitBound) {
			tb.Fatalf("NATS server n%d not ready for connections within %v", i+1, waitBound)
		}
		servers[i], urls[i] = ns, ns.ClientURL()
	}
	waitNATSCluster(tb, servers)
	return strings.Join(urls, ",")
}

// waitNATSCluster waits until servers form one JetStream cluster: one of
// them leads the meta group, which counts all of them as its peers, and
// every one is current with it. Only then does a stream with a replica on
// each find its three servers at once. The server offers no event for
// this, so the wait asks its readiness API every 10 ms, as the server's
// own tests do (waitOnClusterReady in its jetstream_helpers_test.go).
func waitNATSCluster(tb testing.TB, servers []*natsserver.Server) {
	tb.Helper()
	ready := func() bool {
		leaders := 0
		for _, ns := range servers {
			if ns.JetStreamIsLeader() {
				leaders++
				if len(ns.JetStreamClusterPeers()) != len(servers) {
					return false
				}
			}
		}
		if leaders != 1 {
			return false
		}
		for _, ns := range servers {
			if !ns.JetStreamIsCurrent() {
				return false
			}
		}
		return true
	}
	start := time.Now()
	deadline := time.NewTimer(waitBound)
	defer deadline.Stop()
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
	for !ready() {
		select {
		case <-poll.C:
		case <-deadline.C:
			tb.Fatalf("NATS cluster: no JetStream meta leader with all %d peers current within %v", len(servers), waitBound)
		}
	}
	tb.Logf("NATS cluster of %d ready in %v", len(servers), time.Since(start).Round(time.Millisecond))
}

// freePorts returns n distinct TCP ports of 127.0.0.1 that were free a
// moment ago, for servers that must know each other's addresses before
// they start (NATS routes) or cannot report the port they got (nginx).
func freePorts(tb testing.TB, n int) []int {
	tb.Helper()
	ports := make([]int, n)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatalf("find a free port: %v", err)
		}
		defer ln.Close() // held until all are found, so that they differ
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return ports
}

// watcher reads one client's /play/events in the background: the moves
// it got, in order, and when each came.
type watcher struct {
	name string
	mu   sync.Mutex // guards what follows
	seqs []uint64
	at   []time.Time
	pos  map[uint64][2]int
	seen map[string]int // push id: how many moves applied it
	err  error          // why reading stopped, once it has
	wake chan struct{}  // closed, and replaced, at each move
	done chan struct{}  // closed when reading stops
}

// watch reads es until it ends.
func watch(name string, es *eventStream) *watcher {
	w := &watcher{name: name, pos: map[uint64][2]int{}, seen: map[string]int{}, wake: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			ev, err := es.dec.Next()
			if err == nil && ev.Name == "viewers" {
				continue
			}
			var m playMoveData
			if err == nil {
				err = decodeStrict(ev.Data, &m)
			}
			w.mu.Lock()
			if err != nil {
				w.err = err
				close(w.wake)
				w.mu.Unlock()
				return
			}
			w.seqs, w.at = append(w.seqs, m.Seq), append(w.at, time.Now())
			w.pos[m.Seq] = [2]int{m.X, m.Y}
			for _, p := range m.Pushes {
				w.seen[p.ID]++
			}
			close(w.wake)
			w.wake = make(chan struct{})
			w.mu.Unlock()
		}
	}()
	return w
}

// waitFor waits until ok, called with w.mu held, holds.
func (w *watcher) waitFor(tb testing.TB, what string, ok func() bool) {
	tb.Helper()
	deadline := time.NewTimer(waitBound)
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
			tb.Fatalf("client %s: not %s within %v", w.name, what, waitBound)
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
		after = w.seqs[len(w.seqs)-1]
		return true
	})
	w.waitFor(tb, fmt.Sprintf("moved %d times more", more), func() bool { return w.seqs[len(w.seqs)-1] >= after+uint64(more) })
}

// last returns the newest seq w got.
func (w *watcher) last() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.seqs) == 0 {
		return 0
	}
	return w.seqs[len(w.seqs)-1]
}

// TestPlayInstances runs three instances on a three-node NATS cluster,
// each stream replicated on all three nodes, with a client on each and
// pushes sent to each in turn; then it stops the instance that makes the
// moves. Every accepted push must show in exactly one move,
// every client's moves must be gap-free and agree on the position of each
// seq, and the moves must go on within 3 s.
func TestPlayInstances(t *testing.T) {
	nats := startNATSCluster(t)
	args := []string{"-nats", nats, "-nats-replicas", "3", "-world-interval", "50ms", "-world-width", "300", "-world-height", "200", "-world-step", "4"}
	servers := make([]*server, 3)
	for i := range servers {
		servers[i] = startServer(t, args...)
	}
	ticker := -1
	for i, s := range servers {
		if s.health(t).Ticker {
			if ticker >= 0 {
				t.Fatalf("instances %d and %d both say they make the moves", ticker, i)
			}
			ticker = i
		}
	}
	if ticker < 0 {
		t.Fatal("no instance says it makes the moves")
	}

	watchers := make([]*watcher, 3)
	streams := make([]*eventStream, 3)
	for i, s := range servers {
		es, _, _ := s.playOpen(t)
		streams[i] = es
		watchers[i] = watch(fmt.Sprint(i), es)
	}
	defer func() { // stop the readers before the servers
		for i, es := range streams {
			es.res.Body.Close()
			<-watchers[i].done
		}
	}()

	var accepted []string
	pushTo := func(s *server, id string) {
		t.Helper()
		status, body, _, err := s.post(context.Background(), "/play/push", fmt.Sprintf(`{"dir":%q,"id":%q}`, []string{"up", "right", "down", "left"}[len(accepted)%4], id))
		if err != nil {
			t.Fatal(err)
		}
		if status != http.StatusAccepted {
			t.Fatalf("push %s = %d %q; want 202", id, status, body)
		}
		accepted = append(accepted, id)
	}
	for i := range 12 {
		pushTo(servers[i%3], "before"+strconv.Itoa(i))
	}
	for _, w := range watchers {
		w.waitShown(t, accepted, 5)
	}

	// Stop the ticker; its client comes back on the next instance with its
	// last event id, as a browser would.
	survivors := []int{(ticker + 1) % 3, (ticker + 2) % 3}
	stoppedAt := watchers[ticker].last()
	servers[ticker].shutdown(t)
	<-watchers[ticker].done
	w := watchers[ticker]
	es, in, _ := servers[survivors[0]].playOpen(t, "Last-Event-ID", strconv.FormatUint(w.last(), 10))
	if !in.Resumed || in.Seq != w.last() {
		t.Errorf("client of the stopped instance: init %+v; want resumed at %d", in, w.last())
	}
	streams[ticker] = es
	w2 := watch(w.name+"'", es)
	watchers[ticker] = w2

	before := len(accepted)
	for i := range 12 {
		pushTo(servers[survivors[i%2]], "after"+strconv.Itoa(i))
	}
	for _, i := range survivors {
		watchers[i].waitShown(t, accepted, 5)
	}
	w2.waitShown(t, accepted[before:], 5)
	ticker2 := -1
	for _, i := range survivors {
		if servers[i].health(t).Ticker {
			ticker2 = i
		}
	}
	if ticker2 < 0 {
		t.Error("no surviving instance says it makes the moves")
	}

	// The checks, over the first client's moves before the stop and every
	// client's after.
	all := append([]*watcher{w}, watchers...)
	agreed := map[uint64][2]int{}
	for _, w := range all {
		w.mu.Lock()
		for i, seq := range w.seqs {
			if i > 0 && seq != w.seqs[i-1]+1 {
				t.Errorf("client %s: move %d after move %d; want no gap and no repeat", w.name, seq, w.seqs[i-1])
			}
			if p, ok := agreed[seq]; ok && p != w.pos[seq] {
				t.Errorf("client %s: move %d at %v; another client saw it at %v", w.name, seq, w.pos[seq], p)
			}
			agreed[seq] = w.pos[seq]
			if i > 0 {
				if gap := w.at[i].Sub(w.at[i-1]); gap > 3*time.Second {
					t.Errorf("client %s: %v between moves %d and %d; want moves again within 3 s", w.name, gap, w.seqs[i-1], seq)
				}
			}
		}
		w.mu.Unlock()
	}
	// Every client saw every push applied once: the client of the stopped
	// instance over its two streams.
	w.mu.Lock()
	w2.mu.Lock()
	for id, n := range w2.seen {
		w.seen[id] += n
	}
	w2.mu.Unlock()
	w.mu.Unlock()
	for _, w := range append([]*watcher{w}, watchers[survivors[0]], watchers[survivors[1]]) {
		for _, id := range accepted {
			if n := w.seen[id]; n != 1 {
				t.Errorf("client %s: push %s applied by %d moves; want exactly one", w.name, id, n)
			}
		}
		if len(w.seen) != len(accepted) {
			t.Errorf("client %s: %d pushes applied; want the %d accepted", w.name, len(w.seen), len(accepted))
		}
	}
	if w2.seqs[0] != w.last()+1 {
		t.Errorf("the resumed client's first move is %d; want %d, the one after its last", w2.seqs[0], w.last()+1)
	}
	if w.last() < stoppedAt {
		t.Errorf("the stopped instance's client got up to move %d; want at least %d", w.last(), stoppedAt)
	}
	var maxGap time.Duration
	for _, i := range survivors {
		w := watchers[i]
		w.mu.Lock()
		for j := 1; j < len(w.at); j++ {
			maxGap = max(maxGap, w.at[j].Sub(w.at[j-1]))
		}
		w.mu.Unlock()
	}
	t.Logf("longest pause between two moves on a surviving client: %v", maxGap)
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
