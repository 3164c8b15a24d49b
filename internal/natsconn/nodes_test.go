package natsconn_test

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/sse-demo/movingobject/internal/apptest"
	"github.com/sse-demo/movingobject/internal/natsconn"
	"github.com/sse-demo/movingobject/internal/natstest"
)

// TestNodes checks that a connection given one server of a cluster knows
// all of its nodes, so that the play room's default copies count them,
// and that the embedded server is one node.
func TestNodes(t *testing.T) {
	cluster := natstest.StartCluster(t, 3)
	first, _, _ := strings.Cut(cluster.URLs, ",")
	nc, err := natsconn.External(first, apptest.WaitBound)
	if err != nil {
		t.Fatalf("External(%s): %v", first, err)
	}
	defer nc.Close()
	if got := natsconn.Nodes(nc); got != 3 {
		t.Errorf("Nodes of a connection to one server of 3 = %d; want 3", got)
	}

	embedded, stop, err := natsconn.Embedded(t.TempDir(), true, natsconn.SyncAlways, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("Embedded: %v", err)
	}
	defer stop()
	if got := natsconn.Nodes(embedded); got != 1 {
		t.Errorf("Nodes of the embedded server = %d; want 1", got)
	}
}
