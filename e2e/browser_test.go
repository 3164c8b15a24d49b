package e2e

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/sse-demo/movingobject/internal/apptest"
	"github.com/sse-demo/movingobject/server/servertest"
)

var updateScreenshots = flag.Bool("update-screenshots", false, "write the browser tests' screenshots to docs/ instead of a temporary directory")

// Bounds that turn a hang into a failure: browserTimeout for each
// browser subtest, waitTimeout for one condition in it (shorter, so that
// the failure can still describe the page).
const (
	browserTimeout = 60 * time.Second
	waitTimeout    = 20 * time.Second
)

// chromium returns the path of a headless Chromium: Debian's
// chromium-headless-shell, the headless build made for automation (half
// the CPU of the full browser run headless), or else Chromium or Chrome.
// Without one the test skips on a developer's machine and fails in CI.
func chromium(tb testing.TB) string {
	tb.Helper()
	return findBrowser(tb, "Chromium", "chromium-headless-shell", "chromium", "chromium-browser", "google-chrome")
}

// findBrowser returns the path of the first of names on PATH, the
// commands of browser. Without one the test skips on a developer's
// machine, and fails in CI, saying to install names[0] (a Debian
// package).
func findBrowser(tb testing.TB, browser string, names ...string) string {
	tb.Helper()
	for _, name := range names {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	msg := fmt.Sprintf("no %s found (%s on PATH): install one, e.g. apt-get install %s", browser, strings.Join(names, ", "), names[0])
	if os.Getenv("CI") != "" {
		tb.Fatal(msg)
	}
	tb.Skip(msg + "; skipping its tests")
	return ""
}

// browser is the package's headless Chromium, shared by every browser
// test: started by the first that needs it, ended by TestMain.
var browser struct {
	once   sync.Once
	ctx    context.Context // the browser's first tab, parent of the others
	err    error
	cancel func() // ends it, waits for it to exit, removes its profile
}

// startBrowser returns the package's Chromium, starting it the first time.
// Without Chromium the test skips on a developer's machine and fails in CI.
func startBrowser(tb testing.TB) context.Context {
	tb.Helper()
	path := chromium(tb)
	browser.once.Do(func() {
		browser.ctx, browser.cancel, browser.err = launchChromium(path)
	})
	if browser.err != nil {
		tb.Fatalf("start Chromium: %v", browser.err)
	}
	return browser.ctx
}

// launchChromium starts the Chromium at path, headless, in a profile of
// its own, with flags besides the usual ones. It returns its first tab
// and what ends it.
func launchChromium(path string, flags ...chromedp.ExecAllocatorOption) (context.Context, func(), error) {
	dir, err := os.MkdirTemp("", "e2e-chromium-")
	if err != nil {
		return nil, nil, err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(dir),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(opts, flags...)...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	stop := func() {
		cancel()
		cancelAlloc() // waits for the browser to exit
		os.RemoveAll(dir)
	}
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		stop()
		return nil, nil, err
	}
	return ctx, stop, nil
}

// stopBrowser ends the package's Chromium, if a test started it.
func stopBrowser() {
	if browser.cancel != nil {
		browser.cancel()
	}
}

// recorder runs in every page before its own scripts. It records each
// init and move event that any EventSource of the page receives, in
// order, and every Content-Security-Policy violation, so that tests can
// check the stream the page saw without depending on what it shows.
const recorder = `(() => {
  window.__csp = [];
  document.addEventListener('securitypolicyviolation', (e) => {
    window.__csp.push(e.violatedDirective + ' ' + e.blockedURI);
  });
  window.__seen = [];
  const Native = window.EventSource;
  if (typeof Native !== 'function') return;
  window.EventSource = class extends Native {
    constructor(url, init) {
      super(url, init);
      window.__seen.push({type: 'new', url: String(url)});
      for (const type of ['init', 'move']) {
        this.addEventListener(type, (e) => window.__seen.push({type, id: e.lastEventId, data: JSON.parse(e.data)}));
      }
    }
  };
})();`

// tab is one browser tab with its console recorded.
type tab struct {
	tb  testing.TB
	ctx context.Context

	mu      sync.Mutex // guards console
	console []chromedp.ConsoleMessage
}

// newTab opens a tab of the package's browser with the recorder
// installed, and closes it at the end of the test. Every action in it is
// bounded by browserTimeout. Scripts run before the page's own, after the
// recorder.
func newTab(tb testing.TB, scripts ...string) *tab {
	tb.Helper()
	ctx, cancel := chromedp.NewContext(startBrowser(tb))
	return openTab(tb, ctx, cancel, scripts...)
}

// newVisitor opens a tab as newTab does, in a browser context of its own:
// another visitor, with cookies, cache and connections of its own.
func newVisitor(tb testing.TB, scripts ...string) *tab {
	tb.Helper()
	ctx, cancel := chromedp.NewContext(startBrowser(tb), chromedp.WithNewBrowserContext())
	return openTab(tb, ctx, cancel, scripts...)
}

// openTab opens the tab of tabCtx (see newTab).
func openTab(tb testing.TB, tabCtx context.Context, cancelTab context.CancelFunc, scripts ...string) *tab {
	tb.Helper()
	if err := chromedp.Do(tabCtx); err != nil { // opens the tab
		cancelTab()
		tb.Fatalf("open tab: %v", err)
	}
	ctx, cancel := context.WithTimeout(tabCtx, browserTimeout)
	t := &tab{tb: tb, ctx: ctx}
	messages := chromedp.Console(tabCtx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return // the tab is gone
			}
			t.mu.Lock()
			t.console = append(t.console, m)
			t.mu.Unlock()
		}
	}()
	tb.Cleanup(func() {
		cancel()
		cancelTab()
		<-done
	})
	for _, src := range append([]string{recorder}, scripts...) {
		if _, err := chromedp.Call(ctx, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: src}); err != nil {
			tb.Fatalf("add script to the tab: %v", err)
		}
	}
	return t
}

