//go:build !linux || portable

package engine

// The tests of what only the portable path has: a writer of its own per
// stream, on any net.Conn.

import (
	"bufio"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sse-demo/movingobject/stream/internal/pace"
)

// stalls returns a channel that receives once e's writer of the stream
// of src begins a write ([Engine.onWrite]). With the lines of src longer
// than its client's socket holds, and a client that does not read, that
// write blocks: the portable path's stall.
func stalls(e *Engine, src pace.Source) <-chan struct{} {
	stalled := make(chan struct{}, 1)
	e.onWrite = func(c *Conn) {
		if c.st.Source() != src {
			return
		}
		select {
		case stalled <- struct{}{}:
		default:
		}
	}
	return stalled
}

// TestNewConn_Pipe checks that the portable path writes a stream on a
// connection that is not a socket, which the fast path refuses, and
// that Close ends it.
func TestNewConn_Pipe(t *testing.T) {
	e := New(0)
	sc, cc := net.Pipe()
	t.Cleanup(func() { cc.Close() })
	end := make(chan error, 1)
	c, err := NewConn(sc, ConnOptions{Source: newCounter(time.Millisecond, 8), Heartbeat: time.Hour, Beat: pace.SSEHeartbeat, Opened: pace.Now(),
		Timeout: time.Second, End: func(err error) { end <- err }})
	if err != nil {
		t.Fatalf("NewConn(pipe) = %v; want a Conn", err)
	}
	if err := e.Add(c); err != nil {
		t.Fatal(err)
	}
	cc.SetReadDeadline(time.Now().Add(10 * time.Second)) // a bound on a hang
	r := bufio.NewReader(cc)
	for want := 1; want <= 20; want++ {
		line, err := r.ReadString('\n')
		if got, _ := strconv.Atoi(strings.TrimRight(line, ".\n")); got != want || err != nil {
			t.Fatalf("client of a pipe read %q, %v; want line %d", line, err, want)
		}
	}
	e.Close()
	select {
	case err := <-end:
		if !errors.Is(err, pace.ErrShutdown) {
			t.Errorf("stream ended with %v; want %v", err, pace.ErrShutdown)
		}
	case <-time.After(10 * time.Second): // a bound on a hang, not a measure
		t.Fatal("stream did not end")
	}
}
