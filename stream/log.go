package stream

import (
	"log/slog"

	"github.com/labstack/echo/v4"
)

// requestLogger returns log with the request id of c, when a middleware
// has set one in the X-Request-Id response header, so that a stream's
// lines can be matched with its request log line.
func requestLogger(log *slog.Logger, c echo.Context) *slog.Logger {
	if id := c.Response().Header().Get(echo.HeaderXRequestID); id != "" {
		return log.With("request_id", id)
	}
	return log
}
