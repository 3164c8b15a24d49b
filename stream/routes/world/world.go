// Package world serves the shared world: one [simulation.World] for every
// viewer at once.
//
// The world goes out over every transport: Server-Sent Events
// (GET /world/events), short and long polling (GET /world/poll),
// WebSocket (GET /world/ws) and WebTransport (CONNECT /world/webtransport). One hub makes and encodes each move once for
// all of them.
package world

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sse-demo/movingobject/simulation"
	"github.com/sse-demo/movingobject/stream/internal/deflate"
	"github.com/sse-demo/movingobject/stream/internal/hub"
	"github.com/sse-demo/movingobject/stream/internal/pace"
	"github.com/sse-demo/movingobject/stream/payload"
	"github.com/sse-demo/movingobject/stream/transport"
)

// DefaultReplay is how far back the world replays missed moves by
// default.
const DefaultReplay = hub.DefaultReplay

// Options configure the shared world of [New].
type Options struct {
	// Replay is how far back a client that comes back gets every move it
	// missed. 0 means [DefaultReplay].
	Replay time.Duration
}

// Handler serves a [simulation.World] to every viewer at once. Each move
// is made and encoded once, by a hub, and every viewer is written the
// same bytes, over any transport: Server-Sent Events ([Handler.Events]),
// polling and long polling ([Handler.Poll]) and WebSocket
// ([Handler.WebSocket]). A client names the last move it has by its seq:
// the SSE event id, or the after parameter of a poll or a WebSocket. That
// is all it needs to resume within the replay window, on any server with
// the same world, after a restart too.
type Handler struct {
	streams *transport.Streams
	hub     *hub.Hub
}

// New returns the handler of world, delivered by streams.
func New(streams *transport.Streams, world *simulation.World, o Options) *Handler {
	return &Handler{streams: streams, hub: hub.New(world, o.Replay)}
}

// EventBytes returns the mean size of a move's SSE event, and of the
// same in a compressed stream (gzip or deflate, the same bytes), over the
// last 256 moves. It makes the moves due that nobody asked for yet.
func (h *Handler) EventBytes() (plain, packed float64) {
	h.hub.Upto(h.hub.World().SeqAt(time.Now()))
	return h.hub.Sizes(256)
}

// Config returns the world's box and pace.
func (h *Handler) Config() simulation.Config { return h.hub.World().Config() }

// init returns the init of a stream that starts at pos.
func (h *Handler) init(pos simulation.Position, resumed bool) payload.Init {
	w := h.hub.World()
	return payload.NewInit(w.Config(), w.Seed(), pos, resumed)
}

// Events serves GET /world/events: a retry field, an init event with the
// world's parameters and position, then every move. A Last-Event-ID (or
// lastEventId parameter) within the replay window resumes: the init stands
// at that move, and the moves missed since follow at once. The stream is
// compressed (gzip or deflate) when Accept-Encoding asks for it, each move
// once for every client ([deflate.Shared]).
func (h *Handler) Events(c echo.Context) error {
	coding := transport.Negotiate(c)
	at, resumed := h.hub.ResumeAt(transport.LastEventID(c.Request()), time.Now())
	src := newWorldSource(h.hub, at.Pos.Seq+1, framingSSE)
	src.packed.Coding = coding
	return h.streams.SSE(c, transport.Feed{
		Init:   h.init(at.Pos, resumed),
		ID:     strconv.FormatUint(at.Pos.Seq, 10),
		Source: src,
		Coding: coding,
	})
}

// Poll serves GET /world/poll: a JSON object {"moves":[...]} with every
// move after the client's after parameter that is still in the replay
// window, oldest first, at most [MaxPollMoves]. Without after, or with one
// that left the window, the object also holds "init" and no moves. The
// init is the data of the SSE init event, with retry_ms 0 (a poller picks
// its own pace), and stands at the move due now. The next poll asks for
// the moves after init's seq. With wait (milliseconds, up to [MaxWait]),
// the poll is a long poll. It holds the request until a move after after
// falls due, and answers {"moves":[]} when wait runs out first. A bad
// after (not an integer, or a seq in the future) or wait gets a 400 naming
// it and its range.
func (h *Handler) Poll(c echo.Context) error {
	q := c.Request().URL.Query()
	w := h.hub.World()
	now := time.Now()
	current := w.SeqAt(now)
	after, hasAfter, err := parseAfter(q, current)
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, err.Error())
	}
	wait, long, err := parseWait(q)
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, err.Error())
	}
	h.hub.Upto(current)
	src := &pollSource{hub: h.hub, world: w, after: after, init: !hasAfter || h.hub.Entry(after) == nil}
	if !long {
		body, moves := src.answer(nil, now)
		return h.streams.Poll(c, body, moves)
	}
	seq := after
	if src.init {
		seq = current
	}
	// A long poll writes no init of its own: this one gives only what its
	// log lines name.
	init := payload.Init{Seed: w.Seed(), Resumed: !src.init, Seq: seq}
	return h.streams.LongPoll(c, transport.Feed{Init: init, Source: src}, wait)
}

// WebSocket serves GET /world/ws: a WebSocket of text messages, each a
// JSON object. The first is {"type":"init",...} with the fields of the
// SSE init event (retry_ms: how long to wait before reconnecting), then
// {"type":"move",...} for each move. WebSocket has no Last-Event-ID, so a
// client passes the seq of the last move it has as after. When that move
// is still in the replay window, the init stands at it ("resumed":true)
// and the moves missed since follow at once. A bad after gets a 400 naming
// it and its range, before the upgrade.
func (h *Handler) WebSocket(c echo.Context) error {
	f, err := h.messageFeed(c)
	if err != nil {
		return err
	}
	return h.streams.WebSocket(c, f)
}

