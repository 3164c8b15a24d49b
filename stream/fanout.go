package stream

import (
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
)

// The fast path of a [Hub]: on HTTP/1.x the hub takes the connection over
// (hijacks it), and its tick goroutine writes each move to every such
// connection itself, with one non-blocking write(2) each, sharded over
// GOMAXPROCS workers. No goroutine per stream is woken for a move, and
// net/http's per-connection buffers are freed, so an idle stream costs a
// socket, a small struct and one goroutine parked in a read that notices
// the client leaving (see [hijacked.watch]). A tick that comes late writes
// each stream all the moves it missed in one write.
//
// A connection that cannot take a whole move at once (its socket buffer
// is full: the client reads slowly) leaves the fast path: a goroutine of
// its own writes the rest and the moves that follow from the ring, with
// blocking writes under the write timeout, and hands the connection back
// once it has caught up, or drops it when a write misses the deadline.

// conn is one fast-path stream.
type conn struct {
	*hijacked

	mu     sync.Mutex // guards what follows
	next   uint64     // seq of the next move to write
	off    int        // bytes of move next already written
	slow   bool       // a catch-up goroutine owns the connection
	closed bool
	shard  *shard
	idx    int // index in shard.conns
}

// shard is the part of the fast-path streams one worker writes to.
type shard struct {
	mu    sync.Mutex // guards conns
	conns []*conn
}

// fanout holds the fast-path streams of a hub.
type fanout struct {
	shards []*shard
	slow   sync.WaitGroup // catch-up and watch goroutines
	full   atomic.Int64   // writes that found a socket full, for tests
}

func newFanout() *fanout {
	f := &fanout{shards: make([]*shard, runtime.GOMAXPROCS(0))}
	for i := range f.shards {
		f.shards[i] = &shard{}
	}
	return f
}

// hijack serves c on the fast path when its connection can be taken over,
// and reports whether it did; an error means the client is gone.
func (h *Hub) hijack(c echo.Context, first []byte, next uint64, resumed bool) (bool, error) {
	if h.world.Config().Interval >= h.opts.Heartbeat {
		return false, nil // moves rarer than heartbeats: the goroutine path sends those
	}
	hc, ok, err := hijackStream(c, first, h.opts.WriteTimeout, h.sendBuffer, h.opts.Logger)
	if !ok || err != nil {
		return ok, err
	}
	cn := &conn{hijacked: hc, next: next}
	if !h.add(cn, resumed) {
		hc.close()
		return true, errClosing
	}
	return true, nil
}

// add puts cn on the fast path and catches it up with the moves made since
// its init; it reports false once the hub is closing.
func (h *Hub) add(cn *conn, resumed bool) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.opts.Metrics.Opened(resumed)
	s := h.fan.shards[int(cn.next)%len(h.fan.shards)]
	s.mu.Lock()
	cn.shard, cn.idx = s, len(s.conns)
	s.conns = append(s.conns, cn)
	s.mu.Unlock()
	cn.watch(&h.fan.slow, func() bool { return h.remove(cn, false) })
	// Moves made since init was encoded: the catch-up goroutine sends them.
	cn.mu.Lock()
	if cn.next <= h.latest.Load() {
		h.goSlow(cn)
	}
	cn.mu.Unlock()
	return true
}

// remove takes cn off the fast path and closes it, and reports whether it
// did (false: it was removed already).
func (h *Hub) remove(cn *conn, dropped bool) bool {
	s := cn.shard
	s.mu.Lock()
	if cn.idx >= 0 {
		last := s.conns[len(s.conns)-1]
		s.conns[cn.idx], last.idx = last, cn.idx
		s.conns = s.conns[:len(s.conns)-1]
		cn.idx = -1
	}
	s.mu.Unlock()
	cn.mu.Lock()
	already := cn.closed
	cn.closed = true
	cn.mu.Unlock()
	if !already {
		cn.close()
		h.opts.Metrics.Closed(dropped)
	}
	return !already
}

// maxBatch is the most moves the tick writes to one connection at once;
// a connection further behind is left to a catch-up goroutine.
const maxBatch = 64

// fanOut writes the moves up to latest to every fast-path stream, one
// shard per worker, and returns when all are written. A stream that missed
// moves (the tick ran late) gets all of them in its one write.
func (h *Hub) fanOut(latest uint64) {
	var wg sync.WaitGroup
	for _, s := range h.fan.shards[1:] {
		wg.Go(func() { h.writeShard(s, latest) })
	}
	h.writeShard(h.fan.shards[0], latest)
	wg.Wait()
}

