package transport_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/webtransport-go"

	"github.com/sse-demo/movingobject/internal/apptest"
	"github.com/sse-demo/movingobject/internal/logwatch"
	"github.com/sse-demo/movingobject/internal/quicserver"
	"github.com/sse-demo/movingobject/stream/transport"
)

// wtSite is a Streams whose WebTransport sessions a QUIC server on
// 127.0.0.1 opens at CONNECT /wt, each with a feed of moves every
// interval.
type wtSite struct {
	*site
	url string
}

func serveWT(tb testing.TB, o transport.Options, every time.Duration) *wtSite {
	tb.Helper()
	q, err := quicserver.New(quicserver.Options{Host: "127.0.0.1"})
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := quicserver.ListenTCP("127.0.0.1:0", q) // the UDP port is the TCP one
	if err != nil {
		tb.Fatal(err)
	}
	ln.Close()
	s := &site{log: logwatch.New(), ended: make(chan struct{}, 100)}
	o.Logger = slog.New(slog.NewTextHandler(s.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	o.WebTransport = q.Upgrader()
	s.streams = transport.New(o)
	e := echo.New()
	e.CONNECT("/wt", func(c echo.Context) error { return s.streams.WebTransport(c, s.feed(newCounter(every, true))) })
	if err := q.Serve(e); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		s.streams.Close()
		q.Close()
	})
	return &wtSite{site: s, url: "https://" + ln.Addr().String() + "/wt"}
}

// dial opens a session, trusting any certificate, with the receive
// windows of conf (nil: the defaults), and accepts its stream.
func (w *wtSite) dial(tb testing.TB, conf *quic.Config) (*webtransport.Session, *bufio.Reader) {
	tb.Helper()
	tr := &webtransport.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, QUICConfig: conf}
	tb.Cleanup(func() { tr.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), apptest.WaitBound)
	defer cancel()
	_, sess, err := tr.Dial(ctx, w.url, nil)
	if err != nil {
		tb.Fatalf("dial %s: %v", w.url, err)
	}
	tb.Cleanup(func() { sess.CloseWithError(0, "") })
	str, err := sess.AcceptUniStream(ctx)
	if err != nil {
		tb.Fatalf("accept the stream: %v", err)
	}
	return sess, bufio.NewReader(str)
}

// readMessage reads the next line and decodes it.
func readMessage(tb testing.TB, r *bufio.Reader) (typ string, seq uint64, line []byte) {
	tb.Helper()
	line, err := r.ReadBytes('\n')
	if err != nil {
		tb.Fatalf("read a line: %v", err)
	}
	var m struct {
		Type string
		Seq  uint64
	}
	if err := json.Unmarshal(line, &m); err != nil {
		tb.Fatalf("line %q: %v", line, err)
	}
	return m.Type, m.Seq, line
}

// closeCode waits for the server to close sess, and returns the code
// it gave.
func closeCode(tb testing.TB, sess *webtransport.Session) webtransport.SessionErrorCode {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), apptest.WaitBound)
	defer cancel()
	_, err := sess.AcceptStream(ctx) // the server opens none: this waits for the end
	var se *webtransport.SessionError
	if !errors.As(err, &se) {
		tb.Fatalf("the session ended with %v; want a session error from the server", err)
	}
	return se.ErrorCode
}

// TestWebTransport reads a session's stream: the init, the viewers
// message of Then, and the moves in order. When the client ends the
// session, the stream ends as a client gone.
func TestWebTransport(t *testing.T) {
	t.Parallel()
	w := serveWT(t, transport.Options{}, time.Millisecond)
	sess, r := w.dial(t, nil)
	typ, _, line := readMessage(t, r)
	if typ != "init" {
		t.Fatalf("first line %q; want the init", line)
	}
	var init struct {
		RetryMS int64 `json:"retry_ms"`
	}
	if err := json.Unmarshal(line, &init); err != nil {
		t.Fatal(err)
	}
	checkInit(t, line, time.Duration(init.RetryMS)*time.Millisecond, true)
	if typ, _, line := readMessage(t, r); typ != "viewers" {
		t.Fatalf("second line %q; want the viewers message of Then", line)
	}
	for want := uint64(1); want <= 50; want++ {
		if typ, seq, line := readMessage(t, r); typ != "move" || seq != want {
			t.Fatalf("line %q; want move %d", line, want)
		}
	}
	sess.CloseWithError(0, "")
	w.waitEnded(t, 1)
	w.log.WaitLine(t, "the end logged", func(l logwatch.Line) bool {
		return l["msg"] == "stream closed" && l["transport"] == transport.NameWebTransport && l["reason"] == "client gone"
	})
}

// TestWebTransportSlowClient opens a session that never reads, with small
// receive windows. The server's write misses its deadline, and it drops
// the session with code 2; a client that reads goes on meanwhile.
func TestWebTransportSlowClient(t *testing.T) {
	t.Parallel()
	w := serveWT(t, transport.Options{WriteTimeout: 200 * time.Millisecond}, time.Millisecond)
	small := &quic.Config{
		EnableDatagrams: true, EnableStreamResetPartialDelivery: true,
		InitialStreamReceiveWindow: 4 << 10, MaxStreamReceiveWindow: 4 << 10,
		InitialConnectionReceiveWindow: 8 << 10, MaxConnectionReceiveWindow: 8 << 10,
	}
	slow, _ := w.dial(t, small)
	_, reader := w.dial(t, nil)
	w.log.WaitLine(t, "the slow client dropped", func(l logwatch.Line) bool {
		return l["msg"] == "stream closed" && l["reason"] == "slow client dropped"
	})
	if code := closeCode(t, slow); code != 2 {
		t.Errorf("the slow session ended with code %d; want 2 (too slow)", code)
	}
	for range 100 { // the other session goes on
		readMessage(t, reader)
	}
}

// TestWebTransportShutdown closes the Streams: the session ends with
// code 1, and a new session is refused with 503.
func TestWebTransportShutdown(t *testing.T) {
	t.Parallel()
	w := serveWT(t, transport.Options{}, time.Millisecond)
	sess, r := w.dial(t, nil)
	readMessage(t, r)
	w.streams.Close()
	if code := closeCode(t, sess); code != 1 {
		t.Errorf("the session ended with code %d; want 1 (shutting down)", code)
	}
	tr := &webtransport.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	defer tr.Close()
	ctx, cancel := context.WithTimeout(context.Background(), apptest.WaitBound)
	defer cancel()
	res, _, err := tr.Dial(ctx, w.url, nil)
	if err == nil || res == nil || res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a session after Close: %v, %v; want 503", res, err)
	}
}
