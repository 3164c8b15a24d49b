package stream

import (
	"container/heap"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/labstack/echo/v4"

	"github.com/sse-demo/movingobject/simulation"
	"github.com/sse-demo/movingobject/stream/payload"
	"github.com/sse-demo/movingobject/stream/sse"
)

// The fast path of [Handler]: on HTTP/1.x a per-viewer walk is not given a
// ticker, a heartbeat timer and two goroutines of its own. Its connection
// is taken over and put on one of GOMAXPROCS schedulers, each a goroutine
// with a heap of walks ordered by when their next event is due: it steps
// each walk when due, encodes the move into one buffer of its own and
// writes it with one non-blocking write(2), and sends a heartbeat to a walk
// silent for Heartbeat. A walk whose socket cannot take a whole move skips
// its ticks (as a [time.Ticker] drops them) while a goroutine of its own
// writes the rest under the write timeout, and is dropped if that write
// misses it. A scheduler's goroutine runs while it has walks.

// walk is one per-viewer stream on the fast path.
type walk struct {
	*hijacked
	walker *simulation.Walker
	signer *tokenSigner
	every  time.Duration
	// Times on monoNow's clock: when the next move is due, and when the
	// next event is due, a move or a heartbeat after Heartbeat of silence.
	nextMove, due time.Duration
	idx           int         // index in the scheduler's heap; -1 once removed
	busy          atomic.Bool // a goroutine is finishing a write
	sched         *scheduler
}

// scheduler steps and writes the walks of one heap.
type scheduler struct {
	mu      sync.Mutex // guards walks and running
	walks   walkHeap
	running bool          // its goroutine runs; it returns when walks is empty
	wake    chan struct{} // a walk was added (capacity 1)

	// Scratch, used by the scheduler goroutine only.
	buf, id, data []byte
}

// walkHeap orders walks by due time.
type walkHeap []*walk

func (q walkHeap) Len() int           { return len(q) }
func (q walkHeap) Less(i, j int) bool { return q[i].due < q[j].due }
func (q walkHeap) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].idx, q[j].idx = i, j
}
func (q *walkHeap) Push(x any) {
	w := x.(*walk)
	w.idx = len(*q)
	*q = append(*q, w)
}
func (q *walkHeap) Pop() any {
	old := *q
	w := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	w.idx = -1
	return w
}

// hijack serves the walk on the fast path when its connection can be
// taken over, and reports whether it did; an error means the client is
// gone.
func (h *Handler) hijack(c echo.Context, first []byte, walker *simulation.Walker, signer *tokenSigner, resumed bool) (bool, error) {
	every := walker.Config().Interval
	hc, ok, err := hijackStream(c, first, h.opts.WriteTimeout, 0, h.opts.Logger)
	if !ok || err != nil {
		return ok, err
	}
	now := monoNow()
	w := &walk{hijacked: hc, walker: walker, signer: signer, every: every, nextMove: now + every}
	w.due = min(w.nextMove, now+h.opts.Heartbeat)
	h.opts.Metrics.Opened(resumed)
	if !h.walks.add(w) {
		hc.close()
		h.opts.Metrics.Closed(false)
		return true, errClosing
	}
	return true, nil
}

// walks are the schedulers of a [Handler], made with its first fast-path
// stream.
type walks struct {
	h      *Handler
	once   sync.Once
	scheds []*scheduler
	next   atomic.Uint64  // round robin over scheds
	wg     sync.WaitGroup // schedulers and write goroutines
	mu     sync.Mutex     // guards closed, and wg.Add against Wait
	closed bool
}

// add puts w on a scheduler, starting them the first time; it reports
// false once the handler is closed.
func (ws *walks) add(w *walk) bool {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.closed {
		return false
	}
	ws.once.Do(func() {
		ws.scheds = make([]*scheduler, runtime.GOMAXPROCS(0))
		for i := range ws.scheds {
			ws.scheds[i] = &scheduler{wake: make(chan struct{}, 1)}
		}
	})
	s := ws.scheds[ws.next.Add(1)%uint64(len(ws.scheds))]
	w.sched = s
	s.mu.Lock()
	heap.Push(&s.walks, w)
	if !s.running {
		s.running = true
		ws.wg.Go(func() { ws.run(s) })
	}
	s.mu.Unlock()
	w.watch(&ws.wg, func() bool { return ws.remove(w, false) })
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return true
}

