package server_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	"github.com/quic-go/webtransport-go"

	"github.com/sse-demo/movingobject/internal/apptest"
	"github.com/sse-demo/movingobject/internal/logwatch"
	"github.com/sse-demo/movingobject/server/servertest"
)

// comparePage returns the WebTransport port and certificate hashes that
// /compare gives its page.
func comparePage(tb testing.TB, s *apptest.Program) (port string, hashes []string) {
	tb.Helper()
	res := s.Get(tb, "/compare")
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK {
		tb.Fatalf("GET /compare = %d, %v", res.StatusCode, err)
	}
	attr := func(name string) string {
		m := regexp.MustCompile(name + `="([^"]*)"`).FindSubmatch(body)
		if m == nil {
			tb.Fatalf("/compare has no %s", name)
		}
		return string(m[1])
	}
	if h := attr("data-cert-hashes"); h != "" {
		hashes = strings.Split(h, ",")
	}
	return attr("data-transport-port"), hashes
}

// byHash is the TLS config of a browser that trusts a certificate by its
// SHA-256 hash (serverCertificateHashes), and by nothing else.
func byHash(hashes []string) *tls.Config {
	return &tls.Config{
		InsecureSkipVerify: true, // replaced by the hash check below
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			sum := sha256.Sum256(raw[0])
			if !slices.Contains(hashes, base64.StdEncoding.EncodeToString(sum[:])) {
				return errors.New("certificate hash not among the page's")
			}
			return nil
		},
	}
}

// wtClient dials WebTransport sessions as the page of s would.
type wtClient struct {
	s      *apptest.Program
	port   string
	origin string
	tr     *webtransport.Transport
}

func newWTClient(tb testing.TB, s *apptest.Program, tlsConf *tls.Config) *wtClient {
	tb.Helper()
	port, hashes := comparePage(tb, s)
	if port == "" {
		tb.Fatal("/compare gives no WebTransport port; want the HTTP listener's")
	}
	if tlsConf == nil {
		tlsConf = byHash(hashes)
	}
	tr := &webtransport.Transport{TLSClientConfig: tlsConf}
	tb.Cleanup(func() { tr.Close() })
	return &wtClient{s: s, port: port, origin: s.URL, tr: tr}
}

// dial opens a session at path, sending the page's Origin.
func (c *wtClient) dial(ctx context.Context, path string) (*http.Response, *webtransport.Session, error) {
	u, err := url.Parse(c.s.URL)
	if err != nil {
		return nil, nil, err
	}
	hdr := http.Header{"Origin": {c.origin}}
	return c.tr.Dial(ctx, "https://"+u.Hostname()+":"+c.port+path, hdr)
}

// wtLines reads a session's stream of JSON lines.
type wtLines struct {
	tb   testing.TB
	sess *webtransport.Session
	r    *bufio.Reader
}

// open dials path and accepts the stream that the server opens.
func (c *wtClient) open(tb testing.TB, path string) *wtLines {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), apptest.WaitBound)
	defer cancel()
	res, sess, err := c.dial(ctx, path)
	if err != nil {
		tb.Fatalf("WebTransport %s: %v (response %v)", path, err, res)
	}
	tb.Cleanup(func() { sess.CloseWithError(0, "") })
	str, err := sess.AcceptUniStream(ctx)
	if err != nil {
		tb.Fatalf("accept the stream of %s: %v", path, err)
	}
	return &wtLines{tb: tb, sess: sess, r: bufio.NewReader(str)}
}

// message reads the next message, skipping heartbeats, and checks its
// type.
func (l *wtLines) message(typ string, v any) {
	l.tb.Helper()
	for {
		line, err := l.r.ReadBytes('\n')
		if err != nil {
			l.tb.Fatalf("read a %s message: %v", typ, err)
		}
		if len(line) == 1 {
			continue // the heartbeat
		}
		var head struct{ Type string }
		if err := json.Unmarshal(line, &head); err != nil || head.Type != typ {
			l.tb.Fatalf("message %q (%v); want type %q", line, err, typ)
		}
		if err := json.Unmarshal(line, v); err != nil {
			l.tb.Fatal(err)
		}
		return
	}
}

func (l *wtLines) moves(n int) []apptest.MoveData {
	l.tb.Helper()
	ms := make([]apptest.MoveData, n)
	for i := range ms {
		l.message("move", &ms[i])
	}
	return ms
}

