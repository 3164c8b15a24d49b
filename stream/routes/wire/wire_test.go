package wire_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/sse-demo/movingobject/internal/apptest"
	"github.com/sse-demo/movingobject/stream/routes/wire"
)

// serve serves the two endpoints of the /wire page alone, GET /wire/stream
// and /wire/parse, over loopback until the test ends. They are mapped as
// the program maps them.
func serve(tb testing.TB) *apptest.Program {
	tb.Helper()
	e := echo.New()
	e.HTTPErrorHandler = apptest.PlainError(nil)
	e.GET("/wire/stream", wire.Stream)
	e.Any("/wire/parse", wire.Parse)
	return apptest.Serve(tb, e, nil, nil, false)
}

// answer is one response, read whole.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// send sends a request with body (nil for none) to the server and reads
// the answer.
func send(tb testing.TB, s *apptest.Program, method, path string, body io.Reader) answer {
	tb.Helper()
	req, err := http.NewRequest(method, s.URL+path, body)
	if err != nil {
		tb.Fatal(err)
	}
	res, err := s.Client.Do(req)
	if err != nil {
		tb.Fatalf("%s %.60s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatalf("read %s %.60s: %v", method, path, err)
	}
	return answer{res.StatusCode, res.Header, b}
}

// streamPath is the path of GET /wire/stream for the bytes b, in base64url
// without padding, as the page sends them.
func streamPath(b string) string {
	return "/wire/stream?raw=" + base64.RawURLEncoding.EncodeToString([]byte(b))
}

// msg is an unnamed event as the decoder reports it.
func msg(data, lastID string) wire.Event {
	return wire.Event{Type: "message", Data: data, LastEventID: lastID}
}

// ms is a retry in the answer.
func ms(n int64) *int64 { return &n }

// specCase is a stream and what the standard says a browser dispatches
// from it: written out by hand, from the standard's words.
type specCase struct {
	name  string
	raw   string
	want  []wire.Event
	retry *int64
}

// presetCases are the expected readings of the page's presets, by name.
var presetCases = map[string]specCase{
	"blank-line": {want: []wire.Event{msg("first", "")}},
	"space":      {want: []wire.Event{msg("one space", ""), msg("no space", ""), msg(" two spaces", "")}},
	"cr":         {want: []wire.Event{msg("a CR\nends a line", ""), msg("and so does CRLF", "")}},
	"id-reset":   {want: []wire.Event{msg("a", "7"), msg("b keeps id 7", "7"), msg("c has none", "")}},
	"data-empty": {want: []wire.Event{msg("", ""), msg("", ""), msg("\n", "")}},
	"bom":        {want: []wire.Event{msg("first", "")}},
	"utf8":       {want: []wire.Event{msg("caf\uFFFD in Latin-1", ""), msg("cut \uFFFD short, whole €", "")}},
	"case":       {want: []wire.Event{msg("only this", ""), msg("still a message", "")}},
	"multi-line": {want: []wire.Event{msg("line one\nline two", "")}},
	"no-data":    {want: []wire.Event{msg("only this one", "1")}},
	"type-reset": {want: []wire.Event{{Type: "add", Data: "1"}, msg("2", "")}},
	"retry":      {want: []wire.Event{msg("x", "")}, retry: ms(3000)},
	"comments":   {want: []wire.Event{msg("a\nb", "")}},
	"nul-id":     {want: []wire.Event{msg("a", "1"), msg("b keeps id 1", "1")}},
	"error-name": {want: []wire.Event{{Type: "error", Data: "not a failure"}, {Type: "open", Data: "nor this"}}},
}

// moreCases are spec cases beyond the presets.
var moreCases = []specCase{
	{name: "empty stream", raw: ""},
	{name: "one message", raw: "data: hello\n\n", want: []wire.Event{msg("hello", "")}},
	{name: "the page's example", raw: wire.Example, want: []wire.Event{{Type: "greeting", Data: "hello", LastEventID: "1"}, msg("world", "1")}},
	{name: "only blank lines", raw: "\n\r\n\r\n"},
	{name: "comment only", raw: ": ping\n\n"},
	{name: "unterminated last line", raw: "data: a\n\ndata: b\n\ndata: c", want: []wire.Event{msg("a", ""), msg("b", "")}},
	{name: "blank line missing its line end", raw: "data: a\n"},
	{name: "LF CR is two line ends", raw: "data: a\n\rdata: b\n\n", want: []wire.Event{msg("a", ""), msg("b", "")}},
	{name: "CR CR LF is two line ends", raw: "data: a\r\r\ndata: b\r\n\r\n", want: []wire.Event{msg("a", ""), msg("b", "")}},
	{name: "BOM alone on the first line", raw: "\xEF\xBB\xBF\ndata: x\n\n", want: []wire.Event{msg("x", "")}},
	{name: "BOM after a blank first line", raw: "\n\xEF\xBB\xBFdata: x\n\ndata: y\n\n", want: []wire.Event{msg("y", "")}},
	{name: "BOM inside a value kept", raw: "data: \xEF\xBB\xBFx\n\n", want: []wire.Event{msg("\uFEFFx", "")}},
	{name: "UTF-16 BOM is no BOM", raw: "\xFF\xFEdata: 1\n\ndata: 2\n\n", want: []wire.Event{msg("2", "")}},
	{name: "invalid UTF-8 in id and event", raw: "id: \xFF\nevent: \xC3\ndata: \xED\xA0\x80\n\n", want: []wire.Event{{Type: "\uFFFD", Data: "\uFFFD\uFFFD\uFFFD", LastEventID: "\uFFFD"}}},
	{name: "NUL in data kept", raw: "data: a\x00b\n\n", want: []wire.Event{msg("a\x00b", "")}},
	{name: "colon in value", raw: "data: a: b\n\n", want: []wire.Event{msg("a: b", "")}},
	{name: "tab is not the space", raw: "data:\tx\n\n", want: []wire.Event{msg("\tx", "")}},
	{name: "no trimming of field names", raw: "data : x\n data: y\n\n"},
	{name: "id keeps its later spaces", raw: "id:  7 \ndata: x\n\n", want: []wire.Event{msg("x", " 7 ")}},
	{name: "id of an event without data counts", raw: "id: 9\n\ndata: x\n\n", want: []wire.Event{msg("x", "9")}},
	{name: "empty event name is message", raw: "event: a\nevent:\ndata: x\n\n", want: []wire.Event{msg("x", "")}},
	{name: "last event name wins", raw: "event: a\nevent: b\ndata: x\n\n", want: []wire.Event{{Type: "b", Data: "x"}}},
	{name: "markup is data", raw: "event: <b>\ndata: <script>alert(1)</script>\n\n", want: []wire.Event{{Type: "<b>", Data: "<script>alert(1)</script>"}}},
	{name: "last valid retry wins", raw: "retry: 10\nretry: 20\nretry: x\nretry:\nretry\n", retry: ms(20)},
	{name: "retry zero", raw: "retry: 0\n", retry: ms(0)},
	{name: "retry of a lost event counts", raw: "retry: 5\ndata: lost", retry: ms(5)},
	{name: "unterminated retry does not", raw: "retry: 5"},
	{name: "retry with a space before digits", raw: "retry:  5\n"},
	{name: "retry too large clamped", raw: "retry: 99999999999999999999\n", retry: ms(9223372036854)},
	{name: "fullwidth digits are not ASCII digits", raw: "retry: \uFF12\n"},
	{name: "at the size limit", raw: "data: " + strings.Repeat("x", wire.MaxBytes-8) + "\n\n", want: []wire.Event{msg(strings.Repeat("x", wire.MaxBytes-8), "")}},
}

// specCases are every case: the presets', by name, then the others.
func specCases(tb testing.TB) []specCase {
	tb.Helper()
	var cases []specCase
	for _, p := range wire.Presets {
		c, ok := presetCases[p.Name]
		if !ok {
			tb.Fatalf("preset %q has no expected reading in presetCases; write one", p.Name)
		}
		c.name, c.raw = "preset "+p.Name, p.Raw
		cases = append(cases, c)
	}
	if len(presetCases) != len(wire.Presets) {
		tb.Fatalf("%d presetCases for %d presets; want one each", len(presetCases), len(wire.Presets))
	}
	return append(cases, moreCases...)
}

// TestSpecCases sends every case to both endpoints: GET /wire/stream must
// answer exactly its bytes as an event stream, POST /wire/parse what the
// standard says a browser dispatches from them.
func TestSpecCases(t *testing.T) {
	s := serve(t)
	for _, tt := range specCases(t) {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := send(t, s, http.MethodGet, streamPath(tt.raw), nil)
			if got.status != http.StatusOK {
				t.Fatalf("GET /wire/stream = %d %q; want 200", got.status, got.body)
			}
			for name, want := range map[string]string{
				"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
			} {
				if v := got.header.Get(name); v != want {
					t.Errorf("GET /wire/stream %s: %q; want %q", name, v, want)
				}
			}
			if !bytes.Equal(got.body, []byte(tt.raw)) {
				t.Errorf("GET /wire/stream body = %q; want the bytes sent, %q", got.body, tt.raw)
			}

			got = send(t, s, http.MethodPost, "/wire/parse", strings.NewReader(tt.raw))
			if got.status != http.StatusOK {
				t.Fatalf("POST /wire/parse = %d %q; want 200", got.status, got.body)
			}
			if ct := got.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("POST /wire/parse Content-Type: %q; want application/json", ct)
			}
			var p wire.Parsed
			if err := json.Unmarshal(got.body, &p); err != nil {
				t.Fatalf("POST /wire/parse: %v in %q; want JSON", err, got.body)
			}
			want := tt.want
			if want == nil {
				want = []wire.Event{}
			}
			if !slices.Equal(p.Events, want) {
				t.Errorf("POST /wire/parse events = %q; want %q", p.Events, want)
			}
			if p.Events == nil {
				t.Errorf("POST /wire/parse events null; want [] when none")
			}
			if !equalRetry(p.Retry, tt.retry) {
				t.Errorf("POST /wire/parse retry = %s; want %s", showRetry(p.Retry), showRetry(tt.retry))
			}
		})
	}
}

