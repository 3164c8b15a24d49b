package e2e

// The play room's push-to-screen latency. It holds many streams, so it is
// a benchmark, which the default test run leaves out:
//
//	go test ./e2e -run '^$' -bench BenchmarkPlayPushLatency -play-viewers 1000 -play-pushes 100

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sse-demo/movingobject/internal/apptest"
	"github.com/sse-demo/movingobject/server/servertest"
	"github.com/sse-demo/movingobject/stream/sse"
)

var (
	playViewers = flag.Int("play-viewers", 1000, "BenchmarkPlayPushLatency: viewers of /play/events")
	playPushes  = flag.Int("play-pushes", 100, "BenchmarkPlayPushLatency: pushes sent, five a second")
)

// BenchmarkPlayPushLatency measures, with -play-viewers streams open, the
// time from sending a push to the last viewer receiving the move that
// applied it, and the moves a second one viewer gets. It reports the p50
// and p99 in ms. One run takes half a minute, so b.N is one: run it with
// the default -benchtime or -benchtime 1x.
func BenchmarkPlayPushLatency(b *testing.B) {
	for b.Loop() {
		p50, p99 := playPushLatency(b, *playViewers, *playPushes)
		b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	}
}

// playPushLatency runs one measurement of n viewers and pushes pushes,
// and returns the p50 and p99 of the push to the last screen.
func playPushLatency(t testing.TB, n, pushes int) (p50, p99 time.Duration) {
	t.Helper()
	s := servertest.Start(t, "-data", t.TempDir(), "-log-level", "warn", "-max-streams", "20000", "-max-streams-per-ip", "0")
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, MaxConnsPerHost: 0, DisableCompression: true}}

	type seen struct {
		got  int
		last time.Time
	}
	var (
		mu      sync.Mutex // guards arrived and moves
		arrived = map[string]*seen{}
		moves   int // moves viewer 0 got in the window
	)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	opened := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/play/events", nil)
			res, err := client.Do(req)
			if err != nil {
				opened <- err
				return
			}
			defer res.Body.Close()
			dec := sse.NewDecoder(res.Body)
			if _, err := apptest.ReadEvent(dec, "init", nil); err != nil {
				opened <- err
				return
			}
			opened <- nil
			var m apptest.PlayMoveData
			for {
				ev, err := dec.Next()
				if err != nil {
					return
				}
				if ev.Name != "move" {
					continue
				}
				now := time.Now()
				if err := decodeStrict(ev.Data, &m); err != nil {
					t.Error(err)
					return
				}
				if i == 0 {
					mu.Lock()
					moves++
					mu.Unlock()
				}
				if len(m.Pushes) == 0 {
					continue
				}
				mu.Lock()
				for _, p := range m.Pushes {
					a := arrived[p.ID]
					if a == nil {
						a = &seen{}
						arrived[p.ID] = a
					}
					a.got++
					a.last = now
				}
				mu.Unlock()
				m.Pushes = m.Pushes[:0]
			}
		})
	}
	defer func() {
		cancel()
		wg.Wait()
	}()
	for range n {
		if err := <-opened; err != nil {
			t.Fatalf("open a stream: %v", err)
		}
	}

	mu.Lock()
	moves = 0
	mu.Unlock()
	start := time.Now()
	sent := map[string]time.Time{}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for i := range pushes {
		<-tick.C
		id := fmt.Sprintf("bench%d", i)
		sent[id] = time.Now()
		s.Push(t, id, []string{"up", "left", "down", "right"}[i%4])
	}
	// Wait for the last push to reach every viewer.
	deadline := time.Now().Add(apptest.WaitBound)
	for {
		mu.Lock()
		a := arrived[fmt.Sprintf("bench%d", pushes-1)]
		done := a != nil && a.got == n
		mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the last push did not reach every viewer")
		}
		<-tick.C
	}
	window := time.Since(start)
	mu.Lock()
	defer mu.Unlock()
	var lat []time.Duration
	for id, at := range sent {
		a := arrived[id]
		if a == nil || a.got != n {
			t.Errorf("push %s reached %v of %d viewers", id, a, n)
			continue
		}
		lat = append(lat, a.last.Sub(at))
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	t.Logf("%d viewers, %d pushes: push to the move on every screen p50 %v, p99 %v, max %v; viewer 0 got %.1f moves/s over %v",
		n, len(lat), pct(0.50).Round(time.Millisecond), pct(0.99).Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond),
		float64(moves)/window.Seconds(), window.Round(time.Millisecond))
	return pct(0.50), pct(0.99)
}
