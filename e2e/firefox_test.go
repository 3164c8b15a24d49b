package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sse-demo/movingobject/internal/apptest"
	"github.com/sse-demo/movingobject/server/servertest"
)

// firefox returns the path of Firefox. Without it the test skips on a
// developer's machine and fails in CI.
func firefox(tb testing.TB) string {
	tb.Helper()
	return findBrowser(tb, "Firefox", "firefox-esr", "firefox")
}

// firefoxPage opens /world/events with an EventSource, takes 20 moves,
// closes it, and resumes with lastEventId for 20 more. Then it posts the
// moves' ids, or why it stopped, to /result.
const firefoxPage = `<!doctype html><meta charset="utf-8"><title>compressed EventSource</title>
<script>
const ids = [];
const report = (body) => fetch('/result', { method: 'POST', body });
function open(url, want) {
  const es = new EventSource(url);
  es.addEventListener('move', (e) => {
    ids.push(Number(e.lastEventId));
    if (ids.length === want) {
      es.close();
      if (want === 20) open('/world/events?lastEventId=' + e.lastEventId, 40);
      else report(JSON.stringify(ids));
    }
  });
  es.onerror = () => { es.close(); report('error after ' + ids.length + ' moves'); };
}
open('/world/events', 20);
</script>`

// firefoxReporter runs in the comparison page in Firefox, after
// compareRecorder. Each time the WebTransport panel shows a new move, it
// counts the moves that both WebTransport and SSE delivered; at 50 it
// posts where each put them, and the panel's state and wire log, to
// /result. A panel that says why it cannot connect is posted at once.
const firefoxReporter = `(() => {
  window.addEventListener('DOMContentLoaded', () => {
    const panel = document.querySelector('[data-transport=webtransport]');
    const report = (why) => {
      observer.disconnect();
      fetch('/result', { method: 'POST', body: JSON.stringify({
        why, pos: window.__pos,
        state: panel.querySelector('[data-testid=state]').textContent,
        wire: panel.querySelector('[data-testid=wire]').textContent,
      }) });
    };
    const observer = new MutationObserver(() => {
      const p = window.__pos;
      const both = Object.keys(p.webtransport).filter((seq) => seq in p.sse).length;
      if (both >= 50) report('50 moves');
      else if (panel.querySelector('[data-testid=state]').textContent === 'unsupported') report('unsupported');
    });
    observer.observe(panel, { subtree: true, childList: true, characterData: true });
  });
})();`

// front serves a test's page to Firefox at path, with the program s's
// other routes through a proxy on the same origin, and takes the result
// the page posts to /result. Its origin is known before the program
// starts, for the program's -allow-origin.
type front struct {
	srv    *httptest.Server
	mux    *http.ServeMux
	result chan string
}

func newFront(t *testing.T) *front {
	f := &front{mux: http.NewServeMux(), result: make(chan string, 1)}
	f.srv = httptest.NewUnstartedServer(f.mux) // its address is known now
	f.mux.HandleFunc("POST /result", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		select {
		case f.result <- string(b):
		default:
		}
	})
	t.Cleanup(f.srv.Close)
	return f
}

// origin is the front's origin, as its pages send it.
func (f *front) origin() string { return "http://" + f.srv.Listener.Addr().String() }

// serve serves page at path, and every other path from s, and returns the
// page's URL.
func (f *front) serve(t *testing.T, s *apptest.Program, path string, page func() (string, error)) string {
	target, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	f.mux.Handle("/", httputil.NewSingleHostReverseProxy(target))
	f.mux.HandleFunc("GET "+path, func(w http.ResponseWriter, _ *http.Request) {
		body, err := page()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		io.WriteString(w, body)
	})
	f.srv.Start()
	return f.srv.URL + path
}

// wait returns the page's result, or fails the test after
// [apptest.WaitBound] with the end of Firefox's log.
func (f *front) wait(t *testing.T, ff *apptest.Program) string {
	t.Helper()
	select {
	case got := <-f.result:
		return got
	case <-time.After(apptest.WaitBound):
		t.Fatalf("no result from Firefox within %v; its log ends:\n%s", apptest.WaitBound, ff.Log.Tail(20))
		return ""
	}
}

