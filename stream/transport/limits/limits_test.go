package limits

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/labstack/echo/v4"
)

// acquire takes a slot for a stream from ip, and returns it with the
// status that refused it (0 when counted).
func acquire(tb testing.TB, l *Limits, ip string) (*Slot, int) {
	tb.Helper()
	req := httptest.NewRequest(http.MethodGet, "/events", nil)
	req.RemoteAddr = ip + ":1234"
	rec := httptest.NewRecorder()
	slot, err := l.Acquire(echo.New().NewContext(req, rec))
	if err == nil {
		return slot, 0
	}
	var he *echo.HTTPError
	if !errors.As(err, &he) {
		tb.Fatalf("Acquire(%s) = %v; want an *echo.HTTPError", ip, err)
	}
	if s, err := strconv.Atoi(rec.Header().Get("Retry-After")); err != nil || s < 5 || s > 10 {
		tb.Errorf("Acquire(%s) refused with Retry-After %q; want 5 to 10 seconds", ip, rec.Header().Get("Retry-After"))
	}
	return nil, he.Code
}

func TestLimitsAcquire(t *testing.T) {
	type step struct {
		release int    // release the slot of step release-1 instead of acquiring, when > 0
		ip      string //
		want    int    // status of an acquire: 0 when counted
	}
	for _, tt := range []struct {
		name         string
		total, perIP int
		steps        []step
		wantOpen     int
	}{
		{"total", 2, 0, []step{{0, "a", 0}, {0, "a", 0}, {0, "b", 503}, {1, "", 0}, {0, "b", 0}}, 2},
		{"per address", 10, 2, []step{{0, "a", 0}, {0, "a", 0}, {0, "a", 429}, {0, "b", 0}, {1, "", 0}, {0, "a", 0}}, 3},
		{"total before per address", 1, 1, []step{{0, "a", 0}, {0, "a", 503}, {0, "b", 503}}, 1},
		{"at least one", 0, 0, []step{{0, "a", 0}, {0, "b", 503}}, 1},
		{"released once", 1, 0, []step{{0, "a", 0}, {1, "", 0}, {1, "", 0}, {0, "a", 0}, {0, "b", 503}}, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := New(tt.total, tt.perIP)
			slots := make([]*Slot, len(tt.steps))
			for i, s := range tt.steps {
				if s.release > 0 {
					slots[s.release-1].Release()
					continue
				}
				var got int
				if slots[i], got = acquire(t, l, s.ip); got != s.want {
					t.Fatalf("step %d: Acquire(%q) = %d; want %d", i, s.ip, got, s.want)
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

func TestLimitsRefusal(t *testing.T) {
	l := New(10, 1)
	if _, code := acquire(t, l, "192.0.2.1"); code != 0 {
		t.Fatalf("first stream refused with %d", code)
	}
	req := httptest.NewRequest(http.MethodGet, "/events", nil)
	req.RemoteAddr = "192.0.2.1:5"
	_, err := l.Acquire(echo.New().NewContext(req, httptest.NewRecorder()))
	var he *echo.HTTPError
	if !errors.As(err, &he) || he.Code != http.StatusTooManyRequests || he.Message != "too many streams from your address; retry later" {
		t.Errorf("second stream from one address: %v; want 429 naming the address", err)
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