// WebTransport serves CONNECT /world/webtransport, a WebTransport session
// over HTTP/3. The server opens one unidirectional stream in it and sends
// the messages of [Handler.WebSocket] on it, one JSON object per line.
// The after parameter resumes as it does there.
func (h *Handler) WebTransport(c echo.Context) error {
	f, err := h.messageFeed(c)
	if err != nil {
		return err
	}
	return h.streams.WebTransport(c, f)
}

// messageFeed returns the feed of a stream of messages that resumes after
// the query's after, or the 400 that refuses a bad one.
func (h *Handler) messageFeed(c echo.Context) (transport.Feed, error) {
	now := time.Now()
	after, hasAfter, err := parseAfter(c.Request().URL.Query(), h.hub.World().SeqAt(now))
	if err != nil {
		return transport.Feed{}, echo.NewHTTPError(http.StatusBadRequest, err.Error())
	}
	lastID := ""
	if hasAfter {
		lastID = strconv.FormatUint(after, 10)
	}
	at, resumed := h.hub.ResumeAt(lastID, now)
	return transport.Feed{
		Init:   h.init(at.Pos, resumed),
		Source: newWorldSource(h.hub, at.Pos.Seq+1, framingMessage),
	}, nil
}

// MaxPollMoves is the most moves one poll answer holds. A client further
// behind gets the oldest ones and asks at once for the rest.
const MaxPollMoves = 1000

// pollSource is the source of a poll's answer: the moves after the
// client's, from the hub's encodings, put together with
// [payload.AppendPoll].
type pollSource struct {
	hub   *hub.Hub
	world *simulation.World
	after uint64   // the client's last move
	init  bool     // the client has no move in the window: it gets an init
	moves [][]byte // scratch for the moves' JSON
}

// Due is when the answer is due: at once with an init, else when the move
// after the client's falls due.
func (p *pollSource) Due() pace.Time {
	if p.init {
		return 0
	}
	return pace.At(p.world.Time(p.after + 1))
}

func (p *pollSource) Next(dst []byte, now pace.Time) ([]byte, int, error) {
	if now < p.Due() {
		return dst, 0, nil
	}
	out, n := p.answer(dst, pace.Wall(now))
	return out, n, nil
}

// answer appends the answer at now, due or not, and returns how many moves
// it holds.
func (p *pollSource) answer(dst []byte, now time.Time) ([]byte, int) {
	at, _ := p.hub.ResumeAt("", now) // the move due now
	if !p.init {
		p.moves = p.moves[:0]
		last := min(at.Pos.Seq, p.after+MaxPollMoves)
		for seq := p.after + 1; seq <= last; seq++ {
			e := p.hub.Entry(seq)
			if e == nil { // it left the window while the client waited
				p.moves = p.moves[:0]
				break
			}
			p.moves = append(p.moves, e.Data)
		}
		if len(p.moves) == int(last-min(last, p.after)) {
			out := payload.AppendPoll(dst, nil, p.moves)
			clear(p.moves) // keep no entry alive
			return out, len(p.moves)
		}
	}
	in := payload.NewInit(p.world.Config(), p.world.Seed(), at.Pos, false)
	return payload.AppendPoll(dst, &in, nil), 0
}

// framing picks which of a move's encodings ([hub.Entry]) a world source
// appends, and how many at once.
type framing int

const (
	// framingSSE appends each move's SSE event, up to
	// [transport.MaxBatch] in one call, since one write of an event
	// stream may carry several.
	framingSSE framing = iota
	// framingMessage appends each move's WebSocket message, one per call,
	// so that each write is one message.
	framingMessage
)

// worldSource is the source of one viewer of the world. It gives the moves
// from next on, as the world's clock makes them due, read from the hub in
// one of their encodings.
type worldSource struct {
	// The fields that every call reads come first, since the engine
	// fetches a source's first bytes ahead of its turn.
	due     pace.Time     // when move next falls due
	next    uint64        // the seq of the next move to write
	every   time.Duration // the world's interval
	framing framing
	hub     *hub.Hub
	world   *simulation.World
	// packed is an SSE stream's place in the hub's compressed stream.
	packed deflate.Follower
}

func newWorldSource(h *hub.Hub, next uint64, f framing) *worldSource {
	w := h.World()
	return &worldSource{hub: h, world: w, framing: f, every: w.Config().Interval, next: next, due: pace.At(w.Time(next))}
}

func (w *worldSource) Due() pace.Time { return w.due }

func (w *worldSource) Next(dst []byte, now pace.Time) ([]byte, int, error) {
	if now < w.due {
		return dst, 0, nil
	}
	batch := uint64(transport.MaxBatch)
	if w.framing == framingMessage {
		batch = 1
	}
	last := w.next // the newest move due at now: most often next
	if now >= w.due+w.every {
		last = max(last, w.world.SeqAt(pace.Wall(now)))
	}
	last = min(last, w.next+batch-1)
	newest := w.hub.Upto(last)
	for seq := w.next; seq <= last; seq++ {
		e := newest // most often the one move due
		if seq < last {
			e = w.hub.Entry(seq)
		}
		if e == nil {
			return dst, int(seq - w.next), fmt.Errorf("move %d: %w", seq, transport.ErrBehind)
		}
		if w.framing == framingMessage {
			dst = append(dst, e.Message...)
		} else {
			dst = w.packed.Append(dst, e.Event, e.Deflate, e.Restart)
		}
	}
	n := last - w.next + 1
	w.next = last + 1
	w.due += time.Duration(n) * w.every // pace.At(w.world.Time(w.next)), without the clock arithmetic
	return dst, int(n), nil
}
