package sse

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// decodeResult is everything a Decoder reports about a stream.
type decodeResult struct {
	events   []Event
	retry    time.Duration
	retrySet bool
	comments int
}

// decodeAllEvents reads events from r until Next fails, and returns them with
// the error that ended the stream. It fails tb if Next does not end within
// limit calls.
func decodeAllEvents(tb testing.TB, r io.Reader, limit int) (decodeResult, error) {
	tb.Helper()
	d := NewDecoder(r)
	var res decodeResult
	for range limit + 1 {
		e, err := d.Next()
		if err != nil {
			res.retry, res.retrySet = d.Retry()
			res.comments = d.Comments()
			return res, err
		}
		res.events = append(res.events, e)
	}
	tb.Fatalf("Next() returned more than %d events", limit)
	return res, nil
}

// chunkReader returns its chunks one per Read, so that a test decides where
// reads split the stream.
type chunkReader struct {
	chunks []string
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.chunks[0])
	if r.chunks[0] = r.chunks[0][n:]; r.chunks[0] == "" {
		r.chunks = r.chunks[1:]
	}
	return n, nil
}

func TestDecoder_Next(t *testing.T) {
	msg := func(id, data string) Event { return Event{ID: id, Name: "message", Data: data} }
	tests := []struct {
		name         string
		in           string
		want         []Event
		wantRetry    time.Duration
		wantRetrySet bool
		wantComments int
	}{
		{name: "empty stream", in: ""},
		{name: "single event", in: "data: hello\n\n", want: []Event{msg("", "hello")}},
		{
			name: "named event then message default",
			in:   "event: move\ndata: 1\n\ndata: 2\n\n",
			want: []Event{{Name: "move", Data: "1"}, msg("", "2")},
		},
		{
			name: "LF line ends",
			in:   "data: a\ndata: b\n\n",
			want: []Event{msg("", "a\nb")},
		},
		{
			name: "CRLF line ends",
			in:   "id: 1\r\ndata: a\r\ndata: b\r\n\r\n",
			want: []Event{msg("1", "a\nb")},
		},
		{
			name: "CR line ends",
			in:   "id: 1\rdata: a\rdata: b\r\r",
			want: []Event{msg("1", "a\nb")},
		},
		{
			name: "mixed line ends",
			in:   "data: a\r\ndata: b\rdata: c\n\r\ndata: d\r\r",
			want: []Event{msg("", "a\nb\nc"), msg("", "d")},
		},
		{
			name: "LF CR is two line ends",
			in:   "data: a\n\rdata: b\n\n",
			want: []Event{msg("", "a"), msg("", "b")},
		},
		{
			name: "CR CR LF is two line ends",
			in:   "data: a\r\r\ndata: b\r\n\r\n",
			want: []Event{msg("", "a"), msg("", "b")},
		},
		{
			name: "BOM stripped",
			in:   "\xEF\xBB\xBFdata: x\n\n",
			want: []Event{msg("", "x")},
		},
		{
			name: "BOM alone on the first line",
			in:   "\xEF\xBB\xBF\ndata: x\n\n",
			want: []Event{msg("", "x")},
		},
		{
			name: "only one BOM stripped",
			in:   "\xEF\xBB\xBF\xEF\xBB\xBFdata: x\n\ndata: y\n\n",
			want: []Event{msg("", "y")},
		},
		{
			name: "BOM after a blank first line kept",
			in:   "\n\xEF\xBB\xBFdata: x\n\ndata: y\n\n",
			want: []Event{msg("", "y")},
		},
		{
			name: "BOM inside a value kept",
			in:   "data: \xEF\xBB\xBFx\n\n",
			want: []Event{msg("", "\uFEFFx")},
		},
		{
			name: "UTF-16 BOM is not a BOM",
			in:   "\xFF\xFEdata: 1\n\ndata: 2\n\n",
			want: []Event{msg("", "2")},
		},
		{
			name: "invalid UTF-8 replaced",
			in:   "id: \xFF\nevent: \xC3\ndata: a\xE2\x82b\xED\xA0\x80c\n\n",
			want: []Event{{ID: "\uFFFD", Name: "\uFFFD", Data: "a\uFFFDb\uFFFD\uFFFD\uFFFDc"}},
		},
		{
			name: "invalid UTF-8 before a line end",
			in:   "data: \xF0\x9F\x98\ndata: \xF0\x9F\x98\x80\n\n",
			want: []Event{msg("", "\uFFFD\n\U0001F600")},
		},
		{
			name:         "comments",
			in:           ": hello\n:\n:: x\ndata: x\n\n",
			want:         []Event{msg("", "x")},
			wantComments: 3,
		},
		{
			name:         "comment only",
			in:           ": ping\n\n",
			wantComments: 1,
		},
		{
			name:         "comment inside an event",
			in:           "data: a\n: ping\ndata: b\n\n",
			want:         []Event{msg("", "a\nb")},
			wantComments: 1,
		},
		{
			name: "one leading space stripped",
			in:   "data:  two\n\ndata:none\n\ndata:\tx\n\n",
			want: []Event{msg("", " two"), msg("", "none"), msg("", "\tx")},
		},
		{
			name: "colon in value",
			in:   "data: a: b\n\n",
			want: []Event{msg("", "a: b")},
		},
		{
			name: "data with no colon gives an empty line",
			in:   "data\n\ndata\ndata\n\n",
			want: []Event{msg("", ""), msg("", "\n")},
		},
		{
			name: "empty data dispatches",
			in:   "data:\n\ndata: \n\n",
			want: []Event{msg("", ""), msg("", "")},
		},
		{
			name: "only the last LF stripped",
			in:   "data: a\ndata:\n\n",
			want: []Event{msg("", "a\n")},
		},
		{
			name: "NUL in data kept",
			in:   "data: a\x00b\n\n",
			want: []Event{msg("", "a\x00b")},
		},
		{
			name: "unknown fields ignored",
			in:   "foo: bar\nretry2: 5\ndata: x\nbar\n\n",
			want: []Event{msg("", "x")},
		},
		{
			name: "field names are case-sensitive",
			in:   "Data: x\nDATA: y\n\n",
		},
		{
			name: "no trimming of field names",
			in:   "data : x\n data: y\n\n",
		},
		{
			name: "event without data not dispatched",
			in:   "event: move\n\ndata: x\n\n",
			want: []Event{msg("", "x")},
		},
		{
			name: "empty event name is message",
			in:   "event: move\nevent:\ndata: x\n\nevent\ndata: y\n\n",
			want: []Event{msg("", "x"), msg("", "y")},
		},
		{
			name: "last event name wins",
			in:   "event: a\nevent: b\ndata: x\n\n",
			want: []Event{{Name: "b", Data: "x"}},
		},
		{
			name: "id persists across events",
			in:   "id: 1\ndata: a\n\ndata: b\n\nid: 2\ndata: c\n\n",
			want: []Event{msg("1", "a"), msg("1", "b"), msg("2", "c")},
		},
		{
			name: "id without colon resets the id",
			in:   "id: 1\ndata: a\n\nid\ndata: b\n\n",
			want: []Event{msg("1", "a"), msg("", "b")},
		},
		{
			name: "id with NUL ignored",
			in:   "id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n",
			want: []Event{msg("1", "a"), msg("1", "b")},
		},
		{
			name: "id in a message without data still counts",
			in:   "id: 7\n\ndata: x\n\n",
			want: []Event{msg("7", "x")},
		},
		{
			name: "id keeps spaces after the first",
			in:   "id:  7 \ndata: x\n\n",
			want: []Event{msg(" 7 ", "x")},
		},
		{
			name:         "retry digits",
			in:           "retry: 1500\ndata: x\n\n",
			want:         []Event{msg("", "x")},
			wantRetry:    1500 * time.Millisecond,
			wantRetrySet: true,
		},
		{
			name:         "retry with non-digits ignored",
			in:           "retry: 1500\nretry: 15a\nretry: -1\nretry: 1.5\nretry: +2\nretry:  20\nretry:\nretry\nretry: ２\n",
			wantRetry:    1500 * time.Millisecond,
			wantRetrySet: true,
		},
		{
			name:         "retry zero",
			in:           "retry: 0\n",
			wantRetry:    0,
			wantRetrySet: true,
		},
		{
			name:         "retry too large clamped",
			in:           "retry: 99999999999999999999999\n",
			wantRetry:    time.Duration(1<<63 - 1).Truncate(time.Millisecond),
			wantRetrySet: true,
		},
		{
			name: "retry unset",
			in:   "data: x\n\n",
			want: []Event{msg("", "x")},
		},
		{
			name: "blank lines dispatch nothing",
			in:   "\n\n\r\n\r",
		},
		{
			name: "incomplete event discarded at EOF",
			in:   "id: 1\ndata: a\n\nid: 2\ndata: b\n",
			want: []Event{msg("1", "a")},
		},
		{
			name: "unterminated line discarded at EOF",
			in:   "data: a\n\ndata: b\n\ndata: c",
			want: []Event{msg("", "a"), msg("", "b")},
		},
		{
			name: "blank line without a line end at EOF",
			in:   "data: a\n",
		},
		{
			name:         "retry and comments count without dispatch",
			in:           ": hb\nretry: 10\ndata: lost",
			wantRetry:    10 * time.Millisecond,
			wantRetrySet: true,
			wantComments: 1,
		},
		{
			name: "line longer than the read buffer",
			in:   "data: " + strings.Repeat("x", 100_000) + "\r\n\r\ndata: y\n\n",
			want: []Event{msg("", strings.Repeat("x", 100_000)), msg("", "y")},
		},
	}
	readers := []struct {
		name string
		wrap func(string) io.Reader
	}{
		{"whole", func(s string) io.Reader { return strings.NewReader(s) }},
		{"one byte", func(s string) io.Reader { return iotest.OneByteReader(strings.NewReader(s)) }},
		{"half", func(s string) io.Reader { return iotest.HalfReader(strings.NewReader(s)) }},
		{"data with EOF", func(s string) io.Reader { return iotest.DataErrReader(strings.NewReader(s)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := decodeResult{events: tt.want, retry: tt.wantRetry, retrySet: tt.wantRetrySet, comments: tt.wantComments}
			for i := range want.events {
				if want.events[i].Name == "" {
					want.events[i].Name = "message"
				}
			}
			check := func(t *testing.T, r io.Reader) {
				t.Helper()
				got, err := decodeAllEvents(t, r, len(tt.in))
				if err != io.EOF {
					t.Fatalf("Next() error = %v; want io.EOF", err)
				}
				diffDecodeResult(t, got, want)
			}
			for _, rd := range readers {
				t.Run(rd.name, func(t *testing.T) { check(t, rd.wrap(tt.in)) })
			}
			// Try every split into two reads. A CR at the end of one read
			// and an LF at the start of the next must still be one line end.
			if len(tt.in) < 200 {
				for k := 1; k < len(tt.in); k++ {
					t.Run(fmt.Sprintf("split at %d", k), func(t *testing.T) {
						check(t, &chunkReader{chunks: []string{tt.in[:k], tt.in[k:]}})
					})
				}
			}
		})
	}
}

// diffDecodeResult reports how got differs from want.
func diffDecodeResult(tb testing.TB, got, want decodeResult) {
	tb.Helper()
	if !slices.Equal(got.events, want.events) {
		tb.Errorf("Next() events = %q; want %q", got.events, want.events)
	}
	if got.retry != want.retry || got.retrySet != want.retrySet {
		tb.Errorf("Retry() = %v, %v; want %v, %v", got.retry, got.retrySet, want.retry, want.retrySet)
	}
	if got.comments != want.comments {
		tb.Errorf("Comments() = %d; want %d", got.comments, want.comments)
	}
}

func TestDecoder_CRLFSplitAcrossReads(t *testing.T) {
	r := &chunkReader{chunks: []string{"data: a\r", "\ndata: b\r", "\n\r", "\n", "data: c\r", "\r", "\n"}}
	got, err := decodeAllEvents(t, r, 10)
	if err != io.EOF {
		t.Fatalf("Next() error = %v; want io.EOF", err)
	}
	// "\r" "\r" "\n" is a CR line end (dispatch) and then an LF line end
	// (a blank line that dispatches nothing).
	want := []Event{{Name: "message", Data: "a\nb"}, {Name: "message", Data: "c"}}
	if !slices.Equal(got.events, want) {
		t.Errorf("Next() events = %q; want %q", got.events, want)
	}
}

// TestDecoder_NoLookahead checks that an event ended by CR is returned at
// once, without waiting for a byte that might be its LF.
func TestDecoder_NoLookahead(t *testing.T) {
	pr, pw := io.Pipe()
	t.Cleanup(func() { pr.Close() })
	go func() {
		_, _ = io.WriteString(pw, "data: a\r\r") // then stay open, like a live stream
	}()
	d := NewDecoder(pr)
	type result struct {
		e   Event
		err error
	}
	got := make(chan result, 1)
	go func() {
		e, err := d.Next()
		got <- result{e, err}
	}()
	select {
	case r := <-got:
		if want := (Event{Name: "message", Data: "a"}); r.err != nil || r.e != want {
			t.Errorf("Next() = %q, %v; want %q, nil", r.e, r.err, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Next() blocked after a CR CR line end; want the event at once")
	}
}

func TestDecoder_ReadError(t *testing.T) {
	boom := errors.New("boom")
	d := NewDecoder(io.MultiReader(strings.NewReader("data: a\n\ndata: b\n"), iotest.ErrReader(boom)))
	if e, err := d.Next(); err != nil || e.Data != "a" {
		t.Fatalf("Next() = %q, %v; want data a", e, err)
	}
	for range 2 { // the error sticks
		if _, err := d.Next(); !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "sse: ") {
			t.Errorf("Next() error = %v; want an sse: error wrapping %v", err, boom)
		}
	}
}

func TestDecoder_EOFSticks(t *testing.T) {
	d := NewDecoder(strings.NewReader("data: a\n\n"))
	if _, err := d.Next(); err != nil {
		t.Fatalf("Next() error = %v; want nil", err)
	}
	for range 3 {
		if _, err := d.Next(); err != io.EOF {
			t.Errorf("Next() error = %v; want io.EOF", err)
		}
	}
}

func TestDecoder_RoundTrip(t *testing.T) {
	events := []Event{
		{Comment: "welcome", Retry: 2500 * time.Millisecond},
		{ID: "1", Name: "move", Data: `{"x":1}`},
		{Data: "two\nlines"},
		{ID: "3", Name: "init", Data: "a\r\nb\rc"},
		{Comment: "hb"},
		{ID: "4"},
		{Name: "ping"},
	}
	var stream []byte
	for _, e := range events {
		var err error
		if stream, err = e.AppendTo(stream); err != nil {
			t.Fatalf("AppendTo(%q) error = %v", e, err)
		}
	}
	got, err := decodeAllEvents(t, bytes.NewReader(stream), len(events))
	if err != io.EOF {
		t.Fatalf("Next() error = %v; want io.EOF", err)
	}
	diffDecodeResult(t, got, decodeResult{
		events: []Event{
			{ID: "1", Name: "move", Data: `{"x":1}`},
			{ID: "1", Name: "message", Data: "two\nlines"},
			{ID: "3", Name: "init", Data: "a\nb\nc"},
			{ID: "4", Name: "ping"},
		},
		retry:    2500 * time.Millisecond,
		retrySet: true,
		comments: 2,
	})
}

func TestAppendValidUTF8(t *testing.T) {
	// Each maximal subpart of an ill-formed sequence is one U+FFFD, as in the
	// WHATWG Encoding standard (and Unicode's "best practice").
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "valid", in: "aé日😀\uFFFD", want: "aé日😀\uFFFD"},
		{name: "lone continuation", in: "a\x80b", want: "a\uFFFDb"},
		{name: "truncated 3-byte", in: "\xE2\x82A", want: "\uFFFDA"},
		{name: "truncated 4-byte at end", in: "\xF0\x9F\x98", want: "\uFFFD"},
		{name: "overlong 2-byte", in: "\xC0\x80", want: "\uFFFD\uFFFD"},
		{name: "overlong 3-byte", in: "\xE0\x80\x80", want: "\uFFFD\uFFFD\uFFFD"},
		{name: "surrogate", in: "\xED\xA0\x80", want: "\uFFFD\uFFFD\uFFFD"},
		{name: "above U+10FFFF", in: "\xF4\x90\x80\x80", want: "\uFFFD\uFFFD\uFFFD\uFFFD"},
		{name: "F5 and FF", in: "\xF5\xFF", want: "\uFFFD\uFFFD"},
		{name: "truncated then valid", in: "\xF0\x9F\xE6\x97\xA5", want: "\uFFFD日"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(appendValidUTF8([]byte("<"), []byte(tt.in))); got != "<"+tt.want {
				t.Errorf("appendValidUTF8(%q) = %q; want %q", tt.in, got, "<"+tt.want)
			}
		})
	}
}

// repeatReader reads its bytes over and over, never ending.
type repeatReader struct {
	b   []byte
	off int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := copy(p, r.b[r.off:])
	r.off = (r.off + n) % len(r.b)
	return n, nil
}

func BenchmarkDecoder(b *testing.B) {
	// Distinct ids, as in a real stream, so each event needs its own ID string.
	var stream []byte
	const events = 1000
	for i := range events {
		e := Event{
			ID:   "s42-" + strconv.Itoa(i),
			Name: "move",
			Data: `{"x":` + strconv.Itoa(i%640) + `.25,"y":87.5,"t":1732160000123}`,
		}
		if i%50 == 0 {
			e.Comment = "heartbeat"
		}
		var err error
		if stream, err = e.AppendTo(stream); err != nil {
			b.Fatal(err)
		}
	}
	d := NewDecoder(&repeatReader{b: stream})
	b.SetBytes(int64(len(stream) / events))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Next(); err != nil {
			b.Fatal(err)
		}
	}
}
