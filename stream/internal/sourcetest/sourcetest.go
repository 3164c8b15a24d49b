// Package sourcetest helps test a route's source of events.
//
// Run calls an [pace.Source] at chosen moments, and Moves decodes what
// it appended as a browser would.
package sourcetest

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"

	"github.com/sse-demo/movingobject/stream/internal/pace"
	"github.com/sse-demo/movingobject/stream/sse"
)

// Move is a move event as a client reads it: its id, and its data
// decoded by encoding/json.
type Move struct {
	ID  string `json:"-"`
	Seq uint64 `json:"seq"`
	X   int    `json:"x"`
	Y   int    `json:"y"`
	TS  int64  `json:"ts"`
}

// Moves reads b as a browser would and returns its events, which must all
// be move events with the data of one.
func Moves(tb testing.TB, b []byte) []Move {
	tb.Helper()
	var moves []Move
	dec := sse.NewDecoder(bytes.NewReader(b))
	for {
		ev, err := dec.Next()
		if err == io.EOF {
			return moves
		}
		if err != nil {
			tb.Fatalf("Decoder.Next() = %v; want an event or EOF", err)
		}
		if ev.Name != "move" {
			tb.Fatalf("event %+v; want a move event", ev)
		}
		m := Move{ID: ev.ID}
		jd := json.NewDecoder(bytes.NewReader([]byte(ev.Data)))
		jd.DisallowUnknownFields()
		if err := jd.Decode(&m); err != nil {
			tb.Fatalf("move data %q: %v; want seq, x, y and ts", ev.Data, err)
		}
		moves = append(moves, m)
	}
}

// A Call is one call of a source's Next at Now, and how many events it
// must append.
type Call struct {
	Now  pace.Time
	Want int
}

// Run calls src.Next for each call, after some bytes of an earlier event
// that it must keep, checks the counts (and that nothing is appended
// before Due) and returns what it appended.
func Run(tb testing.TB, src pace.Source, calls []Call) []byte {
	tb.Helper()
	const before = ": earlier\n\n"
	out := []byte(before)
	for i, c := range calls {
		due := src.Due()
		var n int
		var err error
		prev := len(out)
		if out, n, err = src.Next(out, c.Now); err != nil {
			tb.Fatalf("call %d: Next(now %v) = %v; want no error", i, c.Now, err)
		}
		if got := len(Moves(tb, out[prev:])); n != c.Want || got != n {
			tb.Fatalf("call %d: Next(now %v) with Due %v = %d events, %d written; want %d", i, c.Now, due, n, got, c.Want)
		}
		if c.Now < due && len(out) != prev {
			tb.Fatalf("call %d: Next(now %v) before Due %v appended %q; want nothing", i, c.Now, due, out[prev:])
		}
	}
	if !bytes.HasPrefix(out, []byte(before)) {
		tb.Fatalf("Next changed the bytes it appends to: %q", out)
	}
	return out[len(before):]
}
