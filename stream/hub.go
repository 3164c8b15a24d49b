package stream

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sse-demo/movingobject/simulation"
	"github.com/sse-demo/movingobject/stream/payload"
	"github.com/sse-demo/movingobject/stream/sse"
)

// DefaultReplay is how far back a [Hub] replays missed moves by default.
const DefaultReplay = 10 * time.Minute

// HubOptions configure a [Hub]. Zero fields take the defaults.
type HubOptions struct {
	// Options gives the heartbeat, write timeout, retry, logger and
	// metrics of the streams; its Defaults and ResumeKey are not used.
	Options
	// Replay is how long a client may be gone and still get every move it
	// missed, in order, from its Last-Event-ID; a client gone longer gets a
	// fresh init. The hub keeps this many seconds of encoded moves.
	Replay time.Duration
}

// Hub serves a [simulation.World] to every viewer at once: one goroutine
// makes each move when the world's clock says, encodes it once, and all
// subscribers get the same bytes. On HTTP/1.x that goroutine writes them
// to every subscriber itself (see fanout.go); on HTTP/2 it wakes the
// subscribers' handlers, which write them.
//
// A subscriber never holds up the tick or another subscriber: each writes
// from its own position in a ring of recent moves, so one that falls behind
// (a slow client, a full socket) catches up with all it missed in one
// batched write, with no gap, or is dropped when a write misses the write
// timeout. The event id is the move's seq, which is all a client needs to
// resume: within Replay, on any server with the same world, after a restart
// too, since a starting hub fills its ring from the world's pure function.
//
// The world starts walking when the first viewer subscribes, so a server
// that nobody watches does no work.
type Hub struct {
	world   *simulation.World
	opts    Options
	ring    []atomic.Pointer[hubEntry] // move seq sits at seq % len(ring)
	latest  atomic.Uint64              // the seq of the newest move in ring
	wake    atomic.Pointer[chan struct{}]
	closing chan struct{} // closed by Close
	fan     *fanout       // the streams written by the tick itself
	// sendBuffer, when set, is the socket send buffer of a hijacked
	// connection: tests make it small to fill it fast.
	sendBuffer int

	closeOnce sync.Once
	mu        sync.Mutex    // guards started and closed
	started   bool          // the tick loop runs, or has run
	closed    bool          // Close was called
	done      chan struct{} // closed when the tick loop has returned
}

// hubEntry is one move: its position and its encoded event, which is never
// modified once stored, so subscribers may write it without a lock.
type hubEntry struct {
	pos simulation.Position
	ev  []byte
}

// errClosing refuses a stream once Close was called.
var errClosing = errors.New("the server is shutting down")

// errBehind ends a subscriber whose next move has left the ring.
var errBehind = errors.New("subscriber fell behind the replay window")

// heartbeatEvent is the comment sent on a silent world stream.
var heartbeatEvent, _ = sse.Event{Comment: "heartbeat"}.AppendTo(nil)

// NewHub returns a hub for world, with o's zero fields set to the defaults.
func NewHub(world *simulation.World, o HubOptions) *Hub {
	if o.Replay <= 0 {
		o.Replay = DefaultReplay
	}
	size := max(2, int(o.Replay/world.Config().Interval)+1)
	h := &Hub{
		world:   world,
		opts:    o.Options.withDefaults(),
		ring:    make([]atomic.Pointer[hubEntry], size),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
		fan:     newFanout(),
	}
	wake := make(chan struct{})
	h.wake.Store(&wake)
	return h
}

// Config returns the world's box and pace.
func (h *Hub) Config() simulation.Config { return h.world.Config() }

// Close ends every world stream after its current write and stops the
// tick loop, waiting for it and for the goroutines of the fast path.
// Register it with [http.Server.RegisterOnShutdown]; a second call waits
// for the first to finish.
func (h *Hub) Close() {
	h.closeOnce.Do(func() {
		h.mu.Lock()
		h.closed = true
		close(h.closing)
		started := h.started
		h.mu.Unlock()
		if started {
			<-h.done
		}
		h.closeFast()
	})
}

// start fills the ring up to the current move and starts the tick loop,
// the first time it is called.
func (h *Hub) start() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return errClosing
	}
	if h.started {
		return nil
	}
	h.started = true
	c := h.fill(h.world.SeqAt(time.Now()))
	go h.loop(c)
	return nil
}

// fill stores the moves of the window that ends at seq, and returns a
// cursor standing at seq.
func (h *Hub) fill(seq uint64) *simulation.Cursor {
	first := seq - min(seq, uint64(len(h.ring)-1))
	c := h.world.Cursor(first)
	h.store(c.Position())
	for c.Position().Seq < seq {
		h.store(c.Next())
	}
	h.latest.Store(seq)
	return c
}

// store encodes move p, puts it in the ring and returns it.
func (h *Hub) store(p simulation.Position) *hubEntry {
	ev, err := sse.Event{
		ID:   strconv.FormatUint(p.Seq, 10),
		Name: payload.EventMove,
		Data: string(appendMove(nil, p, h.world.Time(p.Seq))),
	}.AppendTo(make([]byte, 0, 96))
	if err != nil {
		panic(fmt.Errorf("encode world move %d: %w", p.Seq, err)) // a bug: the fields are digits
	}
	e := &hubEntry{pos: p, ev: ev}
	h.ring[p.Seq%uint64(len(h.ring))].Store(e)
	return e
}

