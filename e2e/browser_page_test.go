package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/sse-demo/movingobject/internal/apptest"
	"github.com/sse-demo/movingobject/server/servertest"
	"golang.org/x/net/html"
)

// frameCounter runs in a page before its own scripts. It counts the
// animation frames the page asks for and runs (window.__frames), and lets
// the test hide and show the tab (window.__setHidden): document's
// visibilityState answers as told, and visibilitychange fires, while the
// browser itself keeps running frames, so that a loop that stops does so
// of its own accord. window.__nativeFrames(n) resolves after n frames of
// the browser's own.
const frameCounter = `(() => {
  const raf = window.requestAnimationFrame.bind(window);
  const caf = window.cancelAnimationFrame.bind(window);
  const pending = new Set();
  window.__frames = { runs: 0, get pending() { return pending.size; } };
  window.requestAnimationFrame = (cb) => {
    const id = raf((now) => {
      pending.delete(id);
      window.__frames.runs++;
      cb(now);
    });
    pending.add(id);
    return id;
  };
  window.cancelAnimationFrame = (id) => {
    pending.delete(id);
    caf(id);
  };
  window.__nativeFrames = (n) => new Promise((resolve) => {
    const next = () => (n-- > 0 ? raf(next) : resolve(true));
    next();
  });
  let hidden = false;
  Object.defineProperty(Document.prototype, 'visibilityState', { configurable: true, get: () => (hidden ? 'hidden' : 'visible') });
  Object.defineProperty(Document.prototype, 'hidden', { configurable: true, get: () => hidden });
  window.__setHidden = (h) => {
    hidden = h;
    document.dispatchEvent(new Event('visibilitychange'));
  };
})();`

// waitPolling is [tab.waitFor] polling on a timer instead of on animation
// frames, so that the polling adds none to those that frameCounter counts.
func (t *tab) waitPolling(what, cond string) {
	t.tb.Helper()
	poll := chromedp.Poll[bool](cond, chromedp.WithPollingInterval(10*time.Millisecond), chromedp.WithPollingTimeout(waitTimeout))
	if _, err := chromedp.Run(t.ctx, poll); err != nil {
		t.tb.Fatalf("waiting for %s (%s): %v\n%s", what, cond, err, t.describe())
	}
}

// nativeFrames waits for n animation frames of the browser's own (see
// frameCounter).
func nativeFrames(t *tab, n int) {
	t.tb.Helper()
	if _, err := chromedp.Run(t.ctx, chromedp.Evaluate[bool](fmt.Sprintf(`window.__nativeFrames(%d)`, n), chromedp.EvalAwaitPromise)); err != nil {
		t.tb.Fatalf("wait for the browser's frames: %v", err)
	}
}

