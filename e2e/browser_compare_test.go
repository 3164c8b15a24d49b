package e2e

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/sse-demo/movingobject/internal/apptest"
	"github.com/sse-demo/movingobject/internal/logwatch"
	"github.com/sse-demo/movingobject/server/servertest"
)

// transports are the comparison page's panels, by data-transport.
var transports = []string{"poll", "longpoll", "sse", "websocket", "webtransport"}

// compareRecorder runs in the comparison page before its own scripts,
// after recorder. It records, by transport, the seq of every move that the
// page's polls, EventSources, WebSockets and WebTransports receive
// (window.__moves), the URLs they open (window.__urls), and what is still
// open: EventSources, WebSockets and WebTransports not closed, and polls
// not answered (window.__open()). It reads a WebTransport's stream
// through a tee, so that the page reads it whole too.
const compareRecorder = `(() => {
  const moves = window.__moves = { poll: [], longpoll: [], sse: [], websocket: [], webtransport: [] };
  const urls = window.__urls = { poll: [], longpoll: [], sse: [], websocket: [], webtransport: [] };
  // Where SSE and WebTransport put each move, by seq: "x,y,ts".
  const pos = window.__pos = { sse: {}, webtransport: {} };
  const sources = [], sockets = [], sessions = [];
  let polls = 0;
  window.__open = () => ({
    sse: sources.filter((s) => s.readyState !== EventSource.CLOSED).length,
    websocket: sockets.filter((s) => s.readyState !== WebSocket.CLOSED).length,
    webtransport: sessions.filter((s) => !s.__closed).length,
    polls,
  });
  const WT = window.WebTransport;
  if (typeof WT === 'function') {
    const tap = async (stream) => {
      const lines = stream.pipeThrough(new TextDecoderStream()).getReader();
      let rest = '';
      for (;;) {
        const { value, done } = await lines.read();
        if (done) return;
        rest += value;
        const parts = rest.split('\n');
        rest = parts.pop();
        for (const line of parts) {
          if (line === '') continue;
          const m = JSON.parse(line);
          if (m.type === 'move') {
            moves.webtransport.push(m.seq);
            pos.webtransport[m.seq] = m.x + ',' + m.y + ',' + m.ts;
          }
        }
      }
    };
    window.WebTransport = class extends WT {
      constructor(url, options) {
        super(url, options);
        sessions.push(this);
        const u = new URL(String(url));
        urls.webtransport.push(u.pathname + u.search);
        const done = () => { this.__closed = true; };
        this.closed.then(done, done);
      }
      get incomingUnidirectionalStreams() {
        return super.incomingUnidirectionalStreams.pipeThrough(new TransformStream({
          transform(stream, ctl) {
            const [page, mine] = stream.tee();
            tap(mine).catch(() => {});
            ctl.enqueue(page);
          },
        }));
      }
    };
  }
  const kind = (url) => (url.searchParams.has('wait') ? 'longpoll' : 'poll');
  const nativeFetch = window.fetch.bind(window);
  window.fetch = async (input, init) => {
    const url = new URL(String(input), location.href);
    urls[kind(url)].push(url.pathname + url.search);
    polls++;
    try {
      const res = await nativeFetch(input, init);
      if (res.ok) {
        const body = await res.clone().json();
        for (const m of body.moves) moves[kind(url)].push(m.seq);
      }
      return res;
    } finally {
      polls--;
    }
  };
  const ES = window.EventSource;
  window.EventSource = class extends ES {
    constructor(url, init) {
      super(url, init);
      sources.push(this);
      urls.sse.push(String(url));
      this.addEventListener('move', (e) => {
        const m = JSON.parse(e.data);
        moves.sse.push(m.seq);
        pos.sse[m.seq] = m.x + ',' + m.y + ',' + m.ts;
      });
    }
  };
  const WS = window.WebSocket;
  window.WebSocket = class extends WS {
    constructor(url, protocols) {
      super(url, protocols);
      sockets.push(this);
      const u = new URL(String(url));
      urls.websocket.push(u.pathname + u.search);
      this.addEventListener('message', (e) => {
        const m = JSON.parse(e.data);
        if (m.type === 'move') moves.websocket.push(m.seq);
      });
    }
  };
})();`

