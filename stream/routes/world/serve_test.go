package world_test

import (
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sse-demo/movingobject/internal/apptest"
	"github.com/sse-demo/movingobject/internal/logwatch"
	"github.com/sse-demo/movingobject/metrics"
	"github.com/sse-demo/movingobject/simulation"
	"github.com/sse-demo/movingobject/stream/routes/world"
	"github.com/sse-demo/movingobject/stream/transport"
)

// A fast world moves every 10 ms and started a minute ago. A still world
// moves every minute, and its move 1 is about 50 s away, so no move falls
// due during a test.
const (
	fastInterval  = 10 * time.Millisecond
	stillInterval = time.Minute
)

func fastStart() time.Time  { return time.Now().Add(-time.Minute).Truncate(time.Second) }
func stillStart() time.Time { return time.Now().Add(-10 * time.Second).Truncate(time.Second) }

// seqAt returns the move due at t in a world that started at start.
func seqAt(start, t time.Time, interval time.Duration) uint64 {
	return uint64(t.Sub(start) / interval)
}

// newWorld returns a world of 300x200, step 9 and seed 9 that moves every
// interval and started at start. The test knows start, so it knows which
// move is due when without asking the server. Two worlds made with the
// same interval and start are the same world, as on two servers given the
// same flags.
func newWorld(tb testing.TB, interval time.Duration, start time.Time) *simulation.World {
	tb.Helper()
	cfg := simulation.Config{Width: 300, Height: 200, Step: 9, Interval: interval}
	w, err := simulation.NewWorld(cfg, 9, start, 24*time.Hour)
	if err != nil {
		tb.Fatalf("NewWorld(%+v) = %v; want no error", cfg, err)
	}
	return w
}

// options are what a test sets of the world route and of its streams.
// Zero fields take the defaults of packages world and transport.
type options struct {
	replay  time.Duration     // the route's replay window
	streams transport.Options // serve sets Logger and Metrics
	tlsH2   bool              // serve HTTPS and HTTP/2
}

// server is the world route alone, served over loopback. Its Program
// talks to it as the tests would talk to the whole program, and its log
// holds the stream lines. Its streams tell how many streams are open.
type server struct {
	*apptest.Program
	streams *transport.Streams
}

// serve serves the world route of w with o until the test ends. One echo
// instance maps GET /world/events, /world/poll and /world/ws to the
// handler, as the program does, and GET /metrics to the streams' metrics.
// Stop and Shutdown close the streams, then the server. Every request gets
// an X-Request-Id, so that the stream lines carry a request_id.
func serve(tb testing.TB, w *simulation.World, o options) *server {
	tb.Helper()
	logWatch := logwatch.New()
	log := apptest.Logger(logWatch)
	m := metrics.New()
	so := o.streams
	so.Logger = log
	so.Metrics = func(route, name string) transport.Metrics { return m.Route(route, name) }
	streams := transport.New(so)
	h := world.New(streams, w, world.Options{Replay: o.replay})
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = apptest.PlainError(log)
	e.Use(requestID)
	e.GET("/world/events", h.Events)
	e.GET("/world/poll", h.Poll)
	e.GET("/world/ws", h.WebSocket)
	e.GET("/metrics", echo.WrapHandler(m.Handler()))
	return &server{Program: apptest.Serve(tb, e, logWatch, streams.Close, o.tlsH2), streams: streams}
}

// lastRequestID numbers the requests of every server of the tests.
var lastRequestID atomic.Uint64

// requestID sets the X-Request-Id response header of each request, as the
// program's middleware does. The transport logs it as request_id.
func requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set(echo.HeaderXRequestID, "test-"+strconv.FormatUint(lastRequestID.Add(1), 10))
		return next(c)
	}
}
