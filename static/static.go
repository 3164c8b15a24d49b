// Package static holds the embedded browser assets.
package static

import "embed"

// FS holds the page's script, style sheet and icon, served under /static/.
//
//go:embed *.js *.css *.svg
var FS embed.FS
