package sse

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

func TestEvent_AppendTo(t *testing.T) {
	tests := []struct {
		name string
		e    Event
		want string
	}{
		{
			name: "move event",
			e:    Event{ID: "7", Name: "move", Data: `{"x":1.5,"y":2}`},
			want: "id: 7\nevent: move\ndata: {\"x\":1.5,\"y\":2}\n\n",
		},
		{
			name: "no id line when ID empty",
			e:    Event{Name: "move", Data: `{"x":1}`},
			want: "event: move\ndata: {\"x\":1}\n\n",
		},
		{
			name: "data only",
			e:    Event{Data: "hello"},
			want: "data: hello\n\n",
		},
		{
			name: "multi-line data LF",
			e:    Event{Data: "a\nb\nc"},
			want: "data: a\ndata: b\ndata: c\n\n",
		},
		{
			name: "multi-line data CR",
			e:    Event{Data: "a\rb"},
			want: "data: a\ndata: b\n\n",
		},
		{
			name: "multi-line data CRLF",
			e:    Event{Data: "a\r\nb"},
			want: "data: a\ndata: b\n\n",
		},
		{
			name: "multi-line data mixed",
			e:    Event{Data: "a\r\nb\rc\nd\n\re"},
			want: "data: a\ndata: b\ndata: c\ndata: d\ndata: \ndata: e\n\n",
		},
		{
			name: "data with trailing newline",
			e:    Event{Data: "a\n"},
			want: "data: a\ndata: \n\n",
		},
		{
			name: "data is one CRLF",
			e:    Event{Data: "\r\n"},
			want: "data: \ndata: \n\n",
		},
		{
			name: "data starting with space",
			e:    Event{Data: " a"},
			want: "data:  a\n\n",
		},
		{
			name: "data with colon and NUL",
			e:    Event{Data: "id: 1\x00"},
			want: "data: id: 1\x00\n\n",
		},
		{
			name: "empty data with name",
			e:    Event{Name: "ping"},
			want: "event: ping\ndata: \n\n",
		},
		{
			name: "comment only",
			e:    Event{Comment: "keep-alive"},
			want: ": keep-alive\n\n",
		},
		{
			name: "multi-line comment",
			e:    Event{Comment: "a\nb\r\nc\rd"},
			want: ": a\n: b\n: c\n: d\n\n",
		},
		{
			name: "all fields in order",
			e:    Event{Comment: "hi", Retry: 1500 * time.Millisecond, ID: "1", Name: "move", Data: "d"},
			want: ": hi\nretry: 1500\nid: 1\nevent: move\ndata: d\n\n",
		},
		{
			name: "retry seconds",
			e:    Event{Retry: 3 * time.Second},
			want: "retry: 3000\n\n",
		},
		{
			name: "retry truncated to milliseconds",
			e:    Event{Retry: 2*time.Millisecond + 999*time.Microsecond},
			want: "retry: 2\n\n",
		},
		{
			name: "retry below a millisecond",
			e:    Event{Retry: 500 * time.Microsecond},
			want: "retry: 0\n\n",
		},
		{
			name: "retry zero omitted",
			e:    Event{Retry: 0, Data: "x"},
			want: "data: x\n\n",
		},
		{
			name: "id only",
			e:    Event{ID: "42"},
			want: "id: 42\n\n",
		},
		{
			name: "id and name with spaces and colons",
			e:    Event{ID: " a:b ", Name: " move: "},
			want: "id:  a:b \nevent:  move: \ndata: \n\n",
		},
		{
			name: "unicode",
			e:    Event{ID: "ü", Name: "ß", Data: "日本\u2028語"},
			want: "id: ü\nevent: ß\ndata: 日本\u2028語\n\n",
		},
		{
			name: "zero event",
			e:    Event{},
			want: "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.e.Validate(); err != nil {
				t.Fatalf("Validate() = %v; want nil", err)
			}
			prefix := []byte("prev")
			got, err := tt.e.AppendTo(prefix)
			if err != nil {
				t.Fatalf("AppendTo() error = %v; want nil", err)
			}
			if !bytes.HasPrefix(got, prefix) {
				t.Fatalf("AppendTo() = %q; want it to start with %q", got, prefix)
			}
			if got := string(got[len(prefix):]); got != tt.want {
				t.Errorf("AppendTo() = %q; want %q", got, tt.want)
			}

			var buf bytes.Buffer
			n, err := tt.e.WriteTo(&buf)
			if err != nil {
				t.Fatalf("WriteTo() error = %v; want nil", err)
			}
			if buf.String() != tt.want || n != int64(len(tt.want)) {
				t.Errorf("WriteTo() = %d, %q; want %d, %q", n, buf.String(), len(tt.want), tt.want)
			}
			if tt.e.ID == "" && strings.Contains("\n"+buf.String(), "\nid:") {
				t.Errorf("WriteTo() = %q; want no id: line for an empty ID", buf.String())
			}
		})
	}
}

