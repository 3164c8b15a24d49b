package play

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sse-demo/movingobject/stream/payload"
	"github.com/sse-demo/movingobject/stream/transport"
	"github.com/sse-demo/movingobject/stream/transport/limits"
)

// The bounds of a push.
const (
	// MaxPushBody is the largest body of POST /play/push; larger gets 413.
	MaxPushBody = 1 << 10
	// MaxPushID is the longest idempotency key of a push.
	MaxPushID = 64
)

// The answers to a refused push. Each names the field or the rule.
const (
	msgPushBody    = `body: must be a JSON object {"dir":"up|down|left|right","id":"..."}`
	msgPushDir     = "dir: must be one of up, down, left, right"
	msgPushID      = "id: must be 1 to 64 characters of [A-Za-z0-9_-]"
	msgPushTooBig  = "body: must be at most 1024 bytes"
	msgPushOrigin  = "cross-site push refused: send it from this site's own page"
	msgPushLimit   = "too many pushes from your address; retry later"
	msgPushLogDown = "the push log is not answering: its NATS cluster may be electing a new leader; retry in a second"
)

// Push serves POST /play/push, which appends a JSON body
// {"dir":…,"id":…} to the room's log. It answers 202 with {"id":…} once
// the log has stored the push, never before. The same id sent again is
// applied once. These are refused:
//   - a cross-site request (by Origin or Sec-Fetch-Site), with 403;
//   - more than [Options.PushRate] pushes a second from one address, with
//     429 and Retry-After;
//   - a body over [MaxPushBody], with 413;
//   - bad JSON, an unknown dir or a bad id, with 400 naming the field.
//
// When the log does not answer, the push gets 503 with Retry-After.
func (h *Handler) Push(c echo.Context) error {
	result, err := h.push(c)
	if result != "" {
		h.opts.Pushes.Pushed(result)
	}
	return err
}

// push serves Push, and says what became of the push ("" when the client
// left before its answer).
func (h *Handler) push(c echo.Context) (result string, err error) {
	req := c.Request()
	trusted := h.trusted(req)
	if !sameOrigin(req, trusted) {
		return PushRefused, echo.NewHTTPError(http.StatusForbidden, msgPushOrigin)
	}
	if wait, ok := h.limit.allow(h.clientAddr(req, trusted), time.Now()); !ok {
		c.Response().Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
		return PushRefused, echo.NewHTTPError(http.StatusTooManyRequests, msgPushLimit)
	}
	if req.ContentLength > MaxPushBody {
		return PushRefused, echo.NewHTTPError(http.StatusRequestEntityTooLarge, msgPushTooBig)
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, MaxPushBody+1))
	if err != nil {
		return PushRefused, echo.NewHTTPError(http.StatusBadRequest, "body: "+err.Error())
	}
	if len(body) > MaxPushBody {
		return PushRefused, echo.NewHTTPError(http.StatusRequestEntityTooLarge, msgPushTooBig)
	}
	p, err := parsePush(body)
	if err != nil {
		return PushRefused, echo.NewHTTPError(http.StatusBadRequest, err.Error())
	}
	dup, err := h.room.Push(req.Context(), p)
	if err != nil {
		if req.Context().Err() != nil {
			return "", err // the client left: logged as such
		}
		h.log.Warn("push not stored", "id", p.ID, "err", err)
		c.Response().Header().Set("Retry-After", "1")
		return PushUnavailable, echo.NewHTTPError(http.StatusServiceUnavailable, msgPushLogDown)
	}
	transport.RequestLogger(h.log, c).Debug("push stored", "id", p.ID, "dir", p.Dir, "duplicate", dup)
	result = PushStored
	if dup {
		result = PushDuplicate
	}
	return result, c.JSON(http.StatusAccepted, struct {
		ID string `json:"id"`
	}{p.ID})
}

