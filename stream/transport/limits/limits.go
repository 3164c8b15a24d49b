// Package limits caps the streams open at once, in all and per client
// address, for every transport of package transport.
package limits

import (
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
)

// Defaults for [New].
const (
	DefaultMaxStreams      = 10000
	DefaultMaxStreamsPerIP = 100
	// DefaultRetryAfter is the least Retry-After of a refused stream.
	// Each refusal adds up to as much again at random, so that refused
	// clients do not all come back together.
	DefaultRetryAfter = 5 * time.Second
)

// Limits caps the streams open at once, in all and per client address.
// A flood of connections then cannot exhaust the server's goroutines,
// memory or file descriptors. Past a cap a new stream is refused before
// it starts, and the open ones go on. One Limits counts the streams of
// every route together.
//
// The client address is the TCP peer of the request. X-Forwarded-For and
// the like are not trusted, since any client can write them. Behind a
// proxy every client shares the proxy's address, so turn the per-address
// cap off there (0) and let the proxy limit its clients.
type Limits struct {
	max, perIP int
	retryAfter time.Duration

	mu   sync.Mutex     // guards open and byIP
	open int            // streams open now
	byIP map[string]int // streams open now per client address; no zero entries
}

// New returns Limits of at most total streams in all (at least 1)
// and perIP per client address (0 for no per-address cap).
func New(total, perIP int) *Limits {
	return &Limits{max: max(total, 1), perIP: max(perIP, 0), retryAfter: DefaultRetryAfter, byIP: make(map[string]int)}
}

// Open returns the number of streams open now.
func (l *Limits) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// A Slot is one stream's place under the [Limits]. [Limits.Acquire] takes
// it, and the stream gives it back with Release when it ends.
type Slot struct {
	l        *Limits
	ip       string
	released atomic.Bool
}

// Acquire takes a slot for a stream of c, or refuses it with an
// [*echo.HTTPError] and a Retry-After header: 503 Service Unavailable when
// the server holds its maximum, 429 Too Many Requests when the client's
// address does.
func (l *Limits) Acquire(c echo.Context) (*Slot, error) {
	ip := ClientIP(c.Request())
	code := l.take(ip)
	if code == 0 {
		return &Slot{l: l, ip: ip}, nil
	}
	wait := l.retryAfter + rand.N(l.retryAfter+1)
	c.Response().Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
	msg := "server at its stream limit; retry later"
	if code == http.StatusTooManyRequests {
		msg = "too many streams from your address; retry later"
	}
	return nil, echo.NewHTTPError(code, msg)
}

// Release gives the slot back. Only the first call counts.
func (s *Slot) Release() {
	if !s.released.Swap(true) {
		s.l.give(s.ip)
	}
}

// take counts a stream from ip, or returns the status that refuses it.
func (l *Limits) take(ip string) (refused int) {
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

// give uncounts a stream that take counted.
func (l *Limits) give(ip string) {
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
