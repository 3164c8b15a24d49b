package views

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/a-h/templ"
	"golang.org/x/net/html"
)

// comparePage is the model of the comparison page as pages.go fills it,
// for the default world.
var comparePage = CompareModel{
	Width: "800", Height: "600", IntervalMS: "100",
	PollURL: "/world/poll", EventsURL: "/world/events", SocketURL: "/world/ws",
	PollMS: 1000, MinPollMS: 100, MaxPollMS: 5000, WaitMS: 25000,
	PollCurlURL: "http://localhost:8080/world/poll", EventsCurlURL: "http://localhost:8080/world/events",
	EventBytes: "83", PackedBytes: "24",
	TransportURL: "/world/webtransport", TransportPort: "8080", CertHashes: "AAAA,BBBB",
}

func renderComponent(tb testing.TB, c templ.Component) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := c.Render(context.Background(), &buf); err != nil {
		tb.Fatalf("Render() = %v", err)
	}
	return buf.Bytes()
}

func parse(tb testing.TB, page []byte) *html.Node {
	tb.Helper()
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		tb.Fatalf("parse the page: %v", err)
	}
	return doc
}

func TestCompareGolden(t *testing.T) {
	checkGolden(t, "compare.golden.html", renderComponent(t, Compare(comparePage)))
}

func TestCompareElements(t *testing.T) {
	doc := parse(t, renderComponent(t, Compare(comparePage)))
	main := findAll(doc, func(n *html.Node) bool { return n.Data == "main" })
	if len(main) != 1 {
		t.Fatalf("%d main elements; want 1", len(main))
	}
	for name, want := range map[string]string{
		"data-poll-url": "/world/poll", "data-events-url": "/world/events", "data-socket-url": "/world/ws",
		"data-wait-ms": "25000", "data-interval-ms": "100",
		"data-transport-url": "/world/webtransport", "data-transport-port": "8080", "data-cert-hashes": "AAAA,BBBB",
	} {
		if got, _ := attr(main[0], name); got != want {
			t.Errorf("main %s = %q; want %q", name, got, want)
		}
	}

	panels := findAll(doc, func(n *html.Node) bool { _, ok := attr(n, "data-transport"); return ok })
	var order []string
	for _, p := range panels {
		tr, _ := attr(p, "data-transport")
		order = append(order, tr)
	}
	if got, want := strings.Join(order, " "), "poll longpoll sse websocket webtransport"; got != want {
		t.Fatalf("panels %q; want %q", got, want)
	}
	for _, p := range panels {
		tr, _ := attr(p, "data-transport")
		t.Run(tr, func(t *testing.T) {
			ids := testIDs(p)
			for _, id := range []string{"seq", "state", "requests", "bytes-per-move", "delay-p50", "delay-p99",
				"moves", "rate", "stale", "reconnects", "requests-per-move", "bytes-how", "pause", "board", "wire"} {
				if _, ok := ids[id]; !ok {
					t.Errorf("no [data-testid=%s] in the panel; want one", id)
				}
			}
			for id, want := range map[string]map[string]string{
				"state": {"data-state": "connecting"},
				"board": {"width": "800", "height": "600", "role": "img"},
				"pause": {"type": "button", "aria-pressed": "false"},
			} {
				for name, v := range want {
					if got, _ := attr(ids[id], name); got != v {
						t.Errorf("[data-testid=%s] %s = %q; want %q", id, name, got, v)
					}
				}
			}
			// Which figures the page measures and which it estimates.
			how := map[string]string{"poll": "measured", "longpoll": "measured", "sse": "estimated", "websocket": "estimated", "webtransport": "estimated"}[tr]
			if got := strings.TrimSpace(text(ids["bytes-how"])); got != how {
				t.Errorf("bytes per move %q; want %q", got, how)
			}
			// Only short polling has an interval, 100 ms to 5 s, 1 s at first.
			in, ok := ids["interval"]
			if ok != (tr == "poll") {
				t.Fatalf("[data-testid=interval] present %v; want it only on the poll panel", ok)
			}
			if ok {
				for name, v := range map[string]string{"type": "range", "min": "100", "max": "5000", "value": "1000"} {
					if got, _ := attr(in, name); got != v {
						t.Errorf("interval %s = %q; want %q", name, got, v)
					}
				}
			}
			// Two or three sentences on how it works and what it costs.
			explained := findAll(p, func(n *html.Node) bool { c, _ := attr(n, "class"); return c == "how" })
			if len(explained) != 1 {
				t.Fatalf("%d explanations; want 1", len(explained))
			}
			says := strings.TrimSpace(text(explained[0]))
			if n := strings.Count(says, ". ") + 1; n < 2 || n > 3 || !strings.HasSuffix(says, ".") {
				t.Errorf("explanation %q: %d sentences; want two or three", says, n)
			}
		})
	}

	ids := testIDs(doc)
	for id, want := range map[string]string{
		"curl-poll":   "curl 'http://localhost:8080/world/poll'",
		"curl-events": "curl -N 'http://localhost:8080/world/events'",
	} {
		if got := strings.TrimSpace(text(ids[id])); got != want {
			t.Errorf("[data-testid=%s] = %q; want %q", id, got, want)
		}
	}
}