// do runs actions, failing the test with what the page shows on error.
func (t *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	t.tb.Helper()
	if err := chromedp.Do(t.ctx, actions...); err != nil {
		t.tb.Fatalf("%s: %v\n%s", what, err, t.describe())
	}
}

// navigate loads url and returns the response to the document.
func (t *tab) navigate(url string) *pageResponse {
	t.tb.Helper()
	res, err := chromedp.Run(t.ctx, chromedp.NavigateResponse(url))
	if err != nil {
		t.tb.Fatalf("navigate to %s: %v", url, err)
	}
	return &pageResponse{status: res.Status, headers: res.Headers}
}

// pageResponse is the response to a document as the browser saw it.
type pageResponse struct {
	status  int64
	headers map[string]any
}

// header returns the value of a response header, whatever its case.
func (r *pageResponse) header(name string) string {
	for k, v := range r.headers {
		if strings.EqualFold(k, name) {
			s, _ := v.(string)
			return s
		}
	}
	return ""
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](t *tab, expr string) T {
	t.tb.Helper()
	v, err := chromedp.Run(t.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.tb.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitFor polls a JavaScript condition until it holds. It fails the test,
// describing the page, when it does not within the tab's time limit.
func (t *tab) waitFor(what, cond string) {
	t.tb.Helper()
	if _, err := chromedp.Run(t.ctx, chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(waitTimeout))); err != nil {
		t.tb.Fatalf("waiting for %s (%s): %v\n%s", what, cond, err, t.describe())
	}
}

// describe tells what the page shows, for failure messages.
func (t *tab) describe() string {
	v, err := chromedp.Run(t.ctx, chromedp.Evaluate[string](`JSON.stringify({
		url: location.href,
		state: document.getElementById('state')?.textContent,
		seq: document.getElementById('seq')?.textContent,
		log: [...document.querySelectorAll('#log li')].slice(0, 4).map((li) => li.textContent),
	})`))
	if err != nil {
		v = "(page unreadable: " + err.Error() + ")"
	}
	return "page: " + v + "\nconsole: " + strings.Join(t.messages(), "\n  ")
}

// text returns the text of the element with the data-testid id.
func (t *tab) text(testid string) string {
	t.tb.Helper()
	return eval[string](t, fmt.Sprintf(`document.querySelector('[data-testid=%q]').textContent.trim()`, testid))
}

// seq returns the move number the status panel shows, or -1 for none.
func (t *tab) seq() int {
	t.tb.Helper()
	n, err := strconv.Atoi(t.text("seq"))
	if err != nil {
		return -1
	}
	return n
}

// waitSeqAbove waits until the status panel shows a move after n.
func (t *tab) waitSeqAbove(n int) {
	t.tb.Helper()
	t.waitFor(fmt.Sprintf("move %d", n+1), fmt.Sprintf(`Number(document.getElementById('seq').textContent) > %d`, n))
}

// messages returns the console messages so far as text.
func (t *tab) messages() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for _, m := range t.console {
		out = append(out, fmt.Sprintf("%s [%s] %s (%s)", m.Type, m.Source, m.Text, m.URL))
	}
	return out
}

