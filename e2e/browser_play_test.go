package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/sse-demo/movingobject/internal/natstest"
	"github.com/sse-demo/movingobject/server/servertest"
)

// TestBrowserPlay opens the play page as two visitors (two browser
// contexts, with connections of their own), each on an instance of its
// own, the instances sharing a three-node NATS cluster: a push in one
// browser shows in the other, and its round trip in its own. With the
// cluster gone, the page says why the moves stopped, and why a push is
// refused.
func TestBrowserPlay(t *testing.T) {
	t.Parallel()
	cluster := natstest.StartCluster(t, 3)
	args := []string{"-nats", cluster.URLs, "-world-interval", "50ms"}
	s1, s2 := servertest.Start(t, args...), servertest.Start(t, args...)
	a, b := newTab(t), newVisitor(t)
	a.navigate(s1.URL + "/play")
	b.navigate(s2.URL + "/play")
	for _, tb := range []*tab{a, b} {
		tb.waitFor("the stream open", `document.getElementById('state').dataset.state === 'open'`)
		tb.waitFor("two viewers", `document.getElementById('viewers').textContent === '2'`)
	}

	a.do("push up", chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid=push-up]').click()`))
	a.waitFor("the push's round trip", `document.getElementById('roundtrip').dataset.id === document.getElementById('mine').dataset.id`)
	id := eval[string](a, `document.getElementById('mine').dataset.id`)
	b.waitFor("the other browser's push", fmt.Sprintf(`document.getElementById('lastpush').dataset.id === %q`, id))
	if got := b.text("lastpush"); !strings.HasPrefix(got, "up at ") {
		t.Errorf("last push seen in the other browser = %q; want up at a seq", got)
	}
	if rt := a.text("roundtrip"); !strings.HasSuffix(rt, " ms") {
		t.Errorf("round trip = %q; want milliseconds", rt)
	}

	// A key pushes too: D is right.
	b.do("press D", chromedp.Evaluate[chromedp.Void](`document.dispatchEvent(new KeyboardEvent('keydown', {key: 'd', bubbles: true}))`))
	b.waitFor("the key's push in its own browser", `document.getElementById('roundtrip').dataset.id === document.getElementById('mine').dataset.id`)
	id = eval[string](b, `document.getElementById('mine').dataset.id`)
	a.waitFor("the key's push in the other browser", fmt.Sprintf(`document.getElementById('lastpush').dataset.id === %q`, id))
	if got := a.text("lastpush"); !strings.HasPrefix(got, "right at ") {
		t.Errorf("last push seen = %q; want right at a seq", got)
	}
	a.checkClean(false)
	b.checkClean(false)

	// The whole cluster gone: the stream stays open with no moves, and the
	// page says why; a push is refused with the server's reason.
	for _, ns := range cluster.Servers {
		ns.Shutdown()
	}
	a.waitFor("the stall explained", `document.getElementById('play-stalled').textContent.includes('electing a new leader')`)
	if got := a.text("state"); got != "open" {
		t.Errorf("stream state while the cluster is gone = %q; want open", got)
	}
	a.do("push left", chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid=push-left]').click()`))
	a.waitFor("the push refused", `document.getElementById('push-error').textContent !== ''`)
	if got := a.text("push-error"); !strings.Contains(got, "(503)") || !strings.Contains(got, "retry in a second") {
		t.Errorf("push error while the cluster is gone = %q; want a 503 saying to retry in a second", got)
	}
}

// TestBrowserPlayLooks pictures the play page a moment after a push, on
// the default world and its embedded NATS server (as `go run .` serves
// it), at desktop and phone width: docs/play*.png with
// -update-screenshots. The page fits its window, and the push pad shows.
func TestBrowserPlayLooks(t *testing.T) {
	t.Parallel()
	dir := screenshotDir(t)
	s := servertest.Start(t)
	for _, tt := range []struct {
		file          string
		width, height int64
	}{
		{"play.png", 1280, 1240},
		{"play-phone.png", 390, 844},
	} {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			tb := newTab(t)
			tb.emulate(tt.width, tt.height, false)
			tb.navigate(s.URL + "/play")
			tb.waitFor("the stream open", `document.getElementById('state').dataset.state === 'open'`)
			tb.do("push up", chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid=push-up]').click()`))
			tb.waitFor("the push's round trip", `document.getElementById('roundtrip').dataset.id === document.getElementById('mine').dataset.id`)
			if visible := eval[bool](tb, `(() => { const r = document.querySelector('[data-testid=push-left]').getBoundingClientRect(); return r.width > 0 && r.height > 0; })()`); !visible {
				t.Errorf("push pad not shown at %d px", tt.width)
			}
			tb.checkFits(tt.width)
			tb.screenshot(filepath.Join(dir, tt.file))
			tb.checkClean(false)
		})
	}
}
