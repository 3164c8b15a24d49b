package stream

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/labstack/echo/v4"
)

func TestLimiterAcquire(t *testing.T) {
	type step struct {
		release bool   // release ip instead of acquiring
		ip      string //
		want    int    // status of an acquire: 0 when counted
	}
	for _, tt := range []struct {
		name         string
		total, perIP int
		steps        []step
		wantOpen     int
	}{
		{"total", 2, 0, []step{{false, "a", 0}, {false, "a", 0}, {false, "b", 503}, {true, "a", 0}, {false, "b", 0}}, 2},
		{"per address", 10, 2, []step{{false, "a", 0}, {false, "a", 0}, {false, "a", 429}, {false, "b", 0}, {true, "a", 0}, {false, "a", 0}}, 3},
		{"total before per address", 1, 1, []step{{false, "a", 0}, {false, "a", 503}, {false, "b", 503}}, 1},
		{"at least one", 0, 0, []step{{false, "a", 0}, {false, "b", 503}}, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := NewLimiter(tt.total, tt.perIP)
			for i, s := range tt.steps {
				if s.release {
					l.release(s.ip)
					continue
				}
				if got := l.acquire(s.ip); got != s.want {
					t.Fatalf("step %d: acquire(%q) = %d; want %d", i, s.ip, got, s.want)
				}
			}
			if got := l.Open(); got != tt.wantOpen {
				t.Errorf("Open() = %d; want %d", got, tt.wantOpen)
			}
			if tt.perIP > 0 {
				n := 0
				for _, v := range l.byIP {
					n += v
				}
				if n != tt.wantOpen {
					t.Errorf("streams per address sum to %d; want %d", n, tt.wantOpen)
				}
			}
		})
	}
}

func TestLimiterMiddleware(t *testing.T) {
	l := NewLimiter(1, 0)
	e := echo.New()
	serve := func(next echo.HandlerFunc) (echo.Context, error) {
		c := e.NewContext(httptest.NewRequest(http.MethodGet, "/events", nil), httptest.NewRecorder())
		return c, l.Middleware(next)(c)
	}
	var refused echo.Context
	var refusal error
	_, err := serve(func(echo.Context) error {
		// While this stream is open, another is refused.
		refused, refusal = serve(func(echo.Context) error { return nil })
		return nil
	})
	if err != nil {
		t.Fatalf("first stream: %v; want it served", err)
	}
	var he *echo.HTTPError
	if !errors.As(refusal, &he) || he.Code != http.StatusServiceUnavailable {
		t.Errorf("second stream: error %v; want a 503", refusal)
	}
	if s, err := strconv.Atoi(refused.Response().Header().Get("Retry-After")); err != nil || s < 5 || s > 10 {
		t.Errorf("second stream: Retry-After %q; want 5 to 10 seconds", refused.Response().Header().Get("Retry-After"))
	}
	if l.Open() != 0 {
		t.Errorf("Open() = %d after the stream ended; want 0", l.Open())
	}
}

func TestClientIP(t *testing.T) {
	for _, tt := range []struct{ remote, forwarded, want string }{
		{"192.0.2.1:1234", "", "192.0.2.1"},
		{"[2001:db8::1]:443", "", "2001:db8::1"},
		{"192.0.2.1:1234", "198.51.100.7", "192.0.2.1"}, // X-Forwarded-For is not trusted
		{"@", "", "@"}, // a unix socket has no port
	} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.RemoteAddr = tt.remote
		if tt.forwarded != "" {
			req.Header.Set("X-Forwarded-For", tt.forwarded)
		}
		if got := ClientIP(req); got != tt.want {
			t.Errorf("ClientIP(%q, X-Forwarded-For %q) = %q; want %q", tt.remote, tt.forwarded, got, tt.want)
		}
	}
}
