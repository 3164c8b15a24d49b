// Package stream delivers event streams over echo: a route (packages
// stream/walks, stream/world and stream/play) opens a stream with what it
// writes first and a source of its events, and hands it to a transport
// here. sse.go writes Server-Sent Events, on a connection taken over from
// net/http by the engine of package stream/engine, or through the
// ResponseWriter for HTTP/2 and TLS; poll.go answers short polls,
// longpoll.go holds long polls, websocket.go writes WebSocket messages.
// transport.go holds what every transport shares: one streaming loop, one
// rule for logging and counting a stream's end. limit.go caps the streams
// open at once. The wire format is package stream/sse, the payloads
// package stream/payload.
package stream

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"

	"github.com/sse-demo/movingobject/stream/engine"
)

// Defaults for the zero fields of [Options].
const (
	DefaultHeartbeat    = 15 * time.Second
	DefaultWriteTimeout = 10 * time.Second
	DefaultRetry        = 2 * time.Second
)

// Options are what every stream of a [Server] shares. Zero fields take
// the defaults.
type Options struct {
	// Heartbeat is how long a stream may stay silent before it sends a
	// comment, so that proxies keep it open and a vanished client fails
	// its next write.
	Heartbeat time.Duration
	// WriteTimeout bounds each write; a client that does not drain its
	// stream within it is dropped.
	WriteTimeout time.Duration
	// Retry is the base reconnection delay sent in the retry field. Each
	// stream adds up to half of it again at random, so that clients of a
	// restarted server do not all come back in the same millisecond.
	Retry time.Duration
	// Logger receives a line when a stream opens and when it ends; nil
	// discards.
	Logger *slog.Logger
	// AllowOrigins lists the origins (scheme://host[:port]) whose pages may
	// open WebSocket streams, besides the server's own; "*" allows any.
	// CORS does not cover WebSocket: the upgrade checks the Origin header.
	AllowOrigins []string
}

// The transports of the shared world, as metrics and log lines name them.
const (
	TransportPoll      = "poll"      // a poll answered at once
	TransportLongPoll  = "longpoll"  // a poll held until a move is due
	TransportSSE       = "sse"       // Server-Sent Events
	TransportWebSocket = "websocket" // WebSocket messages
)

// Metrics counts the requests and streams of one route and transport. The
// metrics package's Route satisfies it.
type Metrics interface {
	// Requested counts a request that the transport took: a poll
	// answered, or a stream opened.
	Requested()
	// Opened counts a connection held open (a stream, a long poll while it
	// waits), and whether it continued from the client's last event.
	Opened(resumed bool)
	// Closed counts a connection that ended; dropped means the server
	// ended it because it could not keep up.
	Closed(dropped bool)
	// Wrote counts one write of events events and n bytes that took seconds.
	Wrote(events, n int, seconds float64)
}

// noMetrics counts nothing: the Metrics of a stream opened with none.
type noMetrics struct{}

func (noMetrics) Requested()              {}
func (noMetrics) Opened(bool)             {}
func (noMetrics) Closed(bool)             {}
func (noMetrics) Wrote(int, int, float64) {}

// Server runs the streams of every route: one engine writes the streams
// on connections taken over from net/http, whatever their route, so that
// a few goroutines serve them all.
type Server struct {
	opts      Options
	engine    *engine.Engine
	closing   chan struct{} // closed by Close
	closeOnce sync.Once
	accept    *websocket.AcceptOptions

	mu     sync.Mutex     // guards closed, and held.Add against held.Wait
	closed bool           // Close was called
	held   sync.WaitGroup // handlers of connections taken from net/http (WebSocket)

	// sendBuffer, when set, is the socket send buffer of a taken-over
	// connection: tests make it small to fill it fast.
	sendBuffer int
}

// NewServer returns a Server with o's zero fields set to the defaults.
func NewServer(o Options) *Server {
	if o.Heartbeat <= 0 {
		o.Heartbeat = DefaultHeartbeat
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.Retry <= 0 {
		o.Retry = DefaultRetry
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Server{opts: o, engine: engine.New(0), closing: make(chan struct{}), accept: acceptOptions(o.AllowOrigins)}
}

// Close ends every open stream once its current event is written, and
// every stream opened later right after its opening events, and waits for
// the engine's goroutines and the WebSocket handlers (taken-over
// connections, which [http.Server.Shutdown] does not track). Register it
// with [http.Server.RegisterOnShutdown]: Shutdown does not end streams
// itself.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.engine.Close()
	s.held.Wait()
}

// hold counts a handler that keeps a connection net/http no longer tracks,
// so that Close waits for it; it reports false once Close was called. The
// handler calls s.held.Done when it returns.
func (s *Server) hold() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.held.Add(1)
	return true
}

// MaxBatch is the most moves a route's source appends in one call: a
// stream further behind gets the rest at once after, one write each.
const MaxBatch = 64

// Retry returns the reconnection delay of a stream that opens now: the
// base [Options.Retry] plus up to half of it again, at random, so that the
// clients of a restarted server spread out.
func (s *Server) Retry() time.Duration {
	return s.opts.Retry + rand.N(s.opts.Retry/2+1)
}

// Logger returns the logger of the streams' lines.
func (s *Server) Logger() *slog.Logger { return s.opts.Logger }

// CheckOpen returns a 503 error, for a route to return before it opens a
// stream, once Close was called; nil before.
func (s *Server) CheckOpen() error {
	select {
	case <-s.closing:
		return echo.NewHTTPError(http.StatusServiceUnavailable, engine.ErrShutdown.Error())
	default:
		return nil
	}
}

// RequestLogger returns log with the request id of c, when a middleware
// has set one in the X-Request-Id response header, so that a stream's
// lines can be matched with its request log line.
func RequestLogger(log *slog.Logger, c echo.Context) *slog.Logger {
	if id := c.Response().Header().Get(echo.HeaderXRequestID); id != "" {
		return log.With("request_id", id)
	}
	return log
}

// MaxLastEventID is the longest Last-Event-ID the server reads; longer
// ones are no id it wrote (those are under 80 bytes) and get a 400.
const MaxLastEventID = 256

// CheckLastEventID refuses a last event id longer than [MaxLastEventID]
// with a 400 naming the header.
func CheckLastEventID(id string) error {
	if len(id) > MaxLastEventID {
		return echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("Last-Event-ID: must be at most %d bytes", MaxLastEventID))
	}
	return nil
}

// LastEventID returns where a client resumes: the Last-Event-ID header a
// browser sends when it reconnects, or else the lastEventId query
// parameter, for clients that cannot set headers.
func LastEventID(r *http.Request) string {
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		return id
	}
	return r.URL.Query().Get("lastEventId")
}
