// Middleware that every request or every page shares, and the error answers.

package server

import (
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/sse-demo/movingobject/metrics"
)

// requestID gives each request an id, set as the X-Request-Id response
// header and logged by requestLog and the stream handler, so that a user's
// report and the log lines meet. A proxy's id is kept when it is a short
// token; anything else is replaced, to keep logs clean.
func requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(echo.HeaderXRequestID)
		if !validRequestID(id) {
			id = strconv.FormatUint(rand.Uint64(), 36)
		}
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		return next(c)
	}
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// requestLog logs one structured line per request when it ends. For a
// stream, that is when the stream ends. A status of 500 or more is an
// error, and a client that went away is not.
func requestLog(log *slog.Logger) echo.MiddlewareFunc {
	return middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogMethod:   true,
		LogURI:      true,
		LogStatus:   true,
		LogLatency:  true,
		HandleError: true, // so that the status logged is the one sent
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			level := slog.LevelInfo
			if v.Status >= http.StatusInternalServerError {
				level = slog.LevelError
			}
			log.LogAttrs(c.Request().Context(), level, "request",
				slog.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID)),
				slog.String("method", v.Method), slog.String("uri", v.URI), slog.Int("status", v.Status),
				slog.Duration("duration", v.Latency), slog.Int64("bytes", c.Response().Size),
				slog.String("peer", c.Request().RemoteAddr), slog.String("proto", c.Request().Proto))
			return nil
		},
	})
}

// noSniff keeps browsers to the declared Content-Type of every response.
func noSniff(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("X-Content-Type-Options", "nosniff")
		return next(c)
	}
}

// countProtocol counts each request by its protocol (HTTP/1.1, HTTP/2.0,
// HTTP/3.0) in m.
func countProtocol(m *metrics.Metrics) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			m.Served(c.Request().Proto)
			return next(c)
		}
	}
}

// securityHeaders keeps a page to its own scripts and styles, out of other
// sites' frames and windows, and its URL (which may hold a seed) out of
// Referer headers.
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		return next(c)
	}
}

// statusClientClosed is the status logged for a request whose client left
// before the answer was written.
const statusClientClosed = 499

// plainError answers errors as text. An [echo.HTTPError] gets its message
// (for a 400, the refused parameter and its range). Anything else gets a
// bare 500.
func plainError(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		if gone := c.Request().Context().Err(); gone != nil && errors.Is(err, gone) {
			// The client left before its answer was ready, which is no
			// server error. 499 is nginx's status for it, for the log.
			log.Debug("client gone", "path", c.Request().URL.Path, "err", err)
			c.Response().WriteHeader(statusClientClosed)
			return
		}
		code, msg := http.StatusInternalServerError, http.StatusText(http.StatusInternalServerError)
		var he *echo.HTTPError
		if errors.As(err, &he) {
			code, msg = he.Code, http.StatusText(he.Code)
			if m, ok := he.Message.(string); ok {
				msg = m
			}
		} else {
			log.Error("request failed", "path", c.Request().URL.Path, "err", err)
		}
		if err := c.String(code, msg+"\n"); err != nil {
			log.Debug("write error response", "err", err)
		}
	}
}