// TestNav checks the navigation bar of every page: the five pages in
// order, the current one marked.
func TestNav(t *testing.T) {
	for _, tt := range []struct {
		name    string
		page    templ.Component
		current string
	}{
		{"walk", Page(walkPage), "/"},
		{"refused", Page(refusedPage), "/"},
		{"world", Page(worldPage), "/world"},
		{"compare", Compare(comparePage), "/compare"},
		{"play", Page(playPage), "/play"},
		{"wire", Wire(wirePage), "/wire"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			nav, ok := testIDs(parse(t, renderComponent(t, tt.page)))["nav"]
			if !ok {
				t.Fatalf("no [data-testid=nav]; want a navigation bar")
			}
			if nav.Data != "nav" {
				t.Errorf("[data-testid=nav] is a %s; want a nav element", nav.Data)
			}
			var hrefs, current []string
			for _, a := range findAll(nav, func(n *html.Node) bool { return n.Data == "a" }) {
				href, _ := attr(a, "href")
				hrefs = append(hrefs, href)
				if v, ok := attr(a, "aria-current"); ok {
					if v != "page" {
						t.Errorf("link %s aria-current = %q; want page", href, v)
					}
					current = append(current, href)
				}
			}
			if got, want := strings.Join(hrefs, " "), "/ /world /compare /play /wire"; got != want {
				t.Errorf("links %q; want %q", got, want)
			}
			if len(current) != 1 || current[0] != tt.current {
				t.Errorf("links marked current %q; want only %q", current, tt.current)
			}
		})
	}
}

// findAll returns the elements under n, n included, that match accepts,
// in document order.
func findAll(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && match(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

// TestScripts checks each page's ES modules: app.js on the walk's and the
// world's pages, play.js beside it on the play room's only.
func TestScripts(t *testing.T) {
	for _, tt := range []struct {
		name string
		page templ.Component
		want string
	}{
		{"walk", Page(walkPage), "/static/app.js"},
		{"world", Page(worldPage), "/static/app.js"},
		{"play", Page(playPage), "/static/app.js /static/play.js"},
		{"compare", Compare(comparePage), "/static/compare.js"},
		{"wire", Wire(wirePage), "/static/wire.js"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var srcs []string
			for _, s := range findAll(parse(t, renderComponent(t, tt.page)), func(n *html.Node) bool { return n.Data == "script" }) {
				if typ, _ := attr(s, "type"); typ != "module" {
					t.Errorf("script type = %q; want module", typ)
				}
				src, _ := attr(s, "src")
				srcs = append(srcs, src)
			}
			if got := strings.Join(srcs, " "); got != tt.want {
				t.Errorf("scripts %q; want %q", got, tt.want)
			}
		})
	}
}
