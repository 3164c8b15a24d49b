package sseload

import (
	"context"
	"testing"
	"time"
)

func TestParseMove(t *testing.T) {
	for _, tt := range []struct {
		data    string
		seq     uint64
		ts      int64
		wantErr bool
	}{
		{`{"seq":12,"x":1,"y":2,"ts":1795239583784}`, 12, 1795239583784, false},
		{`{"width":800,"height":600,"step":5,"interval_ms":100,"seed":1,"resumed":false,"seq":7,"x":1,"y":2,"retry_ms":2000}`, 7, 0, false},
		{`{"x":1}`, 0, 0, true},
		{`{"seq":-1}`, 0, 0, true},
		{`{"seq":1`, 0, 0, true},
	} {
		seq, ts, ok := parseMove(tt.data)
		if ok == tt.wantErr || (ok && (seq != tt.seq || ts != tt.ts)) {
			t.Errorf("parseMove(%q) = %d, %d, %v; want %d, %d, %v", tt.data, seq, ts, ok, tt.seq, tt.ts, !tt.wantErr)
		}
	}
}

func TestRun_BadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{URL: "https://127.0.0.1:1/x", Streams: 1, Duration: time.Second},
		{URL: "http://127.0.0.1:1/x", Streams: 0, Duration: time.Second},
		{URL: "http://127.0.0.1:1/x", Streams: 1},
		{URL: "http://127.0.0.1:1/x", Streams: 1, Duration: time.Second, Transport: "carrier-pigeon"},
		{URL: "http://127.0.0.1:1/x", Streams: 1, Duration: time.Second, Transport: TransportPoll},
	} {
		if _, err := Run(context.Background(), cfg); err == nil {
			t.Errorf("Run(%+v) = nil error; want one", cfg)
		}
	}
}
