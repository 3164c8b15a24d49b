package transport

import (
	"errors"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sse-demo/movingobject/stream/internal/pace"
)

// Long polling: a long poll is a stream of one answer. The write loop
// holds it until its source's answer falls due. Its heartbeat, after the
// client's wait of silence, is the empty answer. Either write ends it.

// Reasons a long poll ends, besides those of every stream.
var (
	errAnswered = errors.New("answered")     // with moves, or an init
	errWaitOver = errors.New("wait ran out") // with no move
)

// emptyPoll is the answer of a long poll whose wait ran out.
var emptyPoll = []byte(`{"moves":[]}`)

// LongPoll holds the request of c until f's source answers, or until wait
// runs out, the client leaves or the server shuts down. It counts against
// the limits, and is logged and counted as a stream. f's opening is not
// written: the source puts an init in its answer when the client needs
// one. At shutdown it answers with no move, so that the client polls
// again, elsewhere.
func (s *Streams) LongPoll(c echo.Context, f Feed, wait time.Duration) error {
	o, err := s.begin(c, &f, NameLongPoll)
	if err != nil {
		return err
	}
	st := pace.NewStream(f.Source, wait, pace.Now(), 0)
	o.opening()
	a := &pollAnswer{c: c, timeout: s.opts.WriteTimeout}
	err = pace.Loop(c.Request().Context().Done(), s.closing, a, st, o.metrics)
	if errors.Is(err, pace.ErrShutdown) {
		start := time.Now()
		if n, _ := a.Write(nil, true); n > 0 {
			st.Wrote(n, 0, pace.Now())
			o.metrics.Wrote(0, n, time.Since(start).Seconds())
		}
	}
	s.ended(o, st, err)
	if errors.Is(err, pace.ErrClientGone) {
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

// Write sends out, the source's answer, or the empty answer when the wait
// ran out (the stream's heartbeat) with none, and ends the stream.
func (a *pollAnswer) Write(out []byte, heartbeat bool) (int, error) {
	end := errAnswered
	if len(out) == 0 && heartbeat {
		out, end = emptyPoll, errWaitOver
	}
	if err := writePoll(a.c, out, a.timeout); err != nil {
		return 0, err
	}
	return len(out), end
}
