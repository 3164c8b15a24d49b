package natstest

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Dial connects to the NATS servers at urls (comma-separated), as a
// client that reconnects for as long as the test lasts, and returns the
// connection and its JetStream. The connection closes when the test ends.
func Dial(tb testing.TB, urls string) (*nats.Conn, jetstream.JetStream) {
	tb.Helper()
	nc, err := nats.Connect(urls, nats.MaxReconnects(-1))
	if err != nil {
		tb.Fatalf("connect to NATS at %s: %v", urls, err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatalf("jetstream: %v", err)
	}
	return nc, js
}

// Cluster is a cluster of NATS servers with JetStream, in the test's
// process, on ports of 127.0.0.1 that each server picked itself.
type Cluster struct {
	// URLs are the servers' client URLs, comma-separated as -nats takes
	// them.
	URLs    string
	Servers []*natsserver.Server
}

// StartCluster runs n NATS servers with JetStream on 127.0.0.1,
// clustered as the operations guide's nats-1.conf to nats-3.conf are
// (server names n1 to nN, cluster play), each with its store in a
// directory of the test's, until the test ends. Each server listens for
// clients on a port it picks. A JetStream cluster will not start without
// its routes configured, so each server's cluster port is reserved first:
// held by a listener of the test's until just before that server binds it.
// Another socket may take the port in that moment, and then the server
// never gets ready: StartCluster starts the cluster again on new ports,
// up to three times. It returns once the cluster is ready for streams
// with a copy on every server (see [Cluster.WaitReady]).
func StartCluster(tb testing.TB, n int) *Cluster {
	tb.Helper()
	return StartClusterSync(tb, n, true)
}

// StartClusterSync is [StartCluster] with the servers' SyncAlways given:
// false leaves nats-server's default, an fsync every two minutes, for
// benchmarks that measure what the sync costs.
func StartClusterSync(tb testing.TB, n int, syncAlways bool) *Cluster {
	tb.Helper()
	for try := 1; ; try++ {
		c, err := startCluster(tb, n, syncAlways)
		if err == nil {
			c.WaitReady(tb)
			return c
		}
		if try == 3 {
			tb.Fatalf("NATS cluster of %d: %v, three times", n, err)
		}
		tb.Logf("NATS cluster of %d: %v; starting it again on new ports", n, err)
	}
}

// startCluster starts the servers of StartCluster, once. When one is not
// ready for connections within startBound, it shuts down every server
// it started and returns why.
func startCluster(tb testing.TB, n int, syncAlways bool) (*Cluster, error) {
	tb.Helper()
	c := &Cluster{}
	held := make([]net.Listener, n)
	routes := make([]*url.URL, n)
	for i := range held {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatalf("reserve a cluster port: %v", err)
		}
		defer ln.Close()
		held[i], routes[i] = ln, &url.URL{Scheme: "nats", Host: ln.Addr().String()}
	}
	urls := make([]string, n)
	for i := range n {
		held[i].Close()
		ns, err := natsserver.NewServer(&natsserver.Options{
			ServerName: fmt.Sprintf("n%d", i+1), Host: "127.0.0.1", Port: -1,
			JetStream: true, StoreDir: tb.TempDir(), SyncAlways: syncAlways, // true: as docs/operations.md's nodes
			Cluster: natsserver.ClusterOpts{Name: "play", Host: "127.0.0.1", Port: held[i].Addr().(*net.TCPAddr).Port},
			Routes:  routes, NoSigs: true, NoLog: true,
		})
		if err != nil {
			tb.Fatalf("NATS server n%d: %v", i+1, err)
		}
		ns.Start()
		c.Servers = append(c.Servers, ns)
		if !ns.ReadyForConnections(startBound) {
			c.shutdown()
			return nil, fmt.Errorf("server n%d not ready for connections within %v", i+1, startBound)
		}
		urls[i] = ns.ClientURL()
	}
	tb.Cleanup(c.shutdown)
	c.URLs = strings.Join(urls, ",")
	return c, nil
}

// startBound is how long StartCluster waits for a server to get ready
// for connections, which takes milliseconds when its ports are its own.
const startBound = 10 * time.Second

// shutdown shuts every server of c down and waits for them.
func (c *Cluster) shutdown() {
	for _, ns := range c.Servers {
		ns.Shutdown()
		ns.WaitForShutdown()
	}
}

// WaitReady waits until the servers form one JetStream cluster: one of
// them leads the meta group, which counts all of them as its peers, and
// every one is current with it. Only then does a stream with a copy on
// each find its servers at once. The server offers no event for this, so
// the wait asks its readiness API every 10 ms, as the server's own tests
// do (waitOnClusterReady in its jetstream_helpers_test.go).
func (c *Cluster) WaitReady(tb testing.TB) {
	tb.Helper()
	ready := func() bool {
		leaders := 0
		for _, ns := range c.Servers {
			if ns.JetStreamIsLeader() {
				leaders++
				if len(ns.JetStreamClusterPeers()) != len(c.Servers) {
					return false
				}
			}
		}
		if leaders != 1 {
			return false
		}
		for _, ns := range c.Servers {
			if !ns.JetStreamIsCurrent() {
				return false
			}
		}
		return true
	}
	start := time.Now()
	deadline := time.NewTimer(WaitBound)
	defer deadline.Stop()
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
	for !ready() {
		select {
		case <-poll.C:
		case <-deadline.C:
			tb.Fatalf("NATS cluster: no JetStream meta leader with all %d peers current within %v", len(c.Servers), WaitBound)
		}
	}
	tb.Logf("NATS cluster of %d ready in %v", len(c.Servers), time.Since(start).Round(time.Millisecond))
}
