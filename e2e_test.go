package main

// The plumbing of the end-to-end tests: they run the real program on
// 127.0.0.1:0 and talk to it over real HTTP.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sse-demo/movingobject/stream/sse"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitBound turns a hang into a failure; it is no timing assertion.
const waitBound = 60 * time.Second

// server is the real program, run by startServer in the test's process
// or by startProgram in one of its own, or another server that the tests
// talk to over HTTP (startNginx).
type Server struct {
	url    string       // http://127.0.0.1:port, or https://… for startTLSServer
	stop   func()       // cancels run's context, or sends the process SIGTERM
	done   chan error   // run's result, or the process's
	client *http.Client // one connection per request, closed with the response
	log    *logWatch    // what run logs, from Debug level up; a process's stderr
	proc   *os.Process  // the process, when it runs in one
	killed bool         // the process was sent SIGKILL (see kill)
}

// startServer runs the real program on 127.0.0.1:0 with args, logging to
// s.log, and stops it at the end of the test, failing the test if run
// returned an error.
func startServer(tb testing.TB, args ...string) *Server {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &addrWriter{addr: make(chan string, 1)}
	s := &Server{stop: cancel, done: make(chan error, 1), log: newLogWatch(),
		client: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}}
	args = append([]string{"-addr", "127.0.0.1:0", "-log-level", "debug"}, args...)
	go func() { s.done <- run(ctx, args, func(string) string { return "" }, out, s.log) }()
	select {
	case s.url = <-out.addr:
	case err := <-s.done:
		tb.Fatalf("run(%q) = %v before listening", args, err)
	}
	tb.Cleanup(func() {
		cancel()
		if err := <-s.done; err != nil {
			tb.Errorf("run() = %v; want nil after shutdown", err)
		}
	})
	return s
}

// buildProgram builds the program into a directory of the test's and
// returns its path. It builds with the race detector when the test binary
// has it, which also lets the build reuse the test's compiled packages.
func buildProgram(tb testing.TB) string {
	tb.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		tb.Fatalf("build the program: %v", err)
	}
	bin := filepath.Join(tb.TempDir(), "movingobject")
	args := []string{"build", "-o", bin}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "-race" && s.Value == "true" {
				args = append(args, "-race")
			}
		}
	}
	start := time.Now()
	if out, err := exec.Command(goCmd, append(args, ".")...).CombinedOutput(); err != nil {
		tb.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	tb.Logf("go %s: built in %v", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	return bin
}

// startProgram runs the program built by buildProgram as a process of its
// own on 127.0.0.1:0 with args, its log in s.log. At the end of the test
// it sends it SIGTERM and requires it to exit 0, unless it was killed.
func startProgram(tb testing.TB, bin string, args ...string) *Server {
	tb.Helper()
	args = append([]string{"-addr", "127.0.0.1:0", "-log-level", "debug"}, args...)
	cmd := exec.Command(bin, args...)
	out := &addrWriter{addr: make(chan string, 1)}
	cmd.Stdout = out
	s := startProcess(tb, cmd)
	select {
	case s.url = <-out.addr:
	case err := <-s.done:
		s.done <- err
		tb.Fatalf("%s %q: %v before listening; its log:\n%s", bin, args, err, s.log)
	}
	return s
}

// startProcess starts cmd with its stderr in s.log, and stops it at the
// end of the test with SIGTERM, requiring it to exit 0, unless it was
// killed. It fails the test, and kills it, if it takes longer than
// waitBound.
func startProcess(tb testing.TB, cmd *exec.Cmd) *Server {
	tb.Helper()
	s := &Server{done: make(chan error, 1), log: newLogWatch(),
		client: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}}
	cmd.Stderr = s.log
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", cmd.Path, err)
	}
	s.proc = cmd.Process
	s.stop = func() { cmd.Process.Signal(syscall.SIGTERM) }
	go func() { s.done <- cmd.Wait() }()
	tb.Cleanup(func() {
		s.stop()
		select {
		case err := <-s.done:
			if err != nil && !s.killed {
				tb.Errorf("%s: %v; want exit status 0 after SIGTERM; its log ends:\n%s", cmd.Path, err, s.log.tail(20))
			}
		case <-time.After(waitBound):
			cmd.Process.Kill()
			<-s.done
			tb.Errorf("%s: still running %v after SIGTERM; killed", cmd.Path, waitBound)
		}
	})
	return s
}

