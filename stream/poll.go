package stream

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
)

// Short polling: a poll is answered at once with what its route has now.

// Poll answers a short poll with body, a JSON answer of moves moves, and
// counts it in m (nil counts nothing).
func (s *Server) Poll(c echo.Context, body []byte, moves int, m Metrics) error {
	if m == nil {
		m = noMetrics{}
	}
	m.Requested()
	start := time.Now()
	if err := writePoll(c, body, s.opts.WriteTimeout); err != nil {
		return err
	}
	m.Wrote(moves, len(body), time.Since(start).Seconds())
	return nil
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