// checkClean fails the test for an uncaught exception, a console error or
// warning, or a Content-Security-Policy violation. allowNetwork lets
// network errors through: a refused connection while the server restarts,
// or the 400 of a refused parameter.
func (t *tab) checkClean(allowNetwork bool) {
	t.tb.Helper()
	if csp := eval[[]string](t, `window.__csp || []`); len(csp) > 0 {
		t.tb.Errorf("Content-Security-Policy violations: %q; want none", csp)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, m := range t.console {
		if m.Type != chromedp.ConsoleError && m.Type != chromedp.ConsoleWarning && !m.IsException() {
			continue
		}
		if allowNetwork && m.Source == "network" {
			continue
		}
		t.tb.Errorf("console %s [%s]: %s (%s); want no errors, warnings or exceptions", m.Type, m.Source, m.Text, m.URL)
	}
}

// seenEvent is an event the recorder saw: a new EventSource (with its URL),
// or an init or move event with its id and data.
type seenEvent struct {
	Type string
	URL  string
	ID   string
	Data struct {
		apptest.Init
		TS int64
	}
}

// seen returns the events the page's EventSources received so far.
func (t *tab) seen() []seenEvent {
	t.tb.Helper()
	return eval[[]seenEvent](t, `window.__seen`)
}

// checkWalk checks that the page saw one walk with no gap: the first init
// fresh, then moves 1, 2, 3, … each at the position the server's own walk
// for that seed has, and every later init a resume at the last move. It
// returns the walk's seed and the number of resumes.
func checkWalk(tb testing.TB, s *apptest.Program, query string, seen []seenEvent) (seed uint64, resumes int) {
	tb.Helper()
	var inits, moves []seenEvent
	for _, ev := range seen {
		switch ev.Type {
		case "init":
			inits = append(inits, ev)
		case "move":
			moves = append(moves, ev)
		}
	}
	if len(inits) == 0 || len(moves) == 0 {
		tb.Fatalf("page saw %d init and %d move events; want some of each", len(inits), len(moves))
	}
	first := inits[0].Data.Init
	if first.Resumed || first.Seq != 0 {
		tb.Errorf("first init = %+v; want a fresh walk at seq 0", first)
	}
	seed = first.Seed
	// The server walks the same seed again, for reference.
	es := s.Open(tb, "/events?"+query+"&seed="+strconv.FormatUint(seed, 10))
	ref := es.Init()
	want := es.Moves(len(moves))
	es.Res.Body.Close()

	last := seenEvent{}
	last.Data.X, last.Data.Y = ref.X, ref.Y
	fresh := true
	for _, ev := range seen {
		d := ev.Data
		switch ev.Type {
		case "init":
			if fresh {
				fresh = false
				continue
			}
			resumes++
			if !d.Resumed || d.Seed != seed || d.Seq != last.Data.Seq || d.X != last.Data.X || d.Y != last.Data.Y {
				tb.Errorf("init after move %d = %+v; want resumed at seq %d, (%d, %d) of seed %d", last.Data.Seq, d.Init, last.Data.Seq, last.Data.X, last.Data.Y, seed)
			}
		case "move":
			if d.Seq != last.Data.Seq+1 {
				tb.Fatalf("move %d after move %d; want no gap and no repeat", d.Seq, last.Data.Seq)
			}
			w := want[d.Seq-1]
			if d.X != w.X || d.Y != w.Y || ev.ID != w.ID {
				tb.Fatalf("move %d at (%d, %d) id %q; want (%d, %d) id %q as the server walks seed %d", d.Seq, d.X, d.Y, ev.ID, w.X, w.Y, w.ID, seed)
			}
			last = ev
		}
	}
	return seed, resumes
}

// canvas returns the canvas's pixels as a data URL.
func (t *tab) canvas() string {
	t.tb.Helper()
	return eval[string](t, `document.getElementById('board').toDataURL()`)
}

func TestBrowser(t *testing.T) {
	t.Parallel()

	t.Run("live page", func(t *testing.T) {
		t.Parallel()
		s := servertest.Start(t)
		tb := newTab(t)
		const query = "interval=20&width=400&height=300"
		res := tb.navigate(s.URL + "/?" + query)
		if res.status != http.StatusOK {
			t.Fatalf("GET / = %d; want 200", res.status)
		}
		if csp := res.header("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("Content-Security-Policy = %q; want default-src 'self'", csp)
		}
		tb.waitSeqAbove(5)
		if got := tb.text("state"); got != "open" {
			t.Errorf("state = %q; want open", got)
		}
		before := tb.canvas()
		n := tb.seq()
		tb.waitSeqAbove(n + 10)
		if after := tb.canvas(); after == before {
			t.Errorf("canvas unchanged from move %d to move %d; want the drawing to follow the object", n, tb.seq())
		}
		tb.waitFor("a moves-per-second figure", `Number(document.getElementById('rate').textContent) > 0`)
		tb.waitFor("a delivery delay", `/^-?\d+ ms$/.test(document.getElementById('delay').textContent)`)
		if pos := tb.text("pos"); !regexpPos.MatchString(pos) {
			t.Errorf("position = %q; want x, y", pos)
		}
		log := eval[[]string](tb, `[...document.querySelectorAll('#log li.event pre')].map((p) => p.textContent)`)
		if len(log) == 0 || len(log) > 20 {
			t.Errorf("log has %d events; want 1 to 20", len(log))
		}
		for _, entry := range log {
			if !wireEvent.MatchString(entry) {
				t.Errorf("log entry %q; want a retry line, or id, event and data lines, as on the wire", entry)
			}
		}
		if !strings.HasPrefix(log[0], "id: ") || !strings.Contains(log[0], "\nevent: move\n") {
			t.Errorf("newest log entry = %q; want a move event", log[0])
		}
		checkWalk(t, s, query, tb.seen())
		tb.checkClean(false)
	})

	t.Run("disconnect and connect again", func(t *testing.T) {
		t.Parallel()
		s := servertest.Start(t)
		tb := newTab(t)
		const query = "interval=20"
		tb.navigate(s.URL + "/?" + query)
		tb.waitSeqAbove(3)
		tb.do("disconnect", chromedp.Click(chromedp.CSS("[data-testid=disconnect]")))
		tb.waitFor("closed", `document.getElementById('state').textContent === 'closed'`)
		stopped := tb.seq()
		if !eval[bool](tb, `document.getElementById('disconnect').disabled && !document.getElementById('connect').disabled`) {
			t.Errorf("after Disconnect: want Disconnect disabled and Connect again enabled")
		}
		if got := tb.text("announce"); got != "Disconnected." {
			t.Errorf("announced %q; want screen readers told \"Disconnected.\"", got)
		}
		tb.do("connect again", chromedp.Click(chromedp.CSS("[data-testid=connect]")))
		tb.waitSeqAbove(stopped + 3)
		if got := tb.text("state"); got != "open" {
			t.Errorf("state = %q; want open", got)
		}
		seed, resumes := checkWalk(t, s, query, tb.seen())
		if resumes != 1 {
			t.Errorf("page saw %d resumes; want 1", resumes)
		}
		if got := tb.text("resumes"); got != "1" {
			t.Errorf("resumed = %q; want 1", got)
		}
		if got := tb.text("seed"); got != strconv.FormatUint(seed, 10) {
			t.Errorf("seed = %q; want %d", got, seed)
		}
		tb.checkClean(false)
	})

	for _, tt := range []struct {
		name  string
		proxy bool // a proxy answers 502 while the server is down
	}{
		{"server restart", false},
		{"server restart behind a proxy", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			const retry = "200ms"
			s := servertest.Start(t, "-retry", retry)
			addr := s.Host()
			front, refused := s.URL, make(chan struct{}, 1)
			if tt.proxy {
				front = badGatewayProxy(t, s.URL, refused)
			}
			tb := newTab(t)
			const query = "interval=20"
			tb.navigate(front + "/?" + query)
			tb.waitSeqAbove(5)

			s.Shutdown(t)
			tb.waitFor("reconnecting", `document.getElementById('state').textContent === 'reconnecting'`)
			if tt.proxy {
				select {
				case <-refused: // the browser met the 502 and gave up
				case <-tb.ctx.Done():
					t.Fatalf("no request reached the proxy while the server was down")
				}
			}
			stopped := tb.seq()
			// A fixed port's default -data is under the user's cache
			// directory: give the restarted server one of the test's.
			s = servertest.Start(t, "-addr", addr, "-data", t.TempDir(), "-retry", retry)
			tb.waitSeqAbove(stopped + 5)
			if got := tb.text("state"); got != "open" {
				t.Errorf("state = %q; want open", got)
			}
			_, resumes := checkWalk(t, s, query, tb.seen())
			if resumes == 0 {
				t.Errorf("page saw no resume; want the walk resumed after the restart")
			}
			if tt.proxy {
				sources := 0
				for _, ev := range tb.seen() {
					if ev.Type == "new" {
						sources++
						if sources > 1 && !strings.Contains(ev.URL, "lastEventId=") {
							t.Errorf("new EventSource(%q); want the last id as lastEventId", ev.URL)
						}
					}
				}
				if sources < 2 {
					t.Errorf("page made %d EventSources; want a new one after the 502 closed the first", sources)
				}
			}
			tb.checkClean(true) // refused connections are expected
		})
	}

	t.Run("form", func(t *testing.T) {
		t.Parallel()
		s := servertest.Start(t)
		tb := newTab(t)
		tb.navigate(s.URL + "/?interval=20")
		submit := func(values map[string]string) int64 {
			t.Helper()
			for name, v := range values {
				tb.do("fill "+name, chromedp.SetValue(chromedp.CSS(fmt.Sprintf("[data-testid=%s-input]", name)), v))
			}
			// The button's own click, from the page: a mouse click at its
			// centre can miss while the live page below it still lays out.
			res, err := chromedp.RunResponse(tb.ctx, chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid=apply]').click()`))
			if err != nil {
				t.Fatalf("submit %v: %v", values, err)
			}
			return res.Status
		}

		if status := submit(map[string]string{"width": "5"}); status != http.StatusBadRequest {
			t.Errorf("submit width 5: status %d; want 400", status)
		}
		const msg = "width: must be an integer in [10, 4000]"
		if got := tb.text("error"); got != msg {
			t.Errorf("error message = %q; want %q", got, msg)
		}
		if got := eval[string](tb, `document.querySelector('[data-testid=width-input]').getAttribute('aria-invalid')`); got != "true" {
			t.Errorf("width field aria-invalid = %q; want true", got)
		}

		status := submit(map[string]string{"width": "320", "height": "200", "step": "7", "interval": "20"})
		if status != http.StatusOK {
			t.Errorf("submit good values: status %d; want 200", status)
		}
		loc := eval[string](tb, `location.search`)
		for _, want := range []string{"width=320", "height=200", "step=7", "interval=20"} {
			if !strings.Contains(loc, want) {
				t.Errorf("URL query %q has no %s; want a shareable URL", loc, want)
			}
		}
		tb.waitSeqAbove(3)
		// The canvas's backing store follows its displayed size (see
		// browser_page_test.go); its label names the box.
		size := eval[[]float64](tb, `(() => { const r = document.getElementById('board').getBoundingClientRect(); return [r.width, r.height]; })()`)
		if label := eval[string](tb, `document.getElementById('board').getAttribute('aria-label')`); !strings.Contains(label, "320 × 200 px box") {
			t.Errorf("canvas labelled %q; want the 320 × 200 px box", label)
		}
		if ratio := size[0] / size[1]; ratio < 1.59 || ratio > 1.61 {
			t.Errorf("canvas shows as %vx%v CSS px; want the aspect 320:200", size[0], size[1])
		}
		if in := firstInit(t, tb.seen()); in.Width != 320 || in.Height != 200 || in.Step != 7 || in.IntervalMS != 20 {
			t.Errorf("init = %+v; want the walk asked for", in)
		}
		tb.checkClean(true) // the 400 answer is logged as a failed load
	})

	t.Run("no EventSource", func(t *testing.T) {
		t.Parallel()
		s := servertest.Start(t)
		tb := newTab(t, `delete window.EventSource;`)
		tb.navigate(s.URL + "/")
		tb.waitFor("the message", `!document.getElementById('unsupported').hidden`)
		want := "This browser does not support Server-Sent Events (EventSource)"
		if got := tb.text("unsupported"); !strings.HasPrefix(got, want) {
			t.Errorf("message = %q; want it to start %q", got, want)
		}
		if eval[bool](tb, `document.getElementById('board').checkVisibility()`) {
			t.Errorf("canvas visible; want it hidden without EventSource")
		}
		tb.checkClean(false)
	})

	t.Run("content security policy", func(t *testing.T) {
		t.Parallel()
		// The page is checked under the policy in every subtest above;
		// here the check itself is shown to work: a page that broke the
		// policy would be caught.
		s := servertest.Start(t)
		tb := newTab(t)
		tb.navigate(s.URL + "/?interval=20")
		tb.waitSeqAbove(1)
		tb.do("break the policy", chromedp.Evaluate[chromedp.Void](`document.body.setAttribute('style', 'color: red')`))
		tb.waitFor("the violation", `window.__csp.length > 0`)
		if got := eval[string](tb, `getComputedStyle(document.body).color`); got == "rgb(255, 0, 0)" {
			t.Errorf("inline style applied; want it blocked by the policy")
		}
	})

	t.Run("looks", func(t *testing.T) {
		t.Parallel()
		dir := screenshotDir(t)
		s := servertest.Start(t)
		for _, tt := range []struct {
			file          string
			width, height int64
			dark          bool
			query         string // "" for the live page
		}{
			{"screenshot.png", 1280, 1240, false, ""},
			{"screenshot-dark.png", 1280, 1240, true, ""},
			{"screenshot-phone.png", 390, 844, false, ""},
			{"screenshot-phone-dark.png", 390, 844, true, ""},
			{"screenshot-refused.png", 1280, 700, false, "width=5&step=5&interval=100"},
		} {
			t.Run(tt.file, func(t *testing.T) {
				t.Parallel()
				tb := newTab(t)
				scheme := tb.emulate(tt.width, tt.height, tt.dark)
				if tt.query != "" {
					if res := tb.navigate(s.URL + "/?" + tt.query); res.status != http.StatusBadRequest {
						t.Errorf("GET /?%s = %d; want 400", tt.query, res.status)
					}
				} else {
					// A brisk walk, so that the trail shows in the picture.
					tb.navigate(s.URL + "/?interval=10&step=12&seed=2024")
					tb.waitSeqAbove(400)
					board := eval[[]float64](tb, `(() => { const b = document.getElementById('board').getBoundingClientRect(); return [b.width, b.height, b.right]; })()`)
					if ratio := board[0] / board[1]; ratio < 1.32 || ratio > 1.35 {
						t.Errorf("canvas shows as %vx%v CSS px; want the aspect 4:3 of 800x600", board[0], board[1])
					}
					if board[2] > float64(tt.width) {
						t.Errorf("canvas ends at %v px in a %v px window; want it inside", board[2], tt.width)
					}
				}
				bg := eval[[]float64](tb, `getComputedStyle(document.body).backgroundColor.match(/\d+/g).slice(0, 3).map(Number)`)
				if light := (bg[0] + bg[1] + bg[2]) / 3 / 255; tt.dark != (light < 0.5) {
					t.Errorf("background %v in %s mode; want a %s background", bg, scheme, scheme)
				}
				tb.checkFits(tt.width)
				tb.screenshot(filepath.Join(dir, tt.file))
				tb.checkClean(tt.query != "") // a 400 is logged as a failed load
			})
		}
	})
}

