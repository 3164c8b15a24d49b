// Package walks serves GET /events: each viewer a walk of its own, with
// its box, pace and seed from the query, and every move's event id a
// signed resume token that holds all a server needs to continue the walk.
package walks

import (
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"
	"unsafe"

	"github.com/labstack/echo/v4"

	"github.com/sse-demo/movingobject/simulation"
	"github.com/sse-demo/movingobject/stream"
	"github.com/sse-demo/movingobject/stream/engine"
	"github.com/sse-demo/movingobject/stream/payload"
	"github.com/sse-demo/movingobject/stream/sse"
)

// Options configure the per-viewer walks of [New].
type Options struct {
	// Defaults is the walk for query parameters a request leaves out; the
	// zero Config means [simulation.DefaultConfig].
	Defaults simulation.Config
	// ResumeKey signs resume tokens; empty means [DefaultResumeKey].
	ResumeKey []byte
	// Route names the route in log lines.
	Route string
	// Metrics counts the streams; nil counts nothing.
	Metrics stream.Metrics
}

// Handler serves each viewer a walk of its own.
type Handler struct {
	s    *stream.Server
	opts Options
	key  *tokenKey
	log  *slog.Logger
}

// New returns the handler of per-viewer walks, delivered by s.
func New(s *stream.Server, o Options) *Handler {
	if o.Defaults == (simulation.Config{}) {
		o.Defaults = simulation.DefaultConfig()
	}
	if len(o.ResumeKey) == 0 {
		o.ResumeKey = []byte(DefaultResumeKey)
	}
	return &Handler{s: s, opts: o, key: newTokenKey(o.ResumeKey), log: s.Logger().With("route", o.Route, "transport", stream.TransportSSE)}
}

// Defaults returns the walk used for absent query parameters.
func (h *Handler) Defaults() simulation.Config { return h.opts.Defaults }

// Events serves GET /events: a retry field, an init event, then one move
// event per tick, each with its resume token as id. Bad query parameters
// get a 400 before anything is streamed; a bad resume token only starts a
// fresh walk, since any error status would stop an EventSource for good.
// A resume token longer than [stream.MaxLastEventID] does get a 400: no browser
// sends one, as it only echoes ids this server wrote.
func (h *Handler) Events(c echo.Context) error {
	req := c.Request()
	p, err := ParseParams(req.URL.Query(), h.opts.Defaults)
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, err.Error())
	}
	token := stream.LastEventID(req)
	if err := stream.CheckLastEventID(token); err != nil {
		return err
	}
	signer := newTokenSigner(h.key, p.Config)
	log := stream.RequestLogger(h.log, c)
	walker, resumed := h.start(log, signer, p, token)
	pos := walker.Position()
	log = log.With("seed", walker.Seed(), "resumed", resumed, "seq", pos.Seq)

	retry := h.s.Retry()
	init := payload.Init{
		Width: p.Config.Width, Height: p.Config.Height, Step: p.Config.Step, IntervalMS: p.Config.Interval.Milliseconds(),
		Seed: walker.Seed(), Resumed: resumed, Seq: pos.Seq, X: pos.X, Y: pos.Y, RetryMS: retry.Milliseconds(),
	}
	first, err := stream.OpeningEvents(retry, string(signer.appendToken(nil, walker.Seed(), pos)), string(init.AppendJSON(nil)))
	if err != nil {
		return err
	}
	src := &walkSource{walker: *walker, signer: signer, every: p.Config.Interval, next: engine.Now() + p.Config.Interval}
	return h.s.ServeSSE(c, stream.Opened{First: first, Source: src, Resumed: resumed, Log: log, Metrics: h.opts.Metrics})
}

// start resumes the walk named by token, or starts a new one when the
// token is absent, invalid, or for another seed than the one asked for.
func (h *Handler) start(log *slog.Logger, signer tokenSigner, p Params, token string) (w *simulation.Walker, resumed bool) {
	if token != "" {
		if seed, pos, ok := signer.parse(token); ok && (!p.HasSeed || seed == p.Seed) {
			if w, err := simulation.Resume(p.Config, seed, pos); err == nil {
				return w, true
			}
		}
		log.Debug("resume token refused; starting a new walk", "len", len(token))
	}
	seed := p.Seed
	if !p.HasSeed {
		seed = rand.Uint64N(MaxSeed + 1)
	}
	return simulation.NewWalker(p.Config, seed), false
}

// walkSource is the source of a per-viewer walk: a move every interval,
// none skipped. A stream that fell behind (its writer was late) gets the
// moves it missed together; one that fell more than [stream.MaxBatch] moves behind
// goes on from now, so that a long stall does not turn into a burst.
type walkSource struct {
	walker simulation.Walker // held here, not pointed to: one piece of memory per walk
	signer tokenSigner
	every  time.Duration
	next   engine.Time // when the next move is due
	// Scratch for the move's resume token and data, in the source's own
	// allocation: a walk's move touches as little memory as it can.
	idBuf, dataBuf [96]byte
}

func (w *walkSource) Due() engine.Time { return w.next }

func (w *walkSource) Next(dst []byte, now engine.Time) ([]byte, int, error) {
	n := 0
	if w.next > now {
		return dst, 0, nil
	}
	ts := engine.Wall(now).UnixMilli()
	for ; w.next <= now && n < stream.MaxBatch; n++ {
		pos := w.walker.Step()
		id := w.signer.appendToken(w.idBuf[:0], w.walker.Seed(), pos)
		data := payload.Move{Seq: pos.Seq, X: pos.X, Y: pos.Y, TS: ts}.AppendJSON(w.dataBuf[:0])
		var err error
		// Encoded at once, before id and data change.
		if dst, err = (sse.Event{ID: unsafeString(id), Name: payload.EventMove, Data: unsafeString(data)}).AppendTo(dst); err != nil {
			return dst, n, err // a bug: the fields are digits, dots and hex
		}
		w.next += w.every
	}
	if w.next <= now {
		w.next = now + w.every
	}
	return dst, n, nil
}

// unsafeString returns b as a string without copying, for an [sse.Event]
// that is encoded before b changes.
func unsafeString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}
