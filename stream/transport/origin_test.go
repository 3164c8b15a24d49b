package transport

import (
	"slices"
	"testing"
)

func TestAcceptOptions(t *testing.T) {
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
		o := acceptOptions(tt.origins)
		if !slices.Equal(o.OriginPatterns, tt.wantPatterns) || o.InsecureSkipVerify != tt.wantAny {
			t.Errorf("acceptOptions(%q) = patterns %q, any %v; want %q, %v", tt.origins, o.OriginPatterns, o.InsecureSkipVerify, tt.wantPatterns, tt.wantAny)
		}
	}
}
