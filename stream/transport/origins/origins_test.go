package origins

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func TestWebSocket(t *testing.T) {
	for _, tt := range []struct {
		origins      []string
		wantPatterns []string
		wantAny      bool
	}{
		{nil, nil, false},
		{[]string{"https://app.example"}, []string{"https://app.example"}, false},
		{[]string{"https://a.example", "http://[::1]:8080"}, []string{"https://a.example", `http://\[::1]:8080`}, false},
		{[]string{"*"}, nil, true},
		{[]string{"https://a.example", "*"}, []string{"https://a.example"}, true},
	} {
		o := New(tt.origins).WebSocket()
		if !slices.Equal(o.OriginPatterns, tt.wantPatterns) || o.InsecureSkipVerify != tt.wantAny {
			t.Errorf("New(%q).WebSocket() = patterns %q, any %v; want %q, %v", tt.origins, o.OriginPatterns, o.InsecureSkipVerify, tt.wantPatterns, tt.wantAny)
		}
	}
}

// TestAllows checks the Origin check of a WebTransport session: the
// page's own host whatever its scheme, a listed origin, or any with "*".
func TestAllows(t *testing.T) {
	for _, tt := range []struct {
		list   []string
		origin string
		want   bool
	}{
		{nil, "", true},
		{nil, "http://localhost:8080", true},
		{nil, "https://localhost:8080", true},
		{nil, "http://LOCALHOST:8080", true},
		{nil, "http://localhost:8081", false},
		{nil, "https://evil.example", false},
		{nil, "null", false},
		{[]string{"https://app.example"}, "https://app.example", true},
		{[]string{"https://app.example"}, "http://app.example", false},
		{[]string{"*"}, "https://evil.example", true},
	} {
		r := httptest.NewRequest(http.MethodConnect, "/world/webtransport", nil)
		r.Host = "localhost:8080" // an extended CONNECT's :authority
		if tt.origin != "" {
			r.Header.Set("Origin", tt.origin)
		}
		if got := New(tt.list).Allows(r); got != tt.want {
			t.Errorf("New(%q).Allows(Origin %q, Host %q) = %v; want %v", tt.list, tt.origin, r.Host, got, tt.want)
		}
	}
}

// FuzzAllows checks the WebTransport Origin check on any Origin and Host:
// it never panics, the page of the request's own host always passes, and
// with no list an origin of another host never does.
func FuzzAllows(f *testing.F) {
	f.Add("http://localhost:8080", "localhost:8080")
	f.Add("https://evil.example", "localhost:8080")
	f.Add("null", "127.0.0.1:1")
	f.Add("http://[::1]:8080", "[::1]:8080")
	f.Fuzz(func(t *testing.T, origin, host string) {
		r := httptest.NewRequest(http.MethodConnect, "/world/webtransport", nil)
		r.Host = host
		r.Header.Set("Origin", origin)
		got := New(nil).Allows(r)
		if own := "https://" + host; origin == own && !got {
			t.Errorf("Origin %q refused at its own host %q", origin, host)
		}
		_, oh, ok := strings.Cut(origin, "://")
		if origin != "" && got && (!ok || !strings.EqualFold(oh, host)) {
			t.Errorf("Origin %q allowed at host %q with no list", origin, host)
		}
	})
}
