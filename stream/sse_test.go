package stream_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/sse-demo/movingobject/stream"
	"github.com/sse-demo/movingobject/stream/streamtest"
	"github.com/sse-demo/movingobject/stream/walks"
)

func TestEventsConnectionHeader(t *testing.T) {
	s := stream.NewServer(stream.Options{})
	defer s.Close()
	h := walks.New(s, walks.Options{})
	e := echo.New()
	for _, tt := range []struct {
		proto int
		want  string
	}{
		{1, "keep-alive"},
		{2, ""}, // connection-specific headers are forbidden in HTTP/2
	} {
		t.Run("HTTP/"+strconv.Itoa(tt.proto), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/events", nil)
			req.ProtoMajor = tt.proto
			rec := &streamtest.FlushCancel{ResponseRecorder: httptest.NewRecorder(), Cancel: cancel}
			if err := h.Events(e.NewContext(req, rec)); err != nil {
				t.Fatalf("Events() = %v", err)
			}
			if rec.Code != http.StatusOK {
				t.Fatalf("Events() status %d; want 200", rec.Code)
			}
			if got := rec.Header().Get("Connection"); got != tt.want {
				t.Errorf("Connection = %q; want %q", got, tt.want)
			}
		})
	}
}