// panelText returns the text of the element with data-testid id in the
// panel of transport.
func (t *tab) panelText(transport, id string) string {
	t.tb.Helper()
	return eval[string](t, panelQuery(transport, id)+`.textContent.trim()`)
}

// panelQuery is the JavaScript that finds the element with data-testid
// id in the panel of transport.
func panelQuery(transport, id string) string {
	return fmt.Sprintf(`document.querySelector('[data-transport=%q] [data-testid=%q]')`, transport, id)
}

// panelNumber returns the number the element with data-testid id in the
// panel of transport shows, or -1 for none.
func (t *tab) panelNumber(transport, id string) int {
	t.tb.Helper()
	n, err := strconv.Atoi(t.panelText(transport, id))
	if err != nil {
		return -1
	}
	return n
}

// waitPanels waits until every panel shows a move after seq and is open.
func (t *tab) waitPanels(what string, seq int) {
	t.tb.Helper()
	var conds []string
	for _, tr := range transports {
		conds = append(conds, fmt.Sprintf(`Number(%s.textContent) > %d && %s.textContent === 'open'`,
			panelQuery(tr, "seq"), seq, panelQuery(tr, "state")))
	}
	t.waitFor(what, strings.Join(conds, " && "))
}

// checkNoGap checks that the moves a transport delivered, sorted, leave
// no seq out between the first and the last.
func checkNoGap(tb testing.TB, transport string, seqs []int) {
	tb.Helper()
	if len(seqs) == 0 {
		tb.Errorf("%s: no move recorded; want some", transport)
		return
	}
	seqs = slices.Clone(seqs)
	slices.Sort(seqs)
	seqs = slices.Compact(seqs)
	if missing := seqs[len(seqs)-1] - seqs[0] + 1 - len(seqs); missing > 0 {
		for i := 1; i < len(seqs); i++ {
			if seqs[i] != seqs[i-1]+1 {
				tb.Errorf("%s: moves %d to %d missing (of %d missing in all, from %d to %d); want no gap",
					transport, seqs[i-1]+1, seqs[i]-1, missing, seqs[0], seqs[len(seqs)-1])
				return
			}
		}
	}
}

// compareWorld are the flags of the tests' world: brisk, and started a
// minute ago.
func compareWorld(tb testing.TB) []string {
	tb.Helper()
	return apptest.WorldArgs(tb, "-world-interval", "20ms")
}

