// Package play serves the play room, where visitors push the shared
// object.
//
// GET /play/events streams the room's moves to every viewer, and
// POST /play/push appends a push to the room's log. The room itself
// (package room) keeps the log in NATS JetStream and knows no HTTP.
package play

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/nats-io/nats.go"

	"github.com/sse-demo/movingobject/simulation"
	"github.com/sse-demo/movingobject/stream/internal/deflate"
	"github.com/sse-demo/movingobject/stream/internal/pace"
	"github.com/sse-demo/movingobject/stream/internal/room"
	"github.com/sse-demo/movingobject/stream/payload"
	"github.com/sse-demo/movingobject/stream/sse"
	"github.com/sse-demo/movingobject/stream/transport"
)

// Defaults for the zero fields of [Options].
const (
	DefaultPushRate  = 10
	DefaultAheadWait = 3 * time.Second
	// DefaultViewersEvery is the least time between two viewers events of
	// a stream.
	DefaultViewersEvery = time.Second
	// DefaultPush is how far a push moves the object, in px.
	DefaultPush = room.DefaultPush
	// DefaultTimeout bounds each NATS JetStream call.
	DefaultTimeout = room.DefaultTimeout
)

// Options configure the play room of [Open].
type Options struct {
	// Walk is the room's box, largest step and time between moves.
	// Every instance of a room must be given the same Walk, Seed and Push.
	Walk simulation.Config
	// Seed fixes the walk between pushes, and the start position.
	Seed uint64
	// Push is how far a push moves the object, in px: at most
	// min(Walk.Width, Walk.Height). 0 means [DefaultPush].
	Push int
	// Keep is how many moves the room keeps for replay to reconnecting
	// clients.
	Keep int
	// Timeout bounds each NATS JetStream call. 0 means [DefaultTimeout].
	Timeout time.Duration
	// Replicas is the number of copies of each stream and bucket in a
	// JetStream cluster. 0 means 1.
	Replicas int
	// Logger receives the room's log lines. Nil discards them.
	Logger *slog.Logger
	// Pushes counts the answers to pushes. Nil counts nothing.
	Pushes PushCounter
	// PushRate is how many pushes a second one client address may send.
	// Past it, a push gets 429. 0 means [DefaultPushRate].
	PushRate int
	// TrustedProxies are the proxies whose X-Forwarded-For names the
	// client address (for the push limit), and whose X-Forwarded-Host
	// names the host (for the origin check). When it is empty, the TCP
	// peer is the client.
	TrustedProxies []netip.Prefix
	// AheadWait is how long a client that resumes from a move this
	// instance has not read yet waits for it. 0 means [DefaultAheadWait].
	AheadWait time.Duration
	// ViewersEvery is the least time between two viewers events of a
	// stream. 0 means [DefaultViewersEvery].
	ViewersEvery time.Duration
}

// Handler serves the play room: its moves to every viewer, from the
// room's ring, and visitors' pushes into its log. The event id is the
// move's seq, as on the shared world, so a client resumes on any instance
// of the room, after a restart too.
type Handler struct {
	streams *transport.Streams
	room    *room.Room
	opts    Options
	log     *slog.Logger
	limit   *rateLimiter
}

