package play_test

import (
	"compress/gzip"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/sse-demo/movingobject/internal/apptest"
	"github.com/sse-demo/movingobject/stream/internal/deflate"
	"github.com/sse-demo/movingobject/stream/payload"
	"github.com/sse-demo/movingobject/stream/sse"
)

// TestPlayCompressed opens the room's stream plain and in gzip, resumed
// at the same move, and checks that both carry the same moves, byte for
// byte. Meanwhile a third viewer comes and goes, so the gzip stream sends
// viewers events of its own: each takes it off the shared bytes until the
// next restart point, and its moves must still decode.
func TestPlayCompressed(t *testing.T) {
	t.Parallel()
	s, _ := start(t, route{viewersEvery: 20 * time.Millisecond})
	plain, in, _ := s.PlayOpen(t)
	res := s.Get(t, "/play/events", "Last-Event-ID", strconv.FormatUint(in.Seq, 10), "Accept-Encoding", "gzip")
	if res.Header.Get("Content-Encoding") != "gzip" || res.Header.Get("Vary") != "Accept-Encoding" {
		t.Fatalf("Content-Encoding %q, Vary %q; want gzip, Accept-Encoding", res.Header.Get("Content-Encoding"), res.Header.Get("Vary"))
	}
	// A stream that stops decoding to events must fail, not hang.
	watchdog := time.AfterFunc(apptest.WaitBound, func() { res.Body.Close(); plain.Res.Body.Close() })
	defer watchdog.Stop()
	zr, err := gzip.NewReader(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	packed := sse.NewDecoder(zr)
	n := uint64(3 * deflate.RestartEvery)
	moves := func(dec *sse.Decoder, third func(seq uint64)) (got []string, viewers int) {
		t.Helper()
		for {
			ev, err := dec.Next()
			if err != nil {
				t.Fatalf("after %d moves: %v", len(got), err)
			}
			switch ev.Name {
			case payload.EventViewers:
				viewers++
			case payload.EventMove:
				got = append(got, fmt.Sprintf("%s %s", ev.ID, ev.Data))
				seq, _ := strconv.ParseUint(ev.ID, 10, 64)
				if third != nil {
					third(seq)
				}
				if seq == in.Seq+n {
					return got, viewers
				}
			}
		}
	}
	var third *apptest.Reader
	got, viewers := moves(packed, func(seq uint64) {
		switch seq {
		case in.Seq + n/3 + 5: // between two restart points
			third, _, _ = s.PlayOpen(t)
		case in.Seq + 2*n/3 + 7:
			third.Res.Body.Close()
		}
	})
	want, _ := moves(plain.Dec, nil)
	if len(got) != len(want) {
		t.Fatalf("gzip stream: %d moves; the plain one %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("gzip stream's move %d: %q; the plain one's %q", i, got[i], want[i])
		}
	}
	if viewers < 3 { // the opening's, and one each for the third viewer's coming and going
		t.Errorf("gzip stream: %d viewers events; want 3", viewers)
	}
}
