// Package hub keeps the shared world's recent moves, each encoded once.
//
// Every viewer is written the same bytes, and a viewer that comes back
// within the replay window gets every move it missed, in order. The hub
// knows nothing of HTTP or of connections. The world route
// (stream/routes/world) reads it for every transport.
//
// A Hub has no goroutine. A move is made when a reader first asks for it
// (a stream whose next move fell due). So a server that nobody watches does
// no work, and every move is made and encoded once however many read it.
package hub

import (
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/sse-demo/movingobject/simulation"
	"github.com/sse-demo/movingobject/stream/internal/deflate"
	"github.com/sse-demo/movingobject/stream/internal/ring"
	"github.com/sse-demo/movingobject/stream/payload"
	"github.com/sse-demo/movingobject/stream/sse"
)

// DefaultReplay is how far back a [Hub] replays missed moves by default.
const DefaultReplay = 10 * time.Minute

// Hub is the ring of a [simulation.World]'s recent moves.
type Hub struct {
	world *simulation.World
	ring  *ring.Ring[Entry] // its Latest is the newest move made

	mu     sync.Mutex         // guards cursor and packed, and makes one reader at a time fill the ring
	cursor *simulation.Cursor // stands at latest; nil before the first fill
	packed *deflate.Shared    // the moves' SSE events, compressed in order
}

// Entry is one move: its position, when it was due, and its encodings, one
// per framing, made once for every client of every transport. An Entry is
// never modified once stored, so readers share it without a lock.
type Entry struct {
	Pos     simulation.Position
	Due     time.Time
	Data    []byte // the move as JSON ([payload.Move.AppendJSON]): a poll answer's element
	Event   []byte // the SSE event: id (the seq), event name, data
	Message []byte // the WebSocket message ([payload.Move.AppendMessage])
	// Deflate is Event in the shared compressed stream, which restarts
	// just before this move when Restart is set ([deflate.Shared]).
	Deflate []byte
	Restart bool
}

// New returns the hub of world, which keeps replay's worth of moves (at
// least two).
func New(world *simulation.World, replay time.Duration) *Hub {
	if replay <= 0 {
		replay = DefaultReplay
	}
	size := int(replay/world.Config().Interval) + 1
	return &Hub{world: world, ring: ring.New(size, func(e *Entry) uint64 { return e.Pos.Seq }), packed: deflate.NewShared()}
}

// World returns the world whose moves the hub keeps.
func (h *Hub) World() *simulation.World { return h.world }

// Latest returns the seq of the newest move made so far, 0 before any.
func (h *Hub) Latest() uint64 { return h.ring.Latest() }

// Upto makes every move up to seq that is not made yet and returns the
// newest, seq itself. It returns nil for a move gone from the window. The caller
// decides that seq is due: the hub trusts its caller's clock.
func (h *Hub) Upto(seq uint64) *Entry {
	if seq <= h.ring.Latest() { // latest moves on once its moves are stored
		if e := h.Entry(seq); e != nil {
			return e
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cursor == nil {
		h.fill(seq)
		return h.Entry(seq)
	}
	c := h.cursor
	switch at := c.Position().Seq; {
	case seq <= at:
		return h.Entry(seq) // made already: nil when gone from the window
	case seq-at >= uint64(h.ring.Len()):
		h.fill(seq) // nobody asked for longer than the window: start it anew
	default:
		for c.Position().Seq < seq {
			h.store(c.Next())
		}
		h.ring.SetLatest(seq)
	}
	return h.Entry(seq)
}

// fill makes the moves of the window that ends at seq; h.mu is held.
func (h *Hub) fill(seq uint64) {
	first := seq - min(seq, uint64(h.ring.Len()-1))
	c := h.world.Cursor(first)
	h.store(c.Position())
	for c.Position().Seq < seq {
		h.store(c.Next())
	}
	h.cursor = c
	h.ring.SetLatest(seq)
}

// store encodes move p and puts it in the ring; h.mu is held.
func (h *Hub) store(p simulation.Position) {
	due := h.world.Time(p.Seq)
	m := payload.Move{Seq: p.Seq, X: p.X, Y: p.Y, TS: due.UnixMilli()}
	data := m.AppendJSON(make([]byte, 0, 64))
	ev, err := sse.Event{ID: strconv.FormatUint(p.Seq, 10), Name: payload.EventMove, Data: string(data)}.AppendTo(make([]byte, 0, 96))
	if err != nil {
		panic(fmt.Errorf("encode world move %d: %w", p.Seq, err)) // a bug: the fields are digits
	}
	packed, restart := h.packed.Add(p.Seq, ev)
	h.ring.Store(&Entry{Pos: p, Due: due, Data: data, Event: ev, Message: m.AppendMessage(make([]byte, 0, 80)), Deflate: packed, Restart: restart})
}

// Entry returns move seq, or nil when it is not in the ring (not made yet,
// or gone from the window).
func (h *Hub) Entry(seq uint64) *Entry { return h.ring.Get(seq) }

// ResumeAt returns the move a new stream starts from at time now, and
// whether it is the one named by the client's last event id: a seq still in
// the window and already due. Anything else (no id, a malformed or future
// one, one older than the window) starts from the move due at now.
func (h *Hub) ResumeAt(lastID string, now time.Time) (e *Entry, resumed bool) {
	current := h.world.SeqAt(now)
	h.Upto(current)
	if lastID != "" {
		seq, err := strconv.ParseUint(lastID, 10, 64)
		if e := h.Entry(seq); err == nil && e != nil && seq <= current {
			return e, true
		}
	}
	if e := h.Upto(current); e != nil {
		return e, false
	}
	for { // current left the window: another reader's clock is ahead
		if e := h.Upto(h.ring.Latest()); e != nil {
			return e, false
		}
	}
}

// Sizes returns the mean size of a move's SSE event, and of its bytes in
// the shared compressed stream, over the newest n moves made.
func (h *Hub) Sizes(n int) (plain, packed float64) {
	count := 0
	for seq := h.ring.Latest(); count < n; seq-- {
		e := h.Entry(seq)
		if e == nil {
			break
		}
		plain, packed, count = plain+float64(len(e.Event)), packed+float64(len(e.Deflate)), count+1
		if seq == 0 {
			break
		}
	}
	if count == 0 {
		return 0, 0
	}
	return plain / float64(count), packed / float64(count)
}
