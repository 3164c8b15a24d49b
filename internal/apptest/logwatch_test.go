package apptest

import (
	"log/slog"
	"maps"
	"testing"
	"time"
)

// TestLogWatch checks the log watcher on lines that slog's text handler
// writes, as run's logger does.
func TestLogWatch(t *testing.T) {
	w := NewLogWatch()
	log := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opened := log.With("request_id", "r1", "route", "/events", "seed", 7, "resumed", false, "seq", 0)
	go func() { // the waits below must wake when these lines come
		opened.Debug("stream opened")
		opened.Debug("stream closed", "reason", "client gone", "duration", 1500*time.Millisecond, "bytes", 1234, "events", 3)
		log.Debug("stream opened", "request_id", "r2", "route", "/world/events", "seed", 1, "resumed", true, "seq", 9)
	}()
	s := &Program{Log: w}
	s.WaitOpened(t, 2)
	s.WaitClosed(t, 1)
	got := w.WaitLine(t, "the close", func(l LogLine) bool { return l["msg"] == MsgClosed })
	delete(got, "time")
	want := LogLine{"level": "DEBUG", "msg": "stream closed", "request_id": "r1", "route": "/events",
		"resumed": "false", "seed": "7", "seq": "0", "duration": "1.5s", "bytes": "1234", "events": "3", "reason": "client gone"}
	if !maps.Equal(got, want) {
		t.Errorf("closed line = %v; want %v", got, want)
	}

	for _, tt := range []struct {
		line    string
		want    LogLine
		wantErr bool // checkStreamLine refuses it
	}{
		{`time=2026-01-01T00:00:00.000Z level=INFO msg=request request_id=a uri="/events?interval=10" status=200`,
			LogLine{"time": "2026-01-01T00:00:00.000Z", "level": "INFO", "msg": "request", "request_id": "a", "uri": "/events?interval=10", "status": "200"}, false},
		{`level=DEBUG msg="client gone" err="read: \"x\" = y"`,
			LogLine{"level": "DEBUG", "msg": "client gone", "err": `read: "x" = y`}, false},
		{`level=DEBUG msg="stream opened" request_id=a route=/world/events seed=1 resumed=true seq=5`,
			LogLine{"level": "DEBUG", "msg": "stream opened", "request_id": "a", "route": "/world/events", "seed": "1", "resumed": "true", "seq": "5"}, false},
		{`level=DEBUG msg="stream opened" request_id=a route=/events resumed=true seq=0`,
			LogLine{"level": "DEBUG", "msg": "stream opened", "request_id": "a", "route": "/events", "resumed": "true", "seq": "0"}, true}, // no seed
		{`level=INFO msg="stream closed" request_id=a route=/world/events seed=1 resumed=false seq=5 reason=shutdown duration=1s bytes=10 events=0`,
			LogLine{"level": "INFO", "msg": "stream closed", "request_id": "a", "route": "/world/events", "seed": "1", "resumed": "false", "seq": "5",
				"duration": "1s", "bytes": "10", "events": "0", "reason": "shutdown"}, true}, // not Debug
		{`level=INFO msg="stream closed" request_id=a route=/events seed=1 resumed=false seq=0 reason="slow client dropped" duration=1s bytes=10 events=3`,
			LogLine{"level": "INFO", "msg": "stream closed", "request_id": "a", "route": "/events", "seed": "1", "resumed": "false", "seq": "0",
				"duration": "1s", "bytes": "10", "events": "3", "reason": "slow client dropped"}, false}, // a drop is Info
		{`level=DEBUG msg="stream closed" request_id=a route=/world/events resumed=false`,
			LogLine{"level": "DEBUG", "msg": "stream closed", "request_id": "a", "route": "/world/events", "resumed": "false"}, true},
	} {
		got := ParseLogLine(tt.line)
		if !maps.Equal(got, tt.want) {
			t.Errorf("parseLogLine(%q) = %v; want %v", tt.line, got, tt.want)
		}
		if err := CheckStreamLine(got); (err != nil) != tt.wantErr {
			t.Errorf("checkStreamLine(%q) = %v; want an error %v", tt.line, err, tt.wantErr)
		}
	}
}
