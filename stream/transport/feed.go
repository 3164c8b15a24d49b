package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sse-demo/movingobject/stream/internal/deflate"
	"github.com/sse-demo/movingobject/stream/internal/pace"
	"github.com/sse-demo/movingobject/stream/payload"
	"github.com/sse-demo/movingobject/stream/sse"
	"github.com/sse-demo/movingobject/stream/transport/limits"
)

// A Feed is what a route hands a transport to open a stream. The route
// has parsed the request and worked out where the stream starts; the
// transport takes it from there and never calls back into the route.
type Feed struct {
	// Init is where the stream starts. An event stream opens with it as
	// the init event, and a WebSocket as the init message. The transport
	// sets its RetryMS. A long poll writes no init of its own: its source
	// puts one in the answer when the client needs it.
	Init payload.Init
	// ID is the init event's id: where a client that reconnects resumes.
	ID string
	// Then are events written right after init, such as the play room's
	// viewer count. They have no id, so a client's last event id stays
	// that of init or of its last move.
	Then []sse.Event
	// Source makes the events after the opening.
	Source pace.Source
	// Coding is the content coding of an event stream, from [Negotiate].
	// The transport writes the coding's header and the opening in stored
	// blocks; Source writes the rest in the coding too, as
	// [deflate.Shared] describes.
	Coding deflate.Coding
	// OnEnd, when set, is called once when the stream ends, however it
	// ends after the transport took it. A transport that refuses the
	// stream returns an error and does not call OnEnd: the stream never
	// began.
	OnEnd func()
}

// ErrBehind ends a stream whose next event has left the replay window. A
// route's source returns it, wrapped, and the stream ends as a slow
// client dropped.
var ErrBehind = errors.New("stream fell behind the replay window")

// opened is a stream that a transport has opened: what it keeps until it
// ends. A stream taken over by the engine keeps it for its whole life, so
// it holds nothing of the opening.
type opened struct {
	slot    *limits.Slot
	onEnd   func()
	resumed bool
	retry   time.Duration // the reconnection delay sent to the client
	log     *slog.Logger  // with request_id, route, transport, seed, resumed and seq
	metrics Metrics
}

// begin takes a slot for a stream of c over transport name, or returns the
// error that refuses it: 503 once Close was called, or the refusal of
// the limits. It sets the retry of f's init. Every stream that begin
// returns ends with [Streams.ended] or [opened.abort], or gives its slot
// back with [opened.refuse] when the transport refuses it after all.
func (s *Streams) begin(c echo.Context, f *Feed, name string) (*opened, error) {
	slot, err := s.acquire(c)
	if err != nil {
		return nil, err
	}
	o := &opened{slot: slot, onEnd: f.OnEnd, resumed: f.Init.Resumed, retry: s.retry(), metrics: s.metrics(c.Path(), name)}
	f.Init.RetryMS = o.retry.Milliseconds()
	o.log = RequestLogger(s.opts.Logger, c).With("route", c.Path(), "transport", name,
		"seed", f.Init.Seed, "resumed", f.Init.Resumed, "seq", f.Init.Seq)
	if f.Coding != deflate.None {
		o.log = o.log.With("encoding", f.Coding.String())
	}
	return o, nil
}

// acquire takes a slot under the limits for a stream of c, or returns the
// error that refuses it.
func (s *Streams) acquire(c echo.Context) (*limits.Slot, error) {
	select {
	case <-s.closing:
		return nil, echo.NewHTTPError(http.StatusServiceUnavailable, pace.ErrShutdown.Error())
	default:
	}
	return s.limits.Acquire(c)
}

// appendSSE appends how f opens as an event stream: the retry field, the
// init event with its id, then the events of Then; in f's coding, when it
// has one.
func (f *Feed) appendSSE(dst []byte, retry time.Duration) ([]byte, error) {
	plain, _ := sse.Event{Retry: retry}.AppendTo(nil)
	plain, err := sse.Event{ID: f.ID, Name: payload.EventInit, Data: string(f.Init.AppendJSON(nil))}.AppendTo(plain)
	for _, ev := range f.Then {
		if err != nil {
			break
		}
		plain, err = ev.AppendTo(plain)
	}
	if err != nil {
		return nil, fmt.Errorf("encode the opening events: %w", err) // a bug: nothing is written yet
	}
	own := deflate.Follower{Coding: f.Coding} // the opening is this stream's own
	return own.AppendOwn(f.Coding.AppendHeader(dst), plain), nil
}

