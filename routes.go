package main

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/sse-demo/movingobject/simulation"
	"github.com/sse-demo/movingobject/static"
	"github.com/sse-demo/movingobject/stream"
	"github.com/sse-demo/movingobject/views"
)

// newEcho returns the app's echo instance with every route.
func newEcho(events *stream.Handler, log *slog.Logger) *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = plainError(log)
	addRoutes(e, events, log)
	return e
}

// addRoutes is the one place that maps URLs to handlers.
func addRoutes(e *echo.Echo, events *stream.Handler, log *slog.Logger) {
	e.GET("/", page(events.Defaults()), securityHeaders)
	e.GET("/events", events.Events)
	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok\n") })
	e.StaticFS("/static", static.FS)
}

// securityHeaders keeps a page to its own scripts and styles.
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		return next(c)
	}
}

// page serves the demo page for the walk in the query, or a 400 page with
// the server's message and the form when a parameter is refused.
func page(def simulation.Config) echo.HandlerFunc {
	limits := views.Limits{
		MinSize: simulation.MinSize, MaxSize: simulation.MaxSize,
		MinStep: simulation.MinStep, MaxStep: simulation.MaxStep,
		MinIntervalMS: int(simulation.MinInterval.Milliseconds()), MaxIntervalMS: int(simulation.MaxInterval.Milliseconds()),
		MaxSeed: stream.MaxSeed,
	}
	return func(c echo.Context) error {
		q := c.QueryParams()
		p, err := stream.ParseParams(q, def)
		if err != nil {
			// Show the values as typed, so the user can mend the bad one.
			orDefault := func(name string, d int) string {
				if v := q.Get(name); v != "" {
					return v
				}
				return strconv.Itoa(d)
			}
			return render(c, http.StatusBadRequest, views.Page(views.PageModel{
				Width: orDefault("width", def.Width), Height: orDefault("height", def.Height),
				Step: orDefault("step", def.Step), IntervalMS: orDefault("interval", int(def.Interval.Milliseconds())),
				Seed: q.Get("seed"), Error: err.Error(), Limits: limits,
			}))
		}
		vm := views.PageModel{
			Width: strconv.Itoa(p.Config.Width), Height: strconv.Itoa(p.Config.Height),
			Step: strconv.Itoa(p.Config.Step), IntervalMS: strconv.Itoa(int(p.Config.Interval.Milliseconds())),
			EventsURL: "/events", Limits: limits,
		}
		if p.HasSeed {
			vm.Seed = strconv.FormatUint(p.Seed, 10)
		}
		if enc := p.Query(def).Encode(); enc != "" {
			vm.EventsURL += "?" + enc
		}
		return render(c, http.StatusOK, views.Page(vm))
	}
}

// render writes a component with status, rendering it into a buffer first
// so that a failure can still become a 500.
func render(c echo.Context, status int, t templ.Component) error {
	var buf bytes.Buffer
	if err := t.Render(c.Request().Context(), &buf); err != nil {
		return err
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// plainError answers errors as text: the message of an [echo.HTTPError]
// (for a 400, the refused parameter and its range), or a bare 500.
func plainError(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		code, msg := http.StatusInternalServerError, http.StatusText(http.StatusInternalServerError)
		var he *echo.HTTPError
		if errors.As(err, &he) {
			code, msg = he.Code, http.StatusText(he.Code)
			if m, ok := he.Message.(string); ok {
				msg = m
			}
		} else {
			log.Error("request failed", "path", c.Request().URL.Path, "err", err)
		}
		if err := c.String(code, msg+"\n"); err != nil {
			log.Debug("write error response", "err", err)
		}
	}
}
