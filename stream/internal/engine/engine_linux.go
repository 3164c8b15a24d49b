//go:build linux && !portable

package engine

import (
	"container/heap"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/sse-demo/movingobject/stream/internal/pace"
)

// DefaultSlot is the default resolution of an [Engine]'s clock.
const DefaultSlot = time.Millisecond

// Engine writes [Conn] streams from one goroutine per shard, with
// GOMAXPROCS shards. Each shard keeps its streams in slots of its clock. A
// stream sits in the slot of its next due time, rounded up to the slot's
// length. When a slot comes, the shard writes every stream in it, in a
// burst. Each stream gets one non-blocking send(2) of all that fell due
// for it, and goes into the slot of its next due time. Streams due at the
// same moment (every viewer of the shared world) share one wake-up.
// Per-viewer walks, due at moments of their own, share one wake-up per
// slot.
//
// A stream whose socket cannot take all it is written (its client reads
// slowly) leaves its shard. A goroutine of its own then writes the rest,
// and whatever falls due meanwhile, with blocking writes under the write
// timeout. It puts the stream back once it has caught up, or ends it when
// a write misses the timeout.
//
// One goroutine waits on every socket for its client's end ([watcher]).
// So a stream whose client closes the connection ends at once, not at its
// next write. An event stream's request has no body, so nothing else is
// read.
//
// A shard's goroutine runs while the shard has streams.
//
// This Engine is the fast path, built on Linux unless the build tag
// portable is set. Other systems use the Engine of engine_portable.go
// (see docs/platforms.md).
type Engine struct {
	slot    time.Duration
	shards  []*shard
	next    atomic.Uint64 // round robin over shards
	closing chan struct{} // closed by Close
	watcher *watcher      // notices clients leaving
	// onStall, when set, is called when a write finds a socket full:
	// tests wait on it for a client's socket to fill.
	onStall func()

	mu     sync.Mutex // guards conns, closed, and wg.Add against wg.Wait
	conns  map[*Conn]struct{}
	closed bool
	wg     sync.WaitGroup // shard loops, catch-up writers and watchers
}

// shard is one goroutine's share of the streams.
type shard struct {
	mu      sync.Mutex // guards what follows
	slots   slotHeap   // the slots that hold streams, earliest first
	byslot  map[int64][]*Conn
	live    int           // streams on the shard that have not ended
	running bool          // its goroutine runs
	wake    chan struct{} // a stream was added from outside (capacity 1)

	// Used by the shard's goroutine only.
	buf  []byte
	dues []pace.Time // scratch for the due times of a slot's streams
	turn pace.Time   // when the last write of the slot being written ended
	free [][]*Conn   // emptied slot lists, for reuse
}

// New returns an engine whose clock has slots of slot (at most that much
// later than due, every stream is written); 0 means [DefaultSlot].
func New(slot time.Duration) *Engine {
	if slot <= 0 {
		slot = DefaultSlot
	}
	e := &Engine{slot: slot, shards: make([]*shard, runtime.GOMAXPROCS(0)), closing: make(chan struct{}), watcher: newWatcher(), conns: make(map[*Conn]struct{})}
	for i := range e.shards {
		e.shards[i] = &shard{byslot: make(map[int64][]*Conn), wake: make(chan struct{}, 1)}
	}
	return e
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
	if err := e.watcher.add(e, c); err != nil {
		e.wg.Go(func() { e.watchRead(c) }) // a goroutine of its own, as without epoll
	}
	e.scheduleLocked(c)
	return nil
}

// schedule puts c back on a shard after a catch-up, unless Close was called.
func (e *Engine) schedule(c *Conn) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.closed {
		e.scheduleLocked(c)
	}
}

// scheduleLocked puts c on the next shard, starting its goroutine if it
// is not running; e.mu is held.
func (e *Engine) scheduleLocked(c *Conn) {
	sh := e.shards[e.next.Add(1)%uint64(len(e.shards))]
	sh.mu.Lock()
	c.shard.Store(sh)
	sh.live++
	e.reinsert(sh, []*Conn{c}, []pace.Time{c.st.Due()})
	start := !sh.running
	sh.running = true
	sh.mu.Unlock()
	if start {
		e.wg.Go(func() { e.run(sh) })
		return
	}
	select {
	case sh.wake <- struct{}{}:
	default:
	}
}

