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

// TestFirefoxCompressed runs Firefox's EventSource on the world's stream,
// which Firefox asks for in gzip, through a proxy that serves the test's
// page on the same origin and passes the stream on as it comes. The page
// must get every move in order, across a resume with lastEventId.
func TestFirefoxCompressed(t *testing.T) {
	t.Parallel()
	bin := firefox(t)
	s := servertest.Start(t, apptest.WorldArgs(t)...)
	target, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	result := make(chan string, 1)
	mux := http.NewServeMux()
	mux.Handle("/world/", httputil.NewSingleHostReverseProxy(target))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, firefoxPage) })
	mux.HandleFunc("POST /result", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		select {
		case result <- string(b):
		default:
		}
	})
	front := httptest.NewServer(mux)
	t.Cleanup(front.Close)

	home := t.TempDir()
	cmd := exec.Command(bin, "--headless", "--no-remote", "--new-instance", "--profile", home, front.URL+"/")
	cmd.Env = append(os.Environ(), "HOME="+home, "MOZ_HEADLESS=1")
	p := apptest.StartProcess(t, cmd)
	defer p.Kill(t) // Firefox exits with the signal of SIGTERM, not 0

	var got string
	select {
	case got = <-result:
	case <-time.After(apptest.WaitBound):
		t.Fatalf("no result from Firefox within %v; its log ends:\n%s", apptest.WaitBound, p.Log.Tail(20))
	}
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
	s.Log.WaitCount(t, apptest.MsgOpened, 2)
	n := 0
	for _, l := range s.Log.All() {
		if l["msg"] == apptest.MsgOpened && l["encoding"] == "gzip" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d of Firefox's streams opened in gzip; want 2", n)
	}
}

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

// TestFirefoxWebTransport runs the comparison page in Firefox, through a
// proxy that adds the recorders to the page and passes the rest on. The
// WebTransport panel connects to the server's UDP port with the hashes of
// its certificates, as from any page of the server, and must get the
// same moves as the SSE panel.
func TestFirefoxWebTransport(t *testing.T) {
	t.Parallel()
	bin := firefox(t)
	result := make(chan string, 1)
	mux := http.NewServeMux()
	front := httptest.NewUnstartedServer(mux)
	// The page's origin is the proxy's: the server must allow it.
	s := servertest.Start(t, append(apptest.WorldArgs(t), "-allow-origin", "http://"+front.Listener.Addr().String())...)
	target, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/", httputil.NewSingleHostReverseProxy(target))
	mux.HandleFunc("GET /compare", func(w http.ResponseWriter, _ *http.Request) {
		res, err := s.Client.Get(s.URL + "/compare")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		page, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		scripts := "<script>" + compareRecorder + "</script><script>" + firefoxReporter + "</script>"
		io.WriteString(w, strings.Replace(string(page), "<head>", "<head>"+scripts, 1))
	})
	mux.HandleFunc("POST /result", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		select {
		case result <- string(b):
		default:
		}
	})
	front.Start()
	t.Cleanup(front.Close)

	home := t.TempDir()
	cmd := exec.Command(bin, "--headless", "--no-remote", "--new-instance", "--profile", home, front.URL+"/compare")
	cmd.Env = append(os.Environ(), "HOME="+home, "MOZ_HEADLESS=1")
	p := apptest.StartProcess(t, cmd)
	defer p.Kill(t)

	var got struct {
		Why, State, Wire string
		Pos              map[string]map[string]string
	}
	select {
	case b := <-result:
		if err := json.Unmarshal([]byte(b), &got); err != nil {
			t.Fatalf("Firefox's report %q: %v", b, err)
		}
	case <-time.After(apptest.WaitBound):
		t.Fatalf("no report from Firefox within %v; its log ends:\n%s", apptest.WaitBound, p.Log.Tail(20))
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
}
