package engine

import "github.com/sse-demo/movingobject/stream/internal/pace"

// This file holds what both of the engine's paths share: the fast path
// (engine_linux.go, conn_linux.go) and the portable one
// (engine_portable.go, conn_portable.go). Each path declares its own
// Engine and Conn, with the fields these methods use.

// watchRead ends c when its client closes or resets the connection, or
// when it is closed, from a read of its own that waits. The portable path
// gives every stream one. The fast path gives one to a stream that its
// [watcher] cannot watch (when epoll fails).
func (e *Engine) watchRead(c *Conn) {
	var b [1]byte
	for {
		if _, err := c.nc.Read(b[:]); err != nil {
			e.finish(c, pace.ErrClientGone)
			return
		}
	}
}

// Close ends every stream with [pace.ErrShutdown] and waits for the engine's
// goroutines. Streams added later are refused.
func (e *Engine) Close() {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		e.wg.Wait()
		return
	}
	e.closed = true
	close(e.closing)
	conns := make([]*Conn, 0, len(e.conns))
	for c := range e.conns {
		conns = append(conns, c)
	}
	e.mu.Unlock()
	for _, c := range conns {
		e.finish(c, pace.ErrShutdown)
	}
	e.wg.Wait()
}
