package views

import (
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// wirePage is the model of the wire page as pages.go fills it, with two
// presets.
var wirePage = WireModel{
	StreamURL: "/wire/stream", ParseURL: "/wire/parse", MaxBytes: 8192,
	Text: "id: 1\ndata: hello\n\n",
	Presets: []WirePreset{
		{Value: "cr", Label: "CR line ends", Text: `data: a\rdata: b\r\r`, Rule: `A line ends at "a CR".`},
		{Value: "markup", Label: "<b>Markup</b>", Text: "data: <script>x</script>\n\n", Rule: `Quotes "and <tags>" stay text.`},
	},
	StreamCurlURL: "http://localhost:8080/wire/stream?raw=aWQ6IDEKZGF0YTogaGVsbG8KCg",
	ParseCurlURL:  "http://localhost:8080/wire/parse",
}

func TestWireGolden(t *testing.T) {
	checkGolden(t, "wire.golden.html", renderComponent(t, Wire(wirePage)))
}

// TestWireElements checks the hooks wire.js and the tests use: the
// endpoints on main, the controls, the presets with their text and rule
// as given (escaped as attributes, never markup), and empty columns.
func TestWireElements(t *testing.T) {
	doc := parse(t, renderComponent(t, Wire(wirePage)))
	main := findAll(doc, func(n *html.Node) bool { return n.Data == "main" })
	if len(main) != 1 {
		t.Fatalf("%d main elements; want 1", len(main))
	}
	for name, want := range map[string]string{
		"class": "wire-page", "data-stream-url": "/wire/stream", "data-parse-url": "/wire/parse", "data-max-bytes": "8192",
	} {
		if got, _ := attr(main[0], name); got != want {
			t.Errorf("main %s = %q; want %q", name, got, want)
		}
	}
	ids := testIDs(doc)
	for id, tag := range map[string]string{
		"wire-input": "textarea", "wire-preset": "select", "wire-send": "button", "wire-bytes": "pre",
		"wire-browser": "ol", "wire-decoder": "ol", "wire-verdict": "p", "wire-rule": "p", "wire-count": "span",
	} {
		n, ok := ids[id]
		if !ok {
			t.Errorf("no [data-testid=%s]; want a %s", id, tag)
			continue
		}
		if n.Data != tag {
			t.Errorf("[data-testid=%s] is a %s; want a %s", id, n.Data, tag)
		}
	}
	if got := text(ids["wire-input"]); got != wirePage.Text {
		t.Errorf("textarea holds %q; want %q", got, wirePage.Text)
	}
	if _, ok := attr(ids["wire-verdict"], "data-agree"); ok {
		t.Errorf("verdict has data-agree before any run; want none")
	}
	for _, id := range []string{"wire-browser", "wire-decoder"} {
		if ids[id].FirstChild != nil {
			t.Errorf("[data-testid=%s] has children; want it empty until a run", id)
		}
	}
	options := findAll(ids["wire-preset"], func(n *html.Node) bool { return n.Data == "option" })
	if len(options) != len(wirePage.Presets)+1 {
		t.Fatalf("%d options; want one per preset and one for the user's own stream", len(options))
	}
	if v, _ := attr(options[0], "value"); v != "" {
		t.Errorf("first option's value = %q; want empty, the user's own stream", v)
	}
	for i, p := range wirePage.Presets {
		o := options[i+1]
		for name, want := range map[string]string{"value": p.Value, "data-text": p.Text, "data-rule": p.Rule} {
			if got, _ := attr(o, name); got != want {
				t.Errorf("option %d %s = %q; want %q", i+1, name, got, want)
			}
		}
		if got := text(o); got != p.Label {
			t.Errorf("option %d text = %q; want %q", i+1, got, p.Label)
		}
	}
	if n := findAll(doc, func(n *html.Node) bool { return n.Data == "b" }); len(n) != 0 {
		t.Errorf("a label's markup became a b element; want it text")
	}
	if got := strings.TrimSpace(text(ids["wire-curl"])); got != "curl -N '"+wirePage.StreamCurlURL+"'" {
		t.Errorf("[data-testid=wire-curl] = %q; want the curl command of the stream", got)
	}
}
