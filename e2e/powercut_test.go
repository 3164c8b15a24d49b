package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sse-demo/movingobject/internal/apptest"
	"github.com/sse-demo/movingobject/internal/natsconn"
	"github.com/sse-demo/movingobject/internal/natstest"
	"github.com/sse-demo/movingobject/internal/powercut"
)

// The power-cut tests push, cut the power, start again on the same
// stores, and read the push log. Each runs twice: with the sync the
// project ships (fsync before the 202), where no push answered 202 may be
// lost, and as a negative control with the sync relaxed to nats-server's
// default interval, where the harness must see pushes answered 202 lost.
//
// eachSync runs test once for each, in subtests named always and relaxed,
// with the program's build under way. The two run at once, from
// goroutines of their own rather than as parallel subtests: they are the
// package's longest tests, mostly waiting on NATS, and parallel subtests
// would queue behind every browser test for -parallel's slots.
func eachSync(t *testing.T, test func(t *testing.T, relaxed bool)) {
	t.Parallel()
	apptest.PrebuildProgram()
	var wg sync.WaitGroup
	for _, name := range []string{"always", "relaxed"} {
		wg.Go(func() {
			t.Run(name, func(t *testing.T) { test(t, name == "relaxed") })
		})
	}
	wg.Wait()
}

// cutAfter is how many pushes are answered 202 before a cut.
const cutAfter = 40

// TestPowerCutEmbedded cuts the power under the embedded single node: the
// program (and its NATS server) is killed, what it did not fsync is
// dropped, and it starts again on the same store.
func TestPowerCutEmbedded(t *testing.T) {
	eachSync(t, func(t *testing.T, relaxed bool) {
		disk := powercut.New(t)
		store := filepath.Join(disk.Dir, "store")
		sync := "always"
		if relaxed {
			sync = "2m" // nats-server's default sync_interval
		}
		bin := apptest.BuildProgram(t)
		args := apptest.PlayArgs(store, "-nats-sync", sync, "-max-streams-per-ip", "0")
		app := apptest.StartProgram(t, bin, args...)
		l := startLoad(app, 8, "e", http.StatusAccepted, cutAfter)
		l.wait(t)
		app.Kill(t)
		l.halt()
		disk.Cut(t)

		// The program starts again on what the disk kept, and takes
		// pushes.
		app = apptest.StartProgram(t, bin, args...)
		after := startLoad(app, 1, "after", http.StatusAccepted, 1)
		after.wait(t)
		after.halt()
		if err := app.Shutdown(t); err != nil {
			t.Fatalf("program after the cut: %v; its log ends:\n%s", err, app.Log.Tail(20))
		}

		// Read the log with a NATS server of the test's own.
		nc, stop, err := natsconn.Embedded(store, false, natsconn.SyncAlways, apptest.Logger(app.Log))
		if err != nil {
			t.Fatalf("open the store after the cut: %v", err)
		}
		defer stop()
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		l.check(t, pushLog(t, js, relaxed), relaxed)
	})
}

// TestPowerCutCluster runs a cluster of three nats-server processes,
// each on a Disk of its own, and two programs. In the first part one node
// is cut off from the other two, which SIGSTOP pauses, as a partition
// would. The program that reaches only that node, a minority, must refuse
// every push with 503 and Retry-After. Then that node loses power while
// the others are paused (nats-server issue #7567); the others go on and
// it starts again. In the second part the power is cut under all three
// nodes at once, with the programs killed too; the nodes start again on
// their stores, and then a program.
func TestPowerCutCluster(t *testing.T) {
	eachSync(t, func(t *testing.T, relaxed bool) {
		disks, cluster := cutCluster(t, relaxed)
		bin := apptest.BuildProgram(t)
		alone := apptest.StartProgram(t, bin, clusterArgs(cluster.Nodes[0].ClientURL)...)
		majority := apptest.StartProgram(t, bin, clusterArgs(cluster.Nodes[1].ClientURL+","+cluster.Nodes[2].ClientURL)...)
		before := startLoad(majority, 4, "m1", http.StatusAccepted, cutAfter/2)
		before.wait(t)
		before.halt()

		// The partition, and the minority node's power cut.
		cluster.Pause(t, 1)
		cluster.Pause(t, 2)
		cutOff := startLoad(alone, 4, "n1", http.StatusServiceUnavailable, 4)
		cutOff.wait(t)
		cutOff.halt()
		if n := cutOff.count(); n > 0 {
			t.Errorf("the program that reaches only the minority node answered %d pushes 202; want 503 for each", n)
		}
		alone.Kill(t)
		cluster.Kill(t, 0)
		disks[0].Cut(t)
		cluster.Resume(t, 1)
		cluster.Resume(t, 2)
		cluster.Restart(t, 0)
		after := startLoad(majority, 4, "m2", http.StatusAccepted, cutAfter/2)
		after.wait(t)
		majority.Kill(t)
		after.halt()
		_, js := natstest.Dial(t, cluster.URLs)
		if !relaxed { // the majority kept every push in memory: the control loses nothing yet
			t.Log("after the partition and the minority node's power cut:")
			merged(before, cutOff).check(t, pushLog(t, js, false), false)
		}

		// All three at once.
		cutAll(t, disks, cluster, relaxed)
		t.Log("after the power cut under all three nodes:")
		merged(before, cutOff, after).check(t, pushLog(t, js, relaxed), relaxed)
		if !relaxed { // the cluster and the program recover
			app := apptest.StartProgram(t, bin, clusterArgs(cluster.URLs)...)
			again := startLoad(app, 1, "again", http.StatusAccepted, 1)
			again.wait(t)
			again.halt()
		}
	})
}

