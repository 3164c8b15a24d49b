package room_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sse-demo/movingobject/internal/apptest"
	"github.com/sse-demo/movingobject/internal/natsconn"
	"github.com/sse-demo/movingobject/internal/natstest"
	"github.com/sse-demo/movingobject/stream/internal/room"
	"github.com/sse-demo/movingobject/stream/payload"
)

// BenchmarkPush measures what a push costs, with the fsync before each
// acknowledgement (sync=always, the project's setting) and with
// nats-server's default (an fsync every two minutes): on the embedded
// single node of `go run .`, and through a three-node cluster of embedded
// servers with three copies of the push log. Serial is one push at a
// time, and reports its latency's p50 and p99; parallel is 16 in flight.
// The stores are in the test's temporary directory, which must be on a
// real disk for the figures to mean anything (not tmpfs):
//
//	go test -run '^$' -bench BenchmarkPush -benchtime 3s ./stream/internal/room
func BenchmarkPush(b *testing.B) {
	log := slog.New(slog.DiscardHandler)
	for _, always := range []bool{true, false} {
		sync := map[bool]string{true: "always", false: "default"}[always]
		b.Run("node=embedded/sync="+sync, func(b *testing.B) {
			interval := natsconn.SyncAlways
			if !always {
				interval = 2 * time.Minute
			}
			nc, stop, err := natsconn.Embedded(b.TempDir(), false, interval, log)
			if err != nil {
				b.Fatal(err)
			}
			defer stop()
			benchPush(b, nc, clusterConfig(1, log))
		})
		b.Run("node=cluster/sync="+sync, func(b *testing.B) {
			cluster := natstest.StartClusterSync(b, 3, always)
			nc, _ := natstest.Dial(b, cluster.URLs)
			benchPush(b, nc, clusterConfig(3, log))
		})
	}
}

// benchPush runs the serial and parallel pushes of BenchmarkPush into a
// room opened on nc with cfg.
func benchPush(b *testing.B, nc *nats.Conn, cfg room.Config) {
	cfg.Walk.Interval = 100 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), apptest.WaitBound)
	r, err := room.Open(ctx, nc, cfg)
	cancel()
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	defer r.Close()
	var n atomic.Int64
	push := func(b *testing.B) {
		id := fmt.Sprintf("p%d", n.Add(1))
		if _, err := r.Push(context.Background(), payload.Push{ID: id, Dir: payload.DirUp}); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("serial", func(b *testing.B) {
		var took []time.Duration
		for b.Loop() {
			start := time.Now()
			push(b)
			took = append(took, time.Since(start))
		}
		slices.Sort(took)
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pushes/s")
		b.ReportMetric(float64(took[len(took)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99-µs")
	})
	b.Run("parallel", func(b *testing.B) {
		b.SetParallelism(8) // 16 in flight on 2 cores
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				push(b)
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pushes/s")
	})
}
