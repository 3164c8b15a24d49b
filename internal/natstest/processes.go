package natstest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sse-demo/movingobject/internal/apptest"
)

// Processes is a cluster of real nats-server processes with
// JetStream on 127.0.0.1, configured as the operations guide's
// nats-1.conf to nats-3.conf are, for tests that kill a node as an
// operator's machine would lose one (SIGKILL), and start it again on its
// store.
type Processes struct {
	// URLs are the nodes' client URLs, comma-separated as -nats takes them.
	URLs  string
	Nodes []*Node
	bin   string
}

// Node is one node of [Processes].
type Node struct {
	Name      string
	ClientURL string
	conf      string // its config file
	store     string // its store_dir
	sync      string // its sync_interval
	monitor   string // its monitoring endpoint, http://host:port
	proc      *apptest.Program
}

// Patterns of nats-server's log: the ports it took.
var (
	natsClientPort  = regexp.MustCompile(`Listening for client connections on (\S+)`)
	natsMonitorPort = regexp.MustCompile(`Starting http monitor on (\S+)`)
)

// StartProcesses builds nats-server from the module this one
// requires, and runs n nodes of it (n1 to nN, cluster play), each with its
// store in a directory of the test's, until the test ends. A JetStream
// cluster will not start without its routes configured, so each client
// and cluster port is held by a listener of the test's until just before
// its node starts. It returns once every node reports JetStream healthy.
func StartProcesses(tb testing.TB, n int) *Processes {
	tb.Helper()
	stores := make([]string, n)
	for i := range stores {
		stores[i] = filepath.Join(tb.TempDir(), "store")
	}
	return StartProcessesOn(tb, stores, SyncAlways)
}

// The sync settings of [StartProcessesOn]: the operations guide's, and
// nats-server's default (an fsync every two minutes).
const (
	SyncAlways  = "always"
	SyncDefault = ""
)

// StartProcessesOn is [StartProcesses] with a node for each of stores, its
// store there, and sync as the nodes' jetstream sync_interval
// ([SyncAlways], [SyncDefault], or a duration such as "2m").
func StartProcessesOn(tb testing.TB, stores []string, sync string) *Processes {
	tb.Helper()
	n := len(stores)
	c := &Processes{bin: apptest.Build(tb, "github.com/nats-io/nats-server/v2", "nats-server", false)}
	// Each node keeps its client and cluster ports across restarts, as a
	// machine would. They come from below the kernel's ephemeral range, so
	// that no socket of another test takes one while its node is down.
	clients, clusters := make([]net.Listener, n), make([]net.Listener, n)
	routes := make([]string, n)
	for i := range n {
		clients[i], clusters[i] = reservePort(tb), reservePort(tb)
		routes[i] = "nats://" + clusters[i].Addr().String()
	}
	urls := make([]string, n)
	for i, store := range stores {
		node := &Node{Name: fmt.Sprintf("n%d", i+1), conf: filepath.Join(tb.TempDir(), "nats.conf"), store: store, sync: sync}
		node.write(tb, clients[i].Addr().String(), clusters[i].Addr().String(), routes)
		clients[i].Close()
		clusters[i].Close()
		c.start(tb, node)
		c.Nodes, urls[i] = append(c.Nodes, node), node.ClientURL
	}
	c.URLs = strings.Join(urls, ",")
	c.WaitReady(tb)
	return c
}

// write writes the node's config file.
func (node *Node) write(tb testing.TB, listen, cluster string, routes []string) {
	tb.Helper()
	sync := ""
	if node.sync != SyncDefault {
		sync = ", sync_interval: " + node.sync
	}
	conf := fmt.Sprintf(`server_name: %s
listen: %q
http: "127.0.0.1:-1"
jetstream { store_dir: %q%s }
cluster {
  name: play
  listen: %q
  routes: [%s]
}
`, node.Name, listen, node.store, sync, cluster, strings.Join(routes, ", "))
	if err := os.WriteFile(node.conf, []byte(conf), 0o600); err != nil {
		tb.Fatal(err)
	}
}

