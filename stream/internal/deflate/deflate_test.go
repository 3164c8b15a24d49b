package deflate

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
)

func TestNegotiate(t *testing.T) {
	for _, tt := range []struct {
		fields []string
		want   Coding
	}{
		{nil, None},
		{[]string{""}, None},
		{[]string{"gzip, deflate, br, zstd"}, Gzip}, // what browsers send
		{[]string{"deflate"}, Deflate},
		{[]string{"GZIP"}, Gzip},
		{[]string{"x-gzip"}, Gzip},
		{[]string{"identity"}, None},
		{[]string{"br, zstd"}, None},
		{[]string{"*"}, Gzip},
		{[]string{"*;q=0"}, None},
		{[]string{"*;q=0, deflate"}, Deflate},
		{[]string{"gzip;q=0"}, None},
		{[]string{"gzip;q=0, *"}, Deflate},
		{[]string{"gzip;q=0.5, deflate;q=0.8"}, Deflate},
		{[]string{"gzip;q=0.8, deflate;q=0.8"}, Gzip},
		{[]string{"gzip ; q=0.001"}, Gzip},
		{[]string{"gzip;q=0.5, identity;q=1"}, None},
		{[]string{"gzip;q=1, identity;q=1"}, Gzip},
		{[]string{"br", "gzip"}, Gzip}, // two field lines
		{[]string{"gzip;q=2"}, None},   // not a qvalue: skipped
		{[]string{"gzip;q=1.5"}, None},
		{[]string{"gzip;q=0.1234"}, None},
		{[]string{"gzip;q="}, None},
		{[]string{"gzip;level=9"}, None},
		{[]string{"gzip;q=abc, deflate"}, Deflate},
		{[]string{",,, ;;; garbage\x00"}, None},
		{[]string{"\"gzip\""}, None},
		{[]string{"gzip;q=0, gzip"}, None}, // the first listing counts
	} {
		if got := Negotiate(tt.fields); got != tt.want {
			t.Errorf("Negotiate(%q) = %q; want %q", tt.fields, got, tt.want)
		}
	}
}

// FuzzNegotiate checks that no Accept-Encoding makes Negotiate panic or
// answer other than a coding it knows, and that an element it cannot
// parse changes nothing when appended.
func FuzzNegotiate(f *testing.F) {
	for _, s := range []string{"gzip, deflate, br, zstd", "*;q=0", "gzip;q=0.5, identity", ";;,", "deflate;q=1.000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, field string) {
		c := Negotiate([]string{field})
		if c > Deflate {
			t.Fatalf("Negotiate(%q) = %d", field, c)
		}
		if got := Negotiate([]string{field + ", gzip;q=9"}); got != c {
			t.Errorf("Negotiate(%q) = %s, and %s with a bad element appended", field, c, got)
		}
	})
}

// events returns n world-like events of varied sizes from r.
func events(r *rand.Rand, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		pad := bytes.Repeat([]byte("x"), r.IntN(4)*r.IntN(200))
		out[i] = fmt.Appendf(nil, "id: %d\nevent: move\ndata: {\"seq\":%d,\"x\":%d,\"y\":%d,\"pad\":%q}\n\n", i, i, r.IntN(800), r.IntN(600), pad)
	}
	return out
}

// stream is what a client that joins at event join is sent: the coding's
// header, the opening and the events before the next restart point in
// stored blocks, then the shared bytes, with a heartbeat after every
// beat-th event (none when beat is 0).
func stream(c Coding, opening []byte, evs [][]byte, chunks [][]byte, restarts []bool, join, beat int) []byte {
	out := AppendStored(c.AppendHeader(nil), opening)
	f := Follower{Coding: c}
	for i := join; i < len(evs); i++ {
		out = f.Append(out, evs[i], chunks[i], restarts[i])
		if beat > 0 && i%beat == 0 {
			out = append(out, Heartbeat...)
		}
	}
	return out
}

