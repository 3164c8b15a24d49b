package views

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// ranges are the ranges the server allows, as routes.go passes them.
var ranges = Ranges{
	MinSize: 10, MaxSize: 4000, MinStep: 1, MaxStep: 1000,
	MinIntervalMS: 10, MaxIntervalMS: 60000, MaxSeed: 1<<53 - 1,
}

// Models of the three kinds of page: the walk, a refused parameter, and
// the shared world.
var (
	walkPage = PageModel{
		Width: "800", Height: "600", Step: "5", IntervalMS: "100", Seed: "42",
		EventsURL: "/events?seed=42", CurlURL: "http://localhost:8080/events?seed=42", Ranges: ranges,
	}
	refusedPage = PageModel{
		Width: "9", Height: "600", Step: "5", IntervalMS: "100",
		Error: "width: must be an integer in [10, 4000]", CurlURL: "http://localhost:8080/events", Ranges: ranges,
	}
	worldPage = PageModel{
		Width: "800", Height: "600", Step: "5", IntervalMS: "100",
		EventsURL: "/world/events", CurlURL: "https://example.com/world/events", World: true, Ranges: ranges,
	}
	playPage = PageModel{
		Width: "800", Height: "600", Step: "5", IntervalMS: "100", PushPX: 20,
		EventsURL: "/play/events", CurlURL: "https://example.com/play/events", Play: true, Ranges: ranges,
	}
)

func render(tb testing.TB, vm PageModel) []byte {
	tb.Helper()
	return renderComponent(tb, Page(vm))
}

// checkGolden compares a rendered page with its golden file in testdata,
// or rewrites the file with -update.
func checkGolden(tb testing.TB, golden string, got []byte) {
	tb.Helper()
	path := filepath.Join("testdata", golden)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("%v (run go test ./views -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		tb.Errorf("page differs from %s (if the change is meant, run go test ./views -update and review the diff)\ngot:\n%s", path, got)
	}
}

func TestPageGolden(t *testing.T) {
	for _, tt := range []struct {
		name, golden string
		vm           PageModel
	}{
		{"walk", "page.golden.html", walkPage},
		{"refused", "page-refused.golden.html", refusedPage},
		{"world", "page-world.golden.html", worldPage},
		{"play", "page-play.golden.html", playPage},
	} {
		t.Run(tt.name, func(t *testing.T) {
			checkGolden(t, tt.golden, render(t, tt.vm))
		})
	}
}

