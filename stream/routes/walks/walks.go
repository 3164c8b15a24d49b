// Package walks serves GET /events, where each viewer gets a walk of its
// own.
//
// The walk's box, pace and seed come from the query. Every move's event id
// is a signed resume token, which holds all a server needs to continue
// the walk.
package walks

import (
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"
	"unsafe"

	"github.com/labstack/echo/v4"

	"github.com/sse-demo/movingobject/simulation"
	"github.com/sse-demo/movingobject/stream/internal/pace"
	"github.com/sse-demo/movingobject/stream/payload"
	"github.com/sse-demo/movingobject/stream/sse"
	"github.com/sse-demo/movingobject/stream/transport"
)

// Options configure the per-viewer walks of [New].
type Options struct {
	// Defaults is the walk for query parameters a request leaves out. The
	// zero Config means [simulation.DefaultConfig].
	Defaults simulation.Config
	// ResumeKey signs resume tokens. Empty means [DefaultResumeKey].
	ResumeKey []byte
	// Logger receives a line for each resume token refused. Nil discards
	// them.
	Logger *slog.Logger
}

// Handler serves each viewer a walk of its own.
type Handler struct {
	streams *transport.Streams
	opts    Options
	key     *tokenKey
}

// New returns the handler of per-viewer walks, delivered by streams.
func New(streams *transport.Streams, o Options) *Handler {
	if o.Defaults == (simulation.Config{}) {
		o.Defaults = simulation.DefaultConfig()
	}
	if len(o.ResumeKey) == 0 {
		o.ResumeKey = []byte(DefaultResumeKey)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{streams: streams, opts: o, key: newTokenKey(o.ResumeKey)}
}

// Defaults returns the walk used for absent query parameters.
func (h *Handler) Defaults() simulation.Config { return h.opts.Defaults }

// Events serves GET /events: a retry field, an init event, then one move
// event per tick, each with its resume token as id. Bad query parameters
// get a 400 before anything is streamed. A bad resume token only starts a
// fresh walk, since any error status would stop an EventSource for good.
// A resume token longer than [transport.MaxLastEventID] does get a 400.
// No browser sends one, as a browser only echoes ids this server wrote.
func (h *Handler) Events(c echo.Context) error {
	req := c.Request()
	p, err := ParseParams(req.URL.Query(), h.opts.Defaults)
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, err.Error())
	}
	token := transport.LastEventID(req)
	if err := transport.CheckLastEventID(token); err != nil {
		return err
	}
	signer := newTokenSigner(h.key, p.Config)
	walker, resumed := start(signer, p, token)
	if token != "" && !resumed {
		transport.RequestLogger(h.opts.Logger, c).Debug("resume token refused; starting a new walk", "len", len(token))
	}
	pos := walker.Position()
	return h.streams.SSE(c, transport.Feed{
		Init:   payload.NewInit(p.Config, walker.Seed(), pos, resumed),
		ID:     string(signer.appendToken(nil, walker.Seed(), pos)),
		Source: &walkSource{walker: *walker, signer: signer, every: p.Config.Interval, next: pace.Now() + p.Config.Interval},
	})
}

// start resumes the walk named by token, or starts a new one when the
// token is absent, invalid, or for another seed than the one asked for.
func start(signer tokenSigner, p Params, token string) (w *simulation.Walker, resumed bool) {
	if token != "" {
		if seed, pos, ok := signer.parse(token); ok && (!p.HasSeed || seed == p.Seed) {
			if w, err := simulation.Resume(p.Config, seed, pos); err == nil {
				return w, true
			}
		}
	}
	seed := p.Seed
	if !p.HasSeed {
		seed = rand.Uint64N(MaxSeed + 1)
	}
	return simulation.NewWalker(p.Config, seed), false
}

// walkSource is the source of a per-viewer walk. It makes a move every
// interval and skips none. A stream that fell behind (its writer was
// late) gets the moves it missed together. One that fell more than
// [transport.MaxBatch] moves behind goes on from now, so that a long stall
// does not turn into a burst.
type walkSource struct {
	walker simulation.Walker // held here, not pointed to: one piece of memory per walk
	signer tokenSigner
	every  time.Duration
	next   pace.Time // when the next move is due
	// Scratch for the move's resume token and data. It sits in the
	// source's own allocation, so that a move touches little memory.
	idBuf, dataBuf [96]byte
}

func (w *walkSource) Due() pace.Time { return w.next }

func (w *walkSource) Next(dst []byte, now pace.Time) ([]byte, int, error) {
	n := 0
	if w.next > now {
		return dst, 0, nil
	}
	ts := pace.Wall(now).UnixMilli()
	for ; w.next <= now && n < transport.MaxBatch; n++ {
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