// parsePush reads a push's body, or returns the message of a 400 naming
// the field at fault.
func parsePush(body []byte) (payload.Push, error) {
	var p payload.Push
	if err := json.Unmarshal(body, &p); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && (te.Field == "dir" || te.Field == "id") {
			return p, errors.New(map[string]string{"dir": msgPushDir, "id": msgPushID}[te.Field])
		}
		return p, errors.New(msgPushBody)
	}
	switch p.Dir {
	case payload.DirUp, payload.DirDown, payload.DirLeft, payload.DirRight:
	default:
		return p, errors.New(msgPushDir)
	}
	if !validPushID(p.ID) {
		return p, errors.New(msgPushID)
	}
	return p, nil
}

// validPushID reports whether id is 1 to [MaxPushID] characters of
// [A-Za-z0-9_-].
func validPushID(id string) bool {
	if id == "" || len(id) > MaxPushID {
		return false
	}
	for _, r := range id {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// trusted reports whether the TCP peer of r is one of the trusted proxies.
func (h *Handler) trusted(r *http.Request) bool {
	peer, err := netip.ParseAddr(limits.ClientIP(r))
	return err == nil && h.isTrusted(peer)
}

func (h *Handler) isTrusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range h.opts.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddr returns the address that the push limit counts. That is the
// TCP peer, unless the peer is a trusted proxy. Then it is the nearest
// address in X-Forwarded-For that is not a trusted proxy. An address
// further left was written by the client, and may be forged.
func (h *Handler) clientAddr(r *http.Request, trusted bool) string {
	peer := limits.ClientIP(r)
	if !trusted {
		return peer
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return peer // a hop no proxy of ours wrote
		}
		if !h.isTrusted(a) {
			return a.Unmap().String()
		}
	}
	return peer
}

// sameOrigin reports whether r comes from a page of this site. Its Origin,
// when sent, must name the host the request was sent to (the proxy's
// X-Forwarded-Host when the peer is a trusted proxy). Its Sec-Fetch-Site,
// when sent, must be same-origin or none (the user's own action). Browsers
// send one or both with every cross-site POST, and scripts cannot forge
// them. A client that sends neither is no browser, and is not cross-site
// either.
func sameOrigin(r *http.Request, trusted bool) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false // "null" included: an opaque origin
	}
	host := r.Host
	if fh := r.Header.Get("X-Forwarded-Host"); trusted && fh != "" {
		host, _, _ = strings.Cut(fh, ",")
	}
	return strings.EqualFold(u.Host, strings.TrimSpace(host))
}

// rateLimiter lets each key (a client address) take rate tokens a second,
// up to a burst of rate. It keeps a token bucket per key while the bucket
// is not full.
type rateLimiter struct {
	rate float64

	mu        sync.Mutex // guards buckets and swept
	buckets   map[string]bucket
	lastSweep time.Time
}

// bucket is a key's tokens at a moment.
type bucket struct {
	tokens float64
	at     time.Time
}

func newRateLimiter(rate int) *rateLimiter {
	return &rateLimiter{rate: float64(rate), buckets: make(map[string]bucket)}
}

// allow takes a token of key at now, or reports how long until one is
// there.
func (l *rateLimiter) allow(key string, now time.Time) (wait time.Duration, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	b, found := l.buckets[key]
	if !found {
		b = bucket{tokens: l.rate, at: now}
	}
	b.tokens = min(l.rate, b.tokens+now.Sub(b.at).Seconds()*l.rate)
	b.at = now
	if b.tokens < 1 {
		l.buckets[key] = b
		return time.Duration((1 - b.tokens) / l.rate * float64(time.Second)), false
	}
	b.tokens--
	l.buckets[key] = b
	return 0, true
}

// sweep forgets, once a minute, the buckets that have filled up again,
// which are as good as new. l.mu is held.
func (l *rateLimiter) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < time.Minute {
		return
	}
	l.lastSweep = now
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.at).Seconds()*l.rate >= l.rate {
			delete(l.buckets, k)
		}
	}
}