// start runs node's process and reads the ports it took from its log.
func (c *Processes) start(tb testing.TB, node *Node) {
	tb.Helper()
	node.proc = apptest.StartProcess(tb, exec.Command(c.bin, "-c", node.conf))
	for _, p := range []struct {
		re  *regexp.Regexp
		dst *string
		url string
	}{{natsClientPort, &node.ClientURL, "nats://"}, {natsMonitorPort, &node.monitor, "http://"}} {
		line := node.proc.Log.WaitText(tb, node.Name+": "+p.re.String(), p.re.MatchString)
		*p.dst = p.url + p.re.FindStringSubmatch(line)[1]
	}
}

// Kill kills node i with SIGKILL, which it cannot catch: no leader is
// handed over and nothing is flushed.
func (c *Processes) Kill(tb testing.TB, i int) {
	tb.Helper()
	c.Nodes[i].proc.Kill(tb)
}

// Restart starts node i again, on its store and its client port.
func (c *Processes) Restart(tb testing.TB, i int) {
	tb.Helper()
	c.start(tb, c.Nodes[i])
}

// WaitReady waits until every running node's /healthz answers 200: its
// JetStream is enabled, it knows the meta leader and is current with it.
// nats-server offers no event for this: the wait asks every 10 ms.
func (c *Processes) WaitReady(tb testing.TB) {
	tb.Helper()
	c.waitHealthz(tb, "/healthz")
}

// WaitMeta waits until every running node knows the meta leader and is
// current with it, whatever its streams are: after a power cut that took
// what a node had not fsynced, they may never be current again.
func (c *Processes) WaitMeta(tb testing.TB) {
	tb.Helper()
	c.waitHealthz(tb, "/healthz?js-meta-only=true")
}

// waitHealthz waits until every running node answers path with 200.
func (c *Processes) waitHealthz(tb testing.TB, path string) {
	tb.Helper()
	client := &http.Client{Timeout: time.Second}
	healthy := func(node *Node) bool {
		res, err := client.Get(node.monitor + path)
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	}
	start := time.Now()
	deadline := time.NewTimer(WaitBound)
	defer deadline.Stop()
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
	for _, node := range c.Nodes {
		for !node.proc.Killed() && !healthy(node) {
			select {
			case <-poll.C:
			case <-deadline.C:
				tb.Fatalf("NATS node %s: %s not 200 within %v; its log ends:\n%s", node.Name, path, WaitBound, node.proc.Log.Tail(20))
			}
		}
	}
	tb.Logf("NATS cluster of %d processes healthy in %v", len(c.Nodes), time.Since(start).Round(time.Millisecond))
}

// Pause stops node i with SIGSTOP: it keeps its connections open and
// answers nothing, as a node cut off from the others by the network
// would. The test's end resumes it, if [Processes.Resume] did not.
func (c *Processes) Pause(tb testing.TB, i int) {
	tb.Helper()
	if stopSignal == nil {
		tb.Skip("natstest: no SIGSTOP on this system")
	}
	p := c.Nodes[i].proc
	if err := p.Proc.Signal(stopSignal); err != nil {
		tb.Fatalf("pause node %s: %v", c.Nodes[i].Name, err)
	}
	tb.Cleanup(func() { p.Proc.Signal(continueSignal) })
}

// Resume lets node i, paused by [Processes.Pause], run again.
func (c *Processes) Resume(tb testing.TB, i int) {
	tb.Helper()
	if err := c.Nodes[i].proc.Proc.Signal(continueSignal); err != nil {
		tb.Fatalf("resume node %s: %v", c.Nodes[i].Name, err)
	}
}

// reservePort listens on a free port of 127.0.0.1 below the kernel's
// ephemeral range (from 10000), which the kernel never hands out by
// itself: only a test that asks for that port can take it.
func reservePort(tb testing.TB) net.Listener {
	tb.Helper()
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				low = n
			}
		}
	}
	if low <= 10000 {
		low = 65536 // the ephemeral range starts too low: take any port above 10000
	}
	for range 100 {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", 10000+rand.IntN(low-10000)))
		if err == nil {
			tb.Cleanup(func() { ln.Close() }) // when the test fails before its node starts
			return ln
		}
	}
	tb.Fatalf("no free port of 127.0.0.1 between 10000 and %d in 100 tries", low)
	return nil
}