// Open opens the play room on the NATS connection nc, delivered by
// streams. It creates the room's streams and bucket when they do not
// exist yet, and fails when JetStream does not answer within o.Timeout.
// Close it to stop.
func Open(ctx context.Context, streams *transport.Streams, nc *nats.Conn, o Options) (*Handler, error) {
	if o.PushRate <= 0 {
		o.PushRate = DefaultPushRate
	}
	if o.Pushes == nil {
		o.Pushes = noPushes{}
	}
	if o.AheadWait <= 0 {
		o.AheadWait = DefaultAheadWait
	}
	if o.ViewersEvery <= 0 {
		o.ViewersEvery = DefaultViewersEvery
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	r, err := room.Open(ctx, nc, room.Config{
		Walk: o.Walk, Seed: o.Seed, Push: o.Push, Keep: o.Keep, Timeout: o.Timeout, Replicas: o.Replicas,
		Logger: o.Logger.With("room", "play"),
	})
	if err != nil {
		return nil, err
	}
	return &Handler{streams: streams, room: r, opts: o, log: o.Logger.With("route", "/play/events"), limit: newRateLimiter(o.PushRate)}, nil
}

// Close closes the room. It gives the ticker lease up, so that another
// instance takes over at once. It does not close the NATS connection.
func (h *Handler) Close() { h.room.Close() }

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
// room's parameters and position, a viewers event, then every move. A
// viewers event follows whenever their number changes, at most once a
// second. A Last-Event-ID (or lastEventId parameter) that the room still
// keeps resumes: the init stands at that move, and the moves missed since
// follow at once. This instance waits up to [Options.AheadWait] for an id
// it has not read yet (the client comes from an instance further on).
func (h *Handler) Events(c echo.Context) error {
	coding := transport.Negotiate(c)
	req := c.Request()
	last := transport.LastEventID(req)
	if err := transport.CheckLastEventID(last); err != nil {
		return err
	}
	at, resumed := h.resumeAt(req.Context(), last)
	pos, ok := h.room.Position(at)
	if !ok { // gone from the ring meanwhile: the ring holds its latest
		at, resumed = h.room.Latest(), false
		pos, _ = h.room.Position(at)
	}
	cfg := h.room.Config()
	leave := h.room.Join()
	viewers := h.room.Viewers()
	now := pace.Now()
	src := &playSource{room: h.room, every: cfg.Walk.Interval, next: at + 1, due: now,
		viewers: viewers, viewersAt: now, viewersEvery: h.opts.ViewersEvery, packed: deflate.Follower{Coding: coding}}
	if e := h.room.Entry(at); e != nil && h.room.Latest() == at {
		src.due = pace.At(e.Arrived) + src.every + playGrace
	}
	err := h.streams.SSE(c, transport.Feed{
		Init:   payload.NewInit(cfg.Walk, cfg.Seed, pos, resumed),
		ID:     strconv.FormatUint(at, 10),
		Then:   []sse.Event{viewersEvent(viewers)},
		Source: src,
		Coding: coding,
		OnEnd:  leave,
	})
	if err != nil {
		leave() // refused: the stream never began
	}
	return err
}

// resumeAt returns the move a stream starts from. That is the move named
// by the client's last event id when the room keeps it; resumeAt waits for
// it when this instance is behind. Otherwise it is the newest move.
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

// viewersEvent returns the viewers event of n viewers. It has no id, so a
// client's last event id stays that of its last move.
func viewersEvent(n int) sse.Event {
	var data [32]byte
	return sse.Event{Name: payload.EventViewers, Data: string(payload.Viewers{Viewers: n}.AppendJSON(data[:0]))}
}

// How a play stream waits for its next move. The move is due an interval
// after the last one reached this instance, plus playGrace for the next
// one's way through NATS. When it is not there yet, the stream looks again
// after playBackoffMin, doubling up to playBackoffMax. A ticker that
// pauses (it died, and another takes over) then costs each stream one look
// per playBackoffMax.
const (
	playGrace      = 5 * time.Millisecond
	playBackoffMin = 5 * time.Millisecond
	playBackoffMax = 100 * time.Millisecond
)

// playSource is the source of one viewer of the play room. It gives the
// moves from next on, as this instance reads them from the log, and the
// number of viewers when it changes.
type playSource struct {
	room      *room.Room
	every     time.Duration
	next      uint64    // the seq of the next move to write
	due       pace.Time // when to look for it
	backoff   time.Duration
	viewers   int       // the number last sent
	viewersAt pace.Time // when it was sent
	// viewersEvery is the least time between two viewers events.
	viewersEvery time.Duration
	// packed is the stream's place in the room's compressed stream. A
	// viewers event is the stream's own ([deflate.Follower.AppendOwn]).
	packed deflate.Follower
}

func (p *playSource) Due() pace.Time { return p.due }

func (p *playSource) Next(dst []byte, now pace.Time) ([]byte, int, error) {
	if now < p.due {
		return dst, 0, nil
	}
	n := 0
	if latest := p.room.Latest(); latest >= p.next {
		last := min(latest, p.next+transport.MaxBatch-1)
		var e *room.Entry
		for seq := p.next; seq <= last; seq++ {
			if e = p.room.Entry(seq); e == nil {
				return dst, n, fmt.Errorf("move %d: %w", seq, transport.ErrBehind)
			}
			dst = p.packed.Append(dst, e.Event, e.Deflate, e.Restart)
			n++
		}
		p.next, p.backoff = last+1, 0
		p.due = pace.At(e.Arrived) + p.every + playGrace
		if latest > last {
			p.due = now // the rest at once
		}
	} else {
		p.backoff = min(max(2*p.backoff, playBackoffMin), playBackoffMax)
		p.due = now + p.backoff
	}
	if v := p.room.Viewers(); v != p.viewers && now-p.viewersAt >= p.viewersEvery {
		ev, err := viewersEvent(v).AppendTo(nil)
		if err != nil {
			return dst, n, err
		}
		dst = p.packed.AppendOwn(dst, ev)
		p.viewers, p.viewersAt = v, now
		n++
	}
	return dst, n, nil
}
