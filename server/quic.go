// HTTP/3 and WebTransport (package quicserver) as the application wires
// them: on UDP at the port of the TCP listener.

package server

import (
	"log/slog"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/sse-demo/movingobject/internal/quicserver"
)

// webTransportInfo returns what the compare page needs to open a
// WebTransport session: the UDP port (empty when HTTP/3 is off) and the
// hashes of the server's own certificates (none with -tls-cert).
func webTransportInfo(q *quicserver.Server, log *slog.Logger) func() (port string, hashes []string) {
	return func() (string, []string) {
		if q == nil {
			return "", nil
		}
		hashes, err := q.CertHashes()
		if err != nil {
			log.Error("no certificate for WebTransport", "err", err)
			return "", nil
		}
		return strconv.Itoa(q.Port()), hashes
	}
}

// altSvc advertises HTTP/3 at port on the answers over TLS, as Alt-Svc
// (RFC 7838): browsers that see it try QUIC for the next requests.
func altSvc(port int) echo.MiddlewareFunc {
	value := `h3=":` + strconv.Itoa(port) + `"; ma=86400`
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if c.Request().TLS != nil {
				c.Response().Header().Set("Alt-Svc", value)
			}
			return next(c)
		}
	}
}
