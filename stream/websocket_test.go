package stream_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"
	"github.com/sse-demo/movingobject/simulation"
	"github.com/sse-demo/movingobject/stream"
	"github.com/sse-demo/movingobject/stream/hub"
	"github.com/sse-demo/movingobject/stream/world"
)

// TestWebSocketOutlastsWriteTimeout checks that a WebSocket stream goes on
// past the server's WriteTimeout, which net/http leaves on the connection
// it gives up: the upgrade clears it.
func TestWebSocketOutlastsWriteTimeout(t *testing.T) {
	cfg := simulation.Config{Width: 100, Height: 100, Step: 5, Interval: 10 * time.Millisecond}
	w, err := simulation.NewWorld(cfg, 1, time.Now().Add(-time.Second), 0)
	if err != nil {
		t.Fatalf("NewWorld = %v; want no error", err)
	}
	s := stream.NewServer(stream.Options{})
	defer s.Close()
	e := echo.New()
	e.GET("/world/ws", world.New(s, hub.New(w, 0), world.Options{}).WebSocket)
	srv := httptest.NewUnstartedServer(e)
	srv.Config.WriteTimeout = 50 * time.Millisecond
	srv.Start()
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, _, err := websocket.Dial(ctx, srv.URL+"/world/ws", &websocket.DialOptions{HTTPClient: srv.Client()})
	if err != nil {
		t.Fatalf("Dial = %v; want a WebSocket", err)
	}
	defer c.CloseNow()
	start := time.Now()
	var prev uint64
	for i := 0; time.Since(start) < 4*srv.Config.WriteTimeout; i++ {
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("message %d, %v after the upgrade: %v; want messages past the write timeout of %v", i, time.Since(start), err, srv.Config.WriteTimeout)
		}
		var m struct {
			Type string `json:"type"`
			Seq  uint64 `json:"seq"`
		}
		if err := json.Unmarshal(b, &m); err != nil || (i > 0 && (m.Type != "move" || m.Seq != prev+1)) {
			t.Fatalf("message %d = %q, %v; want move %d", i, b, err, prev+1)
		}
		prev = m.Seq
	}
	c.Close(websocket.StatusNormalClosure, "")
}