// cutCluster starts three nats-server processes, each with its store on
// a Disk of its own, with sync_interval always, or nats-server's default
// when relaxed.
func cutCluster(tb testing.TB, relaxed bool) ([]*powercut.Disk, *natstest.Processes) {
	tb.Helper()
	disks := make([]*powercut.Disk, 3)
	stores := make([]string, len(disks))
	for i := range disks {
		disks[i] = powercut.New(tb)
		stores[i] = filepath.Join(disks[i].Dir, "store")
	}
	sync := natstest.SyncAlways
	if relaxed {
		sync = natstest.SyncDefault
	}
	return disks, natstest.StartProcessesOn(tb, stores, sync)
}

// cutAll kills every node, cuts the power under each, and starts them
// again on what their disks kept. It waits until the cluster is healthy,
// or, when the sync was relaxed, until it has a meta leader: the streams
// may never be current again.
func cutAll(tb testing.TB, disks []*powercut.Disk, cluster *natstest.Processes, relaxed bool) {
	tb.Helper()
	for i := range disks {
		cluster.Kill(tb, i)
	}
	for i, d := range disks {
		d.Cut(tb)
		cluster.Restart(tb, i)
	}
	if relaxed {
		cluster.WaitMeta(tb)
		return
	}
	cluster.WaitReady(tb)
}

// clusterArgs are the program's flags for the NATS servers at urls.
func clusterArgs(urls string) []string {
	return []string{"-nats", urls, "-max-streams-per-ip", "0",
		"-world-interval", "50ms", "-world-width", "300", "-world-height", "200", "-world-step", "4"}
}

// load pushes to /play/push from clients at their own addresses, each
// waiting for its answer before it sends the next, eight a second (under
// the limit of ten), and records the answers.
type load struct {
	mu       sync.Mutex
	accepted [][]string      // per client, the ids answered 202, in order
	maybe    map[string]bool // no answer, or 503: the log holds each once at most
	refused  int             // 503s with Retry-After
	bad      []string        // any other answer, or a 503 without Retry-After
	status   int             // the answer that enough counts
	n, want  int             // answers of status so far, and how many close enough
	enough   chan struct{}
	stop     context.CancelFunc
	wg       sync.WaitGroup
}

// startLoad starts clients clients pushing to s, their ids starting with
// tag, until halt. Its wait returns after want answers of status.
func startLoad(s *apptest.Program, clients int, tag string, status, want int) *load {
	ctx, stop := context.WithCancel(context.Background())
	l := &load{accepted: make([][]string, clients), maybe: map[string]bool{}, status: status, want: want, enough: make(chan struct{}), stop: stop}
	for c := range clients {
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			DisableKeepAlives: true,
			DialContext:       (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(2+c))}}).DialContext,
		}}
		l.wg.Go(func() {
			pace := time.NewTicker(125 * time.Millisecond)
			defer pace.Stop()
			for n := 0; ; n++ {
				id := fmt.Sprintf("%s-%d-%d", tag, c, n)
				status, retryAfter, body := s.PushFrom(ctx, client, id, apptest.Dirs[n%len(apptest.Dirs)])
				l.record(c, id, status, retryAfter, body)
				select {
				case <-ctx.Done():
					return
				case <-pace.C:
				}
			}
		})
	}
	return l
}

