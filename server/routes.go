package server

import (
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/sse-demo/movingobject/metrics"
	"github.com/sse-demo/movingobject/static"
	"github.com/sse-demo/movingobject/stream/routes/play"
	"github.com/sse-demo/movingobject/stream/routes/walks"
	"github.com/sse-demo/movingobject/stream/routes/wire"
	"github.com/sse-demo/movingobject/stream/routes/world"
	"github.com/sse-demo/movingobject/stream/transport"
	"github.com/sse-demo/movingobject/stream/transport/origins"
)

// routes are the handlers that addRoutes maps.
type routes struct {
	events  *walks.Handler     // per-viewer walks
	world   *world.Handler     // the shared world
	play    *play.Handler      // the play room
	streams *transport.Streams // the streams of them all, for /healthz
	metrics *metrics.Metrics   // for /metrics
	origins []string           // whose pages may open streams cross-origin; empty: CORS off
	// webTransport tells the WebTransport port (empty: off) and the
	// certificate hashes that the compare page needs.
	webTransport func() (port string, hashes []string)
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
	e.Use(requestID, requestLog(log), noSniff, countProtocol(r.metrics))
	addRoutes(e, r)
	return e
}

// addRoutes is the one place that maps URLs to handlers.
func addRoutes(e *echo.Echo, r routes) {
	stream := streamRoute(e, r.metrics, r.origins)
	e.GET("/", page(r.events.Defaults()), securityHeaders)
	stream("/events", r.events.Events, transport.NameSSE)
	e.GET("/world", worldPage(r.world.Config()), securityHeaders)
	e.GET("/compare", comparePage(r.world.Config(), r.world.EventBytes, r.webTransport), securityHeaders)
	stream("/world/events", r.world.Events, transport.NameSSE)
	stream("/world/poll", r.world.Poll, transport.NamePoll, transport.NameLongPoll)
	stream("/world/ws", r.world.WebSocket, transport.NameWebSocket)
	r.metrics.Route("/world/webtransport", transport.NameWebTransport)
	e.CONNECT("/world/webtransport", r.world.WebTransport) // an HTTP/3 extended CONNECT; the session checks the Origin
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
func streamRoute(e *echo.Echo, m *metrics.Metrics, allowed []string) func(path string, h echo.HandlerFunc, transports ...string) {
	cors := origins.New(allowed).CORS()
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
