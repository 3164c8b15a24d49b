package world

import (
	"bytes"
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/sse-demo/movingobject/simulation"
	"github.com/sse-demo/movingobject/stream/internal/hub"
)

func TestParseAfter(t *testing.T) {
	const current = 1234
	const refused = "after: must be an integer in [0, 1234]"
	for _, tt := range []struct {
		query   string
		want    uint64
		wantOK  bool
		wantErr string
	}{
		{"", 0, false, ""},
		{"after=", 0, false, ""},
		{"after=0", 0, true, ""},
		{"after=17", 17, true, ""},
		{"after=1234", 1234, true, ""},
		{"after=1235", 0, false, refused}, // in the future
		{"after=-1", 0, false, refused},
		{"after=%2B5", 0, false, refused}, // +5
		{"after=1.5", 0, false, refused},
		{"after=x", 0, false, refused},
		{"after=18446744073709551616", 0, false, refused}, // 2^64
	} {
		t.Run(tt.query, func(t *testing.T) {
			q, _ := url.ParseQuery(tt.query)
			got, ok, err := parseAfter(q, current)
			if got != tt.want || ok != tt.wantOK || (err == nil) != (tt.wantErr == "") || (err != nil && err.Error() != tt.wantErr) {
				t.Errorf("parseAfter(%q, %d) = %d, %v, %v; want %d, %v, %q", tt.query, current, got, ok, err, tt.want, tt.wantOK, tt.wantErr)
			}
		})
	}
}

func TestParseWait(t *testing.T) {
	const refused = "wait: must be an integer in [1, 30000]"
	for _, tt := range []struct {
		query   string
		want    time.Duration
		wantOK  bool
		wantErr string
	}{
		{"", 0, false, ""},
		{"wait=", 0, false, ""},
		{"wait=1", time.Millisecond, true, ""},
		{"wait=30000", 30 * time.Second, true, ""},
		{"wait=0", 0, false, refused},
		{"wait=30001", 0, false, refused},
		{"wait=-5", 0, false, refused},
		{"wait=%2B5", 0, false, refused},
		{"wait=1s", 0, false, refused},
		{"wait=99999999999999999999", 0, false, refused},
	} {
		t.Run(tt.query, func(t *testing.T) {
			q, _ := url.ParseQuery(tt.query)
			got, ok, err := parseWait(q)
			if got != tt.want || ok != tt.wantOK || (err == nil) != (tt.wantErr == "") || (err != nil && err.Error() != tt.wantErr) {
				t.Errorf("parseWait(%q) = %v, %v, %v; want %v, %v, %q", tt.query, got, ok, err, tt.want, tt.wantOK, tt.wantErr)
			}
		})
	}
}

// TestPollSource checks the answers of a poll at a chosen moment, decoded
// by encoding/json and held to the world's own cursor: the moves after the
// client's, oldest first and at most MaxPollMoves, or an init standing at
// the move due when the client has no move in the window.
func TestPollSource(t *testing.T) {
	cfg := simulation.DefaultConfig()
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	world, err := simulation.NewWorld(cfg, 7, start, 50*cfg.Interval)
	if err != nil {
		t.Fatalf("NewWorld = %v; want no error", err)
	}
	const now = 5000 // the move due when the poll is answered
	for _, tt := range []struct {
		name      string
		replay    int    // the hub's window in intervals
		after     uint64 // the client's last move
		hasAfter  bool
		wantInit  bool
		wantFirst uint64 // the first move of the answer, if any
		wantMoves int
	}{
		{name: "no after", replay: 100, wantInit: true},
		{name: "up to date", replay: 100, after: now, hasAfter: true},
		{name: "one behind", replay: 100, after: now - 1, hasAfter: true, wantFirst: now, wantMoves: 1},
		{name: "at the window's oldest", replay: 100, after: now - 100, hasAfter: true, wantFirst: now - 99, wantMoves: 100},
		{name: "older than the window", replay: 100, after: now - 101, hasAfter: true, wantInit: true},
		{name: "from 0, older than the window", replay: 100, after: 0, hasAfter: true, wantInit: true},
		{name: "more than MaxPollMoves behind", replay: 2 * MaxPollMoves, after: now - MaxPollMoves - 10, hasAfter: true,
			wantFirst: now - MaxPollMoves - 9, wantMoves: MaxPollMoves},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := hub.New(world, time.Duration(tt.replay)*cfg.Interval)
			h.Upto(now)
			src := &pollSource{hub: h, world: world, after: tt.after, init: !tt.hasAfter || h.Entry(tt.after) == nil}
			at := world.Time(now).Add(cfg.Interval / 2)
			body, n := src.answer(nil, at)
			var got struct {
				Init  *initJSON  `json:"init"`
				Moves []moveJSON `json:"moves"`
			}
			jd := json.NewDecoder(bytes.NewReader(body))
			jd.DisallowUnknownFields()
			if err := jd.Decode(&got); err != nil || got.Moves == nil {
				t.Fatalf("answer %q: %v; want a JSON object with a moves list", body, err)
			}
			if n != len(got.Moves) || len(got.Moves) != tt.wantMoves {
				t.Fatalf("answer %q counted %d moves, holds %d; want %d", body, n, len(got.Moves), tt.wantMoves)
			}
			if tt.wantInit {
				p := world.Cursor(now).Position()
				want := initJSON{Width: cfg.Width, Height: cfg.Height, Step: cfg.Step, IntervalMS: cfg.Interval.Milliseconds(),
					Seed: 7, Seq: now, X: p.X, Y: p.Y}
				if got.Init == nil || *got.Init != want {
					t.Fatalf("init = %+v; want %+v", got.Init, want)
				}
			} else if got.Init != nil {
				t.Fatalf("init = %+v; want none", got.Init)
			}
			if tt.wantMoves == 0 {
				return
			}
			c := world.Cursor(tt.wantFirst - 1)
			for i, m := range got.Moves {
				p := c.Next()
				if want := (moveJSON{Seq: p.Seq, X: p.X, Y: p.Y, TS: world.Time(p.Seq).UnixMilli()}); m != want {
					t.Fatalf("move %d = %+v; want %+v", i, m, want)
				}
			}
		})
	}
}

// initJSON and moveJSON are the client's view of the payload.
type initJSON struct {
	Width      int    `json:"width"`
	Height     int    `json:"height"`
	Step       int    `json:"step"`
	IntervalMS int64  `json:"interval_ms"`
	Seed       uint64 `json:"seed"`
	Resumed    bool   `json:"resumed"`
	Seq        uint64 `json:"seq"`
	X          int    `json:"x"`
	Y          int    `json:"y"`
	RetryMS    int64  `json:"retry_ms"`
}

type moveJSON struct {
	Seq uint64 `json:"seq"`
	X   int    `json:"x"`
	Y   int    `json:"y"`
	TS  int64  `json:"ts"`
}