func equalRetry(a, b *int64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func showRetry(r *int64) string {
	if r == nil {
		return "null"
	}
	b, _ := json.Marshal(*r)
	return string(b)
}

// TestParseJSON checks the answer's exact text, as the issue gives it:
// every event's three fields, and retry null when no retry was set.
func TestParseJSON(t *testing.T) {
	s := serve(t)
	for _, tt := range []struct{ raw, want string }{
		{"data: hello\n\n", `{"events":[{"type":"message","data":"hello","lastEventId":""}],"retry":null}`},
		{"", `{"events":[],"retry":null}`},
		{"retry: 1500\nid: 3\nevent: move\ndata: a\ndata: b\n\n", `{"events":[{"type":"move","data":"a\nb","lastEventId":"3"}],"retry":1500}`},
	} {
		got := send(t, s, http.MethodPost, "/wire/parse", strings.NewReader(tt.raw))
		if body := strings.TrimSpace(string(got.body)); got.status != http.StatusOK || body != tt.want {
			t.Errorf("POST /wire/parse %q = %d %s; want 200 %s", tt.raw, got.status, body, tt.want)
		}
	}
}

// TestStreamRefused checks the refusals of GET /wire/stream: each a 4xx
// with a plain-text reason that names what it refused.
func TestStreamRefused(t *testing.T) {
	s := serve(t)
	tooMany := base64.RawURLEncoding.EncodeToString(make([]byte, wire.MaxBytes+1))
	for _, tt := range []struct {
		name   string
		query  string
		status int
		reason string // in the body
	}{
		{"no raw", "", http.StatusBadRequest, "raw: missing"},
		{"another parameter only", "?RAW=ZGF0YQ", http.StatusBadRequest, "raw: missing"},
		{"a bad %-escape in raw", "?raw=%%%", http.StatusBadRequest, "raw: malformed"},
		{"raw twice", "?raw=ZGF0YQ&raw=ZGF0YQ", http.StatusBadRequest, "raw: given more than once"},
		{"standard base64's +", "?raw=%2B%2B%2B%2B", http.StatusBadRequest, "raw: not base64url"},
		{"standard base64's /", "?raw=ab/c", http.StatusBadRequest, "raw: not base64url"},
		{"a + that the query makes a space", "?raw=ab+c", http.StatusBadRequest, "raw: not base64url"},
		{"a line break, which package base64 would skip", "?raw=ZGF0%0AYQ", http.StatusBadRequest, "raw: not base64url"},
		{"a length that leaves a partial byte", "?raw=ZGF0Y", http.StatusBadRequest, "raw: not base64url"},
		{"trailing bits set", "?raw=aGl", http.StatusBadRequest, "raw: not base64url"},
		{"too much padding", "?raw=aGk%3D%3D", http.StatusBadRequest, "raw: not base64url"},
		{"data after the padding", "?raw=aG%3D%3DaGk%3D", http.StatusBadRequest, "raw: not base64url"},
		{"non-ASCII", "?raw=%C3%A9", http.StatusBadRequest, "raw: not base64url"},
		{"decodes to one byte too many", "?raw=" + tooMany, http.StatusRequestEntityTooLarge, "raw: must decode to at most 8192 bytes"},
		{"longer than any raw of 8192 bytes", "?raw=" + strings.Repeat("A", 11000), http.StatusRequestEntityTooLarge, "raw: must decode to at most 8192 bytes"},
		{"URI too long", "?raw=" + strings.Repeat("A", 13000), http.StatusRequestURITooLong, "URI too long"},
		// The program's server refuses a request line this long with 431
		// before the handler runs. The handler alone refuses it as any
		// URI over 12 KiB.
		{"URI far past 12 KiB", "?raw=" + strings.Repeat("A", 30000), http.StatusRequestURITooLong, "URI too long"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := send(t, s, http.MethodGet, "/wire/stream"+tt.query, nil)
			if got.status != tt.status || !strings.Contains(string(got.body), tt.reason) {
				t.Errorf("GET /wire/stream%.40s = %d %q; want %d with %q", tt.query, got.status, got.body, tt.status, tt.reason)
			}
			if ct := got.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
				t.Errorf("Content-Type: %q; want text/plain", ct)
			}
		})
	}
}

