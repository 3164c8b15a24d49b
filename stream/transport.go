package stream

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sse-demo/movingobject/stream/engine"
)

// What every transport shares. A route opens a stream and hands it to a
// transport ([Server.ServeSSE], [Server.LongPoll], [Server.ServeWebSocket])
// as an [Opened]: what the stream opens with and its source of events; the
// transport writes it until it ends, and then [Server.ended] logs and
// counts the end the same way for every transport. A transport that holds
// a goroutine per client runs [Server.writeLoop] with a framer of its own.

// Opened is a stream that a route has opened: what it writes first, where
// its events come from, and how it is logged and counted.
type Opened struct {
	// First is what the stream opens with, in its transport's framing: the
	// retry field and the init event (SSE, [OpeningEvents]), the init
	// message (WebSocket); none for a long poll, whose source has its init.
	First   []byte
	Source  engine.Source // the events after init
	Resumed bool          // the stream continues from the client's last event id
	Log     *slog.Logger  // with request_id, route, transport, seed, resumed and seq
	Metrics Metrics       // nil counts nothing
	release func()        // gives the stream's slot back to the limiter; set by the transport
}

// ErrBehind ends a stream whose next move has left the replay window: a
// route's source returns it, wrapped, and the stream ends as a slow
// client dropped.
var ErrBehind = errors.New("stream fell behind the replay window")

// begin readies o for its transport: the stream is counted against the
// limits until it ends (which a taken-over connection outlives its handler
// for) and uncounted by [Server.ended] before its end is logged.
func (o *Opened) begin(c echo.Context) {
	if o.Metrics == nil {
		o.Metrics = noMetrics{}
	}
	o.release = detachLimit(c)
}

// opening logs and counts a stream whose opening events are written.
func (s *Server) opening(o Opened) {
	o.Metrics.Requested()
	o.Metrics.Opened(o.Resumed)
	o.Log.Debug("stream opened")
}

// ended frees the slot of a stream that ended, counts it, and logs it, for
// every transport alike: one line with why it ended, how long it lasted and
// what it was sent. A client that left is Debug; a client the server
// dropped, because a write missed its deadline or the client fell out of
// the replay window, is Info.
func (s *Server) ended(o Opened, st *engine.Stream, err error) {
	o.release()
	reason, dropped := endReason(err)
	o.Metrics.Closed(dropped)
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
	o.Log.LogAttrs(context.Background(), level, "stream closed", attrs...) // a taken-over stream outlives its request
}

// endReason names why a stream ended, and reports whether the server
// dropped a client that could not keep up: the one write-failure rule.
func endReason(err error) (reason string, dropped bool) {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded), errors.Is(err, ErrBehind):
		return "slow client dropped", true
	case errors.Is(err, engine.ErrShutdown):
		return "shutdown", false
	case errors.Is(err, errAnswered), errors.Is(err, errWaitOver):
		return err.Error(), false
	case err == nil, errors.Is(err, engine.ErrClientGone):
		return "client gone", false
	}
	return "write failed", false // most often a reset: the client is gone too
}

// A framer writes a stream's events to one client in its transport's
// framing: what [engine.Stream.Next] appended, and the heartbeat when the
// stream has been silent for its interval (an SSE comment, a WebSocket
// ping, a long poll's empty answer). It returns the bytes it put on the
// wire, which count even when err is not nil; an error ends the stream.
type framer interface {
	write(out []byte, heartbeat bool) (n int, err error)
}

// writeLoop is the one streaming loop of every transport that holds a
// goroutine per client (SSE through the ResponseWriter, WebSocket, long
// polling): it writes st through f as its events fall due, or its
// heartbeat, until the client leaves (done), the server closes, or a write
// fails or ends the stream.
func (s *Server) writeLoop(done <-chan struct{}, f framer, st *engine.Stream, m Metrics) error {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	var buf []byte
	for {
		if wait := st.Due() - engine.Now(); wait > 0 {
			t.Reset(wait)
			select {
			case <-done:
				return engine.ErrClientGone
			case <-s.closing:
				return engine.ErrShutdown
			case <-t.C:
			}
		}
		now := engine.Now()
		out, events, heartbeat, err := st.Next(buf[:0], now)
		buf = out
		if err != nil {
			return err
		}
		if len(out) == 0 && !heartbeat {
			continue
		}
		start := time.Now()
		n, err := f.write(out, heartbeat)
		if n > 0 {
			st.Wrote(n, events, now)
			m.Wrote(events, n, time.Since(start).Seconds())
		} else if heartbeat {
			st.Wrote(0, 0, now) // a heartbeat with no bytes of its own (a ping)
		}
		if err != nil {
			return err
		}
	}
}
