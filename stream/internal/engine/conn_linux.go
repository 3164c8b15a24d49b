//go:build linux && !portable

package engine

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/sse-demo/movingobject/stream/internal/pace"
)

// Conn is a stream on a connection taken over from net/http, which an
// [Engine] writes. Each write is one non-blocking send(2) of an event, or
// of the events that fell due together, so no goroutine waits on it.
//
// The engine writes the socket's descriptor itself, under a lock of the
// Conn's own that closing takes too. So the descriptor is never written
// once closed, and never once another file reuses it. The engine does not
// go through net's RawConn, whose locks and poller state sit in two more
// objects per connection. The Conn also holds its [pace.Stream] in place.
// At 10,000 streams each object that a write touches is a cache miss at
// every write. Blocking writes go through net.Conn as usual.
//
// This Conn is the engine's fast path, built on Linux unless the build
// tag portable is set. Other systems use the Conn of conn_portable.go,
// which a goroutine of its own writes through net.Conn (see
// docs/platforms.md).
type Conn struct {
	// What a write touches, together, up to st.Opened ([hotConn]).
	mu      sync.Mutex  // held across a non-blocking write, and across close
	ended   atomic.Bool // set before close takes mu: a write under mu that finds it set skips fd
	fd      int
	metrics pace.Metrics
	st      pace.Stream

	beat    []byte                // the stream's heartbeat, in its framing
	shard   atomic.Pointer[shard] // the shard that writes c; nil while ended or catching up
	nc      net.Conn
	timeout time.Duration // of a blocking write
	end     func(error)   // called once, when the stream ends, with why
	pending []byte        // what a blocking writer owes the client
	watchID uint64        // its id in the engine's watcher
}

// hotConn is how many bytes at the start of a [Conn] a write reads or
// counts, which the engine fetches ahead of the stream's turn.
const hotConn = unsafe.Offsetof(Conn{}.st) + unsafe.Offsetof(pace.Stream{}.Opened)

// ErrNoFD is returned for a connection that is not a socket.
var ErrNoFD = errors.New("connection has no file descriptor")

// NewConn returns the stream o describes, on connection nc.
func NewConn(nc net.Conn, o ConnOptions) (*Conn, error) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil, ErrNoFD
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoFD, err)
	}
	fd := -1
	if err := raw.Control(func(d uintptr) { fd = int(d) }); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoFD, err)
	}
	m := o.Metrics
	if m == nil {
		m = noMetrics{}
	}
	c := &Conn{fd: fd, metrics: m, beat: o.Beat, nc: nc, timeout: o.Timeout, end: o.End}
	c.st.Init(o.Source, o.Heartbeat, o.Opened, o.Written)
	return c, nil
}

// close closes the connection after any write in progress; it is called
// once, by the one that ended c.
func (c *Conn) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nc.Close()
}

// tryWrite writes b with one call that does not wait ([rawWrite]): n <
// len(b) with a nil error means the socket is full.
func (c *Conn) tryWrite(b []byte) (int, error) {
	c.mu.Lock()
	if c.ended.Load() { // closed, or about to be
		c.mu.Unlock()
		return 0, fmt.Errorf("write events: %w", net.ErrClosed)
	}
	n, err := rawWrite(c.fd, b)
	c.mu.Unlock()
	switch {
	case err == nil:
		return n, nil
	case errors.Is(err, syscall.EAGAIN):
		return 0, nil
	case errors.Is(err, syscall.EINTR):
		return 0, nil // written by the next attempt, as after a full socket
	case errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNRESET):
		// The client closed or reset the connection before the watcher
		// noticed.
		return 0, fmt.Errorf("write events: %w: %w", pace.ErrClientGone, err)
	}
	return 0, fmt.Errorf("write events: %w", err)
}

// rawWrite writes b to socket fd with one call that does not wait
// ([rawCall]: send(2), or write(2) on linux/386).
//
// It tells the scheduler nothing, as syscall.Write would (that the
// goroutine may block): a non-blocking call does not, and in a burst of
// thousands of writes that notice costs more than the write's own work in
// user space, and, when the runtime's monitor finds a shard's thread in a
// call and hands its processor to another thread, a wake-up in the kernel
// too (BENCHMARKS.md, "Against C").
func rawWrite(fd int, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, _, errno := syscall.RawSyscall6(rawCall, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), rawFlags, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