// kill sends the process SIGKILL, which it cannot catch, and waits for it
// to end.
func (s *Server) kill(tb testing.TB) {
	tb.Helper()
	s.killed = true
	if err := s.proc.Kill(); err != nil {
		tb.Fatalf("kill: %v", err)
	}
	s.shutdown(tb)
}

// addrWriter stands in for stdout: it hands on the address run prints.
type addrWriter struct {
	once sync.Once
	addr chan string
}

func (w *addrWriter) Write(p []byte) (int, error) {
	if _, addr, ok := strings.Cut(strings.TrimSpace(string(p)), "listening on "); ok {
		w.once.Do(func() { w.addr <- addr })
	}
	return len(p), nil
}

// shutdown stops the server and waits for run to return, leaving its
// result for the check at cleanup.
func (s *Server) shutdown(tb testing.TB) {
	tb.Helper()
	s.stop()
	select {
	case err := <-s.done:
		s.done <- err
	case <-time.After(waitBound):
		tb.Fatalf("run did not return within %v of shutdown", waitBound)
	}
}

// host returns the server's host:port.
func (s *Server) host() string {
	_, host, _ := strings.Cut(s.url, "://")
	return host
}

// request sends a request with header, given as name, value pairs. It
// returns an error rather than failing a test, for requests sent from
// goroutines of their own.
func (s *Server) request(ctx context.Context, method, path string, header ...string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.url+path, nil)
	if err != nil {
		return nil, err
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	return res, nil
}

// get sends a GET with the given headers and closes the body at cleanup.
func (s *Server) get(tb testing.TB, path string, header ...string) *http.Response {
	tb.Helper()
	res, err := s.request(context.Background(), http.MethodGet, path, header...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { res.Body.Close() })
	return res
}

// healthBody is the body of GET /healthz.
type healthBody struct {
	Status  string
	Streams int
	Ticker  bool
}

// health reads GET /healthz.
func (s *Server) health(tb testing.TB) healthBody {
	tb.Helper()
	res := s.get(tb, "/healthz")
	var h healthBody
	if err := json.NewDecoder(res.Body).Decode(&h); err != nil || res.StatusCode != http.StatusOK {
		tb.Fatalf("GET /healthz = %d, %v; want 200 and JSON", res.StatusCode, err)
	}
	return h
}

// The messages that every stream logs at Debug level, on every route and
// path: when its init is written, and when it ends.
const (
	msgOpened = "stream opened"
	msgClosed = "stream closed"
)

// waitOpened waits until n streams have logged that they opened, in all,
// since the server started.
func (s *Server) waitOpened(tb testing.TB, n int) {
	tb.Helper()
	s.log.waitCount(tb, msgOpened, n)
}

// waitClosed waits until n streams have logged that they ended, in all,
// since the server started.
func (s *Server) waitClosed(tb testing.TB, n int) {
	tb.Helper()
	s.log.waitCount(tb, msgClosed, n)
}

// logWatch stands in for stderr: it parses each line of run's log
// ([slog.TextHandler]'s format) and wakes the tests waiting on it, so that
// they wait for what the server says it did rather than poll for it.
type logWatch struct {
	mu      sync.Mutex // guards the fields below
	partial []byte     // the start of a line not yet ended
	text    []string   // each line as written
	lines   []logLine  // each line parsed
	counts  map[string]int
	wake    chan struct{} // closed, and replaced, at each new line
}

// logLine is a log line's keys (time, level, msg, then the attributes)
// with their values, unquoted.
type logLine map[string]string

