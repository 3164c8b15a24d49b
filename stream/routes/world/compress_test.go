package world_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sse-demo/movingobject/stream/transport"
)

// readEvents reads an event stream from r: it drops the opening retry
// field, then keeps every line up to the end of the event with id last.
// The retry has a jitter that differs from stream to stream; the init
// event's retry_ms must be the same, and it is kept as "R".
func readEvents(tb testing.TB, r io.Reader, last uint64) []byte {
	tb.Helper()
	br := bufio.NewReader(r)
	line, err := br.ReadString('\n')
	retry, ok := strings.CutPrefix(line, "retry: ")
	if err != nil || !ok {
		tb.Fatalf("first line %q, %v; want the retry field", line, err)
	}
	jitter := []byte(`"retry_ms":` + strings.TrimSuffix(retry, "\n") + "}")
	if line, err := br.ReadString('\n'); err != nil || line != "\n" {
		tb.Fatalf("line after retry %q, %v; want a blank line", line, err)
	}
	var out bytes.Buffer
	stop := fmt.Sprintf("id: %d\n", last)
	seen := false
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			tb.Fatalf("after %d bytes: %v", out.Len(), err)
		}
		out.WriteString(line)
		seen = seen || line == stop
		if seen && line == "\n" {
			if !bytes.Contains(out.Bytes(), jitter) {
				tb.Fatalf("the init's retry_ms is not the stream's retry %s", jitter)
			}
			return bytes.Replace(out.Bytes(), jitter, []byte(`"retry_ms":R}`), 1)
		}
	}
}

// decoder returns a streaming decoder of body in coding.
func decoder(tb testing.TB, coding string, body io.Reader) io.Reader {
	tb.Helper()
	var (
		r   io.Reader
		err error
	)
	switch coding {
	case "gzip":
		r, err = gzip.NewReader(body)
	case "deflate":
		r, err = zlib.NewReader(body)
	default:
		return body
	}
	if err != nil {
		tb.Fatalf("%s stream: %v", coding, err)
	}
	return r
}

// TestEventsCompressed opens the world's stream plain and compressed,
// resumed at the same move, and checks that each compressed stream
// decodes to exactly the plain one's bytes. The streams join between two
// restart points of the shared compressed stream, and read past three of
// them, so each decodes its stored blocks and then the shared bytes.
func TestEventsCompressed(t *testing.T) {
	t.Parallel()
	start := fastStart()
	s := serve(t, newWorld(t, fastInterval, start), options{})
	from := seqAt(start, time.Now(), fastInterval) - 5
	last := from + 120
	resume := strconv.FormatUint(from, 10)
	plainRes := s.Get(t, "/world/events", "Last-Event-ID", resume)
	if got := plainRes.Header.Get("Content-Encoding"); got != "" {
		t.Errorf("plain stream: Content-Encoding %q; want none", got)
	}
	if got := plainRes.Header.Get("Vary"); got != "Accept-Encoding" {
		t.Errorf("plain stream: Vary %q; want Accept-Encoding", got)
	}
	plain := readEvents(t, plainRes.Body, last)
	if !bytes.HasPrefix(plain, fmt.Appendf(nil, "id: %d\nevent: init\n", from)) {
		t.Fatalf("plain stream starts %q; want the init at %d", plain[:min(len(plain), 40)], from)
	}
	for _, coding := range []string{"gzip", "deflate"} {
		res := s.Get(t, "/world/events", "Last-Event-ID", resume, "Accept-Encoding", coding)
		if got := res.Header.Get("Content-Encoding"); got != coding {
			t.Errorf("%s: Content-Encoding %q", coding, got)
		}
		if got := res.Header.Get("Vary"); got != "Accept-Encoding" {
			t.Errorf("%s: Vary %q; want Accept-Encoding", coding, got)
		}
		if got := readEvents(t, decoder(t, coding, res.Body), last); !bytes.Equal(got, plain) {
			i := 0
			for i < min(len(got), len(plain)) && got[i] == plain[i] {
				i++
			}
			t.Errorf("%s stream decodes to %d bytes that differ from the plain stream's %d at %d: %q against %q",
				coding, len(got), len(plain), i, got[max(0, i-40):min(len(got), i+40)], plain[max(0, i-40):min(len(plain), i+40)])
		}
	}
}

// TestEventsAcceptEncoding checks the coding picked for odd and bad
// Accept-Encoding fields: never an error, always a Vary.
func TestEventsAcceptEncoding(t *testing.T) {
	t.Parallel()
	s := serve(t, newWorld(t, stillInterval, stillStart()), options{})
	for _, tt := range []struct {
		accept string // "" sends no field
		want   string
	}{
		{"", ""},
		{"identity", ""},
		{"br, zstd", ""},
		{"gzip, deflate, br, zstd", "gzip"},
		{"*", "gzip"},
		{"gzip;q=0", ""},
		{"gzip;q=0, deflate;q=0.5", "deflate"},
		{"gzip;q=0.2, identity;q=0.9", ""},
		{";;, ,\t;q=", ""},
		{"gzip;q=banana", ""},
	} {
		header := []string{}
		if tt.accept != "" {
			header = []string{"Accept-Encoding", tt.accept}
		}
		res := s.Get(t, "/world/events", header...)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Encoding") != tt.want || res.Header.Get("Vary") != "Accept-Encoding" {
			t.Errorf("Accept-Encoding %q: %d, Content-Encoding %q, Vary %q; want 200, %q, Accept-Encoding",
				tt.accept, res.StatusCode, res.Header.Get("Content-Encoding"), res.Header.Get("Vary"), tt.want)
		}
	}
}

// TestEventsCompressedHeartbeat checks that a silent compressed stream
// sends empty stored blocks, which decode to nothing, where a plain one
// sends its comment.
func TestEventsCompressedHeartbeat(t *testing.T) {
	t.Parallel()
	s := serve(t, newWorld(t, stillInterval, stillStart()), options{streams: transport.Options{Heartbeat: 20 * time.Millisecond}})
	res := s.Get(t, "/world/events", "Accept-Encoding", "gzip")
	beat := []byte{0x00, 0x00, 0x00, 0xff, 0xff} // RFC 1951: a stored block of no bytes
	var raw []byte
	buf := make([]byte, 512)
	for bytes.Count(raw, beat) < 3 {
		n, err := res.Body.Read(buf)
		if err != nil {
			t.Fatalf("after %d bytes: %v", len(raw), err)
		}
		raw = append(raw, buf[:n]...)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := io.ReadAll(zr)
	if err != io.ErrUnexpectedEOF { // the stream has no end yet
		t.Fatalf("decode %d bytes: %v; want the unexpected end of a stream that goes on", len(raw), err)
	}
	if !bytes.HasPrefix(decoded, []byte("retry: ")) || !bytes.HasSuffix(decoded, []byte("\n\n")) || bytes.Contains(decoded, []byte(": heartbeat")) {
		t.Errorf("decoded %q; want the opening alone", decoded)
	}
}
