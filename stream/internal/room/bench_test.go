package room_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sse-demo/movingobject/internal/apptest"
	"github.com/sse-demo/movingobject/internal/natstest"
	"github.com/sse-demo/movingobject/stream/internal/room"
	"github.com/sse-demo/movingobject/stream/payload"
)

// BenchmarkPush measures pushes stored per second through a three-node
// cluster of embedded NATS servers, with one copy of the push log and
// with three, one push at a time and many at once:
//
//	go test -run '^$' -bench BenchmarkPush -benchtime 3s ./stream/internal/room
func BenchmarkPush(b *testing.B) {
	cluster := natstest.StartCluster(b, 3)
	nc, _ := natstest.Dial(b, cluster.URLs)
	for _, replicas := range []int{1, 3} {
		cfg := clusterConfig(replicas, slog.New(slog.DiscardHandler))
		cfg.Prefix = fmt.Sprintf("bench%d", replicas)
		cfg.Walk.Interval = 100 * time.Millisecond
		ctx, cancel := context.WithTimeout(context.Background(), apptest.WaitBound)
		r, err := room.Open(ctx, nc, cfg)
		cancel()
		if err != nil {
			b.Fatalf("Open with %d copies: %v", replicas, err)
		}
		var n atomic.Int64
		push := func(b *testing.B) {
			id := fmt.Sprintf("r%d-%d", replicas, n.Add(1))
			if _, err := r.Push(context.Background(), payload.Push{ID: id, Dir: payload.DirUp}); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(fmt.Sprintf("copies=%d/serial", replicas), func(b *testing.B) {
			for b.Loop() {
				push(b)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pushes/s")
		})
		b.Run(fmt.Sprintf("copies=%d/parallel", replicas), func(b *testing.B) {
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					push(b)
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pushes/s")
		})
		r.Close()
	}
}
