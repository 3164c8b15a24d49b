package pace

import (
	"testing"
	"time"
)

// silent is a source with no event due before due.
type silent struct{ due Time }

func (s silent) Due() Time                                    { return s.due }
func (s silent) Next(dst []byte, _ Time) ([]byte, int, error) { return dst, 0, nil }

// TestStream_Wrote checks that a write counts its bytes, and its events
// unless it was a heartbeat, and restarts the stream's silence: the next
// heartbeat is due a full interval after the write.
func TestStream_Wrote(t *testing.T) {
	const hb = 15 * time.Second
	tests := []struct {
		name       string
		n, events  int
		wantBytes  int64
		wantEvents int64
	}{
		{"events", 100, 2, 110, 2},
		{"a heartbeat", 13, 0, 23, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewStream(silent{time.Hour}, hb, 0, 10) // a 10-byte opening
			s.Wrote(tt.n, tt.events, 20*time.Second)
			if bytes, events := s.Written(); bytes != tt.wantBytes || events != tt.wantEvents {
				t.Errorf("Written() = %d bytes, %d events; want %d, %d", bytes, events, tt.wantBytes, tt.wantEvents)
			}
			if got, want := s.Due(), 20*time.Second+hb; got != want {
				t.Errorf("Due() = %v after a write at 20s; want %v", got, want)
			}
		})
	}
}

// TestStream_HeartbeatRule checks the one heartbeat rule: a stream is due
// when its source is, or after heartbeat of silence, whichever is first,
// and a heartbeat is written only when the silence is that long.
func TestStream_HeartbeatRule(t *testing.T) {
	const hb = 15 * time.Second
	tests := []struct {
		name          string
		srcDue        Time
		lastWrite     Time
		now           Time
		wantDue       Time
		wantHeartbeat bool
	}{
		{"source first", 100 * time.Millisecond, 0, 50 * time.Millisecond, 100 * time.Millisecond, false},
		{"silence first", time.Hour, 0, 10 * time.Second, hb, false},
		{"heartbeat due", time.Hour, 0, hb, hb, true},
		{"after a write", time.Hour, 20 * time.Second, 30 * time.Second, 20*time.Second + hb, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewStream(silent{tt.srcDue}, hb, tt.lastWrite, 0)
			if got := s.Due(); got != tt.wantDue {
				t.Errorf("Due() = %v; want %v", got, tt.wantDue)
			}
			out, events, heartbeat, err := s.Next(nil, tt.now)
			if len(out) != 0 || events != 0 || heartbeat != tt.wantHeartbeat || err != nil {
				t.Errorf("Next(%v) = %q, %d, %v, %v; want nothing, 0, %v, nil", tt.now, out, events, heartbeat, err, tt.wantHeartbeat)
			}
		})
	}
}
