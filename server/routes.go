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
	"github.com/sse-demo/movingobject/stream/routes/play"
	"github.com/sse-demo/movingobject/stream/routes/walks"
	"github.com/sse-demo/movingobject/stream/routes/wire"
	"github.com/sse-demo/movingobject/stream/routes/world"
	"github.com/sse-demo/movingobject/stream/transport"
)

// routes are the handlers that addRoutes maps.
type routes struct {
	events  *walks.Handler     // per-viewer walks
	world   *world.Handler     // the shared world
	play    *play.Handler      // the play room
	streams *transport.Streams // the streams of them all, for /healthz
	metrics *metrics.Metrics   // for /metrics
	origins []string           // whose pages may open streams cross-origin; empty: CORS off
}

// newEcho returns the app's echo instance with every route and the
// middleware that all requests share: a request id, a log line, and
// nosniff. Nothing in it compresses or buffers a body, which would hold a
// stream's events back.
func newEcho(r routes, log *slog.Logger) *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = plainError(log)
	e.Use(requestID, requestLog(log), noSniff)
	addRoutes(e, r)
	return e
}

// addRoutes is the one place that maps URLs to handlers.
func addRoutes(e *echo.Echo, r routes) {
	stream := streamRoute(e, r.metrics, r.origins)
	e.GET("/", page(r.events.Defaults()), securityHeaders)
	stream("/events", r.events.Events, transport.NameSSE)
	e.GET("/world", worldPage(r.world.Config()), securityHeaders)
	e.GET("/compare", comparePage(r.world.Config(), r.world.EventBytes), securityHeaders)
	stream("/world/events", r.world.Events, transport.NameSSE)
	stream("/world/poll", r.world.Poll, transport.NamePoll, transport.NameLongPoll)
	stream("/world/ws", r.world.WebSocket, transport.NameWebSocket)
	e.GET("/play", playPage(r.play.Config(), r.play.PushDistance()), securityHeaders)
	stream("/play/events", r.play.Events, transport.NameSSE)
	e.POST("/play/push", r.play.Push)
	e.GET("/wire", wirePage(), securityHeaders)
	e.GET("/wire/stream", wire.Stream)
	e.Any("/wire/parse", wire.Parse) // POST; any other method 405 with Allow: POST
	e.GET("/metrics", echo.WrapHandler(r.metrics.Handler()))
	e.GET("/healthz", health(r.streams, r.play))
	e.StaticFS("/static", static.FS)
}

// streamRoute returns a function that serves GET path with h, a route
// whose streams go out over the named transports. It answers the CORS
// preflight of a cross-origin request on path when origins are allowed,
// and makes the metrics of each transport of path before its first
// stream, so that /metrics lists them from the start.
func streamRoute(e *echo.Echo, m *metrics.Metrics, origins []string) func(path string, h echo.HandlerFunc, transports ...string) {
	cors := corsFor(origins)
	return func(path string, h echo.HandlerFunc, transports ...string) {
		for _, name := range transports {
			m.Route(path, name)
		}
		if cors == nil {
			e.GET(path, h)
			return
		}
		e.OPTIONS(path, func(c echo.Context) error { return c.NoContent(http.StatusNoContent) }, cors)
		e.GET(path, h, cors)
	}
}

// corsFor returns the CORS middleware for the allowed origins, or nil when
// there are none. A listed origin is echoed with
// Access-Control-Allow-Credentials, for an EventSource opened
// withCredentials. "*" allows every origin, but never with credentials. A
// request from any other origin gets no CORS header, so its browser keeps
// the stream from the page.
func corsFor(origins []string) echo.MiddlewareFunc {
	if len(origins) == 0 {
		return nil
	}
	conf := middleware.CORSConfig{
		AllowMethods: []string{http.MethodGet},
		AllowHeaders: []string{"Last-Event-ID", "Cache-Control"},
		MaxAge:       int((24 * time.Hour).Seconds()),
	}
	if slices.Contains(origins, "*") {
		conf.AllowOriginFunc = func(string) (bool, error) { return true, nil }
	} else {
		conf.AllowCredentials = true
		conf.AllowOriginFunc = func(o string) (bool, error) { return slices.Contains(origins, o), nil }
	}
	return middleware.CORSWithConfig(conf)
}

// health serves GET /healthz. It is cheap enough to poll, and tells the
// number of open streams and whether this instance makes the play room's
// moves.
func health(streams *transport.Streams, play *play.Handler) echo.HandlerFunc {
	return func(c echo.Context) error {
		return c.JSON(http.StatusOK, struct {
			Status  string `json:"status"`
			Streams int    `json:"streams"`
			Ticker  bool   `json:"ticker"`
		}{"ok", streams.Open(), play.Ticker()})
	}
}
