package walks

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/sse-demo/movingobject/simulation"
	"github.com/sse-demo/movingobject/stream/transport"
)

// FuzzParseParams feeds any query to ParseParams: it never panics, a
// refusal names the parameter and its range, and what it accepts is a
// valid walk that its own Query reads back as the same.
func FuzzParseParams(f *testing.F) {
	for _, q := range []string{
		"", "seed=42", "width=300&height=200&step=9&interval=10",
		"width=abc", "width=9", "height=-5", "height=1e3", "step=0", "width=50&step=51",
		"interval=9", "interval=60001", "interval=99999999999999999999", "interval=0.5",
		"seed=-1", "seed=9007199254740991", "seed=9007199254740992", "seed=18446744073709551616",
		"width=x&step=0", "width=%zz", "width=10&width=4000", "step=+5", "seed=0x10", "interval= 10",
		"width=4000&height=4000&step=1000&interval=60000&seed=0", "lastEventId=1.2.3.4.5",
	} {
		f.Add(q)
	}
	def := simulation.DefaultConfig()
	params := []string{"width", "height", "step", "interval", "seed"}
	f.Fuzz(func(t *testing.T, raw string) {
		q, _ := url.ParseQuery(raw) // a browser's malformed query still reaches the handler in part
		p, err := ParseParams(q, def)
		if err != nil {
			msg := err.Error()
			name, rest, _ := strings.Cut(msg, ": ")
			if !slices.Contains(params, name) || !strings.HasPrefix(rest, "must be an integer in [") {
				t.Fatalf("ParseParams(%q) error %q; want one that names a parameter and its range", raw, msg)
			}
			return
		}
		if err := p.Config.Validate(); err != nil {
			t.Fatalf("ParseParams(%q) = %+v, an invalid walk: %v", raw, p, err)
		}
		if p.Seed > MaxSeed || (!p.HasSeed && p.Seed != 0) {
			t.Fatalf("ParseParams(%q) seed = %d, %v; want at most %d, or 0 when not given", raw, p.Seed, p.HasSeed, uint64(MaxSeed))
		}
		back, err := ParseParams(p.Query(def), def)
		if err != nil || back != p {
			t.Fatalf("ParseParams(%q) = %+v; its Query %q reads back as %+v, %v", raw, p, p.Query(def).Encode(), back, err)
		}
	})
}

// FuzzTokenParse feeds any Last-Event-ID to the token parser: it never
// panics and accepts only the exact tokens the signer writes.
func FuzzTokenParse(f *testing.F) {
	conf := simulation.Config{Width: 200, Height: 100, Step: 5, Interval: simulation.DefaultConfig().Interval}
	signer := newTokenSigner(newTokenKey([]byte(DefaultResumeKey)), conf)
	good := string(signer.appendToken(nil, 5, simulation.Position{Seq: 3, X: 17, Y: 99}))
	for _, tok := range []string{
		good, "", "hello", "1.2.3", "1.2.3.4.5", "0.0.0.0.0000000000000000",
		"0" + good, strings.ToUpper(good), good + ".", "." + good, good + "0",
		"18446744073709551615.200.100.9007199254740991.ffffffffffffffff",
		"1.-1.2.3.0000000000000000", "é.ü.☃.1.x", strings.Repeat("9", transport.MaxLastEventID+1),
	} {
		f.Add(tok)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		seed, p, ok := signer.parse(tok)
		if !ok {
			if seed != 0 || p != (simulation.Position{}) {
				t.Fatalf("parse(%q) = %d, %+v, false; want zero values when refused", tok, seed, p)
			}
			return
		}
		if want := string(signer.appendToken(nil, seed, p)); want != tok {
			t.Fatalf("parse(%q) accepted it as seed %d at %+v, whose token is %q", tok, seed, p, want)
		}
		if p.X < 0 || p.X > conf.Width || p.Y < 0 || p.Y > conf.Height || seed > MaxSeed {
			t.Fatalf("parse(%q) = %d, %+v; outside the %dx%d box or the seed range", tok, seed, p, conf.Width, conf.Height)
		}
	})
}

// FuzzTokenRoundTrip signs any position of any valid walk: the token parses
// back as the same position, and not for another key or box.
func FuzzTokenRoundTrip(f *testing.F) {
	f.Add(uint16(800), uint16(600), uint16(5), uint64(42), uint64(0), uint16(400), uint16(300))
	f.Add(uint16(10), uint16(10), uint16(1), uint64(MaxSeed), uint64(1<<64-1), uint16(10), uint16(0))
	f.Add(uint16(4000), uint16(4000), uint16(1000), uint64(0), uint64(7), uint16(0), uint16(4000))
	f.Fuzz(func(t *testing.T, width, height, step uint16, seed, seq uint64, x, y uint16) {
		// Fold the inputs into a valid walk and a position in its box.
		in := func(v uint16, lo, hi int) int { return lo + int(v)%(hi-lo+1) }
		conf := simulation.Config{Width: in(width, simulation.MinSize, simulation.MaxSize), Height: in(height, simulation.MinSize, simulation.MaxSize),
			Interval: simulation.DefaultConfig().Interval}
		conf.Step = in(step, simulation.MinStep, simulation.MaxStepFor(conf.Width, conf.Height))
		if err := conf.Validate(); err != nil {
			t.Fatalf("folded walk %+v: %v", conf, err)
		}
		seed %= MaxSeed + 1
		pos := simulation.Position{Seq: seq, X: in(x, 0, conf.Width), Y: in(y, 0, conf.Height)}
		tok := string(newTokenSigner(newTokenKey([]byte("key")), conf).appendToken(nil, seed, pos))
		if len(tok) > transport.MaxLastEventID {
			t.Fatalf("token %q is %d bytes; want at most %d", tok, len(tok), transport.MaxLastEventID)
		}
		if gotSeed, got, ok := newTokenSigner(newTokenKey([]byte("key")), conf).parse(tok); !ok || gotSeed != seed || got != pos {
			t.Fatalf("parse(%q) = %d, %+v, %v; want %d, %+v, true", tok, gotSeed, got, ok, seed, pos)
		}
		if _, _, ok := newTokenSigner(newTokenKey([]byte("other key")), conf).parse(tok); ok {
			t.Fatalf("parse(%q) with another key accepted it", tok)
		}
		other := conf
		other.Step++
		if _, _, ok := newTokenSigner(newTokenKey([]byte("key")), other).parse(tok); ok {
			t.Fatalf("parse(%q) for step %d accepted a token of step %d", tok, other.Step, conf.Step)
		}
	})
}
