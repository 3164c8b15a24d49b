package stream

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sse-demo/movingobject/stream/engine"
)

// The polling transports. A poll is answered at once with what its
// source has now. A long poll is a stream of one answer: [Server.writeLoop]
// holds it until its source's answer falls due, and its heartbeat, after
// the client's wait of silence, is the empty answer; either write ends it.

// Reasons a long poll ends, besides those of every stream.
var (
	errAnswered = errors.New("answered")     // with moves, or an init
	errWaitOver = errors.New("wait ran out") // with no move
)

// emptyPoll is the answer of a long poll whose wait ran out.
var emptyPoll = []byte(`{"moves":[]}`)

// poll answers a short poll at now with what src has.
func (s *Server) poll(c echo.Context, src *pollSource, now time.Time, m Metrics) error {
	m.Requested()
	body, moves := src.answer(nil, now)
	start := time.Now()
	if err := writePoll(c, body, s.opts.WriteTimeout); err != nil {
		return err
	}
	m.Wrote(moves, len(body), time.Since(start).Seconds())
	return nil
}

// longPoll holds the request of c until o's source answers, or until wait
// runs out, the client leaves or the server shuts down; it logs and counts
// the long poll as a stream. At shutdown it answers with no move, so that
// the client polls again, elsewhere.
func (s *Server) longPoll(c echo.Context, o opened, wait time.Duration) error {
	// Uncounted by ended, before it logs, like every stream.
	o.release = detachLimit(c)
	st := engine.NewStream(o.src, wait, engine.Now(), 0)
	s.opening(o)
	a := &pollAnswer{c: c, timeout: s.opts.WriteTimeout}
	err := s.writeLoop(c.Request().Context().Done(), a, st, o.metrics)
	if errors.Is(err, engine.ErrShutdown) {
		start := time.Now()
		if n, _ := a.write(nil, true); n > 0 {
			st.Wrote(n, 0, engine.Now())
			o.metrics.Wrote(0, n, time.Since(start).Seconds())
		}
	}
	s.ended(o, st, err)
	if errors.Is(err, engine.ErrClientGone) {
		return c.Request().Context().Err() // logged as the client gone, not a failure
	}
	return nil
}

// pollAnswer is the framer of a long poll: it writes one answer, then ends
// the stream.
type pollAnswer struct {
	c       echo.Context
	timeout time.Duration
}

// write sends out, the source's answer, or the empty answer when the wait
// ran out (the stream's heartbeat) with none, and ends the stream.
func (a *pollAnswer) write(out []byte, heartbeat bool) (int, error) {
	end := errAnswered
	if len(out) == 0 && heartbeat {
		out, end = emptyPoll, errWaitOver
	}
	if err := writePoll(a.c, out, a.timeout); err != nil {
		return 0, err
	}
	return len(out), end
}

// writePoll sends body as the JSON answer of a poll, within timeout from
// now: a long poll may have held its request for longer than the server's
// write timeout allows from the request's start.
func writePoll(c echo.Context, body []byte, timeout time.Duration) error {
	res := c.Response()
	// Through the writer under echo's Response, as for a stream.
	if err := http.NewResponseController(res.Writer).SetWriteDeadline(time.Now().Add(timeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return fmt.Errorf("set write deadline: %w", err)
	}
	hdr := res.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	res.WriteHeader(http.StatusOK)
	if _, err := res.Write(body); err != nil {
		return fmt.Errorf("write poll answer: %w", err)
	}
	return nil
}