func TestPageElements(t *testing.T) {
	for _, tt := range []struct {
		name    string
		vm      PageModel
		present map[string]map[string]string // data-testid: attributes it must have
		text    map[string]string            // data-testid: its text
		absent  []string                     // data-testids it must not have
	}{
		{
			name: "walk",
			vm:   walkPage,
			present: map[string]map[string]string{
				"board":       {"width": "800", "height": "600", "data-events-url": "/events?seed=42", "role": "img"},
				"params":      {"method": "get", "action": "/", "novalidate": ""},
				"width-input": {"min": "10", "max": "4000", "value": "800"},
				"seed-input":  {"value": "42"},
				"disconnect":  {"type": "button"},
				"connect":     {"type": "button", "disabled": ""},
				"announce":    {"aria-live": "polite"},
				"status":      {},
				"log":         {},
				"unsupported": {"hidden": ""},
			},
			text:   map[string]string{"state": "connecting", "resumes": "0", "curl": "curl -N 'http://localhost:8080/events?seed=42'"},
			absent: []string{"error"},
		},
		{
			name: "refused",
			vm:   refusedPage,
			present: map[string]map[string]string{
				"error":       {"role": "alert"},
				"width-input": {"value": "9", "aria-invalid": "true"},
				"params":      {"novalidate": ""},
				"unsupported": {"hidden": ""},
			},
			text: map[string]string{
				"error": "width: must be an integer in [10, 4000]",
				"curl":  "curl -N 'http://localhost:8080/events'",
			},
			absent: []string{"board", "status", "log", "disconnect"},
		},
		{
			name: "world",
			vm:   worldPage,
			present: map[string]map[string]string{
				"board":  {"data-events-url": "/world/events"},
				"status": {},
				"log":    {},
			},
			text:   map[string]string{"curl": "curl -N 'https://example.com/world/events'"},
			absent: []string{"params", "error"},
		},
		{
			name: "play",
			vm:   playPage,
			present: map[string]map[string]string{
				"board":      {"data-events-url": "/play/events"},
				"pad":        {"role": "group"},
				"push-up":    {"data-dir": "up", "type": "button"},
				"push-down":  {"data-dir": "down"},
				"push-left":  {"data-dir": "left"},
				"push-right": {"data-dir": "right"},
				"push-error": {"role": "status"},
				"status":     {},
				"log":        {},
			},
			text:   map[string]string{"viewers": "–", "roundtrip": "–", "mine": "–", "lastpush": "–", "curl": "curl -N 'https://example.com/play/events'"},
			absent: []string{"params", "error"},
		},
		{
			name: "escapes what it shows",
			vm: PageModel{Error: `seed: <script>alert("x")</script>`, Ranges: ranges,
				CurlURL: `http://a'$(id)<b>/events`},
			text: map[string]string{
				"error": `seed: <script>alert("x")</script>`,
				"curl":  `curl -N 'http://a'\''$(id)<b>/events'`,
			},
			present: map[string]map[string]string{
				"seed-input": {"aria-invalid": "true"},
			},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			doc := parse(t, render(t, tt.vm))
			byID := testIDs(doc)
			for id, attrs := range tt.present {
				n, ok := byID[id]
				if !ok {
					t.Errorf("no element with data-testid %q; want one", id)
					continue
				}
				for name, want := range attrs {
					if got, ok := attr(n, name); !ok || got != want {
						t.Errorf("[data-testid=%s] %s = %q (present %v); want %q", id, name, got, ok, want)
					}
				}
			}
			for id, want := range tt.text {
				n, ok := byID[id]
				if !ok {
					t.Errorf("no element with data-testid %q; want one", id)
					continue
				}
				if got := strings.TrimSpace(text(n)); got != want {
					t.Errorf("[data-testid=%s] text = %q; want %q", id, got, want)
				}
			}
			for _, id := range tt.absent {
				if _, ok := byID[id]; ok {
					t.Errorf("element with data-testid %q; want none", id)
				}
			}
			if n, ok := byID["width-input"]; ok && !tt.vm.Refused("width") {
				if _, invalid := attr(n, "aria-invalid"); invalid {
					t.Errorf("width field marked invalid for error %q; want only the refused field marked", tt.vm.Error)
				}
			}
		})
	}
}

func TestCurlCommand(t *testing.T) {
	for _, tt := range []struct {
		url, want string
	}{
		{"http://localhost:8080/events?seed=42&step=5", `curl -N 'http://localhost:8080/events?seed=42&step=5'`},
		{"https://[::1]:8443/world/events", `curl -N 'https://[::1]:8443/world/events'`},
		{"http://it's/events", `curl -N 'http://it'\''s/events'`},
		{"", `curl -N ''`},
	} {
		t.Run(tt.url, func(t *testing.T) {
			if got := (PageModel{CurlURL: tt.url}).CurlCommand(); got != tt.want {
				t.Errorf("PageModel{CurlURL: %q}.CurlCommand() = %q; want %q", tt.url, got, tt.want)
			}
		})
	}
}

func TestRefused(t *testing.T) {
	for _, tt := range []struct {
		err, name string
		want      bool
	}{
		{"width: must be an integer in [10, 4000]", "width", true},
		{"width: must be an integer in [10, 4000]", "height", false},
		{"step: must be an integer in [1, 50]", "step", true},
		{"", "width", false},
		{"widths: other", "width", false},
	} {
		t.Run(tt.name+" in "+tt.err, func(t *testing.T) {
			if got := (PageModel{Error: tt.err}).Refused(tt.name); got != tt.want {
				t.Errorf("PageModel{Error: %q}.Refused(%q) = %v; want %v", tt.err, tt.name, got, tt.want)
			}
		})
	}
}

// testIDs maps each data-testid in the tree to its element.
func testIDs(n *html.Node) map[string]*html.Node {
	m := map[string]*html.Node{}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if id, ok := attr(n, "data-testid"); ok && n.Type == html.ElementNode {
			m[id] = n
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return m
}

func attr(n *html.Node, name string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val, true
		}
	}
	return "", false
}

func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}
