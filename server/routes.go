package server

import (
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/sse-demo/movingobject/metrics"
	"github.com/sse-demo/movingobject/static"
	"github.com/sse-demo/movingobject/stream"
	"github.com/sse-demo/movingobject/stream/play"
	"github.com/sse-demo/movingobject/stream/walks"
	"github.com/sse-demo/movingobject/stream/wire"
	"github.com/sse-demo/movingobject/stream/world"
)

// routes are the handlers that addRoutes maps.
type routes struct {
	events  *walks.Handler   // per-viewer walks
	world   *world.Handler   // the shared world
	play    *play.Handler    // the play room
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
	r.guard.route(e, "/events", r.events.Events, nil)
	e.GET("/world", worldPage(r.world.Config()), securityHeaders)
	e.GET("/compare", comparePage(r.world.Config()), securityHeaders)
	r.guard.route(e, "/world/events", r.world.Events, nil)
	r.guard.route(e, "/world/poll", r.world.Poll, world.LongPoll)
	r.guard.route(e, "/world/ws", r.world.WebSocket, nil)
	e.GET("/play", playPage(r.play.Config(), r.play.PushDistance()), securityHeaders)
	r.guard.route(e, "/play/events", r.play.Events, nil)
	e.POST("/play/push", r.play.Push)
	e.GET("/wire", wirePage(), securityHeaders)
	e.GET("/wire/stream", wire.Stream)
	e.Any("/wire/parse", wire.Parse) // POST; any other method 405 with Allow: POST
	e.GET("/metrics", echo.WrapHandler(r.metrics.Handler()))
	e.GET("/healthz", health(r.guard.limit, r.play))
	e.StaticFS("/static", static.FS)
}

// streamGuard is what every stream route shares: one limiter, so that its
// caps count the streams of all routes together, and the origins whose
// pages may open streams cross-origin.
type streamGuard struct {
	limit   *stream.Limiter
	origins []string // empty: CORS off
}

// route serves GET path behind the guard, and answers the CORS preflight
// of a cross-origin request on it. A request counts against the stream
// limits while it holds its connection: every one, or those that held (a
// long poll, not a short one) reports, when it is not nil.
func (g streamGuard) route(e *echo.Echo, path string, h echo.HandlerFunc, held func(*http.Request) bool) {
	var mw []echo.MiddlewareFunc
	if cors := g.cors(); cors != nil {
		mw = append(mw, cors)
		e.OPTIONS(path, func(c echo.Context) error { return c.NoContent(http.StatusNoContent) }, cors)
	}
	limit := g.limit.Middleware
	if held != nil {
		limit = func(next echo.HandlerFunc) echo.HandlerFunc {
			counted := g.limit.Middleware(next)
			return func(c echo.Context) error {
				if held(c.Request()) {
					return counted(c)
				}
				return next(c)
			}
		}
	}
	e.GET(path, h, append(mw, limit)...)
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
// open streams and whether this instance makes the play room's moves.
func health(limit *stream.Limiter, play *play.Handler) echo.HandlerFunc {
	return func(c echo.Context) error {
		return c.JSON(http.StatusOK, struct {
			Status  string `json:"status"`
			Streams int    `json:"streams"`
			Ticker  bool   `json:"ticker"`
		}{"ok", limit.Open(), play.Ticker()})
	}
}