// record records the answer to push id of client c.
func (l *load) record(c int, id string, status int, retryAfter, body string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if status == l.status {
		if l.n++; l.n == l.want {
			close(l.enough)
		}
	}
	switch {
	case status == http.StatusAccepted:
		l.accepted[c] = append(l.accepted[c], id)
	case status == http.StatusServiceUnavailable && retryAfter != "":
		l.refused++
		l.maybe[id] = true
	case status == 0: // no answer: the program was killed, or halt
		l.maybe[id] = true
	default:
		l.bad = append(l.bad, fmt.Sprintf("%s: %d (Retry-After %q) %q", id, status, retryAfter, body))
	}
}

// wait waits until want pushes were answered status.
func (l *load) wait(tb testing.TB) {
	tb.Helper()
	select {
	case <-l.enough:
	case <-time.After(apptest.WaitBound):
		l.halt()
		tb.Fatalf("%d pushes answered %d within %v; want %d (%d refused, others %q)", l.n, l.status, apptest.WaitBound, l.want, l.refused, l.bad)
	}
}

// halt stops the clients, and the pushes they are waiting on (which
// count as unanswered), and waits for them.
func (l *load) halt() {
	l.stop()
	l.wg.Wait()
}

// check checks the push log against the answers: every push answered 202
// is in it, in the order each client sent it, and no push is in it twice.
// When lossy, some push answered 202 must be missing instead: the
// negative control, which shows that the harness sees a loss.
func (l *load) check(tb testing.TB, logged []string, lossy bool) {
	tb.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.bad) > 0 {
		tb.Errorf("pushes answered neither 202 nor 503 with Retry-After (nor unanswered): %q", l.bad)
	}
	at := map[string]int{}
	for i, id := range logged {
		if _, twice := at[id]; twice {
			tb.Errorf("push %s is in the log twice", id)
		}
		at[id] = i
	}
	accepted, lost := 0, 0
	for c, ids := range l.accepted {
		last := -1
		for _, id := range ids {
			accepted++
			i, ok := at[id]
			switch {
			case !ok:
				lost++
				if !lossy {
					tb.Errorf("push %s was answered 202 and is not in the log after the cut", id)
				}
			case i < last:
				tb.Errorf("client %d: push %s is in the log before the push it sent earlier", c, id)
			default:
				last = i
			}
		}
	}
	maybeLogged := 0
	for id := range l.maybe {
		if _, ok := at[id]; ok {
			maybeLogged++
		}
	}
	unknown := len(at) - (accepted - lost) - maybeLogged // neither answered 202 nor maybe: sent after the cut
	tb.Logf("power cut: %d pushes answered 202, %d of them lost; %d refused with 503; %d unanswered; the log holds %d pushes (%d of them sent after the cut)",
		accepted, lost, l.refused, len(l.maybe)-l.refused, len(logged), unknown)
	if lossy && lost == 0 {
		tb.Errorf("negative control: all %d pushes answered 202 survived a cut with the sync relaxed; want some lost, or the harness cannot see a loss", accepted)
	}
}

// count returns how many pushes were answered 202.
func (l *load) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, ids := range l.accepted {
		n += len(ids)
	}
	return n
}

// merged returns the answers of loads, halted, as one load's.
func merged(loads ...*load) *load {
	m := &load{maybe: map[string]bool{}}
	for _, l := range loads {
		l.mu.Lock()
		m.accepted = append(m.accepted, l.accepted...)
		for id := range l.maybe {
			m.maybe[id] = true
		}
		m.refused += l.refused
		m.bad = append(m.bad, l.bad...)
		l.mu.Unlock()
	}
	return m
}

// pushLog returns the ids in the play room's push log, in its order; none
// when the cut took the log itself. After a cut with the sync relaxed,
// a log that cannot be read (its stream has no leader) counts as lost.
func pushLog(tb testing.TB, js jetstream.JetStream, relaxed bool) []string {
	tb.Helper()
	bound := apptest.WaitBound
	if relaxed {
		bound = 3 * time.Second // the control needs a loss, not a recovery
	}
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	s, err := js.Stream(ctx, "PLAY_PUSHES")
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil && relaxed {
		tb.Logf("stream PLAY_PUSHES cannot be read after the cut (%v): its pushes count as lost", err)
		return nil
	}
	if err != nil {
		tb.Fatalf("stream PLAY_PUSHES: %v", err)
	}
	st := s.CachedInfo().State
	var ids []string
	for seq := st.FirstSeq; st.Msgs > 0 && seq <= st.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			tb.Fatalf("PLAY_PUSHES %d: %v", seq, err)
		}
		var p struct{ ID string }
		if err := json.Unmarshal(m.Data, &p); err != nil {
			tb.Fatalf("PLAY_PUSHES %d: %q: %v", seq, m.Data, err)
		}
		ids = append(ids, p.ID)
	}
	return ids
}