func TestBrowserCompare(t *testing.T) {
	t.Parallel()

	t.Run("five transports, from localhost", func(t *testing.T) {
		t.Parallel()
		// As go run . serves it: -addr localhost listens on UDP at both
		// loopback addresses, and the browser resolves localhost to ::1
		// for QUIC.
		s := servertest.Start(t, append(compareWorld(t), "-addr", "localhost:0")...)
		u, err := url.Parse(s.URL)
		if err != nil {
			t.Fatal(err)
		}
		tb := newTab(t, compareRecorder)
		res := tb.navigate("http://localhost:" + u.Port() + "/compare")
		if res.status != http.StatusOK {
			t.Fatalf("GET /compare = %d; want 200", res.status)
		}
		if csp := res.header("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("Content-Security-Policy = %q; want default-src 'self'", csp)
		}
		tb.waitPanels("every panel open, with a move", 0)
		first := map[string]int{}
		for _, tr := range transports {
			first[tr] = tb.panelNumber(tr, "seq")
		}
		// The short polls, every 200 ms.
		tb.do("poll every 200 ms", chromedp.Evaluate[chromedp.Void](`(() => {
			const i = `+panelQuery("poll", "interval")+`;
			i.value = '200';
			i.dispatchEvent(new Event('input', { bubbles: true }));
		})()`))
		tb.waitFor("the interval shown", panelQuery("poll", "interval-value")+`.textContent === '200 ms'`)
		tb.waitPanels("every panel moving", slices.Max(slices.Collect(maps.Values(first)))+50)
		for _, tr := range transports {
			if got := tb.panelNumber(tr, "seq"); got <= first[tr] {
				t.Errorf("%s: seq %d, then %d; want it to increase", tr, first[tr], got)
			}
		}
		// Every panel's figures, once they have had time to show.
		tb.waitFor("the figures", `[...document.querySelectorAll('[data-testid=delay-p50], [data-testid=bytes-per-move]')].every((e) => /^-?\d+(\.\d)? (ms|s|B)$/.test(e.textContent))`)

		// Polling makes more requests per move than SSE.
		perMove := map[string]float64{}
		for _, tr := range transports {
			req, moves := tb.panelNumber(tr, "requests"), tb.panelNumber(tr, "moves")
			if req < 1 || moves < 1 {
				t.Fatalf("%s: %d requests, %d moves; want some of each", tr, req, moves)
			}
			perMove[tr] = float64(req) / float64(moves)
		}
		if perMove["poll"] <= perMove["sse"] || perMove["longpoll"] <= perMove["sse"] {
			t.Errorf("requests per move %v; want more for the polls than for SSE", perMove)
		}
		if got := tb.panelNumber("sse", "requests"); got != 1 {
			t.Errorf("SSE made %d requests; want 1", got)
		}
		// Under SSE, the server's figures: a move's event, plain and in gzip.
		var plainB, gzipB int
		if _, err := fmt.Sscanf(tb.panelText("sse", "bytes-gzip"), "%d B, %d B in gzip", &plainB, &gzipB); err != nil || plainB < 60 || 2*gzipB > plainB {
			t.Errorf("SSE bytes in gzip %q (%v); want a move's event of 60 B or more, and under half of that in gzip", tb.panelText("sse", "bytes-gzip"), err)
		}
		for tr, want := range map[string]string{"poll": "measured", "longpoll": "measured", "sse": "estimated", "websocket": "estimated", "webtransport": "estimated"} {
			if got := tb.panelText(tr, "bytes-how"); got != want {
				t.Errorf("%s: bytes per move %q; want %q", tr, got, want)
			}
		}

		// Each transport delivered every move, with no gap.
		moves := eval[map[string][]int](tb, `window.__moves`)
		for _, tr := range transports {
			checkNoGap(t, tr, moves[tr])
		}
		// WebTransport's moves are SSE's, move for move.
		pos := eval[map[string]map[string]string](tb, `window.__pos`)
		same := 0
		for seq, at := range pos["webtransport"] {
			if sse, ok := pos["sse"][seq]; ok {
				same++
				if sse != at {
					t.Errorf("move %s: WebTransport at %s, SSE at %s; want the same x, y and ts", seq, at, sse)
				}
			}
		}
		if same < 50 {
			t.Errorf("%d moves seen by both WebTransport and SSE; want 50 or more", same)
		}
		// Chromium asked for a compressed event stream, and decoded it.
		s.Log.WaitLine(t, "the SSE stream opened in gzip", func(l logwatch.Line) bool {
			return l["msg"] == apptest.MsgOpened && l["transport"] == "sse" && l["encoding"] == "gzip"
		})
		tb.checkClean(false)
	})

	t.Run("pause", func(t *testing.T) {
		t.Parallel()
		s := servertest.Start(t, compareWorld(t)...)
		tb := newTab(t, compareRecorder)
		tb.navigate(s.URL + "/compare")
		tb.waitPanels("every panel open, with a move", 0)
		tb.do("pause SSE", chromedp.Click(chromedp.CSS("[data-transport=sse] [data-testid=pause]")))
		tb.waitFor("SSE paused", panelQuery("sse", "state")+`.textContent === 'paused' && window.__open().sse === 0`)
		paused := tb.panelNumber("sse", "seq")
		if got := tb.panelText("sse", "pause"); got != "Resume" {
			t.Errorf("pause button says %q once pressed; want Resume", got)
		}
		// The others go on; SSE stays where it was.
		tb.waitFor("WebSocket 20 moves on", fmt.Sprintf(`Number(%s.textContent) > %d`, panelQuery("websocket", "seq"), paused+20))
		if got := tb.panelNumber("sse", "seq"); got != paused {
			t.Errorf("paused SSE went from move %d to %d; want it to stay", paused, got)
		}
		tb.do("resume SSE", chromedp.Click(chromedp.CSS("[data-transport=sse] [data-testid=pause]")))
		tb.waitPanels("SSE moving again", paused+20)
		// The figures are drawn a few times a second, after the moves.
		tb.waitFor("SSE's reconnects counted", panelQuery("sse", "reconnects")+`.textContent !== '0'`)
		if got := tb.panelText("sse", "reconnects"); got != "1" {
			t.Errorf("SSE reconnects = %q after a pause; want 1", got)
		}
		urls := eval[map[string][]string](tb, `window.__urls`)
		if sse := urls["sse"]; len(sse) != 2 || !strings.HasSuffix(sse[1], "lastEventId="+strconv.Itoa(paused)) {
			t.Errorf("EventSources %q; want a second one resuming with lastEventId=%d", sse, paused)
		}
		checkNoGap(t, "sse", eval[map[string][]int](tb, `window.__moves`)["sse"])
		tb.checkClean(false)
	})

	t.Run("hidden tab closes every connection, shown resumes", func(t *testing.T) {
		t.Parallel()
		s := servertest.Start(t, compareWorld(t)...)
		tb := newTab(t, compareRecorder, frameCounter)
		tb.navigate(s.URL + "/compare")
		tb.waitPanels("every panel open, with a move", 0)

		tb.do("hide the tab", chromedp.Evaluate[chromedp.Void](`window.__setHidden(true)`))
		var paused []string
		for _, tr := range transports {
			paused = append(paused, panelQuery(tr, "state")+`.textContent === 'paused'`)
		}
		tb.waitPolling("every panel paused and closed", strings.Join(paused, " && ")+
			` && window.__open().sse === 0 && window.__open().websocket === 0 && window.__open().webtransport === 0 && window.__open().polls === 0`)
		last := map[string]int{}
		for _, tr := range transports {
			last[tr] = tb.panelNumber(tr, "seq")
			if wire := tb.panelText(tr, "wire"); !strings.Contains(wire, fmt.Sprintf("tab hidden: closed after move %d", last[tr])) {
				t.Errorf("%s: wire log %q; want it to say the tab hid and where it resumes", tr, wire)
			}
		}
		// The server sees every stream end.
		opened := 0
		for _, l := range s.Log.All() {
			if l["msg"] == apptest.MsgOpened {
				opened++
			}
		}
		s.WaitClosed(t, opened)

		// The world moves on while the tab is hidden.
		es := s.Open(t, "/world/events")
		at := es.Init()
		es.Moves(25)
		es.Res.Body.Close()

		tb.do("show the tab", chromedp.Evaluate[chromedp.Void](`window.__setHidden(false)`))
		tb.waitPanels("every panel past the moves missed", int(at.Seq)+25)
		// The figures are drawn a few times a second, after the moves.
		var counted []string
		for _, tr := range transports {
			counted = append(counted, panelQuery(tr, "reconnects")+`.textContent !== '0'`)
		}
		tb.waitFor("every reconnect counted", strings.Join(counted, " && "))
		urls := eval[map[string][]string](tb, `window.__urls`)
		for tr, param := range map[string]string{"poll": "after=", "longpoll": "after=", "sse": "lastEventId=", "websocket": "after=", "webtransport": "after="} {
			want := param + strconv.Itoa(last[tr])
			if !slices.ContainsFunc(urls[tr], func(u string) bool { return strings.Contains(u, want) }) {
				t.Errorf("%s: URLs %q; want one resuming with %s", tr, urls[tr], want)
			}
			if got := tb.panelNumber(tr, "reconnects"); got != 1 {
				t.Errorf("%s: reconnects = %d; want 1, when the tab was shown", tr, got)
			}
		}
		moves := eval[map[string][]int](tb, `window.__moves`)
		for _, tr := range transports {
			checkNoGap(t, tr, moves[tr])
			if !slices.Contains(moves[tr], last[tr]+1) {
				t.Errorf("%s: move %d, the first missed while hidden, not received; want it resumed from move %d", tr, last[tr]+1, last[tr])
			}
		}
		tb.checkClean(false)
	})

	t.Run("webtransport refused or missing", func(t *testing.T) {
		t.Parallel()
		s := servertest.Start(t, compareWorld(t)...)
		off := servertest.Start(t, append(compareWorld(t), "-http3=false")...)
		for _, tt := range []struct {
			name, script, state, says string
		}{
			{"a server with HTTP/3 off", "", "unsupported", "HTTP/3 off"},
			{"no WebTransport in the browser", `delete window.WebTransport;`, "unsupported", "this browser has no WebTransport"},
			{"a certificate hash the server does not match", `(() => {
				const WT = window.WebTransport;
				window.WebTransport = class extends WT {
					constructor(url) { super(url, { serverCertificateHashes: [{ algorithm: 'sha-256', value: new Uint8Array(32) }] }); }
				};
			})();`, "reconnecting", "the certificate hash refused"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				tb := newTab(t, tt.script)
				url := s.URL
				if tt.script == "" {
					url = off.URL
				}
				tb.navigate(url + "/compare")
				tb.waitFor("the WebTransport panel "+tt.state, fmt.Sprintf(`%s.textContent === %q && %s.textContent.includes(%q)`,
					panelQuery("webtransport", "state"), tt.state, panelQuery("webtransport", "wire"), tt.says))
				tb.waitFor("the SSE panel moving", panelQuery("sse", "state")+`.textContent === 'open'`)
				tb.checkClean(true) // a refused session is a network error in the console
			})
		}
	})

	t.Run("navigation bar", func(t *testing.T) {
		t.Parallel()
		s := servertest.Start(t)
		tb := newTab(t)
		current := `[...document.querySelectorAll('[data-testid=nav] a[aria-current=page]')].map((a) => a.getAttribute('href'))`
		tb.navigate(s.URL + "/")
		for _, path := range []string{"/world", "/compare", "/wire", "/"} {
			if _, err := chromedp.RunResponse(tb.ctx, chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-testid=nav] a[href=%q]`, path)))); err != nil {
				t.Fatalf("click the link to %s: %v", path, err)
			}
			if got := eval[string](tb, `location.pathname`); got != path {
				t.Errorf("the link to %s led to %s", path, got)
			}
			if got := eval[[]string](tb, current); len(got) != 1 || got[0] != path {
				t.Errorf("on %s, links marked current: %q; want %s", path, got, path)
			}
		}
		if res := tb.navigate(s.URL + "/?width=5"); res.status != http.StatusBadRequest {
			t.Errorf("GET /?width=5 = %d; want 400", res.status)
		}
		if got := eval[[]string](tb, current); len(got) != 1 || got[0] != "/" {
			t.Errorf("on the 400 page, links marked current: %q; want /", got)
		}
		tb.checkClean(true) // the 400 is logged as a failed load
	})

	t.Run("looks", func(t *testing.T) {
		t.Parallel()
		dir := screenshotDir(t)
		s := servertest.Start(t)
		for _, tt := range []struct {
			file          string
			width, height int64
			dark          bool
			columns       int
		}{
			{"compare.png", 1440, 900, false, 5},
			{"compare-dark.png", 1440, 900, true, 5},
			{"", 1024, 900, false, 2}, // checked, not kept
			{"compare-phone.png", 390, 844, false, 1},
			{"compare-phone-dark.png", 390, 844, true, 1},
		} {
			t.Run(fmt.Sprintf("%dx%d dark %v", tt.width, tt.height, tt.dark), func(t *testing.T) {
				t.Parallel()
				tb := newTab(t)
				tb.emulate(tt.width, tt.height, tt.dark)
				tb.navigate(s.URL + "/compare")
				tb.waitPanels("every panel open, with a move", 0)
				tb.waitFor("the figures", `[...document.querySelectorAll('[data-testid=bytes-per-move]')].every((e) => e.textContent.endsWith(' B'))`)
				// The panels' columns: as many distinct left edges.
				lefts := eval[[]float64](tb, `[...document.querySelectorAll('[data-transport]')].map((p) => Math.round(p.getBoundingClientRect().left))`)
				if got := len(slices.Compact(slices.Sorted(slices.Values(lefts)))); got != tt.columns {
					t.Errorf("panels in %d columns at %d px (left edges %v); want %d", got, tt.width, lefts, tt.columns)
				}
				tb.checkFits(tt.width)
				// Each canvas inside its panel.
				if !eval[bool](tb, `[...document.querySelectorAll('[data-transport]')].every((p) => {
					const c = p.querySelector('canvas').getBoundingClientRect(), r = p.getBoundingClientRect();
					return c.width > 100 && c.left >= r.left && c.right <= r.right;
				})`) {
					t.Errorf("a canvas outside its panel, or too small; want each inside")
				}
				if tt.file != "" {
					tb.screenshot(filepath.Join(dir, tt.file))
				}
				tb.checkClean(false)
			})
		}
	})
}
