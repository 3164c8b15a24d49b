package pace

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// ticks is a source of one-byte events, one every interval, up to n.
type ticks struct {
	every time.Duration
	next  Time
	left  int
}

func (s *ticks) Due() Time {
	if s.left == 0 {
		return Now() + time.Hour
	}
	return s.next
}

func (s *ticks) Next(dst []byte, now Time) ([]byte, int, error) {
	n := 0
	for ; s.left > 0 && s.next <= now; n++ {
		dst = append(dst, 'x')
		s.left--
		s.next += s.every
	}
	return dst, n, nil
}

// record is a framer that keeps what it is given, and tells each write
// on a channel.
type record struct {
	wrote chan string // one per write: the bytes, or "beat" for a heartbeat alone
	err   error       // what Write returns
}

func (r *record) Write(out []byte, heartbeat bool) (int, error) {
	if len(out) == 0 && heartbeat {
		r.wrote <- "beat"
		return 0, r.err
	}
	r.wrote <- string(out)
	return len(out), r.err
}

// counted counts what a Loop reports it wrote.
type counted struct{ events, bytes int }

func (c *counted) Wrote(events, n int, _ float64) { c.events += events; c.bytes += n }

// TestLoop checks the one write loop: it writes each event as it falls
// due and a heartbeat after the stream's silence, counts what it wrote,
// and ends with why: the client gone, the server shutting down, or the
// framer's error.
func TestLoop(t *testing.T) {
	for _, tt := range []struct {
		name    string
		end     string // "done", "stop" or "error"
		wantErr error
	}{
		{"client gone", "done", ErrClientGone},
		{"shutdown", "stop", ErrShutdown},
		{"write fails", "error", errWrite},
	} {
		t.Run(tt.name, func(t *testing.T) {
			done, stop := make(chan struct{}), make(chan struct{})
			r := &record{wrote: make(chan string, 16)}
			if tt.end == "error" {
				r.err = errWrite
			}
			src := &ticks{every: time.Millisecond, next: Now() + time.Millisecond, left: 3}
			st := NewStream(src, 20*time.Millisecond, Now(), 5)
			var m counted
			ended := make(chan error, 1)
			go func() { ended <- Loop(done, stop, r, st, &m) }()
			if tt.end == "error" {
				// The first write holds the events due by then: one, or
				// more when the goroutine started late.
				if got := <-r.wrote; got == "" || strings.Trim(got, "x") != "" {
					t.Errorf("first write %q; want one or more events", got)
				}
				if err := <-ended; !errors.Is(err, tt.wantErr) {
					t.Errorf("Loop() = %v; want %v", err, tt.wantErr)
				}
				if len(r.wrote) != 0 {
					t.Errorf("Loop wrote %q after the failed write", <-r.wrote)
				}
				return
			}
			got := ""
			for got != "xxx" {
				got += <-r.wrote // three events, in one to three writes
			}
			if beat := <-r.wrote; beat != "beat" {
				t.Errorf("write after the events %q; want the heartbeat", beat)
			}
			if tt.end == "done" {
				close(done)
			} else {
				close(stop)
			}
			if err := <-ended; !errors.Is(err, tt.wantErr) {
				t.Errorf("Loop() = %v; want %v", err, tt.wantErr)
			}
			if bytes, events := st.Written(); events != 3 || bytes != 5+3 || m.events != 3 || m.bytes != 3 {
				t.Errorf("Written() = %d bytes, %d events, counted %+v; want 8 bytes (5 of opening), 3 events, 3 and 3 counted", bytes, events, m)
			}
		})
	}
}

var errWrite = errors.New("write failed")