// TestStreamPadding checks that raw may come with its padding or without.
func TestStreamPadding(t *testing.T) {
	s := serve(t)
	for _, tt := range []struct{ query, want string }{
		{"?raw=aGk", "hi"},
		{"?raw=aGk%3D", "hi"},
		{"?raw=aGk=", "hi"},
		{"?raw=aA", "h"},
		{"?raw=aA%3D%3D", "h"},
		{"?raw=_-8", "\xFF\xEF"},
		{"?raw=", ""},
		{"?raw", ""},
		{"?x=%zz&raw=aGk", "hi"}, // a bad %-escape in another parameter
	} {
		got := send(t, s, http.MethodGet, "/wire/stream"+tt.query, nil)
		if got.status != http.StatusOK || string(got.body) != tt.want {
			t.Errorf("GET /wire/stream%s = %d %q; want 200 %q", tt.query, got.status, got.body, tt.want)
		}
	}
}

// onlyReader hides a reader's other methods, so that a request made with
// it has no length and is sent chunked.
type onlyReader struct{ io.Reader }

// TestParseRefused checks the refusals of /wire/parse.
func TestParseRefused(t *testing.T) {
	s := serve(t)
	big := strings.Repeat("x", wire.MaxBytes+1)
	for _, tt := range []struct {
		name   string
		method string
		body   io.Reader
		status int
		reason string
	}{
		{"GET", http.MethodGet, nil, http.StatusMethodNotAllowed, "method: only POST"},
		{"PUT", http.MethodPut, strings.NewReader("data: x\n\n"), http.StatusMethodNotAllowed, "method: only POST"},
		{"OPTIONS", http.MethodOptions, nil, http.StatusMethodNotAllowed, "method: only POST"},
		{"one byte too many", http.MethodPost, strings.NewReader(big), http.StatusRequestEntityTooLarge, "body: must be at most 8192 bytes"},
		{"one byte too many, chunked", http.MethodPost, onlyReader{strings.NewReader(big)}, http.StatusRequestEntityTooLarge, "body: must be at most 8192 bytes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := send(t, s, tt.method, "/wire/parse", tt.body)
			if got.status != tt.status || !strings.Contains(string(got.body), tt.reason) {
				t.Errorf("%s /wire/parse = %d %q; want %d with %q", tt.method, got.status, got.body, tt.status, tt.reason)
			}
			if tt.status == http.StatusMethodNotAllowed {
				if allow := got.header.Get("Allow"); allow != "POST" {
					t.Errorf("Allow: %q; want POST", allow)
				}
			}
		})
	}
}