// slotOf returns the slot of due time t: the first that starts at or
// after it.
func (e *Engine) slotOf(t pace.Time) int64 {
	return int64((t + e.slot - 1) / e.slot)
}

// reinsert puts the streams of a written slot back in the slots of their
// next due times, dues[i] that of kept[i]; sh.mu is held. The due times
// come apart from the streams, taken while each stream was being written:
// by the end of a slot of thousands of streams, the first ones' memory is
// out of the cache again. Streams of a slot mostly move on to the same
// slot (every viewer of the world does), so each run of them is appended
// at once, with one look-up of its slot.
func (e *Engine) reinsert(sh *shard, kept []*Conn, dues []pace.Time) {
	for i := 0; i < len(kept); {
		s := e.slotOf(dues[i])
		lo, hi := pace.Time(s-1)*e.slot, pace.Time(s)*e.slot // slot s holds the due times in (lo, hi]
		j := i + 1
		for j < len(kept) && dues[j] > lo && dues[j] <= hi {
			j++
		}
		list, ok := sh.byslot[s]
		if !ok {
			heap.Push(&sh.slots, s)
			if n := len(sh.free); n > 0 {
				list, sh.free = sh.free[n-1], sh.free[:n-1]
			}
		}
		sh.byslot[s] = append(list, kept[i:j]...)
		i = j
	}
}

// run writes the streams of sh as their slots come, until Close or until
// sh holds no stream.
func (e *Engine) run(sh *shard) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		sh.mu.Lock()
		if sh.live == 0 { // what the slots still hold has ended
			clear(sh.byslot)
			sh.slots = sh.slots[:0]
			sh.running = false
			sh.mu.Unlock()
			return
		}
		if len(sh.slots) == 0 {
			sh.running = false
			sh.mu.Unlock()
			return
		}
		s := sh.slots[0]
		now := pace.Now()
		if wait := pace.Time(s)*e.slot - now; wait > 0 {
			sh.mu.Unlock()
			t.Reset(wait)
			select {
			case <-e.closing:
				return
			case <-sh.wake:
			case <-t.C:
			}
			continue
		}
		heap.Pop(&sh.slots)
		batch := sh.byslot[s]
		delete(sh.byslot, s)
		sh.mu.Unlock()

		kept, dues := e.writeSlot(sh, batch, now)
		sh.mu.Lock()
		e.reinsert(sh, kept, dues)
		clear(batch)
		sh.free = append(sh.free, batch[:0])
		sh.mu.Unlock()
	}
}

// writeSlot writes the streams of a slot that came at now, in turn, and
// returns those that stay on sh (in batch's array) with their next due
// times.
func (e *Engine) writeSlot(sh *shard, batch []*Conn, now pace.Time) (kept []*Conn, dues []pace.Time) {
	kept, dues = batch[:0], sh.dues[:0]
	sh.turn = now
	for i, c := range batch {
		warm(batch, i)
		if e.step(sh, c, now) {
			kept = append(kept, c)
			dues = append(dues, c.st.Due())
		}
	}
	sh.dues = dues
	return kept, dues
}

// step writes to c what is due at now, and reports whether c stays on its
// shard (false: it ended, or a catch-up writer took it).
func (e *Engine) step(sh *shard, c *Conn, now pace.Time) bool {
	if c.ended.Load() {
		return false
	}
	out, events, heartbeat, err := c.st.Next(sh.buf[:0], now)
	if heartbeat {
		out = append(out, c.beat...)
	}
	sh.buf = out[:0]
	if err != nil {
		e.finish(c, err)
		return false
	}
	if len(out) == 0 {
		return true // early: a slot rounds up, a due time may move back
	}
	n, err := c.tryWrite(out)
	switch {
	case err != nil:
		e.finish(c, err)
		return false
	case n == len(out):
		c.st.Wrote(n, events, now)
		t := pace.Now() // one clock read a write: the end of this turn, the start of the next
		c.metrics.Wrote(events, n, (t - sh.turn).Seconds())
		sh.turn = t
		return true
	}
	// The socket is full: the rest is for a goroutine that may wait.
	if e.onStall != nil {
		e.onStall()
	}
	e.leave(c)
	c.st.Wrote(n, 0, now)
	t := pace.Now()
	c.metrics.Wrote(0, n, (t - sh.turn).Seconds())
	sh.turn = t
	c.pending = append(c.pending[:0], out[n:]...)
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.closed {
		e.wg.Go(func() { e.catchUp(c, events) })
	}
	return false
}