func newLogWatch() *logWatch {
	return &logWatch{counts: make(map[string]int), wake: make(chan struct{})}
}

func (w *logWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	rest, added := w.partial, false
	for {
		line, after, ok := bytes.Cut(rest, []byte("\n"))
		if !ok {
			break
		}
		l := parseLogLine(string(line))
		w.text, w.lines = append(w.text, string(line)), append(w.lines, l)
		w.counts[l["msg"]]++
		rest, added = after, true
	}
	w.partial = append(w.partial[:0], rest...)
	if added {
		close(w.wake)
		w.wake = make(chan struct{})
	}
	return len(p), nil
}

// parseLogLine returns the key=value pairs of a line that
// [slog.TextHandler] wrote: a value is quoted as a Go string when it
// needs to be.
func parseLogLine(s string) logLine {
	l := logLine{}
	for s = strings.TrimLeft(s, " "); s != ""; s = strings.TrimLeft(s, " ") {
		key, rest, ok := strings.Cut(s, "=")
		if !ok {
			l[s] = ""
			break
		}
		var val string
		if q, err := strconv.QuotedPrefix(rest); strings.HasPrefix(rest, `"`) && err == nil {
			val, _ = strconv.Unquote(q)
			rest = rest[len(q):]
		} else {
			val, rest, _ = strings.Cut(rest, " ")
		}
		l[key] = val
		s = rest
	}
	return l
}

// waitCount waits until n lines with message msg have been logged, then
// checks every stream line so far against the logging contract.
func (w *logWatch) waitCount(tb testing.TB, msg string, n int) {
	tb.Helper()
	w.wait(tb, fmt.Sprintf("%d %q lines", n, msg), func() bool { return w.counts[msg] >= n })
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, l := range w.lines {
		if err := checkStreamLine(l); err != nil {
			tb.Errorf("log line %q: %v", w.text[i], err)
		}
	}
}

// waitLine waits until a line that match accepts has been logged, and
// returns it.
func (w *logWatch) waitLine(tb testing.TB, what string, match func(logLine) bool) logLine {
	tb.Helper()
	var found logLine
	next := 0
	w.wait(tb, what, func() bool {
		for ; next < len(w.lines); next++ {
			if match(w.lines[next]) {
				found = w.lines[next]
				return true
			}
		}
		return false
	})
	return found
}

// all returns the lines logged so far.
func (w *logWatch) all() []logLine {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.lines)
}

// count returns how many lines with message msg have been logged.
func (w *logWatch) count(msg string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.counts[msg]
}

// tail returns the last n lines logged.
func (w *logWatch) tail(n int) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.text[max(0, len(w.text)-n):], "\n")
}

// waitText waits until a line that match accepts has been logged, and
// returns it, for logs that are not slog's.
func (w *logWatch) waitText(tb testing.TB, what string, match func(string) bool) string {
	tb.Helper()
	var found string
	w.wait(tb, what, func() bool {
		i := slices.IndexFunc(w.text, match)
		if i >= 0 {
			found = w.text[i]
		}
		return i >= 0
	})
	return found
}

// String returns the log so far.
func (w *logWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.text, "\n")
}

// wait calls done, with w.mu held, now and after each new line, until it
// reports true. It fails the test, showing the end of the log, when that
// takes longer than waitBound.
func (w *logWatch) wait(tb testing.TB, what string, done func() bool) {
	tb.Helper()
	deadline := time.NewTimer(waitBound)
	defer deadline.Stop()
	for {
		w.mu.Lock()
		ok, wake := done(), w.wake
		w.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-wake:
		case <-deadline.C:
			tb.Fatalf("waiting for %s in the server's log: not within %v; the log ends:\n%s", what, waitBound, w.tail(20))
		}
	}
}

