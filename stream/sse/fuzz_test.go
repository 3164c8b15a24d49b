package sse

import (
	"bytes"
	"cmp"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"
	"unicode/utf8"
)

// normalizeLineEnds turns CRLF and CR into LF, as the event stream parser
// reads them.
func normalizeLineEnds(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}

// FuzzEvent encodes an event, then parses it back. An event may be rejected
// only for a reason that [Event.Validate] documents. An accepted event must
// read back as exactly itself, with no field injected and nothing else
// dispatched.
func FuzzEvent(f *testing.F) {
	seeds := []struct {
		id, name, data, comment string
		retryMs                 int64
	}{
		{"1", "move", `{"x":1.5,"y":2}`, "", 0},
		{"", "", "plain", "", 0},
		{"", "", "a\r\nb\rc\nd\n\re", "", 0},
		{"", "", "trailing\n", "", 0},
		{"", "", "\r\n", "", 0},
		{"", "", "\r", "", 0},
		{"", "", " leading space", "", 0},
		{"", "", ":colon\n: also", "", 0},
		{"", "", "\uFEFFbom", "", 0},
		{"", "ping", "", "", 0},
		{"", "message", "x", "", 0},
		{"", "", "", "heartbeat", 0},
		{"", "", "", "a\nb\r\nc\r", 0},
		{"7", "", "", "", 0},
		{" 7 ", " move ", "x", "", 0},
		{"", "", "", "", 1500},
		{"", "", "", "", 0},
		{"s1:2", "init", "{}", "hello", 3000},
		{"1\r", "move", "x", "", 0},
		{"1\ndata: injected", "", "x", "", 0},
		{"1\x00", "", "x", "", 0},
		{"", "move\nid: 9", "x", "", 0},
		{"", "mo\x00ve", "x", "", 0},
		{"\xff", "", "x", "", 0},
		{"", "\xc3", "x", "", 0},
		{"", "", "a\xe2\x82", "", 0},
		{"", "", "x", "\xed\xa0\x80", 0},
		{"", "", "x", "", -1},
		{"", "", "x", "", math.MaxInt64},
		{"", "", "x", "", math.MinInt64},
		{"", "", "x", "", math.MaxInt64 / int64(time.Millisecond)},
		{"日本", "ß", "😀\u2028\u0085", "é", 1},
		{"", "", "a\x00b", "\x00", 0},
	}
	for _, s := range seeds {
		f.Add(s.id, s.name, s.data, s.comment, s.retryMs)
	}
	f.Fuzz(func(t *testing.T, id, name, data, comment string, retryMs int64) {
		e := Event{ID: id, Name: name, Data: data, Comment: comment, Retry: fuzzRetry(retryMs)}
		b, err := e.AppendTo(nil)

		justified := strings.ContainsAny(id, "\r\n\x00") || strings.ContainsAny(name, "\r\n\x00") ||
			!utf8.ValidString(id) || !utf8.ValidString(name) || !utf8.ValidString(data) || !utf8.ValidString(comment) ||
			e.Retry < 0
		if err != nil {
			if !justified {
				t.Fatalf("AppendTo(%q) error = %v; want nil (nothing in the event is invalid)", e, err)
			}
			if len(b) != 0 {
				t.Fatalf("AppendTo(%q) = %q, %v; want nothing appended", e, b, err)
			}
			return
		}
		if justified {
			t.Fatalf("AppendTo(%q) = %q, nil; want an error", e, b)
		}
		var w bytes.Buffer
		if n, err := e.WriteTo(&w); err != nil || n != int64(len(b)) || !bytes.Equal(w.Bytes(), b) {
			t.Fatalf("WriteTo() = %d, %v, %q; want %d, nil, %q", n, err, w.Bytes(), len(b), b)
		}

		want := decodeResult{}
		if name != "" || data != "" {
			want.events = []Event{{ID: id, Name: cmp.Or(name, "message"), Data: normalizeLineEnds(data)}}
		}
		if e.Retry > 0 {
			want.retry, want.retrySet = e.Retry.Truncate(time.Millisecond), true
		}
		if comment != "" {
			want.comments = strings.Count(normalizeLineEnds(comment), "\n") + 1
		}
		got, err := decodeAllEvents(t, bytes.NewReader(b), len(b))
		if err != io.EOF {
			t.Fatalf("Next() error = %v; want io.EOF", err)
		}
		diffDecodeResult(t, got, want)
	})
}

// fuzzRetry turns a fuzzed count of milliseconds into a Duration. Counts too
// large for a Duration are used as nanoseconds, so extremes are still tried.
func fuzzRetry(ms int64) time.Duration {
	const limit = math.MaxInt64 / int64(time.Millisecond)
	if -limit <= ms && ms <= limit {
		return time.Duration(ms) * time.Millisecond
	}
	return time.Duration(ms)
}