// catchUp writes c.pending (holding events events) and what falls due
// meanwhile with blocking writes, then puts c back on a shard.
func (e *Engine) catchUp(c *Conn, events int) {
	for {
		start := pace.Now()
		if err := c.WriteBlocking(c.pending); err != nil {
			e.finish(c, err)
			return
		}
		now := pace.Now()
		c.st.Wrote(len(c.pending), events, now)
		c.metrics.Wrote(events, len(c.pending), (now - start).Seconds())
		var err error
		if c.pending, events, _, err = c.st.Next(c.pending[:0], now); err != nil {
			e.finish(c, err) // no heartbeat is due: the stream just wrote
			return
		}
		if len(c.pending) == 0 {
			e.schedule(c)
			return
		}
	}
}

// finish ends c with err, once: it closes the connection, and calls c's
// end. A shard drops an ended stream when its slot comes.
func (e *Engine) finish(c *Conn, err error) {
	if c.ended.Swap(true) {
		return
	}
	e.watcher.remove(c) // before close: the descriptor may be reused at once
	c.close()
	e.leave(c)
	e.mu.Lock()
	delete(e.conns, c)
	e.mu.Unlock()
	c.end(err)
}

// leave takes c off its shard, if it is on one, and wakes a shard left
// with no live stream, so that its goroutine returns.
func (e *Engine) leave(c *Conn) {
	sh := c.shard.Swap(nil)
	if sh == nil {
		return
	}
	sh.mu.Lock()
	sh.live--
	idle := sh.live == 0
	sh.mu.Unlock()
	if idle {
		select {
		case sh.wake <- struct{}{}:
		default:
		}
	}
}

// How far ahead in a slot [warm] fetches streams' memory: far enough that
// it is in cache by their turn (a turn is mostly one send(2), a
// microsecond or two), near enough that it is still there.
const (
	warmConn   = 8 // the Conn of the stream this far ahead
	warmSource = 4 // the source of the stream this far ahead, where its Conn, fetched by now, points
)

// warm has the CPU fetch, without waiting, the memory that the turns of
// streams ahead of batch[i] read. Each stream's state, its Conn and its
// source, is a few cache lines of its own that the kernel's work in every
// send(2) between its turns evicts: read at its turn, each stream waited
// on memory twice in a row (its Conn, then the source it points to), which
// cost more than the rest of its turn in user space (BENCHMARKS.md,
// "Where the world's user time went, and the prefetch").
func warm(batch []*Conn, i int) {
	if j := i + warmConn; j < len(batch) {
		prefetch(unsafe.Pointer(batch[j]), hotConn)
	}
	if j := i + warmSource; j < len(batch) {
		prefetch(dataWord(batch[j].st.Source()), 64)
	}
}

// dataWord returns where src is in memory: the data word of the interface
// value, as the runtime lays it out. The engine prefetches a source's
// first bytes, where a source keeps what its every call reads. Only a
// prefetch may use it. Should the layout ever change, a prefetch of a
// wrong address costs a little time and nothing else.
func dataWord(src pace.Source) unsafe.Pointer {
	return (*[2]unsafe.Pointer)(unsafe.Pointer(&src))[1]
}

// slotHeap orders slots, earliest first.
type slotHeap []int64

func (h slotHeap) Len() int           { return len(h) }
func (h slotHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h slotHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *slotHeap) Push(x any)        { *h = append(*h, x.(int64)) }
func (h *slotHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
