package stream_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/sse-demo/movingobject/simulation"
	"github.com/sse-demo/movingobject/stream"
	"github.com/sse-demo/movingobject/stream/hub"
	"github.com/sse-demo/movingobject/stream/world"
)

// TestLongPollOutlastsWriteTimeout checks that a long poll answers after
// holding its request for longer than the server's WriteTimeout, which
// counts from the request's start: it extends the deadline to write.
func TestLongPollOutlastsWriteTimeout(t *testing.T) {
	cfg := simulation.Config{Width: 100, Height: 100, Step: 5, Interval: time.Minute} // no move falls due in the test
	w, err := simulation.NewWorld(cfg, 1, time.Now(), 0)
	if err != nil {
		t.Fatalf("NewWorld = %v; want no error", err)
	}
	s := stream.NewServer(stream.Options{})
	defer s.Close()
	e := echo.New()
	e.GET("/world/poll", world.New(s, hub.New(w, 0), world.Options{}).Poll)
	srv := httptest.NewUnstartedServer(e)
	srv.Config.WriteTimeout = 50 * time.Millisecond
	srv.Start()
	defer srv.Close()

	res, err := srv.Client().Get(srv.URL + "/world/poll?after=0&wait=300")
	if err != nil {
		t.Fatalf("GET a long poll of 300 ms with a write timeout of 50 ms: %v; want an answer", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || err != nil || string(body) != `{"moves":[]}` {
		t.Errorf("long poll = %d %q, %v; want 200 {\"moves\":[]}", res.StatusCode, body, err)
	}
}