// servedCurl returns the footer's curl command in the HTML that GET path
// serves, with the request's headers set as given: the text before any
// script of the page runs.
func servedCurl(tb testing.TB, s *apptest.Program, path string, header http.Header) (status int, curl string) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, s.URL+path, nil)
	if err != nil {
		tb.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := s.Client.Do(req)
	if err != nil {
		tb.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatalf("read GET %s: %v", path, err)
	}
	doc, err := html.Parse(strings.NewReader(string(body)))
	if err != nil {
		tb.Fatalf("parse GET %s: %v", path, err)
	}
	var find func(*html.Node) (string, bool)
	find = func(n *html.Node) (string, bool) {
		if n.Type == html.ElementNode {
			for _, a := range n.Attr {
				if a.Key == "data-testid" && a.Val == "curl" {
					var b strings.Builder
					for c := n.FirstChild; c != nil; c = c.NextSibling {
						if c.Type == html.TextNode {
							b.WriteString(c.Data)
						}
					}
					return b.String(), true
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if v, ok := find(c); ok {
				return v, true
			}
		}
		return "", false
	}
	curl, ok := find(doc)
	if !ok {
		tb.Fatalf("GET %s: no [data-testid=curl] in\n%s", path, body)
	}
	return res.StatusCode, curl
}

// TestPageCurl checks the footer's curl command as the server renders it:
// the page's own stream, with its query, on the host and scheme the
// request reached.
func TestPageCurl(t *testing.T) {
	t.Parallel()
	s := servertest.Start(t)
	for _, tt := range []struct {
		name, path string
		header     http.Header
		status     int
		want       string // after "curl -N '" + s.url, before "'"
	}{
		{"default walk", "/", nil, http.StatusOK, "/events"},
		{"walk with a query", "/?seed=42&interval=20", nil, http.StatusOK, "/events?interval=20&seed=42"},
		{"world", "/world", nil, http.StatusOK, "/world/events"},
		{"refused parameter", "/?width=5&seed=1", nil, http.StatusBadRequest, "/events"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, got := servedCurl(t, s, tt.path, tt.header)
			if status != tt.status {
				t.Errorf("GET %s = %d; want %d", tt.path, status, tt.status)
			}
			if want := "curl -N '" + s.URL + tt.want + "'"; got != want {
				t.Errorf("GET %s: curl line %q; want %q", tt.path, got, want)
			}
		})
	}
	t.Run("behind a TLS proxy", func(t *testing.T) {
		t.Parallel()
		_, got := servedCurl(t, s, "/world", http.Header{"X-Forwarded-Proto": {"https"}})
		if want := "curl -N '" + strings.Replace(s.URL, "http://", "https://", 1) + "/world/events'"; got != want {
			t.Errorf("GET /world with X-Forwarded-Proto: https: curl line %q; want %q", got, want)
		}
	})
}

func TestBrowserPage(t *testing.T) {
	t.Parallel()

	t.Run("curl line rendered by the server", func(t *testing.T) {
		t.Parallel()
		s := servertest.Start(t)
		for _, path := range []string{"/?interval=20&seed=3", "/world", "/?width=5"} {
			_, served := servedCurl(t, s, path, nil)
			tb := newTab(t)
			tb.navigate(s.URL + path)
			if path != "/?width=5" {
				tb.waitSeqAbove(1) // the page's script has run
			}
			if got := tb.text("curl"); got != served {
				t.Errorf("%s: curl line in the browser %q; want %q as served", path, got, served)
			}
			// The page opens the stream the line shows.
			if path != "/?width=5" {
				events := eval[string](tb, `new URL(document.getElementById('board').dataset.eventsUrl, location.href).href`)
				if want := "curl -N '" + events + "'"; served != want {
					t.Errorf("%s: curl line %q; want the page's stream, %q", path, served, want)
				}
			}
			tb.checkClean(path == "/?width=5") // a 400 is logged as a failed load
		}
	})

	t.Run("sharp on a high-DPI screen", func(t *testing.T) {
		t.Parallel()
		s := servertest.Start(t)
		tb := newTab(t)
		tb.do("emulate a 2x screen", chromedp.EmulateViewport(1280, 900, chromedp.EmulateScale(2)))
		tb.navigate(s.URL + "/?interval=20")
		tb.waitSeqAbove(3)
		// The backing store is the displayed size in device pixels, give
		// or take the rounding of a fractional CSS size.
		backingFits := func(dpr float64) string {
			return fmt.Sprintf(`(() => {
				const b = document.getElementById('board');
				const r = b.getBoundingClientRect();
				return devicePixelRatio === %v && r.width > 0 &&
					Math.abs(b.width - r.width * %[1]v) <= 1 && Math.abs(b.height - r.height * %[1]v) <= 1;
			})()`, dpr)
		}
		size := `(() => { const b = document.getElementById('board'); const r = b.getBoundingClientRect(); return [b.width, b.height, r.width, r.height, devicePixelRatio]; })()`
		tb.waitFor("a backing store of twice the CSS size", backingFits(2))
		if got := eval[[]float64](tb, size); got[2] < 400 {
			t.Errorf("canvas shows %vx%v CSS px in a 1280 px window; want it wide", got[2], got[3])
		}
		// The drawing is scaled to the backing store: the box fills it,
		// up to its last device pixel.
		tb.waitFor("the box painted to the backing store's corner",
			`(() => { const b = document.getElementById('board'); return b.getContext('2d').getImageData(b.width - 1, b.height - 1, 1, 1).data[3] === 255; })()`)
		before := tb.canvas()
		tb.waitSeqAbove(tb.seq() + 5)
		if tb.canvas() == before {
			t.Errorf("canvas unchanged over 5 moves at 2x; want the drawing to follow the object")
		}

		// A change of the ratio alone, then of the displayed size alone,
		// re-sizes the backing store.
		tb.do("emulate a 1x screen", chromedp.EmulateViewport(1280, 900, chromedp.EmulateScale(1)))
		tb.waitFor("a backing store of the CSS size", backingFits(1))
		wide := eval[[]float64](tb, size)
		tb.do("narrow the window", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(1)))
		tb.waitFor("a backing store following the narrower canvas", fmt.Sprintf(`%s && document.getElementById('board').width < %v`, backingFits(1), wide[0]))
		tb.checkClean(false)
	})

	t.Run("frames and stream stop while the tab is hidden", func(t *testing.T) {
		t.Parallel()
		s := servertest.Start(t)
		tb := newTab(t, frameCounter)
		const query = "interval=20"
		tb.navigate(s.URL + "/?" + query)
		tb.waitSeqAbove(5)
		if eval[int](tb, `window.__frames.runs`) == 0 {
			t.Fatalf("no animation frame ran while the object moved; want the page drawn on frames")
		}

		// Hidden: no frame runs, and the stream is closed.
		hiddenAt := eval[[]int](tb, `(() => { window.__setHidden(true); return [window.__frames.runs, window.__frames.pending]; })()`)
		if hiddenAt[1] != 0 {
			t.Errorf("%d animation frames pending once the tab is hidden; want none", hiddenAt[1])
		}
		tb.waitPolling("the stream paused", `document.getElementById('state').textContent === 'paused'`)
		s.WaitClosed(t, 1) // the server saw the stream end
		nativeFrames(tb, 5)
		if got := eval[[]int](tb, `[window.__frames.runs, window.__frames.pending]`); got[0] != hiddenAt[0] || got[1] != 0 {
			t.Errorf("while hidden: %d animation frames ran, %d pending; want none", got[0]-hiddenAt[0], got[1])
		}
		hiddenSeq := eval[int](tb, `window.__seen.filter((e) => e.type === 'move').at(-1).data.seq`)
		const notes = `[...document.querySelectorAll('#log li.note')].map((li) => li.textContent).join('\n')`
		if got, want := eval[string](tb, notes), fmt.Sprintf("tab hidden: close() at id %d.", hiddenSeq); !strings.Contains(got, want) {
			t.Errorf("log notes while hidden %q; want one saying %q", got, want)
		}

		// Shown again: the log says the stream resumes from the last id,
		// and the walk goes on with no gap.
		shownNotes, err := chromedp.Run(tb.ctx, chromedp.Evaluate[string](
			`window.__setHidden(false); window.__nativeFrames(1).then(() => `+notes+`)`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("show the tab: %v", err)
		}
		if want := fmt.Sprintf("tab shown: resuming from id %d.", hiddenSeq); !strings.Contains(shownNotes, want) {
			t.Errorf("log notes once shown %q; want one saying %q", shownNotes, want)
		}
		tb.waitPolling("moves after the tab was shown", fmt.Sprintf(`Number(document.getElementById('seq').textContent) > %d`, hiddenSeq+5))
		if _, resumes := checkWalk(t, s, query, tb.seen()); resumes != 1 {
			t.Errorf("page saw %d resumes; want 1, when the tab was shown", resumes)
		}
		var urls []string
		for _, ev := range tb.seen() {
			if ev.Type == "new" {
				urls = append(urls, ev.URL)
			}
		}
		if len(urls) != 2 || !strings.Contains(urls[1], "lastEventId=") {
			t.Errorf("EventSources %q; want a second one, with the last id as lastEventId, when the tab was shown", urls)
		}

		// Nothing moves: once the figures have settled, no frame is asked
		// for, and none runs over a few of the browser's own frames.
		tb.do("disconnect", chromedp.Click(chromedp.CSS("[data-testid=disconnect]")))
		tb.waitPolling("the loop stopped", `document.getElementById('state').textContent === 'closed' &&
			document.getElementById('rate').textContent === '0.0' && window.__frames.pending === 0`)
		runs := eval[int](tb, `window.__frames.runs`)
		nativeFrames(tb, 5)
		if got := eval[int](tb, `window.__frames.runs`); got != runs {
			t.Errorf("%d animation frames ran with nothing moving; want none", got-runs)
		}

		// A move starts the loop again.
		stopped := tb.seq()
		tb.do("connect again", chromedp.Click(chromedp.CSS("[data-testid=connect]")))
		tb.waitPolling("moves shown", fmt.Sprintf(`Number(document.getElementById('seq').textContent) > %d`, stopped+3))
		if got := eval[int](tb, `window.__frames.runs`); got <= runs {
			t.Errorf("no animation frame ran after Connect again; want the loop running")
		}
		tb.checkClean(false)
	})
}