// entry returns move seq, or nil when it is not in the ring.
func (h *Hub) entry(seq uint64) *hubEntry {
	e := h.ring[seq%uint64(len(h.ring))].Load()
	if e == nil || e.pos.Seq != seq {
		return nil
	}
	return e
}

// loop makes each move when the world's clock reaches it and wakes the
// subscribers, until Close.
func (h *Hub) loop(c *simulation.Cursor) {
	defer close(h.done)
	t := time.NewTimer(time.Until(h.world.Time(h.latest.Load() + 1)))
	defer t.Stop()
	for {
		select {
		case <-h.closing:
			return
		case <-t.C:
		}
		now := h.world.SeqAt(time.Now())
		switch latest := h.latest.Load(); {
		case now <= latest: // woke early, or the clock went back: wait on
		case now-latest >= uint64(len(h.ring)): // asleep longer than the window
			c = h.fill(now)
			h.broadcast()
		default:
			for c.Position().Seq < now {
				h.store(c.Next())
			}
			h.latest.Store(now)
			h.broadcast()
			h.fanOut(now)
		}
		t.Reset(time.Until(h.world.Time(h.latest.Load() + 1)))
	}
}

// broadcast wakes every subscriber waiting for a move.
func (h *Hub) broadcast() {
	next := make(chan struct{})
	close(*h.wake.Swap(&next))
}

// resumeAt returns the move a new stream starts from, and whether it is
// the one named by the client's last event id: a seq still in the ring.
// Anything else (no id, a malformed or future one, one older than the
// window) starts from the newest move.
func (h *Hub) resumeAt(lastID string) (*hubEntry, bool) {
	if lastID != "" {
		seq, err := strconv.ParseUint(lastID, 10, 64)
		if e := h.entry(seq); err == nil && e != nil && seq <= h.latest.Load() {
			return e, true
		}
	}
	for {
		if e := h.entry(h.latest.Load()); e != nil {
			return e, false
		}
		// The ring moved on between the two loads: read latest again.
	}
}

// Events serves GET /world/events: a retry field, an init event with the
// world's parameters and position, then every move. A Last-Event-ID (or
// lastEventId parameter) within the replay window resumes: the init stands
// at that move, and the moves missed since follow at once.
func (h *Hub) Events(c echo.Context) error {
	if err := h.start(); err != nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, err.Error())
	}
	at, resumed := h.resumeAt(LastEventID(c.Request()))
	log := h.opts.Logger.With("resumed", resumed, "seq", at.pos.Seq)

	retry := jitter(h.opts.Retry)
	first, err := openingEvents(retry, strconv.FormatUint(at.pos.Seq, 10),
		string(appendInitAt(nil, h.world.Config(), h.world.Seed(), at.pos, resumed, retry)))
	if err != nil {
		return err
	}
	if fast, err := h.hijack(c, first, at.pos.Seq+1, resumed); fast {
		if err != nil {
			log.Debug("stream closed before init", "err", err)
		}
		return nil // the tick writes to the connection from now on
	}
	s := newSender(c, h.opts.WriteTimeout)
	s.buf = first
	if err := s.send(); err != nil {
		log.Debug("stream closed before init", "err", err)
		return nil
	}
	s.buf = nil // moves are written from the ring: an idle stream keeps no buffer

	m := h.opts.Metrics
	m.Opened(resumed)
	err = h.follow(c, s, at.pos.Seq+1)
	m.Closed(err != nil && writeFailed(log, err))
	return nil
}

// follow writes every move from seq next on as the world makes it, until
// the client leaves (nil), Close (nil), or a write fails.
func (h *Hub) follow(c echo.Context, s *sender, next uint64) error {
	ctx := c.Request().Context()
	var heartbeat <-chan time.Time
	if h.world.Config().Interval >= h.opts.Heartbeat {
		t := time.NewTicker(h.opts.Heartbeat)
		defer t.Stop()
		heartbeat = t.C
	}
	for {
		// Take the channel before reading latest: a move stored after the
		// read closes this channel, so none is missed.
		wake := *h.wake.Load()
		if latest := h.latest.Load(); next <= latest {
			if err := h.write(s, next, latest); err != nil {
				return err
			}
			next = latest + 1
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-h.closing:
			return nil
		case <-wake:
		case <-heartbeat:
			if err := s.arm(time.Now()); err != nil {
				return err
			}
			if _, err := s.w.Write(heartbeatEvent); err != nil {
				return fmt.Errorf("write heartbeat: %w", err)
			}
			if err := s.flush(); err != nil {
				return err
			}
		}
	}
}

// write sends moves from..to in one flush: a subscriber that fell behind
// catches up in one write rather than one per move.
func (h *Hub) write(s *sender, from, to uint64) error {
	start := time.Now()
	if err := s.arm(start); err != nil {
		return err
	}
	n := 0
	for seq := from; seq <= to; seq++ {
		e := h.entry(seq)
		if e == nil {
			return fmt.Errorf("move %d: %w", seq, errBehind)
		}
		if _, err := s.w.Write(e.ev); err != nil {
			return fmt.Errorf("write move %d: %w", seq, err)
		}
		n += len(e.ev)
	}
	if err := s.flush(); err != nil {
		return err
	}
	h.opts.Metrics.Wrote(int(to-from+1), n, time.Since(start).Seconds())
	return nil
}
