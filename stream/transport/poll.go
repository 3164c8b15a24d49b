package transport

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
)

// Poll answers a short poll of c at once with body, a JSON answer that
// holds moves moves. A short poll holds no connection, so it takes no
// slot under the limits.
func (s *Streams) Poll(c echo.Context, body []byte, moves int) error {
	m := s.metrics(c.Path(), NamePoll)
	m.Requested()
	start := time.Now()
	if err := writePoll(c, body, s.opts.WriteTimeout); err != nil {
		return err
	}
	m.Wrote(moves, len(body), time.Since(start).Seconds())
	return nil
}

// writePoll sends body as the JSON answer of a poll, within timeout from
// now. A long poll may have held its request for longer than the
// server's write timeout allows from the request's start.
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
