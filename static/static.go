// Package static holds the embedded browser assets.
package static

import "embed"

// FS holds the page's script and style sheet, served under /static/.
//
//go:embed *.js *.css
var FS embed.FS