// checkStreamLine checks that a "stream opened" or "stream closed" line
// has the attributes every stream logs, on every route and path, at Debug
// level (Info for a slow client the server dropped); it lets other lines
// pass.
func checkStreamLine(l logLine) error {
	want := []string{"request_id", "route", "seed", "resumed", "seq"}
	level := "DEBUG"
	switch l["msg"] {
	case msgOpened:
	case msgClosed:
		want = append(want, "duration", "bytes", "events", "reason")
		if l["reason"] == "slow client dropped" {
			level = "INFO"
		}
	default:
		return nil
	}
	var missing []string
	for _, k := range want {
		if _, ok := l[k]; !ok {
			missing = append(missing, k)
		}
	}
	if l["level"] != level || len(missing) > 0 {
		return fmt.Errorf("level %q, missing %q; want %s with %q", l["level"], missing, level, want)
	}
	return nil
}

// eventStream reads a response as the browser would.
type eventStream struct {
	tb  testing.TB
	res *http.Response
	dec *sse.Decoder
}

// open opens path as an event stream and checks the response headers and
// that the body starts with a retry field.
func (s *Server) open(tb testing.TB, path string, header ...string) *eventStream {
	tb.Helper()
	res := s.get(tb, path, header...)
	if res.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(res.Body)
		tb.Fatalf("GET %s: status %d (%s); want 200", path, res.StatusCode, body)
	}
	for name, want := range map[string]string{
		"Content-Type":      "text/event-stream; charset=utf-8",
		"Cache-Control":     "no-cache",
		"X-Accel-Buffering": "no",
	} {
		if got := res.Header.Get(name); got != want {
			tb.Errorf("GET %s: header %s = %q; want %q", path, name, got, want)
		}
	}
	br := bufio.NewReader(res.Body)
	if first, err := br.Peek(len("retry: ")); err != nil || string(first) != "retry: " {
		tb.Fatalf("GET %s: stream starts %q (%v); want a retry field first", path, first, err)
	}
	return &eventStream{tb: tb, res: res, dec: sse.NewDecoder(br)}
}

// dial connects to the server over TCP, with control, when not nil,
// applied to the socket before it connects.
func (s *Server) dial(control func(fd int) error) (*net.TCPConn, error) {
	d := net.Dialer{}
	if control != nil {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var err error
			if cerr := rc.Control(func(fd uintptr) { err = control(int(fd)) }); cerr != nil {
				return cerr
			}
			return err
		}
	}
	conn, err := d.Dial("tcp", s.host())
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", s.host(), err)
	}
	return conn.(*net.TCPConn), nil
}

// dialStream sends GET path as a raw HTTP/1.1 request on a connection of
// its own (see dial for control). The caller reads the response (see
// readRawInit), or does not, and closes the connection.
func (s *Server) dialStream(path string, control func(fd int) error) (*net.TCPConn, error) {
	conn, err := s.dial(control)
	if err != nil {
		return nil, err
	}
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n", path, s.host()); err != nil {
		conn.Close()
		return nil, fmt.Errorf("send GET %s: %w", path, err)
	}
	return conn, nil
}

// readRawInit reads the response to a raw request (see dialStream) up to
// the end of its init event, and returns the rest of the stream.
func readRawInit(r io.Reader) (*sse.Decoder, error) {
	res, err := http.ReadResponse(bufio.NewReader(r), nil)
	if err != nil {
		return nil, fmt.Errorf("read response head: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %q; want 200", res.Status)
	}
	dec := sse.NewDecoder(res.Body)
	if _, err := readEvent(dec, "init", new(initData)); err != nil {
		return nil, err
	}
	return dec, nil
}

// initData is the data of an init event.
type initData struct {
	Width, Height, Step int
	IntervalMS          int `json:"interval_ms"`
	Seed                uint64
	Resumed             bool
	Seq                 uint64
	X, Y                int
	RetryMS             int64 `json:"retry_ms"`
}

// moveData is the data of a move event.
type moveData struct {
	Seq  uint64
	X, Y int
	TS   int64
}

// move is a move event as the client saw it.
type move struct {
	id string
	moveData
}