// TestWebTransport opens the world's WebTransport session as the compare
// page does, trusting the server's own certificate by the hash the page
// gets. The session's moves are the event stream's, move for move, and a
// second session resumes after the last move of the first.
func TestWebTransport(t *testing.T) {
	t.Parallel()
	s := servertest.Start(t, apptest.WorldArgs(t)...)
	c := newWTClient(t, s, nil)
	wt := c.open(t, "/world/webtransport")
	var init apptest.Init
	wt.message("init", &init)
	if init.Resumed || init.Width != 300 || init.RetryMS <= 0 {
		t.Errorf("init %+v; want the world's 300 px box, a retry and not resumed", init)
	}
	got := wt.moves(30)
	for i, m := range got {
		if m.Seq != init.Seq+uint64(i)+1 {
			t.Fatalf("move %d has seq %d; want %d, after init at %d", i, m.Seq, init.Seq+uint64(i)+1, init.Seq)
		}
	}
	// The event stream from the same point gives the same moves.
	es := s.Open(t, fmt.Sprintf("/world/events?lastEventId=%d", init.Seq))
	es.Init()
	for i, m := range es.WorldMoves(init.Seq, 30) {
		if m.MoveData != got[i] {
			t.Errorf("move %d: WebTransport %+v, SSE %+v; want the same", m.Seq, got[i], m.MoveData)
		}
	}
	es.Res.Body.Close()

	// Resume after the last move had.
	last := got[len(got)-1].Seq
	wt.sess.CloseWithError(0, "")
	again := c.open(t, fmt.Sprintf("/world/webtransport?after=%d", last))
	again.message("init", &init)
	if !init.Resumed || init.Seq != last {
		t.Errorf("resumed init %+v; want resumed at %d", init, last)
	}
	if m := again.moves(1)[0]; m.Seq != last+1 {
		t.Errorf("first move after resuming: %d; want %d", m.Seq, last+1)
	}
	s.WaitOpened(t, 3)
	metrics := s.Get(t, "/metrics")
	b, _ := io.ReadAll(metrics.Body)
	metrics.Body.Close()
	if !strings.Contains(string(b), `sse_requests_total{route="/world/webtransport",transport="webtransport"} 2`) {
		t.Errorf("/metrics lacks 2 WebTransport sessions:\n%s", grepLines(string(b), "webtransport"))
	}
}

// grepLines returns the lines of s that hold sub.
func grepLines(s, sub string) string {
	var out []string
	for line := range strings.SplitSeq(s, "\n") {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// TestWebTransportRefused sends what a session must refuse or shrug off:
// a wrong path, a bad after, another site's page, and datagrams of
// garbage in a session that keeps streaming.
func TestWebTransportRefused(t *testing.T) {
	t.Parallel()
	s := servertest.Start(t, apptest.WorldArgs(t)...)
	c := newWTClient(t, s, nil)
	for _, tt := range []struct {
		path, origin string
		status       int
	}{
		{"/world/nothing", "", http.StatusNotFound},
		{"/world/events", "", http.StatusMethodNotAllowed},
		{"/world/webtransport?after=x", "", http.StatusBadRequest},
		{"/world/webtransport", "https://evil.example", http.StatusForbidden},
	} {
		c.origin = s.URL
		if tt.origin != "" {
			c.origin = tt.origin
		}
		ctx, cancel := context.WithTimeout(context.Background(), apptest.WaitBound)
		res, sess, err := c.dial(ctx, tt.path)
		cancel()
		if err == nil {
			sess.CloseWithError(0, "")
			t.Errorf("%s from %s: a session; want %d", tt.path, c.origin, tt.status)
			continue
		}
		if res == nil || res.StatusCode != tt.status {
			t.Errorf("%s from %s: %v, %v; want %d", tt.path, c.origin, res, err, tt.status)
		}
	}
	c.origin = s.URL
	wt := c.open(t, "/world/webtransport")
	var init apptest.Init
	wt.message("init", &init)
	for i := range 2000 {
		garbage := []byte(fmt.Sprintf("\xff\x00garbage %d", i))
		if err := wt.sess.SendDatagram(garbage); err != nil {
			break // the queue is full: datagrams may be dropped on the way too
		}
	}
	wt.moves(30) // the session goes on
	if h := s.Health(t); h.Status != "ok" {
		t.Errorf("health %+v after garbage datagrams; want ok", h)
	}
}

// TestHTTP3 runs the program with a certificate. Its HTTPS answers
// advertise HTTP/3 at the same port, and the world's event stream over
// HTTP/3 delivers every move in order until the server shuts down.
func TestHTTP3(t *testing.T) {
	t.Parallel()
	certFile, keyFile, pool := apptest.SelfSigned(t, t.TempDir())
	s := servertest.Start(t, append(apptest.WorldArgs(t), "-tls-cert", certFile, "-tls-key", keyFile)...)
	s.Client = apptest.TLSClient(t, pool)
	res := s.Get(t, "/world")
	res.Body.Close()
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	if want := `h3=":` + u.Port() + `"; ma=86400`; res.Header.Get("Alt-Svc") != want {
		t.Errorf("Alt-Svc over %s = %q; want %q", res.Proto, res.Header.Get("Alt-Svc"), want)
	}

	tr := &http3.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, QUICConfig: &quic.Config{}, DisableCompression: true}
	t.Cleanup(func() { tr.Close() })
	s.Client = &http.Client{Transport: tr}
	es := s.Open(t, "/world/events")
	defer es.Res.Body.Close()
	if es.Res.ProtoMajor != 3 {
		t.Fatalf("GET /world/events over %s; want HTTP/3", es.Res.Proto)
	}
	if c := es.Res.Header.Get("Connection"); c != "" {
		t.Errorf("Connection: %q over HTTP/3; want none", c)
	}
	at := es.Init()
	es.WorldMoves(at.Seq, 50)
	res = s.Get(t, "/metrics")
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(b), `sse_http_requests_total{protocol="HTTP/3.0"}`) {
		t.Errorf("/metrics counts no request over HTTP/3:\n%s", grepLines(string(b), "sse_http_requests_total"))
	}
	s.Log.WaitLine(t, "the stream's request logged over HTTP/3", func(l logwatch.Line) bool {
		return l["msg"] == apptest.MsgOpened && l["transport"] == "sse"
	})

	// Shutdown ends the stream after its current event.
	s.Stop()
	var err2 error
	for err2 == nil {
		_, err2 = es.Dec.Next()
	}
	if !errors.Is(err2, io.EOF) {
		t.Errorf("the HTTP/3 stream ended with %v; want its end (EOF)", err2)
	}
	if err := s.Shutdown(t); err != nil {
		t.Errorf("Shutdown() = %v", err)
	}
}

