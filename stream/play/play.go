// Package play serves the play room, where visitors push the shared
// object: GET /play/events streams its moves, from the room's log, to
// every viewer, and POST /play/push appends a push to that log.
package play

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sse-demo/movingobject/simulation"
	"github.com/sse-demo/movingobject/stream"
	"github.com/sse-demo/movingobject/stream/engine"
	"github.com/sse-demo/movingobject/stream/payload"
	"github.com/sse-demo/movingobject/stream/room"
	"github.com/sse-demo/movingobject/stream/sse"
)

// Defaults for the zero fields of [Options].
const (
	DefaultPushRate  = 10
	DefaultAheadWait = 3 * time.Second
)

// Options configure the play room of [New].
type Options struct {
	// Route names the events route in log lines.
	Route string
	// Metrics counts the streams; nil counts nothing.
	Metrics stream.Metrics
	// Pushes counts the answers to pushes; nil counts nothing.
	Pushes PushCounter
	// PushRate is how many pushes a second one client address may send;
	// past it, 429. 0 means [DefaultPushRate].
	PushRate int
	// TrustedProxies are the proxies whose X-Forwarded-For names the
	// client address (for the push limit), and whose X-Forwarded-Host
	// names the host (for the origin check). Empty: the TCP peer is the
	// client.
	TrustedProxies []netip.Prefix
	// AheadWait is how long a client that resumes from a move this
	// instance has not read yet waits for it. 0 means [DefaultAheadWait].
	AheadWait time.Duration
}

// Handler serves the play room: its moves, from the room's ring, to every
// viewer, and visitors' pushes into its log. The event id is the move's
// seq, as on the shared world: a client resumes on any instance of the
// room, after a restart too.
type Handler struct {
	s     *stream.Server
	room  *room.Room
	opts  Options
	log   *slog.Logger
	limit *rateLimiter
}

// New returns the handlers of the play room r, delivered by s.
func New(s *stream.Server, r *room.Room, o Options) *Handler {
	if o.PushRate <= 0 {
		o.PushRate = DefaultPushRate
	}
	if o.Pushes == nil {
		o.Pushes = noPushes{}
	}
	if o.AheadWait <= 0 {
		o.AheadWait = DefaultAheadWait
	}
	return &Handler{s: s, room: r, opts: o, log: s.Logger().With("route", o.Route), limit: newRateLimiter(o.PushRate)}
}

// PushCounter counts what became of each push, by result: one of
// [PushStored], [PushDuplicate], [PushUnavailable] and [PushRefused].
type PushCounter interface {
	Pushed(result string)
}

// The results of a push that a [PushCounter] counts.
const (
	PushStored      = "stored"      // 202: in the log
	PushDuplicate   = "duplicate"   // 202: its id was in the log already
	PushUnavailable = "unavailable" // 503: the log did not store it in time
	PushRefused     = "refused"     // 4xx: cross-site, too many, too big or malformed
)

// noPushes counts nothing.
type noPushes struct{}

func (noPushes) Pushed(string) {}

// Config returns the room's box and pace.
func (h *Handler) Config() simulation.Config { return h.room.Config().Walk }

// PushDistance returns how far a push moves the object, in px.
func (h *Handler) PushDistance() int { return h.room.Config().Push }

// Ticker reports whether this instance makes the room's moves.
func (h *Handler) Ticker() bool { return h.room.Ticker() }

