package main

import (
	"bytes"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/sse-demo/movingobject/metrics"
	"github.com/sse-demo/movingobject/simulation"
	"github.com/sse-demo/movingobject/static"
	"github.com/sse-demo/movingobject/stream"
	"github.com/sse-demo/movingobject/views"
)

// routes are the handlers that addRoutes maps.
type routes struct {
	events  *stream.Handler  // per-viewer walks
	world   *stream.Hub      // the shared world
	metrics *metrics.Metrics // for /metrics
	guard   streamGuard      // limits and CORS of every stream route
}

// newEcho returns the app's echo instance with every route and the
// middleware that all requests share: a request id, a log line, and nosniff.
// Nothing in it compresses or buffers a body, which would hold a stream's
// events back.
func newEcho(r routes, log *slog.Logger) *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = plainError(log)
	e.Use(requestID, requestLog(log), noSniff)
	addRoutes(e, r, log)
	return e
}

// addRoutes is the one place that maps URLs to handlers.
func addRoutes(e *echo.Echo, r routes, log *slog.Logger) {
	e.GET("/", page(r.events.Defaults()), securityHeaders)
	r.guard.route(e, "/events", r.events.Events)
	e.GET("/world", worldPage(r.world.Config()), securityHeaders)
	r.guard.route(e, "/world/events", r.world.Events)
	e.GET("/metrics", echo.WrapHandler(r.metrics.Handler()))
	e.GET("/healthz", health(r.guard.limit))
	e.StaticFS("/static", static.FS)
}

// streamGuard is what every stream route shares: one limiter, so that its
// caps count the streams of all routes together, and the origins whose
// pages may open streams cross-origin.
type streamGuard struct {
	limit   *stream.Limiter
	origins []string // empty: CORS off
}

// route serves GET path as a stream behind the guard, and answers the
// CORS preflight of a cross-origin EventSource on it.
func (g streamGuard) route(e *echo.Echo, path string, h echo.HandlerFunc) {
	var mw []echo.MiddlewareFunc
	if cors := g.cors(); cors != nil {
		mw = append(mw, cors)
		e.OPTIONS(path, func(c echo.Context) error { return c.NoContent(http.StatusNoContent) }, cors)
	}
	e.GET(path, h, append(mw, g.limit.Middleware)...)
}

// cors returns the CORS middleware for the allowed origins, or nil when
// there are none. A listed origin is echoed with
// Access-Control-Allow-Credentials, for an EventSource opened
// withCredentials; "*" allows every origin but never with credentials. A
// request from any other origin gets no CORS header, so its browser keeps
// the stream from the page.
func (g streamGuard) cors() echo.MiddlewareFunc {
	if len(g.origins) == 0 {
		return nil
	}
	conf := middleware.CORSConfig{
		AllowMethods: []string{http.MethodGet},
		AllowHeaders: []string{"Last-Event-ID", "Cache-Control"},
		MaxAge:       int((24 * time.Hour).Seconds()),
	}
	if slices.Contains(g.origins, "*") {
		conf.AllowOriginFunc = func(string) (bool, error) { return true, nil }
	} else {
		conf.AllowCredentials = true
		conf.AllowOriginFunc = func(o string) (bool, error) { return slices.Contains(g.origins, o), nil }
	}
	return middleware.CORSWithConfig(conf)
}

// health serves GET /healthz: cheap enough to poll, with the number of
// open streams.
func health(limit *stream.Limiter) echo.HandlerFunc {
	return func(c echo.Context) error {
		return c.JSON(http.StatusOK, struct {
			Status  string `json:"status"`
			Streams int    `json:"streams"`
		}{"ok", limit.Open()})
	}
}

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

// requestLog logs one structured line per request when it ends (for a
// stream: when the stream ends). A status of 500 or more is an error; a
// client that went away is not.
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

// page serves the demo page for the walk in the query, or a 400 page with
// the server's message and the form when a parameter is refused.
func page(def simulation.Config) echo.HandlerFunc {
	limits := views.Limits{
		MinSize: simulation.MinSize, MaxSize: simulation.MaxSize,
		MinStep: simulation.MinStep, MaxStep: simulation.MaxStep,
		MinIntervalMS: int(simulation.MinInterval.Milliseconds()), MaxIntervalMS: int(simulation.MaxInterval.Milliseconds()),
		MaxSeed: stream.MaxSeed,
	}
	return func(c echo.Context) error {
		q := c.QueryParams()
		p, err := stream.ParseParams(q, def)
		if err != nil {
			// Show the values as typed, so the user can mend the bad one.
			orDefault := func(name string, d int) string {
				if v := q.Get(name); v != "" {
					return v
				}
				return strconv.Itoa(d)
			}
			return render(c, http.StatusBadRequest, views.Page(views.PageModel{
				Width: orDefault("width", def.Width), Height: orDefault("height", def.Height),
				Step: orDefault("step", def.Step), IntervalMS: orDefault("interval", int(def.Interval.Milliseconds())),
				Seed: q.Get("seed"), Error: err.Error(), Limits: limits,
			}))
		}
		vm := walkModel(p.Config)
		vm.EventsURL, vm.Limits = "/events", limits
		// The step may not exceed the box either: show the range that holds.
		vm.Limits.MaxStep = simulation.MaxStepFor(p.Config.Width, p.Config.Height)
		if p.HasSeed {
			vm.Seed = strconv.FormatUint(p.Seed, 10)
		}
		if enc := p.Query(def).Encode(); enc != "" {
			vm.EventsURL += "?" + enc
		}
		return render(c, http.StatusOK, views.Page(vm))
	}
}

// worldPage serves the page of the shared world, whose parameters the
// server fixes.
func worldPage(cfg simulation.Config) echo.HandlerFunc {
	vm := walkModel(cfg)
	vm.World, vm.EventsURL = true, "/world/events"
	return func(c echo.Context) error { return render(c, http.StatusOK, views.Page(vm)) }
}

// walkModel is the page model of a valid walk's parameters.
func walkModel(cfg simulation.Config) views.PageModel {
	return views.PageModel{
		Width: strconv.Itoa(cfg.Width), Height: strconv.Itoa(cfg.Height),
		Step: strconv.Itoa(cfg.Step), IntervalMS: strconv.Itoa(int(cfg.Interval.Milliseconds())),
	}
}

// render writes a component with status, rendering it into a buffer first
// so that a failure can still become a 500.
func render(c echo.Context, status int, t templ.Component) error {
	var buf bytes.Buffer
	if err := t.Render(c.Request().Context(), &buf); err != nil {
		return err
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// statusClientClosed is the status logged for a request whose client left
// before the answer was written.
const statusClientClosed = 499

// plainError answers errors as text: the message of an [echo.HTTPError]
// (for a 400, the refused parameter and its range), or a bare 500.
func plainError(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		if gone := c.Request().Context().Err(); gone != nil && errors.Is(err, gone) {
			// The client left before its answer was ready: not a server
			// error. 499 is nginx's status for it, for the request log.
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