// readEvent reads the next event, which must be named name, and decodes
// its JSON data into v unless v is nil; a field that v lacks is an error.
// It returns errors rather than failing a test, for readers on goroutines
// of their own.
func readEvent(dec *sse.Decoder, name string, v any) (sse.Event, error) {
	ev, err := dec.Next()
	if err != nil {
		return ev, fmt.Errorf("reading %s event: %w", name, err)
	}
	if ev.Name != name {
		return ev, fmt.Errorf("event %q (data %q); want %q", ev.Name, ev.Data, name)
	}
	if v == nil {
		return ev, nil
	}
	jd := json.NewDecoder(strings.NewReader(ev.Data))
	jd.DisallowUnknownFields()
	if err := jd.Decode(v); err != nil {
		return ev, fmt.Errorf("%s data %q: %w", ev.Name, ev.Data, err)
	}
	return ev, nil
}

// next returns the next event, which must be named name.
func (es *eventStream) next(name string) sse.Event {
	es.tb.Helper()
	ev, err := readEvent(es.dec, name, nil)
	if err != nil {
		es.tb.Fatal(err)
	}
	return ev
}

// init reads the init event.
func (es *eventStream) init() initData {
	es.tb.Helper()
	var in initData
	if _, err := readEvent(es.dec, "init", &in); err != nil {
		es.tb.Fatal(err)
	}
	return in
}

// moves reads n move events.
func (es *eventStream) moves(n int) []move {
	es.tb.Helper()
	ms := make([]move, n)
	for i := range ms {
		ev, err := readEvent(es.dec, "move", &ms[i].moveData)
		if err != nil {
			es.tb.Fatal(err)
		}
		ms[i].id = ev.ID
	}
	return ms
}

// worldArgs are flags for a fast world that started a minute ago: two
// servers given the same ones show the same world.
func worldArgs(tb testing.TB, extra ...string) []string {
	tb.Helper()
	start := time.Now().Add(-time.Minute).UTC().Truncate(time.Second).Format(time.RFC3339)
	return append([]string{"-world-interval", "10ms", "-world-start", start, "-world-seed", "9",
		"-world-width", "300", "-world-height", "200", "-world-step", "9"}, extra...)
}

// worldMoves reads n moves of the world of worldArgs and checks that they
// follow seq after, each with its seq as id.
func (es *eventStream) worldMoves(after uint64, n int) []move {
	es.tb.Helper()
	ms := es.moves(n)
	for i, m := range ms {
		if m.Seq != after+uint64(i)+1 || m.id != strconv.FormatUint(m.Seq, 10) {
			es.tb.Fatalf("move %d: seq %d id %q; want seq and id %d", i, m.Seq, m.id, after+uint64(i)+1)
		}
		if m.X < 0 || m.X > 300 || m.Y < 0 || m.Y > 200 {
			es.tb.Errorf("move %d at (%d, %d): outside 300x200", m.Seq, m.X, m.Y)
		}
	}
	return ms
}

