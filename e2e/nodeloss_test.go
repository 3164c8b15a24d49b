package e2e

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sse-demo/movingobject/internal/apptest"
	"github.com/sse-demo/movingobject/internal/natstest"
)

var nodeLossRun = flag.Duration("node-loss-run", 0, "TestPlayNATSNodeLoss: run the operations guide's scenario for this long (26s), the node killed 9 s in and restarted 3 s later; 0 runs a short one")

// The play room's JetStream resources, as package room names them.
var playResources = []string{"PLAY_PUSHES", "PLAY_MOVES", "KV_PLAY_LEASE"}

// TestPlayNATSNodeLoss runs the operations guide's cluster, with default
// flags: three instances of the program on three nats-server processes,
// behind nginx, with pushes from ten client addresses at five a second
// each. It kills (SIGKILL) the node that leads the push log, and starts it
// again on its store 3 s later. Every /play stream and bucket must have 3
// copies; no push answered 202 may be lost or applied twice; a push that
// is refused gets 503 with Retry-After; at least half are accepted; and
// the moves go on after one pause of at most 12 s, gap-free (checkRoom).
func TestPlayNATSNodeLoss(t *testing.T) {
	t.Parallel()
	run, killAt := 9*time.Second, 3*time.Second
	if *nodeLossRun > 0 {
		run, killAt = *nodeLossRun, 9*time.Second
	}
	restartAt := killAt + 3*time.Second
	apptest.PrebuildProgram() // while the NATS cluster starts
	nginx := nginxPath(t)
	cluster := natstest.StartProcesses(t, 3)
	bin := apptest.BuildProgram(t)
	args := []string{"-nats", cluster.URLs, "-resume-key", rand.Text(), "-trusted-proxy", "127.0.0.1",
		"-max-streams-per-ip", "0", "-world-interval", "50ms", "-world-width", "300", "-world-height", "200", "-world-step", "4"}
	servers := make([]*apptest.Program, 3)
	for i := range servers {
		servers[i] = apptest.StartProgram(t, bin, args...)
	}
	lb := startNginx(t, nginx, servers)
	_, js := natstest.Dial(t, cluster.URLs)
	checkCopies(t, js, 3)
	watchers := make([]*watcher, 6)
	for i := range watchers {
		watchers[i] = watch(t, fmt.Sprint(i), lb, lb)
	}

	// Ten client addresses, five pushes a second each, through nginx.
	var (
		mu       sync.Mutex // guards p and refused
		p        pushes
		refused  int
		noRetry  []string      // 503s without Retry-After
		failures []string      // answers that are none of 202, 503, 502, 504
		slowest  time.Duration // the longest a 503 took
	)
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for a := range 10 {
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			DisableKeepAlives: true,
			DialContext:       (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+a))}}).DialContext,
		}}
		wg.Go(func() {
			pace := time.NewTicker(200 * time.Millisecond)
			defer pace.Stop()
			for n := 0; ; n++ {
				select {
				case <-ctx.Done():
					return
				case <-pace.C:
				}
				id := fmt.Sprintf("a%d-%d", a, n)
				sent := time.Now()
				status, retryAfter, body := lb.PushFrom(context.Background(), client, id, apptest.Dirs[n%len(apptest.Dirs)])
				took := time.Since(sent)
				mu.Lock()
				switch status {
				case http.StatusAccepted:
					p.accepted = append(p.accepted, id)
				case http.StatusServiceUnavailable:
					refused++
					slowest = max(slowest, took)
					if retryAfter == "" {
						noRetry = append(noRetry, id)
					}
					p.maybe = append(p.maybe, id) // the log may hold it: applied once at most
				case http.StatusBadGateway, http.StatusGatewayTimeout, 0:
					p.maybe = append(p.maybe, id)
				default:
					failures = append(failures, fmt.Sprintf("%s: %d %q", id, status, body))
				}
				mu.Unlock()
			}
		})
	}

	start := time.Now()
	leader := pushLeader(t, js, cluster)
	time.Sleep(killAt) // the scenario's timeline, not a wait for an event
	cluster.Kill(t, leader)
	killed := time.Now()
	t.Logf("killed node %s, the push log's leader, %v in", cluster.Nodes[leader].Name, killed.Sub(start).Round(time.Millisecond))
	time.Sleep(restartAt - killAt)
	cluster.Restart(t, leader)
	time.Sleep(run - restartAt)
	stop()
	wg.Wait()

	cluster.WaitReady(t)
	checkCopies(t, js, 3)
	mu.Lock()
	defer mu.Unlock()
	for _, w := range watchers {
		w.waitShown(t, p.accepted, 5)
	}
	total := len(p.accepted) + len(p.maybe) + len(failures)
	if len(failures) > 0 {
		t.Errorf("pushes answered neither 202 nor 503 (nor a proxy's 502/504): %q", failures)
	}
	if len(noRetry) > 0 {
		t.Errorf("pushes refused with 503 but no Retry-After: %q", noRetry)
	}
	if 2*len(p.accepted) < total {
		t.Errorf("%d of %d pushes accepted; want at least half", len(p.accepted), total)
	}
	// Each instance counts what it answered: the 503s are those counted
	// unavailable, the 202s those counted stored or duplicate.
	counted := map[string]int{}
	for _, s := range servers {
		for _, result := range []string{"stored", "duplicate", "unavailable"} {
			counted[result] += metricValue(t, s, fmt.Sprintf(`sse_play_pushes_total{result=%q}`, result))
		}
	}
	if counted["unavailable"] != refused || counted["stored"]+counted["duplicate"] != len(p.accepted) {
		t.Errorf("instances counted %v pushes; the clients got %d 202s and %d 503s", counted, len(p.accepted), refused)
	}
	longest := checkRoomPaused(t, watchers, &p, 12*time.Second)
	logRoomOnFailure(t, servers)
	t.Logf("node loss: %d pushes, %d accepted, %d refused with 503 (the slowest in %v), %d unanswered; longest pause between two moves of a client %v",
		total, len(p.accepted), refused, slowest.Round(time.Millisecond), len(p.maybe)-refused, longest.Round(time.Millisecond))
}

