package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sse-demo/movingobject/metrics"
	"github.com/sse-demo/movingobject/simulation"
	"github.com/sse-demo/movingobject/stream/payload"
	"github.com/sse-demo/movingobject/stream/sse"
)

// Defaults for the zero fields of [Options].
const (
	DefaultHeartbeat    = 15 * time.Second
	DefaultWriteTimeout = 10 * time.Second
	DefaultRetry        = 2 * time.Second
)

// Options configure a [Handler]. Zero fields take the defaults.
type Options struct {
	// Defaults is the walk for query parameters a request leaves out.
	Defaults simulation.Config
	// Heartbeat is how long a stream may stay silent before it sends a
	// comment, so that proxies keep it open and a vanished client fails
	// its next write.
	Heartbeat time.Duration
	// WriteTimeout bounds each write; a client that does not drain its
	// stream within it is dropped.
	WriteTimeout time.Duration
	// Retry is the base reconnection delay sent in the retry field. Each
	// stream adds up to half of it again at random, so that clients of a
	// restarted server do not all come back in the same millisecond.
	Retry time.Duration
	// ResumeKey signs resume tokens; empty means [DefaultResumeKey].
	ResumeKey []byte
	// Logger receives one line per stream; nil discards.
	Logger *slog.Logger
	// Metrics counts the streams; nil counts nothing.
	Metrics *metrics.Route
}

// Handler serves walks as Server-Sent Events.
type Handler struct {
	opts      Options
	closing   chan struct{} // closed by Close
	closeOnce sync.Once
	walks     walks // the fast path's schedulers
}

// NewHandler returns a Handler with o's zero fields set to the defaults.
func NewHandler(o Options) *Handler {
	h := &Handler{opts: o.withDefaults(), closing: make(chan struct{})}
	h.walks.h = h
	return h
}

