package apptest

import (
	"log/slog"
	"testing"
	"time"

	"github.com/sse-demo/movingobject/internal/logwatch"
)

// TestWaitStreamLines checks WaitOpened and WaitClosed on lines that
// slog's text handler writes, as the program's logger does.
func TestWaitStreamLines(t *testing.T) {
	w := logwatch.New()
	log := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opened := log.With("request_id", "r1", "route", "/events", "seed", 7, "resumed", false, "seq", 0)
	go func() { // the waits below must wake when these lines come
		opened.Debug(MsgOpened)
		opened.Debug(MsgClosed, "reason", "client gone", "duration", 1500*time.Millisecond, "bytes", 1234, "events", 3)
		log.Debug(MsgOpened, "request_id", "r2", "route", "/world/events", "seed", 1, "resumed", true, "seq", 9)
	}()
	s := &Program{Log: w}
	s.WaitOpened(t, 2)
	s.WaitClosed(t, 1)
}

// TestCheckStreamLine checks the logging contract of every stream: the
// attributes of its lines, at Debug level but for a slow client dropped.
func TestCheckStreamLine(t *testing.T) {
	for _, tt := range []struct {
		line    string
		wantErr bool
	}{
		{`time=2026-01-01T00:00:00.000Z level=INFO msg=request request_id=a uri="/events?interval=10" status=200`, false},
		{`level=DEBUG msg="client gone" err="read: \"x\" = y"`, false},
		{`level=DEBUG msg="stream opened" request_id=a route=/world/events seed=1 resumed=true seq=5`, false},
		{`level=DEBUG msg="stream opened" request_id=a route=/events resumed=true seq=0`, true},                                                                    // no seed
		{`level=INFO msg="stream closed" request_id=a route=/world/events seed=1 resumed=false seq=5 reason=shutdown duration=1s bytes=10 events=0`, true},         // not Debug
		{`level=INFO msg="stream closed" request_id=a route=/events seed=1 resumed=false seq=0 reason="slow client dropped" duration=1s bytes=10 events=3`, false}, // a drop is Info
		{`level=DEBUG msg="stream closed" request_id=a route=/world/events resumed=false`, true},
	} {
		if err := CheckStreamLine(logwatch.Parse(tt.line)); (err != nil) != tt.wantErr {
			t.Errorf("CheckStreamLine(%q) = %v; want an error %v", tt.line, err, tt.wantErr)
		}
	}
}
