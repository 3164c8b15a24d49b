package transport

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/webtransport-go"

	"github.com/sse-demo/movingobject/stream/internal/pace"
)

// The WebTransport transport sends the WebSocket's JSON messages, one per
// line, on one unidirectional stream that the server opens in the
// session. The heartbeat is an empty line. webtransport-go has no
// non-blocking send, so each write has the write timeout as its deadline:
// a client that does not take its moves within it is dropped, and no
// other client waits for it. The server reads nothing the client sends:
// streams it opens wait unread, and its datagrams are dropped once the
// session's small queue is full.

// Upgrader turns an HTTP/3 extended CONNECT request into a WebTransport
// session. [webtransport.Server] is one.
type Upgrader interface {
	Upgrade(w http.ResponseWriter, r *http.Request) (*webtransport.Session, error)
}

// WebTransport opens a WebTransport session on the extended CONNECT
// request of c, sends f's opening messages and then its source's messages
// on a stream of the session, until the client leaves, the server shuts
// down or a write fails. The handler's goroutine writes the stream. Where
// the server has no upgrader (no HTTP/3), it answers 404.
func (s *Streams) WebTransport(c echo.Context, f Feed) error {
	if s.opts.WebTransport == nil {
		return echo.NewHTTPError(http.StatusNotFound, "WebTransport is off on this server")
	}
	release, err := s.hold()
	if err != nil {
		return err
	}
	defer release()
	if !s.origins.Allows(c.Request()) {
		return echo.NewHTTPError(http.StatusForbidden, "Origin: not this server's, nor one that -allow-origin lists")
	}
	o, err := s.begin(c, &f, NameWebTransport)
	if err != nil {
		return err
	}
	// The upgrader needs the HTTP/3 writer itself, not echo's wrapper.
	sess, err := s.opts.WebTransport.Upgrade(c.Response().Writer, c.Request())
	if err != nil {
		o.refuse()
		o.log.Debug("webtransport upgrade refused", "err", err)
		return echo.NewHTTPError(http.StatusBadRequest, "WebTransport: "+err.Error())
	}
	c.Response().Status, c.Response().Committed = http.StatusOK, true // the upgrader answered
	ctx, cancel := context.WithTimeout(sess.Context(), s.opts.WriteTimeout)
	str, err := sess.OpenUniStreamSync(ctx) // the stream of moves
	cancel()
	if err != nil {
		sess.CloseWithError(0, "")
		o.abort(fmt.Errorf("open a stream: %w", err))
		return nil
	}
	wt := &wtFramer{str: str, gone: sess.Context(), timeout: s.opts.WriteTimeout}
	st, err := s.runMessages(o, &f, wt, sess.Context().Done())
	code, msg := webtransport.SessionErrorCode(0), ""
	switch _, dropped := endReason(err); {
	case st == nil: // the opening failed
	case errors.Is(err, pace.ErrShutdown):
		code, msg = 1, "server shutting down" // the session's error codes are the server's own
	case dropped:
		code, msg = 2, "too slow"
	}
	sess.CloseWithError(code, msg)
	if st != nil {
		s.ended(o, st, err)
	}
	return nil
}

// wtFramer is the framer of a WebTransport stream: each write is one
// message and its line end, or an empty line for the heartbeat.
type wtFramer struct {
	str     *webtransport.SendStream
	gone    context.Context // done when the session has ended
	timeout time.Duration
}

// Write sends out and a line end (or the line end alone, for the
// heartbeat) within the write timeout. A write that misses it wraps
// [os.ErrDeadlineExceeded]; one that fails as the client leaves is
// [pace.ErrClientGone].
//
// The line end goes after out in out's own array, as the SSE sender's
// heartbeat does: the write loop reuses its buffer, and nothing is copied.
func (w *wtFramer) Write(out []byte, _ bool) (int, error) {
	err := w.str.SetWriteDeadline(time.Now().Add(w.timeout))
	n := 0
	if err == nil {
		n, err = w.str.Write(append(out, '\n'))
	}
	if err != nil {
		return n, w.fail(err)
	}
	return n, nil
}

// fail names why a write failed: a slow client (the deadline), or one
// that ended the session, stopped the stream or closed the connection.
func (w *wtFramer) fail(err error) error {
	var se *webtransport.StreamError
	var sess *webtransport.SessionError
	var conn *quic.ApplicationError
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
	case w.gone.Err() != nil, errors.As(err, &se), errors.As(err, &sess), errors.As(err, &conn) && conn.Remote:
		return pace.ErrClientGone
	}
	return fmt.Errorf("write message: %w", err)
}