// withDefaults returns o with its zero fields set to the defaults.
func (o Options) withDefaults() Options {
	if o.Defaults == (simulation.Config{}) {
		o.Defaults = simulation.DefaultConfig()
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = DefaultHeartbeat
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.Retry <= 0 {
		o.Retry = DefaultRetry
	}
	if len(o.ResumeKey) == 0 {
		o.ResumeKey = []byte(DefaultResumeKey)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Defaults returns the walk used for absent query parameters.
func (h *Handler) Defaults() simulation.Config { return h.opts.Defaults }

// Close ends every open stream once its current event is written, and
// every stream opened later right after its init event; it waits for the
// goroutines of the fast path (hijacked streams, which Shutdown does not
// track). Register it with [http.Server.RegisterOnShutdown]: Shutdown does
// not end streams itself.
func (h *Handler) Close() {
	h.closeOnce.Do(func() {
		close(h.closing)
		h.walks.close()
	})
}

// LastEventID returns the resume token of a request: the Last-Event-ID
// header a browser sends when it reconnects, or else the lastEventId query
// parameter, for clients that cannot set headers.
func LastEventID(r *http.Request) string {
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		return id
	}
	return r.URL.Query().Get("lastEventId")
}

// Events serves GET /events: a retry field, an init event, then one move
// event per tick, each with its resume token as id. Bad query parameters
// get a 400 before anything is streamed; a bad resume token only starts a
// fresh walk, since any error status would stop an EventSource for good.
// A resume token longer than [MaxTokenLen] does get a 400: no browser
// sends one, as it only echoes ids this server wrote.
func (h *Handler) Events(c echo.Context) error {
	req := c.Request()
	p, err := ParseParams(req.URL.Query(), h.opts.Defaults)
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, err.Error())
	}
	token := LastEventID(req)
	if err := checkTokenLen(token); err != nil {
		return err
	}
	signer := newTokenSigner(h.opts.ResumeKey, p.Config)
	log := requestLogger(h.opts.Logger, c)
	walker, resumed := h.start(log, signer, p, token)
	log = log.With("seed", walker.Seed(), "resumed", resumed)

	retry := jitter(h.opts.Retry)
	first, err := openingEvents(retry, string(signer.appendToken(nil, walker.Seed(), walker.Position())),
		string(appendInit(nil, walker, resumed, retry)))
	if err != nil {
		return err
	}
	if fast, err := h.hijack(c, first, walker, signer, resumed); fast {
		if err != nil {
			log.Debug("stream closed before init", "err", err)
		}
		return nil // a scheduler writes the walk from now on
	}
	s := newSender(c, h.opts.WriteTimeout)
	s.buf = first
	if err := s.send(); err != nil {
		log.Debug("stream closed before init", "err", err)
		return nil
	}
	log.Debug("stream opened", "seq", walker.Position().Seq)
	h.opts.Metrics.Opened(resumed)
	var dropped bool
	defer func() { h.opts.Metrics.Closed(dropped) }()

	ctx, cancel := context.WithCancel(req.Context())
	moves := make(chan simulation.Position)
	go func() {
		defer close(moves)
		simulation.Run(ctx, p.Config.Interval, func() error {
			select {
			case moves <- walker.Step():
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	defer func() {
		cancel()
		for range moves { // wait for the walk to end
		}
	}()

	heartbeat := time.NewTimer(h.opts.Heartbeat)
	defer heartbeat.Stop()
	var id, data []byte
	for {
		var ev sse.Event
		select {
		case <-ctx.Done():
			log.Debug("client gone")
			return nil
		case <-h.closing:
			log.Debug("stream ended by shutdown")
			return nil
		case pos := <-moves:
			id = signer.appendToken(id[:0], walker.Seed(), pos)
			data = appendMove(data[:0], pos, time.Now())
			ev = sse.Event{ID: unsafeString(id), Name: payload.EventMove, Data: unsafeString(data)} // encoded below, before id and data change
		case <-heartbeat.C:
			ev = sse.Event{Comment: "heartbeat"}
		}
		if s.buf, err = ev.AppendTo(s.buf[:0]); err != nil {
			return fmt.Errorf("encode %q event: %w", ev.Name, err)
		}
		start := time.Now()
		if err := s.send(); err != nil {
			// A client that left or stalled: not a server error.
			dropped = writeFailed(log, err)
			return nil
		}
		h.opts.Metrics.Wrote(1, len(s.buf), time.Since(start).Seconds())
		heartbeat.Reset(h.opts.Heartbeat)
	}
}

// openingEvents encodes how every stream opens: the retry field, then the
// init event with id and data.
func openingEvents(retry time.Duration, id, data string) ([]byte, error) {
	first, _ := sse.Event{Retry: retry}.AppendTo(make([]byte, 0, 512))
	first, err := sse.Event{ID: id, Name: payload.EventInit, Data: data}.AppendTo(first)
	if err != nil {
		return nil, fmt.Errorf("encode init event: %w", err) // a bug: nothing is written yet
	}
	return first, nil
}

// start resumes the walk named by token, or starts a new one when the
// token is absent, invalid, or for another seed than the one asked for.
func (h *Handler) start(log *slog.Logger, signer *tokenSigner, p Params, token string) (w *simulation.Walker, resumed bool) {
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

// jitter returns d plus up to half of d again, at random: a stream's
// reconnection delay, so that clients of a restarted server spread out.
func jitter(d time.Duration) time.Duration {
	return d + rand.N(d/2+1)
}

// sender writes whole events to one response, each with its own deadline,
// and flushes them at once.
type sender struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	buf     []byte // the encoded events to send next
}

// newSender sets the event-stream headers and sends the status line.
func newSender(c echo.Context, timeout time.Duration) *sender {
	res := c.Response()
	hdr := res.Header()
	setStreamHeaders(hdr)
	if c.Request().ProtoMajor == 1 {
		hdr.Set("Connection", "keep-alive") // a connection-specific header, forbidden in HTTP/2
	}
	res.WriteHeader(http.StatusOK)
	// Flush through the writer under echo's Response, whose Flush hides errors.
	return &sender{w: res, rc: http.NewResponseController(res.Writer), timeout: timeout, buf: make([]byte, 0, 512)}
}

// setStreamHeaders sets the headers of an event stream.
func setStreamHeaders(hdr http.Header) {
	hdr.Set("Content-Type", "text/event-stream; charset=utf-8")
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
}

// send writes and flushes s.buf within the write timeout.
func (s *sender) send() error {
	if err := s.arm(time.Now()); err != nil {
		return err
	}
	if _, err := s.w.Write(s.buf); err != nil {
		return fmt.Errorf("write event: %w", err)
	}
	return s.flush()
}

// arm sets the deadline of the writes that follow: now plus the timeout.
func (s *sender) arm(now time.Time) error {
	if err := s.rc.SetWriteDeadline(now.Add(s.timeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return fmt.Errorf("set write deadline: %w", err)
	}
	return nil
}

// flush sends what the writes since arm left buffered.
func (s *sender) flush() error {
	if err := s.rc.Flush(); err != nil {
		return fmt.Errorf("flush event: %w", err)
	}
	return nil
}

// appendMove appends the data of a move event made at now.
func appendMove(dst []byte, p simulation.Position, now time.Time) []byte {
	return payload.Move{Seq: p.Seq, X: p.X, Y: p.Y, TS: now.UnixMilli()}.AppendJSON(dst)
}

// appendInit appends the data of the init event of walker w.
func appendInit(dst []byte, w *simulation.Walker, resumed bool, retry time.Duration) []byte {
	return appendInitAt(dst, w.Config(), w.Seed(), w.Position(), resumed, retry)
}

// appendInitAt appends the data of the init event of the walk with this
// box, pace and seed, standing at p.
func appendInitAt(dst []byte, c simulation.Config, seed uint64, p simulation.Position, resumed bool, retry time.Duration) []byte {
	return payload.Init{
		Width: c.Width, Height: c.Height, Step: c.Step, IntervalMS: c.Interval.Milliseconds(),
		Seed: seed, Resumed: resumed, Seq: p.Seq, X: p.X, Y: p.Y, RetryMS: retry.Milliseconds(),
	}.AppendJSON(dst)
}
