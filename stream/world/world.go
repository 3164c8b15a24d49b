// Package world serves the shared world, one [simulation.World] for every
// viewer at once, over each transport of package stream: Server-Sent
// Events (GET /world/events), short and long polling (GET /world/poll) and
// WebSocket (GET /world/ws), from one [hub.Hub] that makes and encodes
// each move once.
package world

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sse-demo/movingobject/simulation"
	"github.com/sse-demo/movingobject/stream"
	"github.com/sse-demo/movingobject/stream/engine"
	"github.com/sse-demo/movingobject/stream/hub"
	"github.com/sse-demo/movingobject/stream/payload"
)

// Options configure the shared world of [New].
type Options struct {
	// Metrics returns the counters of one of the world's routes (as echo
	// matched it: [echo.Context.Path]) over one transport
	// ([stream.TransportSSE] and the others); nil counts nothing.
	Metrics func(route, transport string) stream.Metrics
}

// Handler serves a [simulation.World] to every viewer at once, from a
// [hub.Hub]: each move is made and encoded once, and every viewer is
// written the same bytes, over any transport: Server-Sent Events
// ([Handler.Events]), polling and long polling ([Handler.Poll]) and
// WebSocket ([Handler.WebSocket]). A client names the last move it has by its seq (the
// SSE event id, the poll's and the WebSocket's after parameter), which is
// all it needs to resume: within the hub's replay window, on any server
// with the same world, after a restart too.
type Handler struct {
	s    *stream.Server
	hub  *hub.Hub
	opts Options
}

// New returns the handler of the shared world kept by h, delivered by s.
func New(s *stream.Server, h *hub.Hub, o Options) *Handler {
	return &Handler{s: s, hub: h, opts: o}
}

// metrics returns the counters of the route of c over transport.
func (h *Handler) metrics(c echo.Context, transport string) stream.Metrics {
	if h.opts.Metrics == nil {
		return nil
	}
	return h.opts.Metrics(c.Path(), transport)
}

// begin returns the log and the metrics of a stream of c over transport.
func (h *Handler) begin(c echo.Context, transport string) (*slog.Logger, stream.Metrics) {
	log := stream.RequestLogger(h.s.Logger(), c).With("route", c.Path(), "transport", transport)
	return log, h.metrics(c, transport)
}

// Config returns the world's box and pace.
func (h *Handler) Config() simulation.Config { return h.hub.World().Config() }

// Events serves GET /world/events: a retry field, an init event with the
// world's parameters and position, then every move. A Last-Event-ID (or
// lastEventId parameter) within the replay window resumes: the init stands
// at that move, and the moves missed since follow at once.
func (h *Handler) Events(c echo.Context) error {
	if err := h.s.CheckOpen(); err != nil {
		return err
	}
	w := h.hub.World()
	at, resumed := h.hub.ResumeAt(stream.LastEventID(c.Request()), time.Now())
	log, m := h.begin(c, stream.TransportSSE)
	log = log.With("seed", w.Seed(), "resumed", resumed, "seq", at.Pos.Seq)

	cfg := w.Config()
	retry := h.s.Retry()
	init := payload.Init{
		Width: cfg.Width, Height: cfg.Height, Step: cfg.Step, IntervalMS: cfg.Interval.Milliseconds(),
		Seed: w.Seed(), Resumed: resumed, Seq: at.Pos.Seq, X: at.Pos.X, Y: at.Pos.Y, RetryMS: retry.Milliseconds(),
	}
	first, err := stream.OpeningEvents(retry, strconv.FormatUint(at.Pos.Seq, 10), string(init.AppendJSON(nil)))
	if err != nil {
		return err
	}
	src := newWorldSource(h.hub, at.Pos.Seq+1, framingSSE)
	return h.s.ServeSSE(c, stream.Opened{First: first, Source: src, Resumed: resumed, Log: log, Metrics: m})
}

// Poll serves GET /world/poll: a JSON object {"moves":[...]} with every
// move after the client's after parameter that is still in the replay
// window, oldest first, at most [MaxPollMoves]. Without after, or with one
// that left the window, the object also holds "init" (the data of the SSE
// init event, with retry_ms 0: a poller picks its own pace), standing at
// the move due now, and no moves: the next poll asks for the moves after
// init's seq. With wait (milliseconds, up to [MaxWait]), a long poll, it
// holds the request until a move after after falls due, and answers
// {"moves":[]} when wait runs out first. A bad after (not an integer, or a
// seq in the future) or wait gets a 400 naming it and its range.
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
	if !long { // logged by the request log alone
		body, moves := src.answer(nil, now)
		return h.s.Poll(c, body, moves, h.metrics(c, stream.TransportPoll))
	}
	log, m := h.begin(c, stream.TransportLongPoll)
	seq := after
	if src.init {
		seq = current
	}
	log = log.With("seed", w.Seed(), "resumed", !src.init, "seq", seq)
	return h.s.LongPoll(c, stream.Opened{Source: src, Resumed: !src.init, Log: log, Metrics: m}, wait)
}

