// Package views renders the HTML pages with templ.
package views

import "strings"

//go:generate go tool templ generate

// PageModel is what the moving-object page shows.
type PageModel struct {
	// Width, Height, Step and IntervalMS are the walk's parameters as the
	// form shows them. When the request was refused, they are as the
	// request gave them.
	Width, Height, Step, IntervalMS string
	// Seed is the seed the user chose, or empty for a random one.
	Seed string
	// EventsURL is the stream the page opens. It is empty when Error is
	// set.
	EventsURL string
	// CurlURL is the absolute URL of the page's stream, which the footer
	// shows as a curl command. When Error is set, it is the stream of the
	// default walk.
	CurlURL string
	// World marks the shared world (/world). Every viewer sees the same
	// object. The server fixes its parameters, so the page has no form.
	World bool
	// Play marks the play room (/play), a shared object that visitors
	// push. The page shows the push controls and who else is there.
	Play bool
	// PushPX is how far a push moves the object, on the play page.
	PushPX int
	// Error is the server's message for a refused parameter.
	Error string
	// Ranges are the bounds of each field, shown beside the form fields.
	Ranges Ranges
}

// Ranges are the bounds of the walk's parameters.
type Ranges struct {
	MinSize, MaxSize, MinStep, MaxStep, MinIntervalMS, MaxIntervalMS int
	MaxSeed                                                          uint64
}

// CurlCommand is the shell command that prints the stream at CurlURL. The
// URL is single-quoted, so that a shell takes it as one word with no
// expansion, whatever the request's host held.
func (vm PageModel) CurlCommand() string {
	return curlCommand(vm.CurlURL, true)
}

// Refused reports whether the server refused the parameter name, so that
// the form can mark that field. The server's messages start with the
// parameter's name and a colon.
func (vm PageModel) Refused(name string) bool {
	return strings.HasPrefix(vm.Error, name+":")
}

// Path is the page's path, which the navigation bar marks as current. It
// is the world's page, the play room's, or the walk's. A refused parameter
// shows the walk's page too.
func (vm PageModel) Path() string {
	switch {
	case vm.World:
		return "/world"
	case vm.Play:
		return "/play"
	}
	return "/"
}

// also is the page's second ES module. The play page loads play.js, which
// posts the play room's pushes. Other pages have no second module.
func (vm PageModel) also() string {
	if vm.Play {
		return "/static/play.js"
	}
	return ""
}

// CompareModel is what the comparison page shows. The page shows the
// shared world over four transports at once, each in a panel of its own.
type CompareModel struct {
	// Width, Height and IntervalMS are the shared world's box and pace.
	Width, Height, IntervalMS string
	// PollURL, EventsURL and SocketURL are the world's endpoints that the
	// panels use. PollURL serves the short polls, and the long polls with
	// wait. EventsURL is the SSE stream. SocketURL is the WebSocket's
	// path, which the page turns into a ws: or wss: URL.
	PollURL, EventsURL, SocketURL string
	// PollMS is the short polls' interval at first, in [MinPollMS, MaxPollMS].
	PollMS, MinPollMS, MaxPollMS int
	// WaitMS is how long a long poll asks the server to hold it.
	WaitMS int
	// PollCurlURL and EventsCurlURL are the absolute URLs of the poll and
	// the stream, which the footer shows as curl commands.
	PollCurlURL, EventsCurlURL string
	// EventBytes and PackedBytes are the server's mean size of a move's
	// SSE event, plain and in a gzip or deflate stream, in bytes. Empty
	// before the world has made a move.
	EventBytes, PackedBytes string
	// TransportURL is the WebTransport session's path. The page connects
	// to https://its own host name:TransportPort and this path. An empty
	// TransportPort means that the server has HTTP/3 off.
	TransportURL, TransportPort string
	// CertHashes are the base64 SHA-256 hashes of the server's own
	// certificates, comma-separated, for serverCertificateHashes. Empty
	// when the server has a certificate from an authority.
	CertHashes string
}

// WireModel is what the wire page shows. The page takes a stream typed by
// hand, and sends it to the browser's own EventSource and to the spec
// decoder.
type WireModel struct {
	// StreamURL answers with a stream's bytes, given as ?raw= in
	// base64url. ParseURL takes the same bytes in a POST, and answers
	// with what the decoder makes of them.
	StreamURL, ParseURL string
	// MaxBytes is the most bytes of stream the endpoints take.
	MaxBytes int
	// Text is the textarea's first text, a stream escaped as the page
	// reads it. A newline is LF, and \r, \0, \xHH and \\ stand for bytes.
	Text string
	// Presets are the streams the select offers, one per pitfall.
	Presets []WirePreset
	// StreamCurlURL and ParseCurlURL are the absolute URLs of the two
	// endpoints, which the footer shows as curl commands. StreamCurlURL
	// carries the stream of Text in its query.
	StreamCurlURL, ParseCurlURL string
}

// WirePreset is one stream the wire page offers.
type WirePreset struct {
	Value string // the option's value
	Label string // the option's text
	Text  string // the stream, escaped as the textarea holds it
	Rule  string // the rule it shows, one sentence quoting the standard
}

// ParseCurlCommand is the shell command that posts a file of stream bytes
// to the decoder.
func (vm WireModel) ParseCurlCommand() string {
	return "curl --data-binary @stream.txt '" + strings.ReplaceAll(vm.ParseCurlURL, "'", `'\''`) + "'"
}

// curlCommand is the shell command that prints what url answers. For a
// stream it adds -N, so that curl does not buffer. The URL is single-quoted,
// so that a shell takes it as one word with no expansion, whatever the
// request's host held.
func curlCommand(url string, stream bool) string {
	flags := "curl "
	if stream {
		flags += "-N "
	}
	return flags + "'" + strings.ReplaceAll(url, "'", `'\''`) + "'"
}

// navLinks are the pages of the navigation bar, in its order. Each has a
// label, and more words that a phone leaves out.
var navLinks = []struct{ Path, Label, More string }{
	{"/", "Your walk", ""},
	{"/world", "Shared world", ""},
	{"/compare", "Compare", "transports"},
	{"/play", "Play", ""},
	{"/wire", "Wire", ""},
}

// frame is what the frame of a page (see document) needs to know of it.
type frame struct {
	Title   string // the window's title
	Heading string // the h1
	Script  string // the page's ES module
	Also    string // a second ES module, or empty
	Path    string // the page's path, marked in the navigation bar
	Wide    bool   // the page uses the whole width of a wide screen
}