// checkCopies checks that every JetStream resource of the play room has
// want copies, each current.
func checkCopies(tb testing.TB, js jetstream.JetStream, want int) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), apptest.WaitBound)
	defer cancel()
	for _, name := range playResources {
		s, err := js.Stream(ctx, name)
		if err != nil {
			tb.Errorf("stream %s: %v", name, err)
			continue
		}
		info := s.CachedInfo()
		if info.Config.Replicas != want || info.Cluster == nil || len(info.Cluster.Replicas)+1 != want {
			tb.Errorf("stream %s: %d copies configured, cluster %+v; want %d", name, info.Config.Replicas, info.Cluster, want)
		}
	}
}

// pushLeader returns the index of the node that leads the push log.
func pushLeader(tb testing.TB, js jetstream.JetStream, c *natstest.Processes) int {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), apptest.WaitBound)
	defer cancel()
	s, err := js.Stream(ctx, "PLAY_PUSHES")
	if err != nil {
		tb.Fatal(err)
	}
	if info := s.CachedInfo(); info.Cluster != nil {
		for i, node := range c.Nodes {
			if node.Name == info.Cluster.Leader {
				return i
			}
		}
	}
	tb.Fatalf("stream PLAY_PUSHES: no leader among the nodes")
	return -1
}

// metricValue returns the value of series (name{labels}) in the metrics
// of s, 0 when it has none.
func metricValue(tb testing.TB, s *apptest.Program, series string) int {
	tb.Helper()
	res := s.Get(tb, "/metrics")
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatalf("GET /metrics: %v", err)
	}
	for line := range strings.Lines(string(body)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), series+" "); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				tb.Fatalf("GET /metrics: %s = %q, not a count", series, v)
			}
			return n
		}
	}
	return 0
}