// decode decodes a stream in c with the standard library, which shares
// no code with the encoder, and returns exactly want bytes of it; the
// stream has no end, so the decoder reads no further.
func decode(t *testing.T, c Coding, b []byte, want int) []byte {
	t.Helper()
	var (
		r   io.Reader
		err error
	)
	switch c {
	case Gzip:
		r, err = gzip.NewReader(bytes.NewReader(b))
	case Deflate:
		r, err = zlib.NewReader(bytes.NewReader(b))
	}
	if err != nil {
		t.Fatalf("%s header: %v", c, err)
	}
	got := make([]byte, want)
	if n, err := io.ReadFull(r, got); err != nil {
		t.Fatalf("%s: decoded %d of %d bytes: %v", c, n, want, err)
	}
	return got
}

// checkJoin makes n events, shares them, and checks that a client that
// joins at join decodes exactly the opening and the events from join on.
func checkJoin(t *testing.T, seed uint64, n, join, beat int) {
	r := rand.New(rand.NewPCG(seed, 1))
	evs := events(r, n)
	s := NewShared()
	chunks, restarts := make([][]byte, n), make([]bool, n)
	for i, e := range evs {
		chunks[i], restarts[i] = s.Add(uint64(i), e)
	}
	opening := []byte("retry: 2000\n\nevent: init\ndata: {}\n\n")
	want := bytes.Join(append([][]byte{opening}, evs[join:]...), nil)
	for _, c := range []Coding{Gzip, Deflate} {
		b := stream(c, opening, evs, chunks, restarts, join, beat)
		if got := decode(t, c, b, len(want)); !bytes.Equal(got, want) {
			t.Fatalf("%s, %d events, joined at %d: decoded %d bytes that differ from the plain stream's", c, n, join, len(got))
		}
	}
}

// TestJoin checks clients that join from the start, at a restart point,
// just after one and between two, with and without heartbeats.
func TestJoin(t *testing.T) {
	n := 3*RestartEvery + 5
	for _, join := range []int{0, 1, RestartEvery - 1, RestartEvery, RestartEvery + 1, 2*RestartEvery + 7, n - 1} {
		for _, beat := range []int{0, 1, 7} {
			checkJoin(t, uint64(join*10+beat), n, join, beat)
		}
	}
}

// FuzzJoin checks random event sizes and join points.
func FuzzJoin(f *testing.F) {
	f.Add(uint64(1), uint8(100), uint8(33), uint8(0))
	f.Add(uint64(7), uint8(5), uint8(4), uint8(2))
	f.Fuzz(func(t *testing.T, seed uint64, n, join, beat uint8) {
		if n == 0 {
			return
		}
		checkJoin(t, seed, int(n), int(join)%int(n), int(beat))
	})
}

// TestShared checks the restart points and what sharing saves on a run
// of world-like moves.
func TestShared(t *testing.T) {
	s := NewShared()
	plain, packed := 0, 0
	for i := range 10 * RestartEvery {
		e := fmt.Appendf(nil, "id: %d\nevent: move\ndata: {\"seq\":%d,\"x\":%d,\"y\":%d,\"ts\":%d}\n\n", 294162881+i, 294162881+i, 400+i%7, 300-i%5, 1796641888100+100*i)
		chunk, restart := s.Add(uint64(i), e)
		if want := i%RestartEvery == 0; restart != want {
			t.Fatalf("event %d: restart %v; want %v", i, restart, want)
		}
		plain, packed = plain+len(e), packed+len(chunk)
	}
	if ratio := float64(packed) / float64(plain); ratio > 0.40 {
		t.Errorf("shared stream is %.2f of the plain one; want at most 0.40", ratio)
	}
	if _, restart := s.Add(uint64(10*RestartEvery+5), []byte("x")); !restart {
		t.Error("an event after a gap is no restart point")
	}
}

func TestAppendStored(t *testing.T) {
	big := bytes.Repeat([]byte("ab"), maxStored) // two blocks
	for _, plain := range [][]byte{nil, []byte("x"), big} {
		b := AppendStored(Deflate.AppendHeader(nil), plain)
		if want := 2 + len(plain) + 5*((len(plain)+maxStored-1)/maxStored); len(b) != want {
			t.Errorf("%d bytes stored in %d; want %d", len(plain), len(b), want)
		}
		if got := decode(t, Deflate, b, len(plain)); !bytes.Equal(got, plain) {
			t.Errorf("%d bytes stored decode to %d others", len(plain), len(got))
		}
	}
}
