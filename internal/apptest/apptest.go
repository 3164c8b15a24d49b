// Package apptest runs the real program for tests, in the test's process
// on 127.0.0.1:0 or as a process of its own, and talks to it over real
// HTTP: requests, event streams read as a browser reads them, and its log,
// parsed line by line, to wait on what the server says it did instead of
// polling or sleeping.
package apptest

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
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

	"github.com/labstack/echo/v4"

	"github.com/sse-demo/movingobject/internal/logwatch"
	"github.com/sse-demo/movingobject/stream/sse"
)

// WaitBound turns a hang into a failure. It is no timing assertion, and
// the same as [logwatch.WaitBound].
const WaitBound = logwatch.WaitBound

// Program is a program under test that the tests talk to over HTTP: this
// project's server, run in the test's process (Start) or as a process of
// its own (StartProgram), or another server such as nginx
// (StartProcess).
type Program struct {
	URL    string          // http://127.0.0.1:port, or https://… for StartTLS
	stop   func()          // cancels run's context, or sends the process SIGTERM
	done   chan error      // run's result, or the process's
	Client *http.Client    // one connection per request, closed with the response
	Log    *logwatch.Watch // what run logs, from Debug level up; a process's stderr
	Proc   *os.Process     // the process, when it runs in one
	killed bool            // the process was sent SIGKILL (see kill)
}

// DefaultParallel has up to n tests of the package run at once, unless
// the -test.parallel flag says otherwise. A TestMain calls it first. Tests
// that mostly wait (for moves at their pace, for a browser, for a process)
// fit more of them than there are processors, the default.
func DefaultParallel(n int) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		flag.Set("test.parallel", strconv.Itoa(n))
	}
}

// Main is a program's main function as the tests run it: it reads args,
// serves until ctx is done, prints "listening on URL" to stdout once it
// listens, and logs to stderr.
type Main func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// Start runs main in the test's process on 127.0.0.1:0 with args, logging
// to p.Log at Debug level, and stops it at the end of the test. It fails
// the test if main returns an error.
func Start(tb testing.TB, main Main, args ...string) *Program {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &addrWriter{addr: make(chan string, 1)}
	s := &Program{stop: cancel, done: make(chan error, 1), Log: logwatch.New(),
		Client: &http.Client{Transport: &http.Transport{DisableKeepAlives: true, DisableCompression: true}}}
	args = append([]string{"-addr", "127.0.0.1:0", "-log-level", "debug"}, args...)
	go func() { s.done <- main(ctx, args, out, s.Log) }()
	select {
	case s.URL = <-out.addr:
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

// StartTLS runs main as Start does, with a self-signed certificate given
// by the flags -tls-cert and -tls-key, and a client that trusts it and
// speaks HTTP/2.
func StartTLS(tb testing.TB, main Main, args ...string) *Program {
	tb.Helper()
	certFile, keyFile, pool := SelfSigned(tb, tb.TempDir())
	s := Start(tb, main, append([]string{"-tls-cert", certFile, "-tls-key", keyFile}, args...)...)
	s.Client = TLSClient(tb, pool)
	return s
}

// TLSClient returns a client that trusts the certificates of pool and
// speaks HTTP/2.
func TLSClient(tb testing.TB, pool *x509.CertPool) *http.Client {
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true, DisableCompression: true}
	tb.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// Serve serves h, a package's handler alone, with an httptest server on
// 127.0.0.1 until the test ends, for tests that talk to it as they would
// to the program. The handler logs to log (see [Logger]). Stop and
// Shutdown call stop, which ends the handler's streams (nil: nothing),
// then close the server. With tlsH2, the server speaks HTTPS and HTTP/2,
// and the client trusts it.
func Serve(tb testing.TB, h http.Handler, log *logwatch.Watch, stop func(), tlsH2 bool) *Program {
	tb.Helper()
	srv := httptest.NewUnstartedServer(h)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, DisableCompression: true}}
	if tlsH2 {
		srv.EnableHTTP2 = true
		srv.StartTLS()
		client = srv.Client()
	} else {
		srv.Start()
	}
	s := &Program{URL: srv.URL, Client: client, Log: log, done: make(chan error, 1)}
	var once sync.Once
	s.stop = func() {
		once.Do(func() {
			if stop != nil {
				stop()
			}
			srv.Close()
			s.done <- nil
		})
	}
	tb.Cleanup(s.stop)
	return s
}