// writeShard writes to the streams of s the moves they miss up to latest.
func (h *Hub) writeShard(s *shard, latest uint64) {
	var gone []*conn
	var batch []byte // for a stream more than one move behind
	newest := h.entry(latest)
	s.mu.Lock()
	for _, cn := range s.conns {
		cn.mu.Lock()
		if cn.slow || cn.closed || cn.next > latest {
			cn.mu.Unlock()
			continue
		}
		out := newest.ev
		if cn.next < latest {
			var ok bool
			if batch, ok = h.appendRange(batch[:0], cn.next, latest); !ok {
				h.goSlow(cn) // too far behind for one write
				cn.mu.Unlock()
				continue
			}
			out = batch
		}
		start := time.Now()
		n, err := cn.tryWrite(out)
		switch {
		case err == nil && n == len(out):
			h.opts.Metrics.Wrote(int(latest-cn.next+1), n, time.Since(start).Seconds())
			cn.next = latest + 1
		case err == nil:
			// The socket is full: the rest is for a goroutine that may wait.
			h.fan.full.Add(1)
			h.advance(cn, n)
			h.goSlow(cn)
		default:
			cn.err = err
			gone = append(gone, cn)
		}
		cn.mu.Unlock()
	}
	s.mu.Unlock()
	for _, cn := range gone {
		h.remove(cn, writeFailed(cn.log, cn.err))
	}
}

// appendRange appends moves from..to to dst, or reports false when there
// are more than maxBatch of them or one has left the ring.
func (h *Hub) appendRange(dst []byte, from, to uint64) ([]byte, bool) {
	if to-from >= maxBatch {
		return dst, false
	}
	for seq := from; seq <= to; seq++ {
		e := h.entry(seq)
		if e == nil {
			return dst, false
		}
		dst = append(dst, e.ev...)
	}
	return dst, true
}

// advance moves cn on by n bytes written from the start of move cn.next.
func (h *Hub) advance(cn *conn, n int) {
	for {
		e := h.entry(cn.next)
		if e == nil || n < len(e.ev) {
			cn.off = n
			return
		}
		n -= len(e.ev)
		cn.next++
	}
}

// goSlow hands cn to a catch-up goroutine; cn.mu is held.
func (h *Hub) goSlow(cn *conn) {
	cn.slow = true
	h.fan.slow.Add(1)
	go h.catchUp(cn)
}

// catchUp writes what cn missed with blocking writes until it stands at
// the newest move, then gives it back to the fast path.
func (h *Hub) catchUp(cn *conn) {
	defer h.fan.slow.Done()
	for {
		cn.mu.Lock()
		// Read latest under the lock: a tick that skipped cn, because it
		// was slow, stored its move before it took the lock.
		latest := h.latest.Load()
		next, off := cn.next, cn.off
		if next > latest {
			cn.slow = false // the tick after latest writes to it again
			cn.mu.Unlock()
			return
		}
		cn.mu.Unlock()
		err := h.writeRange(cn, next, off, latest)
		if err != nil {
			h.remove(cn, writeFailed(cn.log, err))
			return
		}
		cn.mu.Lock()
		cn.next, cn.off = latest+1, 0
		cn.mu.Unlock()
		select {
		case <-h.closing:
			return // Close closes the connection
		default:
		}
	}
}

// writeRange writes moves from..to (skipping the first off bytes of the
// first) in one writev(2), which blocks under the write timeout.
func (h *Hub) writeRange(cn *conn, from uint64, off int, to uint64) error {
	start := time.Now()
	bufs := make(net.Buffers, 0, min(to-from+1, 4096))
	n := 0
	for seq := from; seq <= to; seq++ {
		e := h.entry(seq)
		if e == nil {
			return fmt.Errorf("move %d: %w", seq, errBehind)
		}
		bufs = append(bufs, e.ev[off:])
		n += len(e.ev) - off
		off = 0
	}
	if err := cn.writeBuffers(bufs); err != nil {
		return fmt.Errorf("moves %d..%d: %w", from, to, err)
	}
	h.opts.Metrics.Wrote(int(to-from+1), n, time.Since(start).Seconds())
	return nil
}

// closeFast ends every fast-path stream and waits for the catch-up
// goroutines.
func (h *Hub) closeFast() {
	for _, s := range h.fan.shards {
		s.mu.Lock()
		conns := append([]*conn(nil), s.conns...)
		s.mu.Unlock()
		for _, cn := range conns {
			h.remove(cn, false)
		}
	}
	h.fan.slow.Wait()
}
