package stream

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sse-demo/movingobject/simulation"
	"github.com/sse-demo/movingobject/stream/engine"
	"github.com/sse-demo/movingobject/stream/hub"
	"github.com/sse-demo/movingobject/stream/payload"
)

// WorldOptions configure the shared world of [Server.World].
type WorldOptions struct {
	// Route names the route in log lines.
	Route string
	// Metrics counts the streams; nil counts nothing.
	Metrics Metrics
}

// World serves a [simulation.World] to every viewer at once, from a
// [hub.Hub]: each move is made and encoded once, and every viewer is
// written the same bytes. The event id is the move's seq, which is all a
// client needs to resume: within the hub's replay window, on any server
// with the same world, after a restart too.
type World struct {
	s    *Server
	hub  *hub.Hub
	opts WorldOptions
	log  *slog.Logger
}

// World returns the handler of the shared world kept by h.
func (s *Server) World(h *hub.Hub, o WorldOptions) *World {
	return &World{s: s, hub: h, opts: o, log: s.opts.Logger.With("route", o.Route)}
}

// Config returns the world's box and pace.
func (h *World) Config() simulation.Config { return h.hub.World().Config() }

// Events serves GET /world/events: a retry field, an init event with the
// world's parameters and position, then every move. A Last-Event-ID (or
// lastEventId parameter) within the replay window resumes: the init stands
// at that move, and the moves missed since follow at once.
func (h *World) Events(c echo.Context) error {
	select {
	case <-h.s.closing:
		return echo.NewHTTPError(http.StatusServiceUnavailable, engine.ErrShutdown.Error())
	default:
	}
	w := h.hub.World()
	at, resumed := h.hub.ResumeAt(LastEventID(c.Request()), time.Now())
	log := requestLogger(h.log, c).With("seed", w.Seed(), "resumed", resumed, "seq", at.Pos.Seq)

	cfg := w.Config()
	retry := jitter(h.s.opts.Retry)
	init := payload.Init{
		Width: cfg.Width, Height: cfg.Height, Step: cfg.Step, IntervalMS: cfg.Interval.Milliseconds(),
		Seed: w.Seed(), Resumed: resumed, Seq: at.Pos.Seq, X: at.Pos.X, Y: at.Pos.Y, RetryMS: retry.Milliseconds(),
	}
	first, err := openingEvents(retry, strconv.FormatUint(at.Pos.Seq, 10), string(init.AppendJSON(nil)))
	if err != nil {
		return err
	}
	src := newWorldSource(h.hub, at.Pos.Seq+1, framingSSE)
	return h.s.serve(c, opened{first: first, src: src, resumed: resumed, log: log, metrics: h.opts.Metrics})
}

// framing picks which of a move's encodings ([hub.Entry]) a world source
// appends, and how many at once.
type framing int

const (
	// framingSSE appends each move's SSE event, up to maxBatch in one
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
	hub     *hub.Hub
	world   *simulation.World
	framing framing
	next    uint64      // the seq of the next move to write
	due     engine.Time // when move next falls due
}

func newWorldSource(h *hub.Hub, next uint64, f framing) *worldSource {
	w := h.World()
	return &worldSource{hub: h, world: w, framing: f, next: next, due: engine.At(w.Time(next))}
}

func (w *worldSource) Due() engine.Time { return w.due }

func (w *worldSource) Next(dst []byte, now engine.Time) ([]byte, int, error) {
	if now < w.due {
		return dst, 0, nil
	}
	batch := uint64(maxBatch)
	if w.framing == framingMessage {
		batch = 1
	}
	last := max(w.next, w.world.SeqAt(engine.Wall(now))) // the newest move due at now
	last = min(last, w.next+batch-1)
	w.hub.Upto(last)
	for seq := w.next; seq <= last; seq++ {
		e := w.hub.Entry(seq)
		if e == nil {
			return dst, int(seq - w.next), fmt.Errorf("move %d: %w", seq, errBehind)
		}
		if w.framing == framingMessage {
			dst = append(dst, e.Message...)
		} else {
			dst = append(dst, e.Event...)
		}
	}
	n := int(last - w.next + 1)
	w.next = last + 1
	w.due = engine.At(w.world.Time(w.next))
	return dst, n, nil
}
