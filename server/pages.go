// The page handlers render the pages with templ: the walk, the shared
// world, the comparison of transports, the play room and the wire by hand.

package server

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"
	"github.com/sse-demo/movingobject/simulation"
	"github.com/sse-demo/movingobject/stream/routes/walks"
	"github.com/sse-demo/movingobject/stream/routes/wire"
	"github.com/sse-demo/movingobject/views"
)

// page serves the demo page for the walk in the query, or a 400 page with
// the server's message and the form when a parameter is refused.
func page(def simulation.Config) echo.HandlerFunc {
	ranges := views.Ranges{
		MinSize: simulation.MinSize, MaxSize: simulation.MaxSize,
		MinStep: simulation.MinStep, MaxStep: simulation.MaxStep,
		MinIntervalMS: int(simulation.MinInterval.Milliseconds()), MaxIntervalMS: int(simulation.MaxInterval.Milliseconds()),
		MaxSeed: walks.MaxSeed,
	}
	return func(c echo.Context) error {
		q := c.QueryParams()
		p, err := walks.ParseParams(q, def)
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
				Seed: q.Get("seed"), Error: err.Error(), Ranges: ranges,
				CurlURL: streamURL(c, "/events"),
			}))
		}
		vm := walkModel(p.Config)
		vm.EventsURL, vm.Ranges = "/events", ranges
		// The step may not exceed the box either: show the range that holds.
		vm.Ranges.MaxStep = simulation.MaxStepFor(p.Config.Width, p.Config.Height)
		if p.HasSeed {
			vm.Seed = strconv.FormatUint(p.Seed, 10)
		}
		if enc := p.Query(def).Encode(); enc != "" {
			vm.EventsURL += "?" + enc
		}
		vm.CurlURL = streamURL(c, vm.EventsURL)
		return render(c, http.StatusOK, views.Page(vm))
	}
}

// worldPage serves the page of the shared world, whose parameters the
// server fixes.
func worldPage(cfg simulation.Config) echo.HandlerFunc {
	vm := walkModel(cfg)
	vm.World, vm.EventsURL = true, "/world/events"
	return func(c echo.Context) error {
		vm := vm
		vm.CurlURL = streamURL(c, vm.EventsURL)
		return render(c, http.StatusOK, views.Page(vm))
	}
}

// The comparison page's polls: the short polls' interval at first and its
// range, and how long a long poll asks the server to hold it (below the
// server's limit of 30 s, and below the idle timeout of most proxies).
const (
	comparePollMS    = 1000
	compareMinPollMS = 100
	compareMaxPollMS = 5000
	compareWaitMS    = 25000
)

// comparePage serves the page that shows the shared world over short
// polling, long polling, SSE, WebSocket and WebTransport side by side.
// webTransport tells the UDP port of WebTransport (empty when it is off)
// and the hashes of the certificates a page may trust by hash.
func comparePage(cfg simulation.Config, eventBytes func() (plain, packed float64), webTransport func() (port string, hashes []string)) echo.HandlerFunc {
	vm := views.CompareModel{
		Width: strconv.Itoa(cfg.Width), Height: strconv.Itoa(cfg.Height),
		IntervalMS: strconv.Itoa(int(cfg.Interval.Milliseconds())),
		PollURL:    "/world/poll", EventsURL: "/world/events", SocketURL: "/world/ws", TransportURL: "/world/webtransport",
		PollMS: comparePollMS, MinPollMS: compareMinPollMS, MaxPollMS: compareMaxPollMS, WaitMS: compareWaitMS,
	}
	return func(c echo.Context) error {
		vm := vm
		vm.PollCurlURL, vm.EventsCurlURL = streamURL(c, vm.PollURL), streamURL(c, vm.EventsURL)
		port, hashes := webTransport()
		vm.TransportPort, vm.CertHashes = port, strings.Join(hashes, ",")
		if plain, packed := eventBytes(); plain > 0 {
			vm.EventBytes, vm.PackedBytes = strconv.Itoa(int(plain+0.5)), strconv.Itoa(int(packed+0.5))
		}
		return render(c, http.StatusOK, views.Compare(vm))
	}
}

// playPage serves the page of the play room: the shared object, with the
// push controls.
func playPage(cfg simulation.Config, push int) echo.HandlerFunc {
	vm := walkModel(cfg)
	vm.Play, vm.PushPX, vm.EventsURL = true, push, "/play/events"
	return func(c echo.Context) error {
		vm := vm
		vm.CurlURL = streamURL(c, vm.EventsURL)
		return render(c, http.StatusOK, views.Page(vm))
	}
}

// wirePage serves the wire by hand. The page sends a stream typed by hand
// to the browser's EventSource (GET /wire/stream) and to the spec decoder
// (POST /wire/parse), and offers the presets of package wire.
func wirePage() echo.HandlerFunc {
	vm := views.WireModel{
		StreamURL: "/wire/stream", ParseURL: "/wire/parse", MaxBytes: wire.MaxBytes,
		Text: wire.Escape(wire.Example),
	}
	for _, p := range wire.Presets {
		vm.Presets = append(vm.Presets, views.WirePreset{Value: p.Name, Label: p.Label, Text: wire.Escape(p.Raw), Rule: p.Rule})
	}
	example := vm.StreamURL + "?raw=" + base64.RawURLEncoding.EncodeToString([]byte(wire.Example))
	return func(c echo.Context) error {
		vm := vm
		vm.StreamCurlURL, vm.ParseCurlURL = streamURL(c, example), streamURL(c, vm.ParseURL)
		return render(c, http.StatusOK, views.Wire(vm))
	}
}

// streamURL is the absolute URL of the stream at path (with its query) on
// the server that c reached. The scheme is the one [echo.Context.Scheme]
// tells (TLS, or a proxy's X-Forwarded-Proto), and the host is the
// request's.
func streamURL(c echo.Context, path string) string {
	return c.Scheme() + "://" + c.Request().Host + path
}

// walkModel is the page model of a valid walk's parameters.
func walkModel(cfg simulation.Config) views.PageModel {
	return views.PageModel{
		Width: strconv.Itoa(cfg.Width), Height: strconv.Itoa(cfg.Height),
		Step: strconv.Itoa(cfg.Step), IntervalMS: strconv.Itoa(int(cfg.Interval.Milliseconds())),
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
