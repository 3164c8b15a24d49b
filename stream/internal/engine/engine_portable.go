//go:build !linux || portable

package engine

import (
	"sync"
	"time"

	"github.com/sse-demo/movingobject/stream/internal/pace"
)

// Engine writes [Conn] streams, each from a goroutine of its own that
// runs [pace.Loop]. The goroutine writes through net.Conn under the write
// timeout, so a client that reads slowly blocks only its own stream, and
// a write that misses the timeout ends it. A second goroutine per stream
// waits in a read of the connection, to notice at once when the client
// closes it (an event stream's request has no body, so nothing else is
// read).
//
// This Engine is the portable path, built on every system but Linux, and
// on Linux with the build tag portable. It costs two goroutines per
// stream and a wake-up per stream per event, where the fast path of
// engine_linux.go shares a few goroutines between all streams (see
// docs/platforms.md).
type Engine struct {
	closing chan struct{} // closed by Close
	// onWrite, when set, is called before each write. Tests wait on it
	// for a write to a client that reads nothing, which then blocks.
	onWrite func(*Conn)

	mu     sync.Mutex // guards conns, closed, and wg.Add against wg.Wait
	conns  map[*Conn]struct{}
	closed bool
	wg     sync.WaitGroup // every stream's writer and reader
}

// New returns an engine. The portable engine has no clock of its own,
// so it ignores slot, the resolution of the fast path's clock.
func New(slot time.Duration) *Engine {
	return &Engine{closing: make(chan struct{}), conns: make(map[*Conn]struct{})}
}

// Add has the engine write c from now on, and watch for its client
// leaving. It returns [pace.ErrShutdown] once Close was called; c is not ended
// then, and is the caller's to close.
func (e *Engine) Add(c *Conn) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return pace.ErrShutdown
	}
	e.conns[c] = struct{}{}
	e.wg.Go(func() { e.write(c) })
	e.wg.Go(func() { e.watchRead(c) })
	return nil
}

// write writes c until it ends, and ends it with why.
func (e *Engine) write(c *Conn) {
	e.finish(c, pace.Loop(c.gone, e.closing, framer{e: e, c: c}, &c.st, c.metrics))
}

// finish ends c with err, once. It stops c's writer, closes the
// connection (which ends a write or a read in progress), and calls c's
// end.
func (e *Engine) finish(c *Conn, err error) {
	if c.ended.Swap(true) {
		return
	}
	close(c.gone)
	c.nc.Close()
	e.mu.Lock()
	delete(e.conns, c)
	e.mu.Unlock()
	c.end(err)
}