// emulate sets the tab's viewport to width × height CSS px and its
// prefers-color-scheme to dark or light, and returns the scheme's name.
func (t *tab) emulate(width, height int64, dark bool) string {
	t.tb.Helper()
	scheme := "light"
	if dark {
		scheme = "dark"
	}
	if _, err := chromedp.Call(t.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
	}); err != nil {
		t.tb.Fatalf("emulate %s mode: %v", scheme, err)
	}
	t.do("set the viewport", chromedp.EmulateViewport(width, height))
	return scheme
}

// screenshotDir is where a "looks" test writes its pictures: docs/ with
// -update-screenshots, else a directory of the test's own.
func screenshotDir(t *testing.T) string {
	if *updateScreenshots {
		return "../docs"
	}
	return t.TempDir()
}

// checkFits fails the test when the page is wider than a window of width
// CSS px: it would scroll sideways.
func (t *tab) checkFits(width int64) {
	t.tb.Helper()
	if got := eval[float64](t, `document.documentElement.scrollWidth`); got > float64(width) {
		t.tb.Errorf("page %v px wide in a %v px window; want no horizontal scrolling", got, width)
	}
}

// screenshot writes what the tab shows to path, as PNG.
func (t *tab) screenshot(path string) {
	t.tb.Helper()
	png, err := chromedp.Run(t.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.tb.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.tb.Fatal(err)
	}
}

