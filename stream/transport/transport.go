// Package transport delivers a route's events to the browser.
//
// A route opens a stream by handing a transport a [Feed]: where the
// stream starts, the events that open it, and a [pace.Source] for the
// rest. Each transport lives in a file of its own: Server-Sent Events
// (sse.go), short polling (poll.go), long polling (longpoll.go),
// WebSocket (websocket.go) and WebTransport (webtransport.go). They share
// the stream limits (package limits) and the way a stream opens and ends
// (feed.go). A stream taken over from
// net/http is written by the engine; every other stream runs the one
// write loop, [pace.Loop].
package transport

import (
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sse-demo/movingobject/stream/internal/engine"
	"github.com/sse-demo/movingobject/stream/internal/pace"
	"github.com/sse-demo/movingobject/stream/transport/limits"
	"github.com/sse-demo/movingobject/stream/transport/origins"
)

// Defaults for the zero fields of [Options].
const (
	DefaultHeartbeat    = 15 * time.Second
	DefaultWriteTimeout = 10 * time.Second
	DefaultRetry        = 2 * time.Second
)

// Options are what every stream of a [Streams] shares. Zero fields take
// the defaults.
type Options struct {
	// Heartbeat is how long a stream may stay silent before it sends a
	// comment. The comment keeps proxies from closing the stream, and a
	// client that vanished fails its next write.
	Heartbeat time.Duration
	// WriteTimeout bounds each write. A client that does not take its
	// events within it is dropped.
	WriteTimeout time.Duration
	// Retry is the base reconnection delay sent in the retry field. Each
	// stream adds up to half of it again at random, so that the clients
	// of a restarted server do not all come back in the same millisecond.
	Retry time.Duration
	// Limits caps the streams open at once. Nil means
	// [limits.DefaultMaxStreams] in all and
	// [limits.DefaultMaxStreamsPerIP] per client address.
	Limits *limits.Limits
	// Logger receives a line when a stream opens and when it ends. Nil
	// discards them.
	Logger *slog.Logger
	// Metrics returns the counters of a route (as echo matched it) over
	// a transport ([NameSSE] and the others). Nil counts nothing.
	Metrics func(route, transport string) Metrics
	// AllowOrigins lists the origins (scheme://host[:port]) whose pages
	// may open WebSocket streams, besides the server's own. "*" allows
	// any. CORS does not cover WebSocket, so the upgrade checks the
	// Origin header itself.
	AllowOrigins []string
	// WebTransport opens the sessions of [Streams.WebTransport]. Nil
	// (a server without HTTP/3) refuses them with 404.
	WebTransport Upgrader
}

// The names of the transports, as metrics and log lines give them.
const (
	NamePoll      = "poll"      // a poll answered at once
	NameLongPoll  = "longpoll"  // a poll held until a move is due
	NameSSE       = "sse"       // Server-Sent Events
	NameWebSocket = "websocket" // WebSocket messages
	// NameWebTransport is a WebTransport session's stream of messages.
	NameWebTransport = "webtransport"
)

// Metrics counts the requests and streams of one route and transport.
// The metrics package's Route satisfies it.
type Metrics interface {
	// Requested counts a request that the transport took: a poll
	// answered, or a stream opened.
	Requested()
	// Opened counts a connection held open (a stream, or a long poll
	// while it waits), and whether it resumed from the client's last
	// event.
	Opened(resumed bool)
	// Closed counts a connection that ended. Dropped means that the
	// server ended it because the client could not keep up.
	Closed(dropped bool)
	// Wrote counts one write of events events and n bytes that took
	// seconds.
	Wrote(events, n int, seconds float64)
}

// noMetrics counts nothing.
type noMetrics struct{}

func (noMetrics) Requested()              {}
func (noMetrics) Opened(bool)             {}
func (noMetrics) Closed(bool)             {}
func (noMetrics) Wrote(int, int, float64) {}

// MaxBatch is the most events a source appends in one call. A stream
// further behind gets the rest at once after, one write each.
const MaxBatch = 64

// Streams runs the streams of every route and transport. On HTTP/1.x an
// event stream's connection is taken over from net/http, and one
// [engine.Engine] writes all of them (on Linux from a few goroutines). The
// other streams (HTTP/2, TLS, WebSocket, long polls) each run the write
// loop on their handler's goroutine.
type Streams struct {
	opts      Options
	limits    *limits.Limits
	engine    *engine.Engine
	origins   origins.Policy
	closing   chan struct{} // closed by Close
	closeOnce sync.Once

	mu     sync.Mutex     // guards closed, and held.Add against held.Wait
	closed bool           // Close was called
	held   sync.WaitGroup // handlers of connections taken from net/http (SSE, WebSocket)

	// sendBuffer, when set, is the socket send buffer of a taken-over
	// connection. Tests make it small to fill it fast.
	sendBuffer int
}

// New returns the Streams of o, with o's zero fields set to the
// defaults.
func New(o Options) *Streams {
	if o.Heartbeat <= 0 {
		o.Heartbeat = DefaultHeartbeat
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.Retry <= 0 {
		o.Retry = DefaultRetry
	}
	if o.Limits == nil {
		o.Limits = limits.New(limits.DefaultMaxStreams, limits.DefaultMaxStreamsPerIP)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Streams{opts: o, limits: o.Limits, engine: engine.New(0), closing: make(chan struct{}), origins: origins.New(o.AllowOrigins)}
}

// Close ends every open stream once its current event is written, and
// refuses new ones with 503. It waits for the engine's goroutines, and for
// the handlers of connections taken over from net/http (event streams
// being handed to the engine, WebSocket streams), which
// [http.Server.Shutdown] does not track. Register it with
// [http.Server.RegisterOnShutdown]: Shutdown does not end streams itself.
func (s *Streams) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.engine.Close()
	s.held.Wait()
}

// Open returns the number of streams open now, for health checks.
func (s *Streams) Open() int { return s.limits.Open() }

// hold counts a handler that takes a connection over from net/http, so
// that Close waits for it: net/http no longer tracks the connection, and
// [http.Server.Shutdown] does not wait for the handler. Once Close was
// called it returns the 503 of a server shutting down. Otherwise the
// handler calls the release it returns when it returns.
func (s *Streams) hold() (release func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, echo.NewHTTPError(http.StatusServiceUnavailable, pace.ErrShutdown.Error())
	}
	s.held.Add(1)
	return s.held.Done, nil
}

// retry returns the reconnection delay of a stream that opens now: the
// base [Options.Retry] plus up to half of it again, at random.
func (s *Streams) retry() time.Duration {
	return s.opts.Retry + rand.N(s.opts.Retry/2+1)
}

// metrics returns the counters of route over transport.
func (s *Streams) metrics(route, transport string) Metrics {
	if s.opts.Metrics == nil {
		return noMetrics{}
	}
	if m := s.opts.Metrics(route, transport); m != nil {
		return m
	}
	return noMetrics{}
}
