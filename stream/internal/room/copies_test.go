package room_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/sse-demo/movingobject/internal/apptest"
	"github.com/sse-demo/movingobject/internal/logwatch"
	"github.com/sse-demo/movingobject/internal/natstest"
	"github.com/sse-demo/movingobject/simulation"
	"github.com/sse-demo/movingobject/stream/internal/room"
)

// TestCopiesRaised opens a room with one copy of each stream on a
// three-node cluster, then again wanting three: the second Open raises
// the copies of the streams and the lease's bucket, and says so.
func TestCopiesRaised(t *testing.T) {
	t.Parallel()
	cluster := natstest.StartCluster(t, 3)
	nc, js := natstest.Dial(t, cluster.URLs)
	logs := logwatch.New()
	cfg := clusterConfig(1, slog.New(slog.NewTextHandler(logs, nil)))
	for _, replicas := range []int{1, 3} {
		cfg.Replicas = replicas
		ctx, cancel := context.WithTimeout(context.Background(), apptest.WaitBound)
		r, err := room.Open(ctx, nc, cfg)
		cancel()
		if err != nil {
			t.Fatalf("Open with %d copies: %v", replicas, err)
		}
		r.Close()
		for _, name := range []string{"PLAY_PUSHES", "PLAY_MOVES", "KV_PLAY_LEASE"} {
			ctx, cancel := context.WithTimeout(context.Background(), apptest.WaitBound)
			s, err := js.Stream(ctx, name)
			cancel()
			if err != nil {
				t.Fatalf("stream %s: %v", name, err)
			}
			if got := s.CachedInfo().Config.Replicas; got != replicas {
				t.Errorf("stream %s after Open with %d copies: %d copies", name, replicas, got)
			}
		}
	}
	if got := logs.Count("raising the copies of a stream"); got != 3 {
		t.Errorf("%d log lines on raising copies; want 3, one per stream", got)
	}
}

// clusterConfig is a small room with the given copies, logging to log.
func clusterConfig(replicas int, log *slog.Logger) room.Config {
	return room.Config{
		Walk: simulation.Config{Width: 200, Height: 100, Step: 3, Interval: 20 * time.Millisecond},
		Seed: 7, Push: 20, Keep: 100, Instance: "a", Replicas: replicas, Logger: log,
	}
}
