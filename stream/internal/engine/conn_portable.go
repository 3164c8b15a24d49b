//go:build !linux || portable

package engine

import (
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sse-demo/movingobject/stream/internal/pace"
)

// Conn is a stream on a connection taken over from net/http, which an
// [Engine] writes from a goroutine of its own, through net.Conn.
//
// This Conn is the engine's portable path, built on every system but
// Linux, and on Linux with the build tag portable. It makes no system
// call of its own: every write is a net.Conn write under the write
// timeout (see docs/platforms.md).
type Conn struct {
	nc      net.Conn
	st      pace.Stream
	beat    []byte        // the stream's heartbeat, in its framing
	timeout time.Duration // of every write
	metrics pace.Metrics
	end     func(error)   // called once, when the stream ends, with why
	ended   atomic.Bool   // set by the first to end c
	gone    chan struct{} // closed when c ends, which stops its writer
}

// NewConn returns the stream o describes, on connection nc. Any net.Conn
// will do, since the portable path needs no descriptor.
func NewConn(nc net.Conn, o ConnOptions) (*Conn, error) {
	m := o.Metrics
	if m == nil {
		m = noMetrics{}
	}
	c := &Conn{nc: nc, beat: o.Beat, timeout: o.Timeout, metrics: m, end: o.End, gone: make(chan struct{})}
	c.st.Init(o.Source, o.Heartbeat, o.Opened, o.Written)
	return c, nil
}

// framer writes a Conn's events for [pace.Loop], each write under the write
// timeout, and appends the stream's heartbeat when it is due.
type framer struct {
	e *Engine
	c *Conn
}

// Write writes out, and the heartbeat after it when heartbeat is set. A
// client that reads too slowly fails it with a deadline error (one that
// wraps [os.ErrDeadlineExceeded]), and one that reset the connection
// fails it with [pace.ErrClientGone].
func (f framer) Write(out []byte, heartbeat bool) (int, error) {
	c := f.c
	if heartbeat {
		out = append(out, c.beat...)
	}
	if f.e.onWrite != nil {
		f.e.onWrite(c)
	}
	if err := c.nc.SetWriteDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, fmt.Errorf("set write deadline: %w", err)
	}
	n, err := c.nc.Write(out)
	switch {
	case err == nil:
		return n, nil
	case errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNRESET):
		// The client closed or reset the connection before its reader
		// noticed.
		return n, fmt.Errorf("write events: %w: %w", pace.ErrClientGone, err)
	}
	return n, fmt.Errorf("write events: %w", err)
}