// FuzzDecoder feeds arbitrary bytes to a [Decoder]. The Decoder must not
// panic, and it must end with io.EOF. Its result must not depend on how
// reads split the stream. It must agree with referenceDecode, a plain
// transcription of the standard.
func FuzzDecoder(f *testing.F) {
	for _, s := range []string{
		"",
		"data: hello\n\n",
		"id: 1\r\nevent: move\r\ndata: a\r\ndata: b\r\n\r\n",
		"data: a\rdata: b\r\r",
		"data: a\n\rdata: b\r\r\n\n",
		"\xEF\xBB\xBFdata: x\n\n",
		"\xEF\xBB\xBF\xEF\xBB\xBFdata: x\n\n",
		"\xEF\xBB",
		": hb\n:\ndata\n\ndata:\n\n",
		"retry: 1500\nretry: 1a\nretry: 99999999999999999999\n",
		"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\nid\ndata: c\n\n",
		"event: move\n\nevent:\ndata: x\n\n",
		"data: \xF0\x9F\x98\n\xC0\x80\xED\xA0\x80\n\n",
		"data: x",
		"\r\n\r\n\r\r\n\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		want := referenceDecode(in)
		readers := map[string]io.Reader{
			"whole":    bytes.NewReader(in),
			"one byte": iotest.OneByteReader(bytes.NewReader(in)),
			"split":    &chunkReader{chunks: []string{string(in[:len(in)/2]), string(in[len(in)/2:])}},
		}
		for name, r := range readers {
			got, err := decodeAllEvents(t, r, len(in))
			if err != io.EOF {
				t.Fatalf("%s: Next() error = %v; want io.EOF", name, err)
			}
			for _, e := range got.events {
				if !utf8.ValidString(e.ID) || !utf8.ValidString(e.Name) || !utf8.ValidString(e.Data) ||
					e.Name == "" || strings.ContainsRune(e.ID, 0) || e.Retry != 0 || e.Comment != "" {
					t.Errorf("%s: Next() = %q; want valid UTF-8, a name, an ID without NUL, no Retry or Comment", name, e)
				}
			}
			diffDecodeResult(t, got, want)
		}
	})
}

// referenceDecode interprets a whole event stream held in memory, step by
// step as the standard words it, without regard for speed.
func referenceDecode(in []byte) decodeResult {
	var res decodeResult
	s := strings.TrimPrefix(string(in), "\xEF\xBB\xBF")
	var data, typ, lastID strings.Builder
	for {
		i := strings.IndexAny(s, "\r\n")
		if i < 0 {
			return res // a line without a line end, and any event it is part of, is discarded
		}
		line := string(appendValidUTF8(nil, []byte(s[:i])))
		if strings.HasPrefix(s[i:], "\r\n") {
			i++
		}
		s = s[i+1:]

		switch {
		case line == "":
			d := data.String()
			if d != "" {
				res.events = append(res.events, Event{
					ID:   lastID.String(),
					Name: cmp.Or(typ.String(), "message"),
					Data: strings.TrimSuffix(d, "\n"),
				})
			}
			data.Reset()
			typ.Reset()
		case strings.HasPrefix(line, ":"):
			res.comments++
		default:
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "event":
				typ.Reset()
				typ.WriteString(value)
			case "data":
				data.WriteString(value + "\n")
			case "id":
				if !strings.ContainsRune(value, 0) {
					lastID.Reset()
					lastID.WriteString(value)
				}
			case "retry":
				if value != "" && strings.Trim(value, "0123456789") == "" {
					ms, err := strconv.ParseInt(value, 10, 64)
					if err != nil || ms > math.MaxInt64/int64(time.Millisecond) {
						ms = math.MaxInt64 / int64(time.Millisecond)
					}
					res.retry, res.retrySet = time.Duration(ms)*time.Millisecond, true
				}
			}
		}
	}
}

// FuzzLineScans checks the encoder's one-pass scans against the standard
// library's plain ones. checkLine must agree with strings.ContainsAny and
// utf8.ValidString, and indexLineBreak with strings.IndexAny.
func FuzzLineScans(f *testing.F) {
	for _, s := range []string{"", "move", "1.367.375.42.89a165066b6e30c6", "a\rb", "a\nb", "a\r\nb", "\x00", "é\n", "\xff", "ab\xffc\r"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var want error
		switch {
		case strings.ContainsAny(s, "\r\n\x00"):
			want = errEventIDLine
		case !utf8.ValidString(s):
			want = errEventIDUTF8
		}
		if got := checkLine(s, errEventIDLine, errEventIDUTF8); got != want {
			t.Errorf("checkLine(%q) = %v; want %v", s, got, want)
		}
		if got, want := indexLineBreak(s), strings.IndexAny(s, "\r\n"); got != want {
			t.Errorf("indexLineBreak(%q) = %d; want %d", s, got, want)
		}
	})
}
