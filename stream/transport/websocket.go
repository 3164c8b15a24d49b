package transport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"

	"github.com/sse-demo/movingobject/stream/internal/pace"
)

// The WebSocket transport sends server-to-client text messages, each one
// JSON object: [payload.Init.AppendMessage] first, then
// [payload.Move.AppendMessage] for each move, which the hub encodes once
// for every client. The write loop writes one message per write. The
// stream's heartbeat is a ping, which the client must answer with a pong
// within the write timeout. A write that misses it drops the client.
// Shutdown closes the connection with a close frame (1001, going away).

// WebSocket upgrades the connection of c to WebSocket, sends f's opening
// messages and then its source's messages, until the client leaves, the
// server shuts down or a write fails. The handler's goroutine writes the
// stream. net/http no longer tracks the connection, so Close waits for
// the handler.
func (s *Streams) WebSocket(c echo.Context, f Feed) error {
	release, err := s.hold()
	if err != nil {
		return err
	}
	defer release()
	o, err := s.begin(c, &f, NameWebSocket)
	if err != nil {
		return err
	}
	conn, err := websocket.Accept(clearDeadlines{c.Response()}, c.Request(), s.origins.WebSocket())
	if err != nil {
		o.release()
		o.log.Debug("websocket upgrade refused", "err", err)
		return nil // Accept has answered, with the status that says why
	}
	// CloseRead reads (and answers pings, pongs and the close frame) until
	// the connection ends: its context is done when the client has gone.
	gone := conn.CloseRead(context.Background())
	ws := &wsFramer{conn: conn, gone: gone, timeout: s.opts.WriteTimeout}
	st, err := s.runMessages(o, &f, ws, gone.Done())
	switch {
	case st == nil:
		conn.CloseNow() // the opening failed
		return nil
	case errors.Is(err, pace.ErrShutdown):
		conn.Close(websocket.StatusGoingAway, "server shutting down")
	default:
		conn.CloseNow() // the client is gone, or cannot keep up
	}
	s.ended(o, st, err)
	return nil
}

// runMessages writes f's opening messages through fr, one per write, then
// runs the write loop until done closes, the server shuts down or a write
// fails, and says why it ended. When the opening fails it aborts o and
// returns no stream.
func (s *Streams) runMessages(o *opened, f *Feed, fr pace.Framer, done <-chan struct{}) (*pace.Stream, error) {
	now := pace.Now()
	written := 0
	for _, msg := range f.messages() {
		n, err := fr.Write(msg, false)
		written += n
		if err != nil {
			o.abort(err)
			return nil, err
		}
	}
	st := pace.NewStream(f.Source, s.opts.Heartbeat, now, written)
	o.opening()
	return st, pace.Loop(done, s.closing, fr, st, o.metrics)
}

// wsFramer is the framer of a WebSocket stream: each write is one message,
// or a ping for the heartbeat.
type wsFramer struct {
	conn    *websocket.Conn
	gone    context.Context // done when the client has gone
	timeout time.Duration
}

// Write sends out as one text message, or a ping when the heartbeat is
// due, within the write timeout. A write that misses it wraps
// [context.DeadlineExceeded]; one that fails as the client leaves is
// [pace.ErrClientGone]. It returns the bytes of the message's frame; a
// ping is not counted (the library chooses its payload).
func (w *wsFramer) Write(out []byte, heartbeat bool) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), w.timeout)
	defer cancel()
	var err error
	n := 0
	switch {
	case len(out) > 0:
		if err = w.conn.Write(ctx, websocket.MessageText, out); err == nil {
			n = frameLen(len(out))
		}
	case heartbeat:
		err = w.conn.Ping(ctx) // waits for the pong, which CloseRead reads
	}
	switch {
	case err == nil:
		return n, nil
	case errors.Is(err, context.DeadlineExceeded):
		return 0, fmt.Errorf("write message: %w", err) // a slow client, whom the library disconnected
	case w.gone.Err() != nil, errors.Is(err, net.ErrClosed):
		// The library may mark the connection closed, as the client
		// leaves, before it ends the reader's context.
		return 0, pace.ErrClientGone
	}
	return 0, fmt.Errorf("write message: %w", err)
}

// frameLen returns the length of the unmasked frame (as a server sends
// them) of a message of n bytes: a header of 2, 4 or 10 bytes, and the
// payload.
func frameLen(n int) int {
	switch {
	case n < 126:
		return 2 + n
	case n < 1<<16:
		return 4 + n
	}
	return 10 + n
}

// clearDeadlines is the ResponseWriter handed to [websocket.Accept]: it
// clears the deadlines that net/http may leave on a connection it gives
// up ([http.Hijacker] says so; the server's WriteTimeout counts from the
// request's start), since the WebSocket library bounds each write with a
// context instead. Recent versions of net/http clear them themselves;
// their documentation does not promise it.
type clearDeadlines struct {
	http.ResponseWriter
}

func (w clearDeadlines) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if err := nc.SetDeadline(time.Time{}); err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("clear deadlines: %w", err)
	}
	return nc, brw, nil
}
