// Package natstest runs an embedded NATS server for the tests of the
// packages that use NATS.
//
// Start runs one server with JetStream in the test's process, with no port
// open, and Connect returns an in-process connection to it. Both end with
// the test.
package natstest

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// WaitBound turns a hang into a failure in the tests that use this
// package. It is no timing assertion.
const WaitBound = 60 * time.Second

// Start runs an embedded NATS server with JetStream until the test ends.
// Its store is in a temporary directory of the test's, and it opens no
// port.
func Start(tb testing.TB) *server.Server {
	tb.Helper()
	ns, err := server.NewServer(&server.Options{JetStream: true, StoreDir: tb.TempDir(), SyncAlways: true, DontListen: true, NoSigs: true, NoLog: true})
	if err != nil {
		tb.Fatalf("server.NewServer: %v", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(WaitBound) {
		tb.Fatal("embedded NATS server not ready")
	}
	tb.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	return ns
}

// Connect returns an in-process connection to ns. The connection closes
// when the test ends.
func Connect(tb testing.TB, ns *server.Server) *nats.Conn {
	tb.Helper()
	nc, err := nats.Connect("", nats.InProcessServer(ns))
	if err != nil {
		tb.Fatalf("nats.Connect: %v", err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

// JetStream returns the JetStream of a new in-process connection to ns.
// The connection closes when the test ends.
func JetStream(tb testing.TB, ns *server.Server) jetstream.JetStream {
	tb.Helper()
	js, err := jetstream.New(Connect(tb, ns))
	if err != nil {
		tb.Fatalf("jetstream.New: %v", err)
	}
	return js
}
