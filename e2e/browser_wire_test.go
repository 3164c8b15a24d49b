package e2e

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/sse-demo/movingobject/server/servertest"
	"github.com/sse-demo/movingobject/stream/routes/wire"
)

// wireEvents is the JavaScript that reads the events of a column of the
// wire page, from their data-* attributes.
func wireEvents(column string) string {
	return fmt.Sprintf(`[...document.querySelectorAll('[data-testid=%s] [data-testid=wire-event]')].map((e) => ({
		type: e.dataset.type, data: e.dataset.data, lastEventId: e.dataset.lastEventId, differs: e.dataset.differs === 'true',
	}))`, column)
}

// columnEvent is an event of a column of the wire page, with its mark.
type columnEvent struct {
	wire.Event
	Differs bool `json:"differs"`
}

// String shows the event's values quoted, control characters escaped.
func (e columnEvent) String() string {
	return fmt.Sprintf("{type %q data %q lastEventId %q differs %v}", e.Type, e.Data, e.LastEventID, e.Differs)
}

// setWireText puts text in the wire page's textarea, as typing it would.
func (t *tab) setWireText(text string) {
	t.tb.Helper()
	t.do("type the stream", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const i = document.querySelector('[data-testid=wire-input]');
		i.value = %q;
		i.dispatchEvent(new Event('input', { bubbles: true }));
	})()`, text)))
}

// choosePreset chooses a preset in the wire page's select, as a user would.
func (t *tab) choosePreset(name string) {
	t.tb.Helper()
	t.do("choose preset "+name, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const s = document.querySelector('[data-testid=wire-preset]');
		s.value = %q;
		s.dispatchEvent(new Event('change', { bubbles: true }));
	})()`, name)))
}

// sendWire presses Send, the run-th time in the tab, and waits for the
// verdict of that run.
func (t *tab) sendWire(run int) (agree string, browser, decoder []columnEvent) {
	t.tb.Helper()
	t.do("send", chromedp.Click(chromedp.CSS("[data-testid=wire-send]")))
	t.waitFor(fmt.Sprintf("the verdict of run %d", run), fmt.Sprintf(
		`(() => { const v = document.querySelector('[data-testid=wire-verdict]'); return v.dataset.run === '%d' && v.hasAttribute('data-agree'); })()`, run))
	agree = eval[string](t, `document.querySelector('[data-testid=wire-verdict]').dataset.agree`)
	return agree, eval[[]columnEvent](t, wireEvents("wire-browser")), eval[[]columnEvent](t, wireEvents("wire-decoder"))
}