func TestEvent_Validate(t *testing.T) {
	tests := []struct {
		name      string
		e         Event
		wantField string // the error must name the field
	}{
		{name: "id with CR", e: Event{ID: "1\r", Data: "x"}, wantField: "event id"},
		{name: "id with LF", e: Event{ID: "1\ndata: evil", Data: "x"}, wantField: "event id"},
		{name: "id with CRLF", e: Event{ID: "\r\n"}, wantField: "event id"},
		{name: "id with NUL", e: Event{ID: "1\x002"}, wantField: "event id"},
		{name: "id not UTF-8", e: Event{ID: "\xff"}, wantField: "event id"},
		{name: "name with CR", e: Event{Name: "move\r"}, wantField: "event name"},
		{name: "name with LF", e: Event{Name: "move\nid: 9"}, wantField: "event name"},
		{name: "name with NUL", e: Event{Name: "mo\x00ve"}, wantField: "event name"},
		{name: "name not UTF-8", e: Event{Name: "mo\xc3ve"}, wantField: "event name"},
		{name: "data not UTF-8", e: Event{Data: "a\xe2\x82"}, wantField: "event data"},
		{name: "comment not UTF-8", e: Event{Comment: "\xed\xa0\x80"}, wantField: "event comment"},
		{name: "negative retry", e: Event{Retry: -time.Millisecond, Data: "x"}, wantField: "event retry"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.e.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.wantField) || !strings.HasPrefix(err.Error(), "sse: ") {
				t.Fatalf("Validate() = %v; want an sse: error naming %q", err, tt.wantField)
			}

			dst := []byte("prev")
			got, err := tt.e.AppendTo(dst)
			if err == nil {
				t.Errorf("AppendTo() error = nil; want %v", tt.e.Validate())
			}
			if string(got) != "prev" {
				t.Errorf("AppendTo() = %q; want %q (dst unchanged)", got, "prev")
			}

			w := &eventCountingWriter{}
			n, err := tt.e.WriteTo(w)
			if err == nil {
				t.Errorf("WriteTo() error = nil; want %v", tt.e.Validate())
			}
			if n != 0 || w.calls != 0 || w.buf.Len() != 0 {
				t.Errorf("WriteTo() wrote %d bytes in %d calls (returned %d); want nothing written", w.buf.Len(), w.calls, n)
			}
		})
	}
}

// eventCountingWriter records what is written to it and in how many calls.
type eventCountingWriter struct {
	buf   bytes.Buffer
	calls int
}

func (w *eventCountingWriter) Write(p []byte) (int, error) {
	w.calls++
	return w.buf.Write(p)
}

func TestEvent_WriteToSingleWrite(t *testing.T) {
	e := Event{Comment: "c1\nc2", Retry: time.Second, ID: "1", Name: "move", Data: strings.Repeat("line\n", 500)}
	w := &eventCountingWriter{}
	n, err := e.WriteTo(w)
	if err != nil {
		t.Fatalf("WriteTo() error = %v; want nil", err)
	}
	if w.calls != 1 {
		t.Errorf("WriteTo() made %d Write calls; want 1", w.calls)
	}
	if n != int64(w.buf.Len()) {
		t.Errorf("WriteTo() = %d; want %d (bytes written)", n, w.buf.Len())
	}
}

// eventShortWriter accepts at most max bytes per Write, reporting no error, or
// fails every Write with err.
type eventShortWriter struct {
	max int
	err error
}

func (w eventShortWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	return min(len(p), w.max), nil
}

func TestEvent_WriteToErrors(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name    string
		w       io.Writer
		wantN   int64
		wantErr error
	}{
		{name: "writer error", w: eventShortWriter{err: boom}, wantN: 0, wantErr: boom},
		{name: "short write", w: eventShortWriter{max: 3}, wantN: 3, wantErr: io.ErrShortWrite},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := Event{Name: "move", Data: "x"}.WriteTo(tt.w)
			if n != tt.wantN || !errors.Is(err, tt.wantErr) {
				t.Errorf("WriteTo() = %d, %v; want %d, %v", n, err, tt.wantN, tt.wantErr)
			}
		})
	}
}

func TestEvent_AppendToAllocs(t *testing.T) {
	e := Event{
		Comment: "hb",
		Retry:   2 * time.Second,
		ID:      "seed-1:42",
		Name:    "move",
		Data:    "{\"x\":12.5,\"y\":3.25}\r\n{\"t\":1}",
	}
	buf := make([]byte, 0, 1024)
	allocs := testing.AllocsPerRun(100, func() {
		buf, _ = e.AppendTo(buf[:0])
	})
	if allocs != 0 {
		t.Errorf("AppendTo() into a buffer with room allocates %v times; want 0", allocs)
	}
}

// benchMoveEvent is a typical event of the demo stream.
var benchMoveEvent = Event{
	ID:   "s42-1337",
	Name: "move",
	Data: `{"x":312.25,"y":87.5,"t":1732160000123}`,
}

func BenchmarkEvent_WriteTo(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := benchMoveEvent.WriteTo(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEvent_AppendTo(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, 256)
	for b.Loop() {
		var err error
		if buf, err = benchMoveEvent.AppendTo(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}
