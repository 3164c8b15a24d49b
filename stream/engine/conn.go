package engine

import (
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"syscall"
	"time"
)

// Metrics counts what an [Engine] writes. The metrics package satisfies it.
type Metrics interface {
	// Wrote counts one write of events events and n bytes that took seconds.
	Wrote(events, n int, seconds float64)
}

// Conn is a stream on a connection taken over from net/http, which an
// [Engine] writes: with one non-blocking write(2) per event (or per batch
// of events that fell due together), so that no goroutine waits on it.
type Conn struct {
	st      *Stream
	nc      net.Conn
	raw     syscall.RawConn
	timeout time.Duration // of a blocking write
	beat    []byte        // the stream's heartbeat, in its framing
	metrics Metrics
	end     func(error) // called once, when the stream ends, with why

	ended   atomic.Bool
	shard   atomic.Pointer[shard] // the shard that writes c; nil while ended or catching up
	pending []byte                // what a blocking writer owes the client

	// The arguments and results of writeFn, made once so that a write
	// allocates nothing.
	out     []byte
	n       int
	err     error
	writeFn func(fd uintptr) bool
}

// ErrNoFD is returned for a connection that is not a socket.
var ErrNoFD = errors.New("connection has no file descriptor")

// NewConn returns the stream st on connection nc, whose blocking writes
// must end within timeout, and whose heartbeat is beat (such as
// [SSEHeartbeat]). end is called once when the stream ends, with the
// reason: [ErrClientGone], [ErrShutdown], or the error of a write. A nil m
// counts nothing.
func NewConn(nc net.Conn, st *Stream, beat []byte, timeout time.Duration, m Metrics, end func(error)) (*Conn, error) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil, ErrNoFD
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoFD, err)
	}
	if m == nil {
		m = noMetrics{}
	}
	c := &Conn{st: st, nc: nc, raw: raw, timeout: timeout, beat: beat, metrics: m, end: end}
	c.writeFn = c.rawWrite
	return c, nil
}

// rawWrite is writeFn: one write(2) of c.out to fd.
func (c *Conn) rawWrite(fd uintptr) bool {
	c.n, c.err = syscall.Write(int(fd), c.out)
	return true // never wait: a full socket is the caller's to handle
}

type noMetrics struct{}

func (noMetrics) Wrote(int, int, float64) {}

// WriteBlocking writes b within the write timeout, for the response head
// and opening events before the engine takes the stream. It then clears
// the deadline, which would otherwise fail later non-blocking writes.
func (c *Conn) WriteBlocking(b []byte) error {
	if err := c.nc.SetWriteDeadline(time.Now().Add(c.timeout)); err != nil {
		return fmt.Errorf("set write deadline: %w", err)
	}
	if _, err := c.nc.Write(b); err != nil {
		return fmt.Errorf("write events: %w", err)
	}
	if err := c.nc.SetWriteDeadline(time.Time{}); err != nil {
		return fmt.Errorf("clear write deadline: %w", err)
	}
	return nil
}

// tryWrite writes b with one write(2) that does not wait: n < len(b) with
// a nil error means the socket is full.
func (c *Conn) tryWrite(b []byte) (int, error) {
	c.out = b
	err := c.raw.Write(c.writeFn)
	c.out = nil
	n := max(c.n, 0)
	if err == nil {
		err = c.err
	}
	if errors.Is(err, syscall.EAGAIN) {
		err = nil
	}
	if err != nil {
		err = fmt.Errorf("write events: %w", err)
	}
	return n, err
}