// Logger returns a logger that writes to w at Debug level, in the format
// of the program's own log.
func Logger(w *logwatch.Watch) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// MsgHandlerError is the log line of [PlainError] for each error that a
// handler returns.
const MsgHandlerError = "handler error"

// PlainError returns an echo error handler that answers as the program
// does, for tests that serve a package's handler alone. The body of an
// [echo.HTTPError] is its message and a newline, such as the refused
// parameter and its range of a 400. Any other error gets a bare 500. Each
// error is logged first at Debug level to log (nil: not logged), with the
// request's path, so that a test can wait for it. A client that has left
// gets no answer.
func PlainError(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if log != nil {
			log.Debug(MsgHandlerError, "path", c.Request().URL.Path, "err", err)
		}
		if c.Response().Committed || c.Request().Context().Err() != nil {
			return
		}
		code, msg := http.StatusInternalServerError, http.StatusText(http.StatusInternalServerError)
		var he *echo.HTTPError
		if errors.As(err, &he) {
			code, msg = he.Code, http.StatusText(he.Code)
			if m, ok := he.Message.(string); ok {
				msg = m
			}
		}
		c.String(code, msg+"\n")
	}
}

// BuildProgram builds the program, once for the test binary (see
// [Build]), and returns its path. It builds with the race detector when
// the test binary has it, which also lets the build reuse the test's
// compiled packages.
func BuildProgram(tb testing.TB) string {
	tb.Helper()
	return Build(tb, programPkg, "movingobject", RaceEnabled())
}

// PrebuildProgram starts building the program in the background, so that
// a later [BuildProgram] finds it built, or further on. A test calls it
// before its other slow set-up, such as starting a NATS cluster.
func PrebuildProgram() { startBuild(programPkg, "movingobject", RaceEnabled()) }

// programPkg is the program's package.
const programPkg = "github.com/sse-demo/movingobject"

// RaceEnabled reports whether the test binary has the race detector.
func RaceEnabled() bool {
	race := false
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			race = race || s.Key == "-race" && s.Value == "true"
		}
	}
	return race
}

// builds are the programs built so far by this test binary, by package
// and build flags, in one directory. The tests of a package that build the
// same program (several start the program as processes) build it once.
var builds struct {
	mu   sync.Mutex // guards dir and bins
	dir  string
	bins map[string]*build
}

// A build is one program built, or being built, by [Build].
type build struct {
	done chan struct{} // closed once the fields below are set
	cmd  string        // the go command that builds it
	bin  string
	took time.Duration
	err  error
}

// Build builds the main package pkg (of this module or a module it
// requires) as name, and returns the path of the program. The program is
// built once for every test of the binary that asks for it, into a
// directory that [RemoveBuilds] removes: the TestMain of a package whose
// tests build programs defers it.
func Build(tb testing.TB, pkg, name string, race bool) string {
	tb.Helper()
	b := startBuild(pkg, name, race)
	<-b.done
	if b.err != nil {
		tb.Fatalf("build %s: %v", pkg, b.err)
	}
	tb.Logf("%s: built in %v, once for the package's tests", b.cmd, b.took.Round(time.Millisecond))
	return b.bin
}

// startBuild returns the build of pkg, and starts it if it is not under
// way yet.
func startBuild(pkg, name string, race bool) *build {
	args := []string{"build"}
	if race {
		args = append(args, "-race")
	}
	key := strings.Join(append(slices.Clone(args), pkg), " ")
	builds.mu.Lock()
	defer builds.mu.Unlock()
	if b, found := builds.bins[key]; found {
		return b
	}
	b := &build{done: make(chan struct{})}
	if builds.bins == nil {
		builds.bins = make(map[string]*build)
		builds.dir, b.err = os.MkdirTemp("", "apptest-build-")
	}
	builds.bins[key] = b
	b.bin = filepath.Join(builds.dir, strconv.Itoa(len(builds.bins))+"-"+name)
	args = append(args, "-o", b.bin, pkg)
	b.cmd = "go " + strings.Join(args, " ")
	go func() {
		defer close(b.done)
		if b.err != nil {
			return
		}
		start := time.Now()
		b.err = goCommand(args...)
		b.took = time.Since(start)
	}()
	return b
}

