package stream

import (
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// Defaults for [NewLimiter].
const (
	DefaultMaxStreams      = 10000
	DefaultMaxStreamsPerIP = 100
	// DefaultRetryAfter is the least Retry-After of a refused stream; each
	// refusal adds up to as much again at random, so that refused clients
	// do not all come back together.
	DefaultRetryAfter = 5 * time.Second
)

// A Limiter caps the streams open at once, in all and per client address,
// so that a flood of connections cannot exhaust the server's goroutines,
// memory or file descriptors. Past a cap a new stream is refused before it
// starts and the open ones are untouched. One Limiter guards every stream
// route, so the caps count all of them together.
//
// The client address is the TCP peer of the request: X-Forwarded-For and
// the like are not trusted, since any client can write them. Behind a
// proxy every client shares the proxy's address; turn the per-address cap
// off there (0) and let the proxy limit its clients.
type Limiter struct {
	max, perIP int
	retryAfter time.Duration

	mu   sync.Mutex     // guards open and byIP
	open int            // streams open now
	byIP map[string]int // streams open now per client address; no zero entries
}

// NewLimiter returns a Limiter for at most total streams in all (at least
// 1) and perIP per client address (0 for no per-address cap).
func NewLimiter(total, perIP int) *Limiter {
	return &Limiter{max: max(total, 1), perIP: max(perIP, 0), retryAfter: DefaultRetryAfter, byIP: make(map[string]int)}
}

// Open returns the number of streams open now, for health checks and tests.
func (l *Limiter) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// Middleware runs next as a counted stream, or refuses it: 503 Service
// Unavailable when the server holds its maximum, 429 Too Many Requests when
// the client's address does, both with Retry-After. The stream is counted
// until next returns.
func (l *Limiter) Middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ip := ClientIP(c.Request())
		if code := l.acquire(ip); code != 0 {
			wait := l.retryAfter + rand.N(l.retryAfter+1)
			c.Response().Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
			msg := "server at its stream limit; retry later"
			if code == http.StatusTooManyRequests {
				msg = "too many streams from your address; retry later"
			}
			return echo.NewHTTPError(code, msg)
		}
		detached := false
		c.Set(limitKey, func() func() {
			detached = true
			return func() { l.release(ip) }
		})
		defer func() {
			if !detached {
				l.release(ip)
			}
		}()
		return next(c)
	}
}

// limitKey holds, in the echo context of a counted stream, the function
// that hands its release over to the handler.
const limitKey = "stream.limit"

// detachLimit takes the release of c's stream slot over from
// [Limiter.Middleware], for a stream that outlives its handler (a hijacked
// connection); the caller must call the result once the stream ends. It
// returns a no-op when no limiter counts c.
func detachLimit(c echo.Context) func() {
	if f, ok := c.Get(limitKey).(func() func()); ok {
		return f()
	}
	return func() {}
}

// OnRelease has f called when the stream of c gives its slot back, on
// whatever path it ends, as the limiter's release is: a route's own count
// of its streams (the play room's viewers) ends with the stream.
func OnRelease(c echo.Context, f func()) {
	prev, ok := c.Get(limitKey).(func() func())
	c.Set(limitKey, func() func() {
		release := func() {}
		if ok {
			release = prev()
		}
		return func() { release(); f() }
	})
}

// acquire counts a stream from ip, or returns the status that refuses it.
func (l *Limiter) acquire(ip string) (refused int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open >= l.max {
		return http.StatusServiceUnavailable
	}
	if l.perIP > 0 && l.byIP[ip] >= l.perIP {
		return http.StatusTooManyRequests
	}
	l.open++
	if l.perIP > 0 {
		l.byIP[ip]++
	}
	return 0
}

// release uncounts a stream that acquire counted.
func (l *Limiter) release(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if l.perIP > 0 {
		if l.byIP[ip]--; l.byIP[ip] <= 0 {
			delete(l.byIP, ip)
		}
	}
}

// ClientIP returns the host of the TCP peer address of r: the client
// address of the limits, which trust no header.
func ClientIP(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}
