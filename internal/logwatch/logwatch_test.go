package logwatch

import (
	"log/slog"
	"maps"
	"testing"
	"time"
)

// TestWatch checks that the waits wake for lines that slog's text handler
// writes from another goroutine, and what they find.
func TestWatch(t *testing.T) {
	w := New()
	log := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opened := log.With("request_id", "r1", "route", "/events", "seed", 7, "resumed", false, "seq", 0)
	go func() { // the waits below must wake when these lines come
		opened.Debug("stream opened")
		opened.Debug("stream closed", "reason", "client gone", "duration", 1500*time.Millisecond, "bytes", 1234, "events", 3)
		log.Debug("stream opened", "request_id", "r2", "route", "/world/events", "seed", 1, "resumed", true, "seq", 9)
	}()
	w.WaitCount(t, "stream opened", 2)
	got := w.WaitLine(t, "the close", func(l Line) bool { return l["msg"] == "stream closed" })
	delete(got, "time")
	want := Line{"level": "DEBUG", "msg": "stream closed", "request_id": "r1", "route": "/events",
		"resumed": "false", "seed": "7", "seq": "0", "duration": "1.5s", "bytes": "1234", "events": "3", "reason": "client gone"}
	if !maps.Equal(got, want) {
		t.Errorf("closed line = %v; want %v", got, want)
	}
	if n := w.Count("stream opened"); n != 2 {
		t.Errorf("Count(stream opened) = %d; want 2", n)
	}
	if n := WaitTotal(t, []*Watch{w, New()}, "stream closed", 1); n != 1 {
		t.Errorf("WaitTotal = %d; want 1", n)
	}
}

// TestParse checks the reading of lines that slog's text handler writes:
// quoted values are unquoted, and bare ones end at a space.
func TestParse(t *testing.T) {
	for _, tt := range []struct {
		line string
		want Line
	}{
		{`time=2026-01-01T00:00:00.000Z level=INFO msg=request request_id=a uri="/events?interval=10" status=200`,
			Line{"time": "2026-01-01T00:00:00.000Z", "level": "INFO", "msg": "request", "request_id": "a", "uri": "/events?interval=10", "status": "200"}},
		{`level=DEBUG msg="client gone" err="read: \"x\" = y"`,
			Line{"level": "DEBUG", "msg": "client gone", "err": `read: "x" = y`}},
		{`level=DEBUG msg="stream opened" request_id=a route=/world/events seed=1 resumed=true seq=5`,
			Line{"level": "DEBUG", "msg": "stream opened", "request_id": "a", "route": "/world/events", "seed": "1", "resumed": "true", "seq": "5"}},
		{`level=INFO msg="stream closed" request_id=a route=/events seed=1 resumed=false seq=0 reason="slow client dropped" duration=1s bytes=10 events=3`,
			Line{"level": "INFO", "msg": "stream closed", "request_id": "a", "route": "/events", "seed": "1", "resumed": "false", "seq": "0",
				"duration": "1s", "bytes": "10", "events": "3", "reason": "slow client dropped"}},
	} {
		if got := Parse(tt.line); !maps.Equal(got, tt.want) {
			t.Errorf("Parse(%q) = %v; want %v", tt.line, got, tt.want)
		}
	}
}