// goCommand runs the go command with args.
func goCommand(args ...string) error {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return err
	}
	if out, err := exec.Command(goCmd, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// RemoveBuilds waits for the builds under way, then removes the programs
// that [Build] built.
func RemoveBuilds() {
	builds.mu.Lock()
	defer builds.mu.Unlock()
	for _, b := range builds.bins {
		<-b.done
	}
	if builds.dir != "" {
		os.RemoveAll(builds.dir)
	}
}

// StartProgram runs the program built by BuildProgram as a process of its
// own on 127.0.0.1:0 with args, its log in s.log. At the end of the test
// it sends it SIGTERM and requires it to exit 0, unless it was killed.
func StartProgram(tb testing.TB, bin string, args ...string) *Program {
	tb.Helper()
	args = append([]string{"-addr", "127.0.0.1:0", "-log-level", "debug"}, args...)
	cmd := exec.Command(bin, args...)
	out := &addrWriter{addr: make(chan string, 1)}
	cmd.Stdout = out
	s := StartProcess(tb, cmd)
	select {
	case s.URL = <-out.addr:
	case err := <-s.done:
		s.done <- err
		tb.Fatalf("%s %q: %v before listening; its log:\n%s", bin, args, err, s.Log)
	}
	return s
}

// StartProcess starts cmd with its stderr in s.log, and stops it at the
// end of the test with SIGTERM, requiring it to exit 0, unless it was
// killed. It fails the test, and kills it, if it takes longer than
// waitBound.
func StartProcess(tb testing.TB, cmd *exec.Cmd) *Program {
	tb.Helper()
	s := &Program{done: make(chan error, 1), Log: logwatch.New(),
		Client: &http.Client{Transport: &http.Transport{DisableKeepAlives: true, DisableCompression: true}}}
	cmd.Stderr = s.Log
	ownGroup(cmd)
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", cmd.Path, err)
	}
	s.Proc = cmd.Process
	s.stop = func() { cmd.Process.Signal(syscall.SIGTERM) }
	go func() { s.done <- cmd.Wait() }()
	// A test stopped by -timeout runs no cleanup: end the group a little
	// before that deadline.
	var beforeTimeout *time.Timer
	if d, ok := tb.(interface{ Deadline() (time.Time, bool) }); ok {
		if deadline, ok := d.Deadline(); ok {
			beforeTimeout = time.AfterFunc(time.Until(deadline)-2*time.Second, func() { killGroup(cmd.Process.Pid) })
		}
	}
	tb.Cleanup(func() {
		if beforeTimeout != nil {
			beforeTimeout.Stop()
		}
		defer killGroup(cmd.Process.Pid) // whatever the process left behind
		s.stop()
		select {
		case err := <-s.done:
			if err != nil && !s.killed {
				tb.Errorf("%s: %v; want exit status 0 after SIGTERM; its log ends:\n%s", cmd.Path, err, s.Log.Tail(20))
			}
		case <-time.After(WaitBound):
			cmd.Process.Kill()
			<-s.done
			tb.Errorf("%s: still running %v after SIGTERM; killed", cmd.Path, WaitBound)
		}
	})
	return s
}

// Killed reports whether [Program.Kill] was called.
func (s *Program) Killed() bool { return s.killed }