// WebSocket serves GET /world/ws: a WebSocket of text messages, each a
// JSON object, first {"type":"init",...} with the fields of the SSE init
// event (retry_ms: how long to wait before reconnecting), then
// {"type":"move",...} per move. WebSocket has no Last-Event-ID: a client
// passes the seq of the last move it has as after, and when that move is
// still in the replay window, the init stands at it ("resumed":true) and
// the moves missed since follow at once. A bad after gets a 400 naming it
// and its range, before the upgrade.
func (h *Handler) WebSocket(c echo.Context) error {
	w := h.hub.World()
	now := time.Now()
	after, hasAfter, err := parseAfter(c.Request().URL.Query(), w.SeqAt(now))
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, err.Error())
	}
	lastID := ""
	if hasAfter {
		lastID = strconv.FormatUint(after, 10)
	}
	at, resumed := h.hub.ResumeAt(lastID, now)
	log, m := h.begin(c, stream.TransportWebSocket)
	log = log.With("seed", w.Seed(), "resumed", resumed, "seq", at.Pos.Seq)
	cfg := w.Config()
	init := payload.Init{
		Width: cfg.Width, Height: cfg.Height, Step: cfg.Step, IntervalMS: cfg.Interval.Milliseconds(),
		Seed: w.Seed(), Resumed: resumed, Seq: at.Pos.Seq, X: at.Pos.X, Y: at.Pos.Y, RetryMS: h.s.Retry().Milliseconds(),
	}
	src := newWorldSource(h.hub, at.Pos.Seq+1, framingMessage)
	return h.s.ServeWebSocket(c, stream.Opened{First: init.AppendMessage(nil), Source: src, Resumed: resumed, Log: log, Metrics: m})
}

// MaxPollMoves is the most moves one poll answer holds: a client further
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
func (p *pollSource) Due() engine.Time {
	if p.init {
		return 0
	}
	return engine.At(p.world.Time(p.after + 1))
}

func (p *pollSource) Next(dst []byte, now engine.Time) ([]byte, int, error) {
	if now < p.Due() {
		return dst, 0, nil
	}
	out, n := p.answer(dst, engine.Wall(now))
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
	cfg := p.world.Config()
	in := payload.Init{
		Width: cfg.Width, Height: cfg.Height, Step: cfg.Step, IntervalMS: cfg.Interval.Milliseconds(),
		Seed: p.world.Seed(), Seq: at.Pos.Seq, X: at.Pos.X, Y: at.Pos.Y,
	}
	return payload.AppendPoll(dst, &in, nil), 0
}

// framing picks which of a move's encodings ([hub.Entry]) a world source
// appends, and how many at once.
type framing int

const (
	// framingSSE appends each move's SSE event, up to [stream.MaxBatch] in one
	// call: a write of an event stream may carry several.
	framingSSE framing = iota
	// framingMessage appends each move's WebSocket message, one per call,
	// so that each write is one message.
	framingMessage
)

// worldSource is the source of one viewer of the world: the moves from
// next on, as the world's clock makes them due, read from the hub in one
// of their encodings.
type worldSource struct {
	// What every call reads first: the engine fetches a source's first
	// bytes ahead of its turn.
	due     engine.Time   // when move next falls due
	next    uint64        // the seq of the next move to write
	every   time.Duration // the world's interval
	framing framing
	hub     *hub.Hub
	world   *simulation.World
}

func newWorldSource(h *hub.Hub, next uint64, f framing) *worldSource {
	w := h.World()
	return &worldSource{hub: h, world: w, framing: f, every: w.Config().Interval, next: next, due: engine.At(w.Time(next))}
}

func (w *worldSource) Due() engine.Time { return w.due }

func (w *worldSource) Next(dst []byte, now engine.Time) ([]byte, int, error) {
	if now < w.due {
		return dst, 0, nil
	}
	batch := uint64(stream.MaxBatch)
	if w.framing == framingMessage {
		batch = 1
	}
	last := w.next // the newest move due at now: most often next
	if now >= w.due+w.every {
		last = max(last, w.world.SeqAt(engine.Wall(now)))
	}
	last = min(last, w.next+batch-1)
	newest := w.hub.Upto(last)
	for seq := w.next; seq <= last; seq++ {
		e := newest // most often the one move due
		if seq < last {
			e = w.hub.Entry(seq)
		}
		if e == nil {
			return dst, int(seq - w.next), fmt.Errorf("move %d: %w", seq, stream.ErrBehind)
		}
		if w.framing == framingMessage {
			dst = append(dst, e.Message...)
		} else {
			dst = append(dst, e.Event...)
		}
	}
	n := last - w.next + 1
	w.next = last + 1
	w.due += time.Duration(n) * w.every // engine.At(w.world.Time(w.next)), without the clock arithmetic
	return dst, int(n), nil
}
