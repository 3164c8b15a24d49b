// Package views renders the HTML pages with templ.
package views

import "strings"

//go:generate go tool templ generate

// PageModel is what the moving-object page shows.
type PageModel struct {
	// Width, Height, Step and IntervalMS are the walk's parameters as the
	// form shows them: as the request gave them when it was refused.
	Width, Height, Step, IntervalMS string
	// Seed is the seed the user chose, or empty for a random one.
	Seed string
	// EventsURL is the stream the page opens; empty when Error is set.
	EventsURL string
	// CurlURL is the absolute URL of the page's stream (of the default
	// walk when Error is set), which the footer shows as a curl command.
	CurlURL string
	// World marks the shared world (/world): every viewer sees the same
	// object, its parameters are fixed by the server, so there is no form.
	World bool
	// Play marks the play room (/play): the shared object that visitors
	// push, with the push controls and who else is there.
	Play bool
	// PushPX is how far a push moves the object, on the play page.
	PushPX int
	// Error is the server's message for a refused parameter.
	Error string
	// Limits are the allowed ranges, shown beside the form fields.
	Limits Limits
}

// Limits are the allowed ranges of the walk's parameters.
type Limits struct {
	MinSize, MaxSize, MinStep, MaxStep, MinIntervalMS, MaxIntervalMS int
	MaxSeed                                                          uint64
}

// CurlCommand is the shell command that prints the stream at CurlURL:
// the URL is single-quoted, so that a shell takes it as one word with no
// expansion, whatever the request's host held.
func (vm PageModel) CurlCommand() string {
	return "curl -N '" + strings.ReplaceAll(vm.CurlURL, "'", `'\''`) + "'"
}

// Refused reports whether the server refused the parameter name, so that
// the form can mark that field: the server's messages start with the
// parameter's name and a colon.
func (vm PageModel) Refused(name string) bool {
	return strings.HasPrefix(vm.Error, name+":")
}
