package play

import (
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

func TestRateLimiter(t *testing.T) {
	l := newRateLimiter(10)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 10 {
		if _, ok := l.allow("a", t0); !ok {
			t.Fatalf("push %d at once refused; want the first 10 allowed", i+1)
		}
	}
	wait, ok := l.allow("a", t0)
	if ok || wait != 100*time.Millisecond {
		t.Errorf("push 11 at once = %v, %v; want refused, wait 100ms", wait, ok)
	}
	if _, ok := l.allow("b", t0); !ok {
		t.Error("another address refused; want its own limit")
	}
	if _, ok := l.allow("a", t0.Add(100*time.Millisecond)); !ok {
		t.Error("push 100ms later refused; want one token back")
	}
	if _, ok := l.allow("a", t0.Add(150*time.Millisecond)); ok {
		t.Error("push 150ms later allowed; want the token taken at 100ms to be the only one")
	}
	// A sweep a minute on forgets the full buckets.
	l.allow("c", t0.Add(2*time.Minute))
	if n := len(l.buckets); n != 1 {
		t.Errorf("buckets after the sweep = %d; want 1 (c's own)", n)
	}
}

func TestSameOrigin(t *testing.T) {
	for _, tt := range []struct {
		name    string
		host    string
		header  map[string]string
		trusted bool
		want    bool
	}{
		{"no headers (no browser)", "app.example", nil, false, true},
		{"same origin", "app.example", map[string]string{"Origin": "https://app.example", "Sec-Fetch-Site": "same-origin"}, false, true},
		{"user's own action", "app.example", map[string]string{"Sec-Fetch-Site": "none"}, false, true},
		{"host case", "App.Example:8080", map[string]string{"Origin": "http://app.example:8080"}, false, true},
		{"other site", "app.example", map[string]string{"Origin": "https://evil.example"}, false, false},
		{"other port", "app.example:8080", map[string]string{"Origin": "http://app.example:9090"}, false, false},
		{"null origin", "app.example", map[string]string{"Origin": "null"}, false, false},
		{"cross-site fetch", "app.example", map[string]string{"Sec-Fetch-Site": "cross-site"}, false, false},
		{"same-site fetch", "app.example", map[string]string{"Sec-Fetch-Site": "same-site"}, false, false},
		{"proxy's forwarded host", "backend:8080", map[string]string{"Origin": "https://app.example", "X-Forwarded-Host": "app.example"}, true, true},
		{"forwarded host untrusted", "backend:8080", map[string]string{"Origin": "https://app.example", "X-Forwarded-Host": "app.example"}, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/play/push", nil)
			r.Host = tt.host
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			if got := sameOrigin(r, tt.trusted); got != tt.want {
				t.Errorf("sameOrigin(%v, trusted %v) = %v; want %v", tt.header, tt.trusted, got, tt.want)
			}
		})
	}
}

func TestClientAddr(t *testing.T) {
	h := &Handler{opts: Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}}}
	for _, tt := range []struct {
		name, peer, xff, want string
	}{
		{"direct", "192.0.2.1:5000", "", "192.0.2.1"},
		{"untrusted peer's header ignored", "192.0.2.1:5000", "198.51.100.1", "192.0.2.1"},
		{"trusted proxy", "10.1.1.1:5000", "198.51.100.1", "198.51.100.1"},
		{"forged hop left of the client", "10.1.1.1:5000", "203.0.113.9, 198.51.100.1", "198.51.100.1"},
		{"two trusted proxies", "10.1.1.1:5000", "198.51.100.1, 10.2.2.2", "198.51.100.1"},
		{"trusted proxy, no header", "10.1.1.1:5000", "", "10.1.1.1"},
		{"garbage hop", "10.1.1.1:5000", "198.51.100.1, junk", "10.1.1.1"},
		{"IPv6 proxy", "[::1]:5000", "2001:db8::1", "2001:db8::1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/play/push", nil)
			r.RemoteAddr = tt.peer
			if tt.xff != "" {
				r.Header.Set("X-Forwarded-For", tt.xff)
			}
			if got := h.clientAddr(r, h.trusted(r)); got != tt.want {
				t.Errorf("clientAddr(%s, %q) = %q; want %q", tt.peer, tt.xff, got, tt.want)
			}
		})
	}
}