// Kill sends the process SIGKILL, which it cannot catch, and waits for it
// to end.
func (s *Program) Kill(tb testing.TB) {
	tb.Helper()
	s.killed = true
	if err := s.Proc.Kill(); err != nil {
		tb.Fatalf("kill: %v", err)
	}
	s.Shutdown(tb)
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

// Stop asks the server to shut down (cancels Run's context, or sends the
// process SIGTERM) and returns at once; [Program.Shutdown] waits for it.
func (s *Program) Stop() { s.stop() }

// Shutdown stops the server, waits for it to end and returns what Run
// (or the process) returned, which it leaves for the check at cleanup too.
func (s *Program) Shutdown(tb testing.TB) error {
	tb.Helper()
	s.stop()
	select {
	case err := <-s.done:
		s.done <- err
		return err
	case <-time.After(WaitBound):
		tb.Fatalf("run did not return within %v of shutdown", WaitBound)
		return nil
	}
}

// Host returns the server's host:port.
func (s *Program) Host() string {
	_, host, _ := strings.Cut(s.URL, "://")
	return host
}

// Request sends a Request with header, given as name, value pairs. It
// returns an error rather than failing a test, for requests sent from
// goroutines of their own.
func (s *Program) Request(ctx context.Context, method, path string, header ...string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, nil)
	if err != nil {
		return nil, err
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := s.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	return res, nil
}

// Get sends a GET with the given headers and closes the body at cleanup.
func (s *Program) Get(tb testing.TB, path string, header ...string) *http.Response {
	tb.Helper()
	res, err := s.Request(context.Background(), http.MethodGet, path, header...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { res.Body.Close() })
	return res
}

// HealthBody is the body of GET /healthz.
type HealthBody struct {
	Status  string
	Streams int
	Ticker  bool
}

// Health reads GET /healthz.
func (s *Program) Health(tb testing.TB) HealthBody {
	tb.Helper()
	res := s.Get(tb, "/healthz")
	var h HealthBody
	if err := json.NewDecoder(res.Body).Decode(&h); err != nil || res.StatusCode != http.StatusOK {
		tb.Fatalf("GET /healthz = %d, %v; want 200 and JSON", res.StatusCode, err)
	}
	return h
}

// The messages that every stream logs at Debug level, on every route and
// path: when its init is written, and when it ends.
const (
	MsgOpened = "stream opened"
	MsgClosed = "stream closed"
)

// WaitOpened waits until n streams have logged that they opened, in all,
// since the server started, then checks every stream line so far against
// the logging contract ([CheckStreamLine]).
func (s *Program) WaitOpened(tb testing.TB, n int) {
	tb.Helper()
	s.Log.WaitCount(tb, MsgOpened, n)
	s.checkStreamLines(tb)
}

// WaitClosed waits until n streams have logged that they ended, in all,
// since the server started, then checks every stream line so far against
// the logging contract ([CheckStreamLine]).
func (s *Program) WaitClosed(tb testing.TB, n int) {
	tb.Helper()
	s.Log.WaitCount(tb, MsgClosed, n)
	s.checkStreamLines(tb)
}

// checkStreamLines checks every stream line logged so far against the
// logging contract.
func (s *Program) checkStreamLines(tb testing.TB) {
	tb.Helper()
	for _, l := range s.Log.All() {
		if err := CheckStreamLine(l); err != nil {
			tb.Errorf("log line %v: %v", l, err)
		}
	}
}

// CheckStreamLine checks that a "stream opened" or "stream closed" line
// has the attributes every stream logs, on every route and path, at Debug
// level (Info for a slow client the server dropped); it lets other lines
// pass.
func CheckStreamLine(l logwatch.Line) error {
	want := []string{"request_id", "route", "seed", "resumed", "seq"}
	level := "DEBUG"
	switch l["msg"] {
	case MsgOpened:
	case MsgClosed:
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

// Reader reads an event stream as a browser does.
type Reader struct {
	tb  testing.TB
	Res *http.Response
	Dec *sse.Decoder
}

// Open opens path as an event stream and checks the response headers and
// that the body starts with a retry field.
func (s *Program) Open(tb testing.TB, path string, header ...string) *Reader {
	tb.Helper()
	res := s.Get(tb, path, header...)
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
	return &Reader{tb: tb, Res: res, Dec: sse.NewDecoder(br)}
}

// Dial connects to the server over TCP, with control, when not nil,
// applied to the socket before it connects.
func (s *Program) Dial(control func(fd int) error) (*net.TCPConn, error) {
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
	conn, err := d.Dial("tcp", s.Host())
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", s.Host(), err)
	}
	return conn.(*net.TCPConn), nil
}

// DialStream sends GET path as a raw HTTP/1.1 request on a connection of
// its own (see dial for control). The caller reads the response (see
// readRawInit), or does not, and closes the connection.
func (s *Program) DialStream(path string, control func(fd int) error) (*net.TCPConn, error) {
	conn, err := s.Dial(control)
	if err != nil {
		return nil, err
	}
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n", path, s.Host()); err != nil {
		conn.Close()
		return nil, fmt.Errorf("send GET %s: %w", path, err)
	}
	return conn, nil
}

// ReadRawInit reads the response to a raw request (see dialStream) up to
// the end of its init event, and returns the rest of the stream.
func ReadRawInit(r io.Reader) (*sse.Decoder, error) {
	res, err := http.ReadResponse(bufio.NewReader(r), nil)
	if err != nil {
		return nil, fmt.Errorf("read response head: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %q; want 200", res.Status)
	}
	dec := sse.NewDecoder(res.Body)
	if _, err := ReadEvent(dec, "init", new(Init)); err != nil {
		return nil, err
	}
	return dec, nil
}

// Init is the data of an init event.
type Init struct {
	Width, Height, Step int
	IntervalMS          int `json:"interval_ms"`
	Seed                uint64
	Resumed             bool
	Seq                 uint64
	X, Y                int
	RetryMS             int64 `json:"retry_ms"`
}

// MoveData is the data of a move event.
type MoveData struct {
	Seq  uint64
	X, Y int
	TS   int64
}

// Move is a Move event as the client saw it.
type Move struct {
	ID string
	MoveData
}

// ReadEvent reads the next event, which must be named name, and decodes
// its JSON data into v unless v is nil; a field that v lacks is an error.
// It returns errors rather than failing a test, for readers on goroutines
// of their own.
func ReadEvent(dec *sse.Decoder, name string, v any) (sse.Event, error) {
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

// Next returns the Next event, which must be named name.
func (es *Reader) Next(name string) sse.Event {
	es.tb.Helper()
	ev, err := ReadEvent(es.Dec, name, nil)
	if err != nil {
		es.tb.Fatal(err)
	}
	return ev
}

// Init reads the Init event.
func (es *Reader) Init() Init {
	es.tb.Helper()
	var in Init
	if _, err := ReadEvent(es.Dec, "init", &in); err != nil {
		es.tb.Fatal(err)
	}
	return in
}

// Moves reads n move events.
func (es *Reader) Moves(n int) []Move {
	es.tb.Helper()
	ms := make([]Move, n)
	for i := range ms {
		ev, err := ReadEvent(es.Dec, "move", &ms[i].MoveData)
		if err != nil {
			es.tb.Fatal(err)
		}
		ms[i].ID = ev.ID
	}
	return ms
}

// WorldArgs are flags for a fast world that started a minute ago: two
// servers given the same ones show the same world.
func WorldArgs(tb testing.TB, extra ...string) []string {
	tb.Helper()
	start := time.Now().Add(-time.Minute).UTC().Truncate(time.Second).Format(time.RFC3339)
	return append([]string{"-world-interval", "10ms", "-world-start", start, "-world-seed", "9",
		"-world-width", "300", "-world-height", "200", "-world-step", "9"}, extra...)
}

// WorldMoves reads n moves of the world of worldArgs and checks that they
// follow seq after, each with its seq as id.
func (es *Reader) WorldMoves(after uint64, n int) []Move {
	es.tb.Helper()
	ms := es.Moves(n)
	for i, m := range ms {
		if m.Seq != after+uint64(i)+1 || m.ID != strconv.FormatUint(m.Seq, 10) {
			es.tb.Fatalf("move %d: seq %d id %q; want seq and id %d", i, m.Seq, m.ID, after+uint64(i)+1)
		}
		if m.X < 0 || m.X > 300 || m.Y < 0 || m.Y > 200 {
			es.tb.Errorf("move %d at (%d, %d): outside 300x200", m.Seq, m.X, m.Y)
		}
	}
	return ms
}

// SelfSigned writes a certificate for 127.0.0.1 and its key to dir and
// returns their paths and a pool that trusts the certificate.
func SelfSigned(tb testing.TB, dir string) (certFile, keyFile string, pool *x509.CertPool) {
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
