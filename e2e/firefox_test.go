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