// h3Client returns a client of s over HTTP/3 alone, trusting pool, with
// the QUIC receive windows of conf (nil: the defaults).
func h3Client(tb testing.TB, pool *x509.CertPool, conf *quic.Config) *http.Client {
	tr := &http3.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, QUICConfig: conf, DisableCompression: true}
	tb.Cleanup(func() { tr.Close() })
	return &http.Client{Transport: tr}
}

// TestHTTP3LimitsAndResume holds an HTTP/3 client to the stream cap per
// address, resumes its stream with Last-Event-ID, and drops a client that
// stops reading while another reads on.
func TestHTTP3LimitsAndResume(t *testing.T) {
	t.Parallel()
	certFile, keyFile, pool := apptest.SelfSigned(t, t.TempDir())
	s := servertest.Start(t, append(apptest.WorldArgs(t), "-tls-cert", certFile, "-tls-key", keyFile,
		"-max-streams-per-ip", "2", "-write-timeout", "300ms")...)
	s.Client = h3Client(t, pool, nil)
	es := s.Open(t, "/world/events")
	at := es.Init()
	moves := es.WorldMoves(at.Seq, 20)
	second := s.Open(t, "/world/events")
	res := s.Get(t, "/world/events") // the third, past the cap of 2
	res.Body.Close()
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Errorf("a third stream over HTTP/3: %d, Retry-After %q; want 429 with Retry-After", res.StatusCode, res.Header.Get("Retry-After"))
	}
	second.Res.Body.Close()

	// Resume after the last move read, on a new request.
	last := moves[len(moves)-1]
	es.Res.Body.Close()
	s.WaitClosed(t, 2) // both slots given back
	again := s.Open(t, "/world/events", "Last-Event-ID", last.ID)
	if init := again.Init(); !init.Resumed || init.Seq != last.Seq {
		t.Errorf("resumed init %+v; want resumed at %d", init, last.Seq)
	}
	again.WorldMoves(last.Seq, 5)

	// A client that stops reading, with small windows, is dropped; the
	// other stream goes on.
	small := h3Client(t, pool, &quic.Config{
		InitialStreamReceiveWindow: 4 << 10, MaxStreamReceiveWindow: 4 << 10,
		InitialConnectionReceiveWindow: 8 << 10, MaxConnectionReceiveWindow: 8 << 10,
	})
	req, err := http.NewRequest(http.MethodGet, s.URL+"/world/events?lastEventId="+strconv.FormatUint(at.Seq, 10), nil)
	if err != nil {
		t.Fatal(err)
	}
	stalled, err := small.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Body.Close()
	s.Log.WaitLine(t, "the client that stopped reading dropped", func(l logwatch.Line) bool {
		return l["msg"] == "stream closed" && l["reason"] == "slow client dropped"
	})
	again.WorldMoves(last.Seq+5, 20)
}