// TestFirefox runs two pages in one Firefox, a tab each, each served by a
// front (see front):
//
//   - compressed: Firefox's EventSource on the world's stream, which
//     Firefox asks for in gzip. The page must get every move in order,
//     across a resume with lastEventId.
//   - webtransport: the comparison page with the recorders. Its
//     WebTransport panel connects to the server's UDP port with the hashes
//     of its certificates, as from any page of the server, and must get
//     the same moves as the SSE panel.
//
// The comparison page opens first, in the tab Firefox shows: a hidden
// comparison page closes its connections. The other tab's EventSource
// runs in the background.
func TestFirefox(t *testing.T) {
	t.Parallel()
	bin := firefox(t)
	gzFront, wtFront := newFront(t), newFront(t)
	gz := servertest.Start(t, apptest.WorldArgs(t)...)
	// The comparison page's origin is its front's: the server must allow it.
	wt := servertest.Start(t, append(apptest.WorldArgs(t), "-allow-origin", wtFront.origin())...)
	gzURL := gzFront.serve(t, gz, "/{$}", func() (string, error) { return firefoxPage, nil })
	wtURL := wtFront.serve(t, wt, "/compare", func() (string, error) {
		res, err := wt.Client.Get(wt.URL + "/compare")
		if err != nil {
			return "", err
		}
		defer res.Body.Close()
		page, err := io.ReadAll(res.Body)
		scripts := "<script>" + compareRecorder + "</script><script>" + firefoxReporter + "</script>"
		return strings.Replace(string(page), "<head>", "<head>"+scripts, 1), err
	})

	home := t.TempDir()
	cmd := exec.Command(bin, "--headless", "--no-remote", "--new-instance", "--profile", home, wtURL, strings.TrimSuffix(gzURL, "{$}"))
	cmd.Env = append(os.Environ(), "HOME="+home, "MOZ_HEADLESS=1")
	ff := apptest.StartProcess(t, cmd)
	t.Cleanup(func() { ff.Kill(t) }) // Firefox exits with the signal of SIGTERM, not 0

	t.Run("compressed", func(t *testing.T) {
		got := gzFront.wait(t, ff)
		var ids []int
		if err := json.Unmarshal([]byte(got), &ids); err != nil {
			t.Fatalf("Firefox's page: %s", got)
		}
		if len(ids) != 40 {
			t.Fatalf("Firefox got %d moves; want 40", len(ids))
		}
		for i, id := range ids {
			if id != ids[0]+i {
				t.Fatalf("Firefox got moves %v; want 40 in order, with no gap and no repeat", ids)
			}
		}
		// Both streams went out in gzip, which Firefox decoded.
		gz.Log.WaitCount(t, apptest.MsgOpened, 2)
		n := 0
		for _, l := range gz.Log.All() {
			if l["msg"] == apptest.MsgOpened && l["encoding"] == "gzip" {
				n++
			}
		}
		if n != 2 {
			t.Errorf("%d of Firefox's streams opened in gzip; want 2", n)
		}
	})

	t.Run("webtransport", func(t *testing.T) {
		var got struct {
			Why, State, Wire string
			Pos              map[string]map[string]string
		}
		if b := wtFront.wait(t, ff); json.Unmarshal([]byte(b), &got) != nil {
			t.Fatalf("Firefox's report %q", b)
		}
		if got.Why != "50 moves" {
			t.Fatalf("Firefox's WebTransport panel: %s, state %q, wire log %q; want 50 moves shared with SSE", got.Why, got.State, got.Wire)
		}
		for seq, at := range got.Pos["webtransport"] {
			if sse, ok := got.Pos["sse"][seq]; ok && sse != at {
				t.Errorf("move %s: WebTransport at %s, SSE at %s; want the same x, y and ts", seq, at, sse)
			}
		}
		if got.State != "open" {
			t.Errorf("WebTransport panel %q; want open", got.State)
		}
	})
}