// messages returns how f opens as a WebSocket: the init message, then one
// message for each event of Then.
func (f *Feed) messages() [][]byte {
	msgs := [][]byte{f.Init.AppendMessage(nil)}
	for _, ev := range f.Then {
		msgs = append(msgs, payload.AppendMessage(nil, ev.Name, []byte(ev.Data)))
	}
	return msgs
}

// opening logs and counts a stream whose opening is written.
func (o *opened) opening() {
	o.metrics.Requested()
	o.metrics.Opened(o.resumed)
	o.log.Debug("stream opened")
}

// refuse gives the slot of a stream that never began back. The route
// learns of it from the error its transport returns.
func (o *opened) refuse() { o.slot.Release() }

// release gives the stream's slot back and tells the route it ended.
func (o *opened) release() {
	o.slot.Release()
	if o.onEnd != nil {
		o.onEnd()
	}
}

// abort ends a stream whose opening could not be written: the client is
// gone, or the connection failed.
func (o *opened) abort(err error) {
	o.release()
	o.log.Debug("stream closed before init", "err", err)
}

// ended ends a stream after its opening, the same way for every
// transport. It frees its slot, counts it, and logs one line with why it
// ended, how long it lasted and what it was sent. A client that left is
// Debug. A client that the server dropped is Info: a write missed its
// deadline, or the client fell out of the replay window.
func (s *Streams) ended(o *opened, st *pace.Stream, err error) {
	o.release()
	reason, dropped := endReason(err)
	o.metrics.Closed(dropped)
	level := slog.LevelDebug
	if dropped {
		level = slog.LevelInfo
	}
	bytes, events := st.Written()
	attrs := []slog.Attr{slog.String("reason", reason), slog.Duration("duration", time.Since(st.Opened)),
		slog.Int64("bytes", bytes), slog.Int64("events", events)}
	if reason == "write failed" || dropped {
		attrs = append(attrs, slog.Any("err", err))
	}
	// A taken-over stream outlives its request, and so its context.
	o.log.LogAttrs(context.Background(), level, "stream closed", attrs...)
}

// endReason names why a stream ended, and reports whether the server
// dropped a client that could not keep up. It is the one write-failure
// rule of every transport.
func endReason(err error) (reason string, dropped bool) {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded), errors.Is(err, ErrBehind):
		return "slow client dropped", true
	case errors.Is(err, pace.ErrShutdown):
		return "shutdown", false
	case errors.Is(err, errAnswered), errors.Is(err, errWaitOver):
		return err.Error(), false
	case err == nil, errors.Is(err, pace.ErrClientGone):
		return "client gone", false
	}
	return "write failed", false // most often a reset: the client is gone too
}

// RequestLogger returns log with the request id of c, when a middleware
// has set one in the X-Request-Id response header. A stream's lines then
// match its request's log line.
func RequestLogger(log *slog.Logger, c echo.Context) *slog.Logger {
	if id := c.Response().Header().Get(echo.HeaderXRequestID); id != "" {
		return log.With("request_id", id)
	}
	return log
}

// MaxLastEventID is the longest Last-Event-ID the server reads. Every id
// it writes is under 80 bytes, so a longer one gets a 400.
const MaxLastEventID = 256

// CheckLastEventID refuses a last event id longer than [MaxLastEventID]
// with a 400 that names the header.
func CheckLastEventID(id string) error {
	if len(id) > MaxLastEventID {
		return echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("Last-Event-ID: must be at most %d bytes", MaxLastEventID))
	}
	return nil
}

// LastEventID returns where a client resumes. A browser sends the
// Last-Event-ID header when it reconnects. Clients that cannot set
// headers send the lastEventId query parameter instead.
func LastEventID(r *http.Request) string {
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		return id
	}
	return r.URL.Query().Get("lastEventId")
}

// Negotiate picks the content coding of an event stream from the
// request's Accept-Encoding, and says in Vary that the answer depends on
// it. A route that offers compression calls it before anything can
// refuse the request, so that every answer carries the Vary.
func Negotiate(c echo.Context) deflate.Coding {
	c.Response().Header().Add("Vary", "Accept-Encoding")
	return deflate.Negotiate(c.Request().Header.Values("Accept-Encoding"))
}