func TestBrowserWire(t *testing.T) {
	t.Parallel()

	// Every preset, in one tab: the browser's EventSource and the decoder
	// read the same bytes alike.
	t.Run("presets", func(t *testing.T) {
		t.Parallel()
		s := servertest.Start(t)
		tb := newTab(t)
		res := tb.navigate(s.URL + "/wire")
		if res.status != http.StatusOK {
			t.Fatalf("GET /wire = %d; want 200", res.status)
		}
		if csp := res.header("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("Content-Security-Policy = %q; want default-src 'self'", csp)
		}
		options := eval[[]string](tb, `[...document.querySelectorAll('[data-testid=wire-preset] option')].map((o) => o.value).filter((v) => v !== '')`)
		var names []string
		for _, p := range wire.Presets {
			names = append(names, p.Name)
		}
		if !slices.Equal(options, names) || len(options) < 8 {
			t.Fatalf("preset options %q; want the %d presets %q", options, len(names), names)
		}
		for i, p := range wire.Presets {
			tb.choosePreset(p.Name)
			if got := eval[string](tb, `document.querySelector('[data-testid=wire-input]').value`); got != wire.Escape(p.Raw) {
				t.Errorf("%s: textarea = %q; want %q", p.Name, got, wire.Escape(p.Raw))
			}
			// The page reads the textarea's escapes back into the preset's bytes.
			if got, want := eval[string](tb, `document.querySelector('[data-testid=wire-bytes]').dataset.raw`), base64.RawURLEncoding.EncodeToString([]byte(p.Raw)); got != want {
				t.Errorf("%s: bytes (base64url) = %s; want %s, the preset's %q", p.Name, got, want, p.Raw)
			}
			if got := tb.text("wire-rule"); got != p.Rule {
				t.Errorf("%s: rule = %q; want %q", p.Name, got, p.Rule)
			}
			agree, browser, decoder := tb.sendWire(i + 1)
			if agree != "true" || !slices.Equal(browser, decoder) {
				t.Errorf("%s: data-agree = %q, browser %v, decoder %v; want them to agree", p.Name, agree, browser, decoder)
			}
			if len(decoder) == 0 {
				t.Errorf("%s: decoder dispatched no event; want every preset to dispatch some", p.Name)
			}
			if v := tb.text("wire-verdict"); !strings.HasPrefix(v, "They agree: ") {
				t.Errorf("%s: verdict %q; want it to say they agree", p.Name, v)
			}
		}
		tb.checkClean(false)
	})

	// The verdict's own check: the decoder's answer altered on its way, and
	// held back until the browser's column is in.
	t.Run("a disagreement is marked", func(t *testing.T) {
		t.Parallel()
		s := servertest.Start(t)
		tb := newTab(t, `(() => {
			const fetch = window.fetch.bind(window);
			let release;
			const held = new Promise((r) => { release = r; });
			window.__release = () => release();
			window.fetch = async (url, init) => {
				const res = await fetch(url, init);
				if (!String(url).includes('/wire/parse')) return res;
				const parsed = await res.json();
				await held;
				parsed.events[1].data += '!';
				return new Response(JSON.stringify(parsed), { status: res.status, headers: res.headers });
			};
		})();`)
		tb.navigate(s.URL + "/wire")
		tb.setWireText("data: one\n\ndata: two\n\ndata: three\n\n")
		tb.do("send", chromedp.Click(chromedp.CSS("[data-testid=wire-send]")))
		tb.waitFor("the browser's three events", `document.querySelectorAll('[data-testid=wire-browser] [data-testid=wire-event]').length === 3`)
		if eval[bool](tb, `document.querySelector('[data-testid=wire-verdict]').hasAttribute('data-agree')`) {
			t.Errorf("verdict has data-agree while the decoder's answer is held; want none during a run")
		}
		tb.do("release the decoder's answer", chromedp.Evaluate[chromedp.Void](`window.__release()`))
		tb.waitFor("the verdict", `document.querySelector('[data-testid=wire-verdict]').hasAttribute('data-agree')`)
		if got := eval[string](tb, `document.querySelector('[data-testid=wire-verdict]').dataset.agree`); got != "false" {
			t.Errorf("data-agree = %q; want false", got)
		}
		if v := tb.text("wire-verdict"); !strings.Contains(v, "differ at event 2") {
			t.Errorf("verdict %q; want it to name event 2", v)
		}
		for _, column := range []string{"wire-browser", "wire-decoder"} {
			var marked []bool
			for _, e := range eval[[]columnEvent](tb, wireEvents(column)) {
				marked = append(marked, e.Differs)
			}
			if want := []bool{false, true, false}; !slices.Equal(marked, want) {
				t.Errorf("%s: events marked %v; want %v", column, marked, want)
			}
		}
		tb.checkClean(false)
	})

	// Escapes typed by hand, an event name that looks like markup, and
	// values that would be markup: all of it text.
	t.Run("escapes and markup", func(t *testing.T) {
		t.Parallel()
		s := servertest.Start(t)
		tb := newTab(t)
		tb.navigate(s.URL + "/wire")
		tb.setWireText(`event: <b>bold</b>` + "\n" + `data: <img src=x>\0\x41\\\r` + "\n" + `: \q stays` + "\n\n")
		want := "event: <b>bold</b>\ndata: <img src=x>\x00A\\\r\n: \\q stays\n\n"
		if got := eval[string](tb, `document.querySelector('[data-testid=wire-bytes]').dataset.raw`); got != base64.RawURLEncoding.EncodeToString([]byte(want)) {
			t.Errorf("bytes (base64url) = %s; want those of %q", got, want)
		}
		if got := tb.text("wire-count"); got != fmt.Sprintf("%d bytes", len(want)) {
			t.Errorf("count = %q; want %d bytes", got, len(want))
		}
		agree, browser, decoder := tb.sendWire(1)
		wantEvents := []columnEvent{{Event: wire.Event{Type: "<b>bold</b>", Data: "<img src=x>\x00A\\"}}}
		if agree != "true" || !slices.Equal(browser, wantEvents) || !slices.Equal(decoder, wantEvents) {
			t.Errorf("data-agree = %q, browser %v, decoder %v; want both %v", agree, browser, decoder, wantEvents)
		}
		if n := eval[int](tb, `document.querySelectorAll('main b, main img').length`); n != 0 {
			t.Errorf("%d b or img elements in the page; want the values shown as text", n)
		}
		if got := eval[string](tb, `document.querySelector('[data-testid=wire-decoder] dd:nth-of-type(1)').parentElement.parentElement.textContent`); !strings.Contains(got, `"<b>bold</b>"`) {
			t.Errorf("decoder's event shows %q; want the type as text", got)
		}
		tb.checkClean(false)
	})

	t.Run("too large", func(t *testing.T) {
		t.Parallel()
		s := servertest.Start(t)
		tb := newTab(t)
		tb.navigate(s.URL + "/wire")
		tb.setWireText("data: " + strings.Repeat("x", wire.MaxBytes) + "\n\n")
		if !eval[bool](tb, `document.querySelector('[data-testid=wire-send]').disabled`) {
			t.Errorf("Send enabled for more than %d bytes; want it disabled", wire.MaxBytes)
		}
		if got, want := tb.text("wire-count"), fmt.Sprintf("%d bytes: more than the %d the server takes", wire.MaxBytes+8, wire.MaxBytes); got != want {
			t.Errorf("count = %q; want %q", got, want)
		}
		tb.setWireText("data: " + strings.Repeat("x", wire.MaxBytes-8) + "\n\n")
		if eval[bool](tb, `document.querySelector('[data-testid=wire-send]').disabled`) {
			t.Errorf("Send disabled for %d bytes; want it enabled", wire.MaxBytes)
		}
		if agree, browser, _ := tb.sendWire(1); agree != "true" || len(browser) != 1 {
			t.Errorf("at the limit: data-agree = %q, %d events; want agreement on one", agree, len(browser))
		}
		tb.checkClean(false)
	})

	t.Run("looks", func(t *testing.T) {
		t.Parallel()
		dir := screenshotDir(t)
		s := servertest.Start(t)
		for _, tt := range []struct {
			file          string
			width, height int64
			dark          bool
			preset        string
			columns       int
		}{
			{"wire.png", 1280, 1000, false, "utf8", 2},
			{"wire-phone-dark.png", 390, 1400, true, "id-reset", 1},
		} {
			t.Run(tt.file, func(t *testing.T) {
				t.Parallel()
				tb := newTab(t)
				tb.emulate(tt.width, tt.height, tt.dark)
				tb.navigate(s.URL + "/wire")
				tb.choosePreset(tt.preset)
				if agree, _, _ := tb.sendWire(1); agree != "true" {
					t.Errorf("data-agree = %q; want true", agree)
				}
				lefts := eval[[]float64](tb, `[...document.querySelectorAll('.wire-columns > section')].map((c) => Math.round(c.getBoundingClientRect().left))`)
				if got := len(slices.Compact(slices.Sorted(slices.Values(lefts)))); got != tt.columns {
					t.Errorf("the two columns in %d columns at %d px (left edges %v); want %d", got, tt.width, lefts, tt.columns)
				}
				tb.checkFits(tt.width)
				tb.screenshot(filepath.Join(dir, tt.file))
				tb.checkClean(false)
			})
		}
	})
}
