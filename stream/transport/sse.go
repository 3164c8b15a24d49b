package transport

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sse-demo/movingobject/stream/internal/deflate"
	"github.com/sse-demo/movingobject/stream/internal/engine"
	"github.com/sse-demo/movingobject/stream/internal/pace"
)

// SSE delivers f as Server-Sent Events on the connection of c.
//
// On HTTP/1.x over TCP it takes the connection over from net/http and
// hands the stream to the engine. On Linux the engine writes it without a
// goroutine of its own. Otherwise (HTTP/2, TLS, a writer that cannot be
// taken over) the handler's goroutine writes the stream through the
// ResponseWriter until it ends.
func (s *Streams) SSE(c echo.Context, f Feed) error {
	release, err := s.hold() // until the engine has the stream, or it ends here
	if err != nil {
		return err
	}
	defer release()
	o, err := s.begin(c, &f, NameSSE)
	if err != nil {
		return err
	}
	first, err := f.appendSSE(make([]byte, 0, 512), o.retry)
	if err != nil {
		o.refuse()
		return err
	}
	if f.Coding != deflate.None {
		c.Response().Header().Set("Content-Encoding", f.Coding.String())
	}
	if nc := s.hijack(c); nc != nil {
		s.serveHijacked(c, nc, o, f.Source, first, f.Coding.Beat(pace.SSEHeartbeat))
		return nil
	}
	w := newSender(c, s.opts.WriteTimeout, f.Coding.Beat(pace.SSEHeartbeat))
	now := pace.Now()
	if err := w.send(first); err != nil {
		o.abort(err)
		return nil
	}
	st := pace.NewStream(f.Source, s.opts.Heartbeat, now, len(first))
	o.opening()
	s.ended(o, st, pace.Loop(c.Request().Context().Done(), s.closing, w, st, o.metrics))
	return nil
}

// hijack takes over the connection of c when it can carry an event stream
// without net/http (HTTP/1.x over TCP), and returns it; nil otherwise.
func (s *Streams) hijack(c echo.Context) net.Conn {
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

// serveHijacked writes the response head and the opening events on nc,
// then hands the stream to the engine. The response has no chunked
// encoding and ends when the connection closes, so the engine can cut it
// anywhere between events.
func (s *Streams) serveHijacked(c echo.Context, nc net.Conn, o *opened, src pace.Source, first, beat []byte) {
	var head bytes.Buffer
	head.WriteString("HTTP/1.1 200 OK\r\n")
	hdr := c.Response().Header().Clone()
	setStreamHeaders(hdr)
	hdr.Set("Connection", "close")
	hdr.Write(&head)
	head.WriteString("\r\n")
	head.Write(first)

	var conn *engine.Conn
	conn, err := engine.NewConn(nc, engine.ConnOptions{
		Source: src, Heartbeat: s.opts.Heartbeat, Beat: beat, Opened: pace.Now(), Written: head.Len(),
		Timeout: s.opts.WriteTimeout, Metrics: o.metrics, End: func(err error) { s.ended(o, conn.Stream(), err) },
	})
	if err == nil {
		err = conn.WriteBlocking(head.Bytes())
	}
	if err != nil {
		nc.Close()
		o.abort(err)
		return
	}
	o.opening()
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
	beat    []byte // the heartbeat
}

// newSender sets the event-stream headers and sends the status line. The
// stream's heartbeat is beat.
func newSender(c echo.Context, timeout time.Duration, beat []byte) *sender {
	res := c.Response()
	hdr := res.Header()
	setStreamHeaders(hdr)
	if c.Request().ProtoMajor == 1 {
		hdr.Set("Connection", "keep-alive") // a connection-specific header, forbidden in HTTP/2
	}
	res.WriteHeader(http.StatusOK)
	// Flush through the writer under echo's Response, whose Flush hides errors.
	return &sender{w: res, rc: http.NewResponseController(res.Writer), timeout: timeout, beat: beat}
}

// setStreamHeaders sets the headers of an event stream.
func setStreamHeaders(hdr http.Header) {
	hdr.Set("Content-Type", "text/event-stream; charset=utf-8")
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
}

// Write sends out and, when heartbeat, the heartbeat after it.
func (s *sender) Write(out []byte, heartbeat bool) (int, error) {
	if heartbeat {
		out = append(out, s.beat...)
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
