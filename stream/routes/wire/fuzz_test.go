package wire_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sse-demo/movingobject/internal/apptest"
	"github.com/sse-demo/movingobject/stream/routes/wire"
)

// FuzzWire sends any bytes to both endpoints, served alone over
// loopback: POST /wire/parse answers 200 with the decoder's reading (valid
// UTF-8, an event type for each event, no NUL in an id), or 413 past
// MaxBytes, and never a 5xx; GET /wire/stream answers the same bytes back,
// exactly. The decoder itself must not panic or fail on them.
func FuzzWire(f *testing.F) {
	for _, p := range wire.Presets {
		f.Add([]byte(p.Raw))
	}
	for _, c := range moreCases {
		f.Add([]byte(c.raw))
	}
	f.Add([]byte(strings.Repeat("data: x\n", wire.MaxBytes/8+1)))
	f.Add([]byte("\xEF\xBB"))
	f.Add([]byte("\r\r\n\n\x00\xFF"))
	s := serve(f)
	// One connection for many requests: the fuzzer sends thousands.
	tr := &http.Transport{}
	f.Cleanup(tr.CloseIdleConnections)
	s.Client = &http.Client{Transport: tr, Timeout: apptest.WaitBound}
	f.Fuzz(func(t *testing.T, in []byte) {
		direct, err := wire.Decode(in)
		if err != nil {
			t.Fatalf("Decode(%q) = %v; want no error on any bytes", in, err)
		}
		got := send(t, s, http.MethodPost, "/wire/parse", bytes.NewReader(in))
		if len(in) > wire.MaxBytes {
			if got.status != http.StatusRequestEntityTooLarge {
				t.Fatalf("POST /wire/parse of %d bytes = %d %q; want 413", len(in), got.status, got.body)
			}
		} else {
			if got.status != http.StatusOK {
				t.Fatalf("POST /wire/parse %q = %d %q; want 200", in, got.status, got.body)
			}
			var p wire.Parsed
			if err := json.Unmarshal(got.body, &p); err != nil {
				t.Fatalf("POST /wire/parse %q: %v in %q; want JSON", in, err, got.body)
			}
			for _, e := range p.Events {
				if !utf8.ValidString(e.Type) || !utf8.ValidString(e.Data) || !utf8.ValidString(e.LastEventID) ||
					e.Type == "" || strings.ContainsRune(e.LastEventID, 0) {
					t.Errorf("POST /wire/parse %q: event %q; want valid UTF-8, a type, an id without NUL", in, e)
				}
			}
			if !slices.Equal(p.Events, direct.Events) || !equalRetry(p.Retry, direct.Retry) {
				t.Errorf("POST /wire/parse %q = %q; want what Decode says, %q retry %s", in, got.body, direct.Events, showRetry(direct.Retry))
			}
		}

		got = send(t, s, http.MethodGet, "/wire/stream?raw="+base64.RawURLEncoding.EncodeToString(in), nil)
		switch {
		case len(in) > wire.MaxBytes:
			if got.status != http.StatusRequestEntityTooLarge && got.status != http.StatusRequestURITooLong {
				t.Fatalf("GET /wire/stream of %d bytes = %d %q; want 413 or 414", len(in), got.status, got.body)
			}
		case got.status != http.StatusOK || !bytes.Equal(got.body, in):
			t.Fatalf("GET /wire/stream of %q = %d %q; want 200 and the bytes", in, got.status, got.body)
		}
	})
}
