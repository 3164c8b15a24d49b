package stream

import (
	"errors"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/sse-demo/movingobject/stream/engine"
)

// Long polling: a long poll is a stream of one answer. [Server.writeLoop]
// holds it until its source's answer falls due, and its heartbeat, after
// the client's wait of silence, is the empty answer; either write ends it.

// Reasons a long poll ends, besides those of every stream.
var (
	errAnswered = errors.New("answered")     // with moves, or an init
	errWaitOver = errors.New("wait ran out") // with no move
)

// emptyPoll is the answer of a long poll whose wait ran out.
var emptyPoll = []byte(`{"moves":[]}`)

// LongPoll holds the request of c until o's source answers, or until wait
// runs out, the client leaves or the server shuts down; it logs and counts
// the long poll as a stream. At shutdown it answers with no move, so that
// the client polls again, elsewhere.
func (s *Server) LongPoll(c echo.Context, o Opened, wait time.Duration) error {
	o.begin(c)
	st := engine.NewStream(o.Source, wait, engine.Now(), 0)
	s.opening(o)
	a := &pollAnswer{c: c, timeout: s.opts.WriteTimeout}
	err := s.writeLoop(c.Request().Context().Done(), a, st, o.Metrics)
	if errors.Is(err, engine.ErrShutdown) {
		start := time.Now()
		if n, _ := a.write(nil, true); n > 0 {
			st.Wrote(n, 0, engine.Now())
			o.Metrics.Wrote(0, n, time.Since(start).Seconds())
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