// selfSigned writes a certificate for 127.0.0.1 and its key to dir and
// returns their paths and a pool that trusts the certificate.
func selfSigned(tb testing.TB, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for file, block := range map[string]*pem.Block{certFile: {Type: "CERTIFICATE", Bytes: der}, keyFile: {Type: "PRIVATE KEY", Bytes: keyDER}} {
		if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	return certFile, keyFile, pool
}

// startTLSServer runs the real program with a self-signed certificate and
// args, with a client that trusts it and speaks HTTP/2.
func startTLSServer(tb testing.TB, args ...string) *Server {
	tb.Helper()
	certFile, keyFile, pool := selfSigned(tb, tb.TempDir())
	s := startServer(tb, append([]string{"-tls-cert", certFile, "-tls-key", keyFile}, args...)...)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	tb.Cleanup(tr.CloseIdleConnections)
	s.client = &http.Client{Transport: tr}
	return s
}

// flushCancel is a recorder that cancels the request once the handler
// flushes, so that a stream ends after its first events.
type flushCancel struct {
	*httptest.ResponseRecorder
	cancel context.CancelFunc
}

func (r *flushCancel) Flush() {
	r.ResponseRecorder.Flush()
	r.cancel()
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// TestLogWatch checks the log watcher on lines that slog's text handler
// writes, as run's logger does.
func TestLogWatch(t *testing.T) {
	w := newLogWatch()
	log := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opened := log.With("request_id", "r1", "route", "/events", "seed", 7, "resumed", false, "seq", 0)
	go func() { // the waits below must wake when these lines come
		opened.Debug("stream opened")
		opened.Debug("stream closed", "reason", "client gone", "duration", 1500*time.Millisecond, "bytes", 1234, "events", 3)
		log.Debug("stream opened", "request_id", "r2", "route", "/world/events", "seed", 1, "resumed", true, "seq", 9)
	}()
	s := &Server{log: w}
	s.waitOpened(t, 2)
	s.waitClosed(t, 1)
	got := w.waitLine(t, "the close", func(l logLine) bool { return l["msg"] == msgClosed })
	delete(got, "time")
	want := logLine{"level": "DEBUG", "msg": "stream closed", "request_id": "r1", "route": "/events",
		"resumed": "false", "seed": "7", "seq": "0", "duration": "1.5s", "bytes": "1234", "events": "3", "reason": "client gone"}
	if !maps.Equal(got, want) {
		t.Errorf("closed line = %v; want %v", got, want)
	}

	for _, tt := range []struct {
		line    string
		want    logLine
		wantErr bool // checkStreamLine refuses it
	}{
		{`time=2026-01-01T00:00:00.000Z level=INFO msg=request request_id=a uri="/events?interval=10" status=200`,
			logLine{"time": "2026-01-01T00:00:00.000Z", "level": "INFO", "msg": "request", "request_id": "a", "uri": "/events?interval=10", "status": "200"}, false},
		{`level=DEBUG msg="client gone" err="read: \"x\" = y"`,
			logLine{"level": "DEBUG", "msg": "client gone", "err": `read: "x" = y`}, false},
		{`level=DEBUG msg="stream opened" request_id=a route=/world/events seed=1 resumed=true seq=5`,
			logLine{"level": "DEBUG", "msg": "stream opened", "request_id": "a", "route": "/world/events", "seed": "1", "resumed": "true", "seq": "5"}, false},
		{`level=DEBUG msg="stream opened" request_id=a route=/events resumed=true seq=0`,
			logLine{"level": "DEBUG", "msg": "stream opened", "request_id": "a", "route": "/events", "resumed": "true", "seq": "0"}, true}, // no seed
		{`level=INFO msg="stream closed" request_id=a route=/world/events seed=1 resumed=false seq=5 reason=shutdown duration=1s bytes=10 events=0`,
			logLine{"level": "INFO", "msg": "stream closed", "request_id": "a", "route": "/world/events", "seed": "1", "resumed": "false", "seq": "5",
				"duration": "1s", "bytes": "10", "events": "0", "reason": "shutdown"}, true}, // not Debug
		{`level=INFO msg="stream closed" request_id=a route=/events seed=1 resumed=false seq=0 reason="slow client dropped" duration=1s bytes=10 events=3`,
			logLine{"level": "INFO", "msg": "stream closed", "request_id": "a", "route": "/events", "seed": "1", "resumed": "false", "seq": "0",
				"duration": "1s", "bytes": "10", "events": "3", "reason": "slow client dropped"}, false}, // a drop is Info
		{`level=DEBUG msg="stream closed" request_id=a route=/world/events resumed=false`,
			logLine{"level": "DEBUG", "msg": "stream closed", "request_id": "a", "route": "/world/events", "resumed": "false"}, true},
	} {
		got := parseLogLine(tt.line)
		if !maps.Equal(got, tt.want) {
			t.Errorf("parseLogLine(%q) = %v; want %v", tt.line, got, tt.want)
		}
		if err := checkStreamLine(got); (err != nil) != tt.wantErr {
			t.Errorf("checkStreamLine(%q) = %v; want an error %v", tt.line, err, tt.wantErr)
		}
	}
}