// badGatewayProxy serves a reverse proxy to backend, as a load balancer
// would, and signals refused each time it answers 502 because the backend
// is down: an answer that stops a browser's EventSource for good.
func badGatewayProxy(tb testing.TB, backend string, refused chan<- struct{}) string {
	tb.Helper()
	target, err := url.Parse(backend)
	if err != nil {
		tb.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = &http.Transport{DisableKeepAlives: true, DialContext: (&net.Dialer{}).DialContext}
	proxy.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		w.WriteHeader(http.StatusBadGateway)
		select {
		case refused <- struct{}{}:
		default:
		}
	}
	front := httptest.NewServer(proxy)
	tb.Cleanup(front.Close)
	return front.URL
}

// Patterns of what the page shows.
var (
	regexpPos = regexp.MustCompile(`^\d+, \d+$`)
	wireEvent = regexp.MustCompile(`^(retry: \d+|id: \S+\nevent: (init|move)\ndata: \{.*\})$`)
)

// firstInit returns the data of the first init event the page saw.
func firstInit(tb testing.TB, seen []seenEvent) apptest.Init {
	tb.Helper()
	for _, ev := range seen {
		if ev.Type == "init" {
			return ev.Data.Init
		}
	}
	tb.Fatalf("page saw no init event in %+v", seen)
	return apptest.Init{}
}
