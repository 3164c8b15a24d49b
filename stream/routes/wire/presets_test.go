package wire_test

import (
	"strings"
	"testing"

	"github.com/sse-demo/movingobject/stream/routes/wire"
)

func TestEscape(t *testing.T) {
	for _, tt := range []struct {
		name, raw, want string
	}{
		{"plain text and LF", "data: hi\n\n", "data: hi\n\n"},
		{"CR", "a\rb\r\n", `a\rb\r` + "\n"},
		{"NUL", "id: 1\x002", `id: 1\02`},
		{"backslash", `a\b\\`, `a\\b\\\\`},
		{"an escape's look-alike", `\x41\r`, `\\x41\\r`},
		{"tab and other control bytes", "\t\x01\x1B\x7F", `\x09\x01\x1B\x7F`},
		{"BOM", "\xEF\xBB\xBFdata", `\xEF\xBB\xBFdata`},
		{"Latin-1 byte", "caf\xE9", `caf\xE9`},
		{"cut sequence", "\xE2\x82 x", `\xE2\x82 x`},
		{"lone continuation byte", "\x80", `\x80`},
		{"UTF-8 kept", "café €😀", "café €😀"},
		{"replacement character kept", "\uFFFD", "\uFFFD"},
		{"no-break space", "a\u00A0b", `a\xC2\xA0b`},
		{"zero-width space", "a\u200Bb", `a\xE2\x80\x8Bb`},
		{"line separator", "a\u2028b", `a\xE2\x80\xA8b`},
		{"empty", "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := wire.Escape(tt.raw); got != tt.want {
				t.Errorf("Escape(%q) = %q; want %q", tt.raw, got, tt.want)
			}
		})
	}
}

// TestPresets checks the page's presets: at least the eight pitfalls of
// the issue, each with a name fit for an option's value, a label, bytes,
// and a rule that quotes the standard.
func TestPresets(t *testing.T) {
	if len(wire.Presets) < 8 {
		t.Fatalf("%d presets; want at least 8", len(wire.Presets))
	}
	seen := map[string]bool{}
	for _, p := range wire.Presets {
		if p.Name == "" || strings.Trim(p.Name, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
			t.Errorf("preset name %q; want a-z, 0-9 and -", p.Name)
		}
		if seen[p.Name] {
			t.Errorf("preset name %q twice; want each once", p.Name)
		}
		seen[p.Name] = true
		if p.Label == "" || p.Raw == "" {
			t.Errorf("preset %q: label %q, %d bytes; want both", p.Name, p.Label, len(p.Raw))
		}
		if strings.Count(p.Rule, `"`) < 2 || !strings.HasSuffix(p.Rule, ".") && !strings.HasSuffix(p.Rule, `."`) {
			t.Errorf("preset %q rule %q; want a sentence with a quote", p.Name, p.Rule)
		}
	}
	for _, name := range []string{"blank-line", "space", "cr", "id-reset", "data-empty", "bom", "utf8", "case"} {
		if !seen[name] {
			t.Errorf("no preset %q; want one per pitfall", name)
		}
	}
}
