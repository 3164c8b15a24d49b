package stream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sse-demo/movingobject/stream/engine"
	"github.com/sse-demo/movingobject/stream/payload"
	"github.com/sse-demo/movingobject/stream/sse"
)

// The transports of an event stream. A route opens a stream and hands it
// to a transport ([Server.serve] here for SSE, [Server.longPoll] in
// poll.go, [Server.serveWebSocket] in websocket.go), with what the stream
// opens with and its source of events; the transport writes it until it
// ends, and then [Server.ended] logs and counts the end the same way for
// every transport. A transport that holds a goroutine per client runs
// [Server.writeLoop] with a framer of its own.

// opened is a stream that a route has opened: what it writes first, where
// its events come from, and how it is logged and counted.
type opened struct {
	// first is what the stream opens with, in its transport's framing: the
	// retry field and the init event (SSE), the init message (WebSocket);
	// none for a long poll, whose source has its init.
	first   []byte
	src     engine.Source // the events after init
	resumed bool          // the stream continues from the client's last event id
	log     *slog.Logger  // with request_id, route, transport, seed, resumed and seq
	metrics Metrics
	release func() // gives the stream's slot back to the limiter; set by the transport
}

// errBehind ends a stream whose next move has left the replay window.
var errBehind = errors.New("stream fell behind the replay window")

// serve delivers o on the connection of c: on HTTP/1.x over TCP, it takes
// the connection over and hands the stream to the engine; otherwise
// (HTTP/2, TLS, a writer that cannot be taken over) it writes the stream
// through the ResponseWriter until it ends.
func (s *Server) serve(c echo.Context, o opened) error {
	if o.metrics == nil {
		o.metrics = noMetrics{}
	}
	// The stream is counted until it ends, which a taken-over connection
	// outlives its handler, and is uncounted before its end is logged.
	o.release = detachLimit(c)
	if nc := s.hijack(c); nc != nil {
		s.serveHijacked(c, nc, o)
		return nil
	}
	w := newSender(c, s.opts.WriteTimeout)
	now := engine.Now()
	if err := w.send(o.first); err != nil {
		o.release()
		o.log.Debug("stream closed before init", "err", err)
		return nil
	}
	st := engine.NewStream(o.src, s.opts.Heartbeat, now, len(o.first))
	s.opening(o)
	s.ended(o, st, s.writeLoop(c.Request().Context().Done(), w, st, o.metrics))
	return nil
}

// opening logs and counts a stream whose opening events are written.
func (s *Server) opening(o opened) {
	o.metrics.Requested()
	o.metrics.Opened(o.resumed)
	o.log.Debug("stream opened")
}

// ended frees the slot of a stream that ended, counts it, and logs it, for
// every transport alike: one line with why it ended, how long it lasted and
// what it was sent. A client that left is Debug; a client the server
// dropped, because a write missed its deadline or the client fell out of
// the replay window, is Info.
func (s *Server) ended(o opened, st *engine.Stream, err error) {
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
	o.log.LogAttrs(context.Background(), level, "stream closed", attrs...) // a taken-over stream outlives its request
}

// endReason names why a stream ended, and reports whether the server
// dropped a client that could not keep up: the one write-failure rule.
func endReason(err error) (reason string, dropped bool) {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded), errors.Is(err, errBehind):
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

// hijack takes over the connection of c when it can carry an event stream
// without net/http (HTTP/1.x over TCP), and returns it; nil otherwise.
func (s *Server) hijack(c echo.Context) net.Conn {
	if r := c.Request(); r.ProtoMajor != 1 || r.TLS != nil {
		return nil
	}
	nc, _, err := http.NewResponseController(c.Response()).Hijack() // an event stream request has no body to read
	if err != nil {
		return nil
	}
	if tc, ok := nc.(*net.TCPConn); ok && s.sendBuffer > 0 {
		tc.SetWriteBuffer(s.sendBuffer)
	}
	return nc
}

// serveHijacked writes the response head and o's opening events on nc,
// then hands the stream to the engine. The response has no chunked
// encoding and ends when the connection closes, so the engine can cut it
// anywhere between events.
func (s *Server) serveHijacked(c echo.Context, nc net.Conn, o opened) {
	var head bytes.Buffer
	head.WriteString("HTTP/1.1 200 OK\r\n")
	hdr := c.Response().Header().Clone()
	setStreamHeaders(hdr)
	hdr.Set("Connection", "close")
	hdr.Write(&head)
	head.WriteString("\r\n")
	head.Write(o.first)
	o.first = nil // the stream outlives this function: keep no copy of its opening

	var conn *engine.Conn
	conn, err := engine.NewConn(nc, engine.ConnOptions{
		Source: o.src, Heartbeat: s.opts.Heartbeat, Beat: engine.SSEHeartbeat, Opened: engine.Now(), Written: head.Len(),
		Timeout: s.opts.WriteTimeout, Metrics: o.metrics, End: func(err error) { s.ended(o, conn.Stream(), err) },
	})
	if err == nil {
		err = conn.WriteBlocking(head.Bytes())
	}
	if err != nil {
		nc.Close()
		o.release()
		o.log.Debug("stream closed before init", "err", err)
		return
	}
	s.opening(o)
	if err := s.engine.Add(conn); err != nil {
		nc.Close()
		s.ended(o, conn.Stream(), err)
	}
}

// sender writes whole batches of events to one response, each within its
// own deadline, and flushes them at once.
type sender struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
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
	return &sender{w: res, rc: http.NewResponseController(res.Writer), timeout: timeout}
}

// setStreamHeaders sets the headers of an event stream.
func setStreamHeaders(hdr http.Header) {
	hdr.Set("Content-Type", "text/event-stream; charset=utf-8")
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
}

// write sends out and, when heartbeat, the SSE heartbeat comment after it.
func (s *sender) write(out []byte, heartbeat bool) (int, error) {
	if heartbeat {
		out = append(out, engine.SSEHeartbeat...)
	}
	if err := s.send(out); err != nil {
		return 0, err
	}
	return len(out), nil
}

// send writes and flushes b within the write timeout.
func (s *sender) send(b []byte) error {
	if err := s.rc.SetWriteDeadline(time.Now().Add(s.timeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return fmt.Errorf("set write deadline: %w", err)
	}
	if _, err := s.w.Write(b); err != nil {
		return fmt.Errorf("write events: %w", err)
	}
	if err := s.rc.Flush(); err != nil {
		return fmt.Errorf("flush events: %w", err)
	}
	return nil
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

// jitter returns d plus up to half of d again, at random: a stream's
// reconnection delay, so that clients of a restarted server spread out.
func jitter(d time.Duration) time.Duration {
	return d + rand.N(d/2+1)
}