// close ends every fast-path stream and waits for the goroutines; the
// handler's closing channel must be closed already.
func (ws *walks) close() {
	ws.mu.Lock()
	ws.closed = true
	scheds := ws.scheds
	ws.mu.Unlock()
	for _, s := range scheds {
		s.mu.Lock()
		all := s.walks
		for _, w := range all {
			w.idx = -1
		}
		s.walks = nil
		s.mu.Unlock()
		for _, w := range all {
			w.close() // also ends a blocked write
			ws.h.opts.Metrics.Closed(false)
		}
	}
	ws.wg.Wait()
}

// run makes the moves of s's walks as they fall due, until the handler
// closes or s has no walk left.
func (ws *walks) run(s *scheduler) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		s.mu.Lock()
		if len(s.walks) == 0 {
			s.running = false
			s.mu.Unlock()
			return
		}
		var due *walk
		move := false
		now := monoNow()
		wait := s.walks[0].due - now
		if wait <= 0 {
			due = s.walks[0]
			if move = now >= due.nextMove; move {
				// Like a time.Ticker, skip ticks that are already past.
				if due.nextMove += due.every; due.nextMove < now {
					due.nextMove = now + due.every
				}
			}
			due.due = min(due.nextMove, now+ws.h.opts.Heartbeat)
			heap.Fix(&s.walks, 0)
		}
		s.mu.Unlock()
		if due != nil {
			ws.step(s, due, move)
			continue
		}
		t.Reset(wait)
		select {
		case <-ws.h.closing:
			return
		case <-s.wake:
		case <-t.C:
		}
	}
}

// step makes and writes the next move of w, or a heartbeat, unless a
// write of w is still under way.
func (ws *walks) step(s *scheduler, w *walk, move bool) {
	if w.busy.Load() {
		return // the tick is dropped: the walk moves on when it is written
	}
	start := time.Now()
	out := heartbeatEvent
	if move {
		pos := w.walker.Step()
		s.id = w.signer.appendToken(s.id[:0], w.walker.Seed(), pos)
		s.data = appendMove(s.data[:0], pos, start)
		var err error
		s.buf, err = sse.Event{ID: unsafeString(s.id), Name: payload.EventMove, Data: unsafeString(s.data)}.AppendTo(s.buf[:0])
		if err != nil {
			panic(err) // a bug: the fields are digits, dots and hex
		}
		out = s.buf
	}
	n, err := w.tryWrite(out)
	switch {
	case err != nil:
		ws.remove(w, writeFailed(w.log, err))
	case n == len(out):
		ws.h.opts.Metrics.Wrote(1, n, time.Since(start).Seconds())
	default: // the socket is full: finish on a goroutine that may wait
		rest := append([]byte(nil), out[n:]...)
		w.busy.Store(true)
		ws.mu.Lock()
		if !ws.closed {
			ws.wg.Go(func() { ws.finish(w, rest) })
		}
		ws.mu.Unlock()
	}
}

// finish writes the rest of a move with a blocking write, and drops the
// walk if it misses the write timeout.
func (ws *walks) finish(w *walk, rest []byte) {
	start := time.Now()
	if err := w.writeBlocking(rest); err != nil {
		ws.remove(w, writeFailed(w.log, err))
		return
	}
	ws.h.opts.Metrics.Wrote(1, len(rest), time.Since(start).Seconds())
	w.busy.Store(false)
}

// remove takes w off its scheduler and closes it, and reports whether it
// did (false: it was removed already).
func (ws *walks) remove(w *walk, dropped bool) bool {
	s := w.sched
	s.mu.Lock()
	removed := w.idx >= 0
	if removed {
		heap.Remove(&s.walks, w.idx)
	}
	s.mu.Unlock()
	if removed {
		w.close()
		ws.h.opts.Metrics.Closed(dropped)
		select {
		case s.wake <- struct{}{}: // so that an idle scheduler returns
		default:
		}
	}
	return removed
}

// monoBase is the origin of monoNow.
var monoBase = time.Now()

// monoNow returns the monotonic time since monoBase: comparing two is
// cheaper than comparing [time.Time] values, which the heap does often.
func monoNow() time.Duration { return time.Since(monoBase) }

// unsafeString returns b as a string without copying, for an [Event] that
// is encoded before b changes.
func unsafeString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}
