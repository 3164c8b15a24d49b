// Package origins says which other sites' pages may open the streams, for
// each way a browser checks it: CORS for EventSource and fetch, the
// Origin check of a WebSocket upgrade, and that of a WebTransport
// session. The server's own pages always may. The list comes from
// -allow-origin: origins as browsers send them (scheme://host[:port]),
// or "*" for any.
package origins

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// Policy is the list of other sites' origins whose pages may open streams.
type Policy struct {
	listed []string // literal origins
	any    bool     // "*" was listed
}

// New returns the policy of list.
func New(list []string) Policy {
	p := Policy{any: slices.Contains(list, "*")}
	for _, o := range list {
		if o != "*" {
			p.listed = append(p.listed, o)
		}
	}
	return p
}

// CORS returns the CORS middleware of the policy, or nil when it lists no
// origin. A listed origin is echoed with Access-Control-Allow-Credentials,
// for an EventSource opened withCredentials. "*" allows every origin, but
// never with credentials. A request from any other origin gets no CORS
// header, so its browser keeps the stream from the page.
func (p Policy) CORS() echo.MiddlewareFunc {
	if !p.any && len(p.listed) == 0 {
		return nil
	}
	conf := middleware.CORSConfig{
		AllowMethods: []string{http.MethodGet},
		AllowHeaders: []string{"Last-Event-ID", "Cache-Control"},
		MaxAge:       int((24 * time.Hour).Seconds()),
	}
	if p.any {
		conf.AllowOriginFunc = func(string) (bool, error) { return true, nil }
	} else {
		conf.AllowCredentials = true
		conf.AllowOriginFunc = func(o string) (bool, error) { return slices.Contains(p.listed, o), nil }
	}
	return middleware.CORSWithConfig(conf)
}

// WebSocket returns the options of a WebSocket upgrade: the library
// allows the server's own origin, and the policy adds the listed ones, as
// literals, not patterns.
func (p Policy) WebSocket() *websocket.AcceptOptions {
	o := &websocket.AcceptOptions{InsecureSkipVerify: p.any}
	escape := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`)
	for _, origin := range p.listed {
		o.OriginPatterns = append(o.OriginPatterns, escape.Replace(origin))
	}
	return o
}

// Allows reports whether the page of r's Origin may open a WebTransport
// session: its host is the request's (whatever the scheme, since a page
// served over plain HTTP connects over QUIC), or the policy lists its
// origin. A request with no Origin is no browser's, and passes.
func (p Policy) Allows(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || p.any || slices.Contains(p.listed, origin) {
		return true
	}
	_, host, ok := strings.Cut(origin, "://")
	return ok && strings.EqualFold(host, r.Host)
}