// Events serves GET /play/events: a retry field, an init event with the
// room's parameters and position, a viewers event, then every move, and a
// viewers event when their number changes (at most once a second). A
// Last-Event-ID (or lastEventId parameter) that the room still keeps
// resumes: the init stands at that move, and the moves missed since follow
// at once. An id this instance has not read yet (the client comes from an
// instance further on) is waited for, up to [Options.AheadWait].
func (h *Handler) Events(c echo.Context) error {
	if err := h.s.CheckOpen(); err != nil {
		return err
	}
	req := c.Request()
	last := stream.LastEventID(req)
	if err := stream.CheckLastEventID(last); err != nil {
		return err
	}
	at, resumed := h.resumeAt(req.Context(), last)
	pos, ok := h.room.Position(at)
	if !ok { // gone from the ring meanwhile: the ring holds its latest
		at, resumed = h.room.Latest(), false
		pos, _ = h.room.Position(at)
	}
	cfg := h.room.Config()
	log := stream.RequestLogger(h.log, c).With("seed", cfg.Seed, "resumed", resumed, "seq", at)

	leave := h.room.Join()
	stream.OnRelease(c, leave)
	viewers := h.room.Viewers()
	retry := h.s.Retry()
	init := payload.Init{
		Width: cfg.Walk.Width, Height: cfg.Walk.Height, Step: cfg.Walk.Step, IntervalMS: cfg.Walk.Interval.Milliseconds(),
		Seed: cfg.Seed, Resumed: resumed, Seq: at, X: pos.X, Y: pos.Y, RetryMS: retry.Milliseconds(),
	}
	first, err := stream.OpeningEvents(retry, strconv.FormatUint(at, 10), string(init.AppendJSON(nil)))
	if err == nil {
		first, err = appendViewers(first, viewers)
	}
	if err != nil {
		leave()
		return err
	}
	now := engine.Now()
	src := &playSource{room: h.room, every: cfg.Walk.Interval, next: at + 1, due: now, viewers: viewers, viewersAt: now}
	if e := h.room.Entry(at); e != nil && h.room.Latest() == at {
		src.due = engine.At(e.Arrived) + src.every + playGrace
	}
	return h.s.ServeSSE(c, stream.Opened{First: first, Source: src, Resumed: resumed, Log: log, Metrics: h.opts.Metrics})
}

// resumeAt returns the move a stream starts from: the one named by the
// client's last event id when the room keeps it, waiting for it when this
// instance is behind; else the newest.
func (h *Handler) resumeAt(ctx context.Context, lastID string) (seq uint64, resumed bool) {
	if lastID == "" {
		return h.room.Latest(), false
	}
	want, err := strconv.ParseUint(lastID, 10, 64)
	if err != nil {
		return h.room.Latest(), false
	}
	if want > h.room.Latest() {
		ctx, cancel := context.WithTimeout(ctx, h.opts.AheadWait)
		h.room.WaitFor(ctx, want)
		cancel()
	}
	if _, ok := h.room.Position(want); ok {
		return want, true
	}
	return h.room.Latest(), false
}

// appendViewers appends a viewers event, which has no id: a client's last
// event id stays that of its last move.
func appendViewers(dst []byte, n int) ([]byte, error) {
	var data [32]byte
	return sse.Event{Name: payload.EventViewers, Data: string(payload.Viewers{Viewers: n}.AppendJSON(data[:0]))}.AppendTo(dst)
}

// How a play stream waits for its next move: the move is due an interval
// after the last one reached this instance, plus playGrace for the next
// one's way through NATS. When it is not there yet, the stream looks again
// after playBackoffMin, doubling up to playBackoffMax: a ticker that
// pauses (it died, and another takes over) costs each stream one look per
// playBackoffMax.
const (
	playGrace      = 5 * time.Millisecond
	playBackoffMin = 5 * time.Millisecond
	playBackoffMax = 100 * time.Millisecond
	// playViewersEvery is the least time between two viewers events.
	playViewersEvery = time.Second
)

// playSource is the source of one viewer of the play room: the moves from
// next on, as this instance reads them from the log, and the number of
// viewers when it changes.
type playSource struct {
	room      *room.Room
	every     time.Duration
	next      uint64      // the seq of the next move to write
	due       engine.Time // when to look for it
	backoff   time.Duration
	viewers   int         // the number last sent
	viewersAt engine.Time // when it was sent
}

func (p *playSource) Due() engine.Time { return p.due }

func (p *playSource) Next(dst []byte, now engine.Time) ([]byte, int, error) {
	if now < p.due {
		return dst, 0, nil
	}
	n := 0
	if latest := p.room.Latest(); latest >= p.next {
		last := min(latest, p.next+stream.MaxBatch-1)
		var e *room.Entry
		for seq := p.next; seq <= last; seq++ {
			if e = p.room.Entry(seq); e == nil {
				return dst, n, fmt.Errorf("move %d: %w", seq, stream.ErrBehind)
			}
			dst = append(dst, e.Event...)
			n++
		}
		p.next, p.backoff = last+1, 0
		p.due = engine.At(e.Arrived) + p.every + playGrace
		if latest > last {
			p.due = now // the rest at once
		}
	} else {
		p.backoff = min(max(2*p.backoff, playBackoffMin), playBackoffMax)
		p.due = now + p.backoff
	}
	if v := p.room.Viewers(); v != p.viewers && now-p.viewersAt >= playViewersEvery {
		var err error
		if dst, err = appendViewers(dst, v); err != nil {
			return dst, n, err
		}
		p.viewers, p.viewersAt = v, now
		n++
	}
	return dst, n, nil
}
