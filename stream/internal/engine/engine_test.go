package engine

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sse-demo/movingobject/stream/internal/pace"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// counter is a source of numbered lines, "1\n", "2\n", …, one every
// interval, each padded to size bytes, so that a test can check that
// every event arrives once and in order.
type counter struct {
	every time.Duration
	size  int
	n     int       // lines made so far
	next  pace.Time // when line n+1 is due
}

func newCounter(every time.Duration, size int) *counter {
	return &counter{every: every, size: size, next: pace.Now() + every}
}

func (c *counter) Due() pace.Time { return c.next }

func (c *counter) Next(dst []byte, now pace.Time) ([]byte, int, error) {
	events := 0
	for ; c.next <= now && events < 64; events++ {
		c.n++
		line := strconv.Itoa(c.n)
		dst = append(dst, line...)
		dst = append(dst, strings.Repeat(".", max(0, c.size-len(line)-1))...)
		dst = append(dst, '\n')
		c.next += c.every
	}
	return dst, events, nil
}

// client is the reading end of a stream.
type client struct {
	tb   testing.TB
	conn *net.TCPConn
	r    *bufio.Reader
	last int        // the last line read
	end  chan error // what the stream ended with
	c    *Conn      // the server's end
}

// connect adds a stream of src to e over a loopback TCP connection, with
// the given heartbeat and write timeout; sendBuffer, when positive, sets
// the server socket's send buffer (and the client's receive buffer) small,
// so that a client that does not read fills it fast.
func connect(tb testing.TB, e *Engine, src pace.Source, heartbeat, timeout time.Duration, sendBuffer int) *client {
	tb.Helper()
	return connectBuffers(tb, e, src, heartbeat, timeout, sendBuffer, sendBuffer)
}

// connectBuffers is connect with the server's send buffer and the
// client's receive buffer set apart (each when positive).
func connectBuffers(tb testing.TB, e *Engine, src pace.Source, heartbeat, timeout time.Duration, sendBuffer, receiveBuffer int) *client {
	tb.Helper()
	sc, cc := tcpPair(tb)
	cl := &client{tb: tb, conn: cc, r: bufio.NewReaderSize(cc, 512), end: make(chan error, 1)}
	if sendBuffer > 0 {
		sc.SetWriteBuffer(sendBuffer)
	}
	if receiveBuffer > 0 {
		cl.conn.SetReadBuffer(receiveBuffer)
	}
	var err error
	cl.c, err = NewConn(sc, ConnOptions{Source: src, Heartbeat: heartbeat, Beat: pace.SSEHeartbeat, Opened: pace.Now(), Timeout: timeout, End: func(err error) { cl.end <- err }})
	if err != nil {
		tb.Fatal(err)
	}
	if err := e.Add(cl.c); err != nil {
		tb.Fatal(err)
	}
	return cl
}

// read reads n lines and checks that each is the next number.
func (cl *client) read(n int) error {
	cl.conn.SetReadDeadline(time.Now().Add(10 * time.Second)) // a bound on a hang
	for range n {
		line, err := cl.r.ReadString('\n')
		if err != nil {
			return fmt.Errorf("after line %d: %w", cl.last, err)
		}
		got, _ := strconv.Atoi(strings.TrimRight(line, ".\n"))
		if got != cl.last+1 {
			cl.tb.Fatalf("line %q after line %d; want %d", line, cl.last, cl.last+1)
		}
		cl.last = got
	}
	return nil
}

// ended waits for the stream to end and returns why.
func (cl *client) ended() error {
	cl.tb.Helper()
	select {
	case err := <-cl.end:
		return err
	case <-time.After(10 * time.Second): // a bound on a hang, not a measure
		cl.tb.Fatal("stream did not end")
		return nil
	}
}

func newEngine(tb testing.TB) *Engine {
	e := New(0)
	tb.Cleanup(e.Close)
	return e
}

// TestEngine_EveryEventInOrder checks that streams due at moments of their
// own, in shared slots, each get every event once and in order.
func TestEngine_EveryEventInOrder(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	clients := make([]*client, 5)
	for i := range clients {
		clients[i] = connect(t, e, newCounter(time.Duration(i+1)*time.Millisecond, 8), time.Hour, time.Second, 0)
	}
	for i, cl := range clients {
		if err := cl.read(50); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
	}
	// What a client read was written, so it is counted once the engine's
	// writers are done.
	e.Close()
	for i, cl := range clients {
		if bytes, events := cl.c.Stream().Written(); events < 50 || bytes < 50*8 {
			t.Errorf("client %d: Written() = %d bytes, %d events; want >= %d bytes, >= 50 events", i, bytes, events, 50*8)
		}
	}
}

// TestEngine_ClientGone checks that a client that closes its connection
// ends its stream at once, without a write, and frees the shard.
func TestEngine_ClientGone(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	cl := connect(t, e, newCounter(time.Hour, 8), time.Hour, time.Second, 0)
	cl.conn.Close()
	if err := cl.ended(); !errors.Is(err, pace.ErrClientGone) {
		t.Errorf("stream ended with %v; want %v", err, pace.ErrClientGone)
	}
	if bytes, events := cl.c.Stream().Written(); bytes != 0 || events != 0 {
		t.Errorf("Written() = %d bytes, %d events; want nothing written", bytes, events)
	}
}

// TestEngine_ClientEnds checks each way a client can end its side: a
// stream goes on while its client sends bytes it does not need, and ends
// with ErrClientGone once the client closes, half-closes or resets, while
// the streams beside it go on.
func TestEngine_ClientEnds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		end      func(*net.TCPConn) error
		readable bool // the client can still read, and sees the server close
	}{
		{"close", (*net.TCPConn).Close, false},
		{"half-close", (*net.TCPConn).CloseWrite, true},
		{"reset", func(c *net.TCPConn) error { c.SetLinger(0); return c.Close() }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t)
			before := connect(t, e, newCounter(time.Millisecond, 1000), time.Hour, time.Second, 0)
			cl := connect(t, e, newCounter(time.Millisecond, 1000), time.Hour, time.Second, 0)
			after := connect(t, e, newCounter(time.Millisecond, 1000), time.Hour, time.Second, 0)
			if _, err := cl.conn.Write([]byte(strings.Repeat("GET / HTTP/1.1\r\n\r\n", 100))); err != nil {
				t.Fatal(err)
			}
			if err := cl.read(50); err != nil {
				t.Fatalf("stream after its client sent bytes: %v", err)
			}
			if err := tc.end(cl.conn); err != nil {
				t.Fatal(err)
			}
			if err := cl.ended(); !errors.Is(err, pace.ErrClientGone) {
				t.Errorf("stream ended with %v; want %v", err, pace.ErrClientGone)
			}
			if tc.readable {
				cl.conn.SetReadDeadline(time.Now().Add(10 * time.Second)) // a bound on a hang
				if _, err := io.Copy(io.Discard, cl.r); err != nil && !isReset(err) {
					t.Errorf("reading after the stream ended = %v; want the end of the connection", err)
				}
			}
			for _, other := range []*client{before, after} {
				if err := other.read(50); err != nil {
					t.Errorf("a stream beside it: %v", err)
				}
			}
			// A new stream may get the descriptor just freed: it must not be
			// taken for the one that ended.
			next := connect(t, e, newCounter(time.Millisecond, 1000), time.Hour, time.Second, 0)
			if err := next.read(50); err != nil {
				t.Errorf("a stream added after: %v", err)
			}
		})
	}
}

// TestEngine_PausedReaderCatchesUp checks that a client that stops reading
// until its socket is full gets every event once it reads again, while
// another client goes on. Each of the paused client's lines is longer
// than its connection holds (a 4 KiB send buffer and a 128 KiB receive
// buffer hold about 300 KB on Linux), so the write of its first line
// stalls. On the fast path the engine finds the socket full and hands the
// stream to a catch-up writer. On the portable path the stream's writer
// blocks.
func TestEngine_PausedReaderCatchesUp(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	const every = 25 * time.Millisecond
	start := pace.Now()
	src := newCounter(every, 1<<20)
	stalled := stalls(e, src)
	paused := connectBuffers(t, e, src, time.Hour, 10*time.Second, 4096, 128<<10)
	live := connect(t, e, newCounter(time.Millisecond, 200), time.Hour, 10*time.Second, 0)
	done := make(chan error, 1)
	go func() { done <- live.read(100) }()
	select {
	case <-stalled:
	case <-time.After(10 * time.Second): // a bound on a hang, not a measure
		t.Fatal("no write stalled on the paused client's full connection")
	}
	if err := <-done; err != nil {
		t.Fatalf("live client: %v", err)
	}
	// A send buffer that small passes large writes slowly (a few MB/s):
	// the paused client reads again with a large one.
	paused.c.nc.(*net.TCPConn).SetWriteBuffer(4 << 20)
	// Every line due by now, and a few after them.
	due := int((pace.Now() - start) / every)
	if err := paused.read(due + 3); err != nil {
		t.Fatalf("paused client: %v", err)
	}
}

// TestEngine_DropsStalledReader checks that a client that does not read
// for longer than the write timeout is dropped with a deadline error,
// while another client goes on.
func TestEngine_DropsStalledReader(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	stalled := connect(t, e, newCounter(time.Millisecond, 1000), time.Hour, 100*time.Millisecond, 4096)
	live := connect(t, e, newCounter(time.Millisecond, 1000), time.Hour, 100*time.Millisecond, 0)
	done := make(chan error, 1)
	var dropped error // why the stalled stream ended; read after done
	go func() {
		for {
			if err := live.read(10); err != nil {
				done <- err
				return
			}
			select {
			case dropped = <-stalled.end:
				done <- nil
				return
			default:
			}
		}
	}()
	if err := <-done; err != nil {
		t.Fatalf("live client: %v", err)
	}
	if !errors.Is(dropped, os.ErrDeadlineExceeded) {
		t.Errorf("stalled stream ended with %v; want a missed write deadline", dropped)
	}
	stalled.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, stalled.conn); err != nil && !errors.Is(err, net.ErrClosed) && !isReset(err) {
		t.Fatalf("stalled client's connection: %v; want closed", err)
	}
	if err := live.read(20); err != nil {
		t.Fatalf("live client after the drop: %v", err)
	}
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && strings.Contains(op.Err.Error(), "reset")
}

// TestEngine_Heartbeat checks that a silent stream gets the heartbeat
// comment, and that it is not counted as an event.
func TestEngine_Heartbeat(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	cl := connect(t, e, newCounter(time.Hour, 8), 5*time.Millisecond, time.Second, 0)
	cl.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 3*len(pace.SSEHeartbeat))
	if _, err := io.ReadFull(cl.r, buf); err != nil {
		t.Fatal(err)
	}
	if want := strings.Repeat(string(pace.SSEHeartbeat), 3); string(buf) != want {
		t.Errorf("silent stream got %q; want three heartbeats %q", buf, want)
	}
	// The third is on the wire, so the first two are counted.
	if bytes, events := cl.c.Stream().Written(); events != 0 || bytes < int64(2*len(pace.SSEHeartbeat)) {
		t.Errorf("Written() = %d bytes, %d events; want >= %d bytes, 0 events", bytes, events, 2*len(pace.SSEHeartbeat))
	}
}

// TestEngine_Close checks that Close ends every stream with ErrShutdown
// and closes its connection, and that later streams are refused.
func TestEngine_Close(t *testing.T) {
	t.Parallel()
	e := New(0)
	clients := make([]*client, 4)
	for i := range clients {
		clients[i] = connect(t, e, newCounter(time.Millisecond, 8), time.Hour, time.Second, 0)
	}
	if err := clients[0].read(3); err != nil {
		t.Fatal(err)
	}
	e.Close()
	for i, cl := range clients {
		if err := cl.ended(); !errors.Is(err, pace.ErrShutdown) {
			t.Errorf("client %d ended with %v; want %v", i, err, pace.ErrShutdown)
		}
		cl.conn.SetReadDeadline(time.Now().Add(10 * time.Second)) // a bound on a hang
		if _, err := io.Copy(io.Discard, cl.r); err != nil && !isReset(err) {
			t.Errorf("client %d: reading after Close = %v; want the end of the connection", i, err)
		}
	}
	e.Close() // a second call returns too
	// A stream added now is refused, and left to its caller.
	sc, _ := tcpPair(t)
	defer sc.Close()
	c, err := NewConn(sc, ConnOptions{Source: newCounter(time.Millisecond, 8), Heartbeat: time.Hour, Beat: pace.SSEHeartbeat, Opened: pace.Now(), Timeout: time.Second,
		End: func(error) { t.Error("end called for a refused stream") }})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Add(c); !errors.Is(err, pace.ErrShutdown) {
		t.Errorf("Add after Close = %v; want %v", err, pace.ErrShutdown)
	}
}

// TestEngine_AddAfterClose checks that a closed engine refuses a stream
// and leaves it alone: its end is not called, and its connection is still
// open, for the caller to write and close.
func TestEngine_AddAfterClose(t *testing.T) {
	t.Parallel()
	e := New(0)
	e.Close()
	sc, cc := tcpPair(t)
	defer sc.Close()
	c, err := NewConn(sc, ConnOptions{Source: newCounter(time.Hour, 8), Heartbeat: time.Hour, Beat: pace.SSEHeartbeat, Opened: pace.Now(), Timeout: time.Second,
		End: func(error) { t.Error("end called for a refused stream") }})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Add(c); !errors.Is(err, pace.ErrShutdown) {
		t.Errorf("Add after Close = %v; want %v", err, pace.ErrShutdown)
	}
	if err := c.WriteBlocking([]byte("refused\n")); err != nil {
		t.Fatalf("WriteBlocking on a refused stream: %v", err)
	}
	cc.SetReadDeadline(time.Now().Add(10 * time.Second)) // a bound on a hang
	if line, err := bufio.NewReader(cc).ReadString('\n'); line != "refused\n" || err != nil {
		t.Errorf("client read %q, %v; want %q", line, err, "refused\n")
	}
}

// tally is a [pace.Metrics] that sums what it is told.
type tally struct {
	mu            sync.Mutex // guards what follows
	events, bytes int
}

func (m *tally) Wrote(events, n int, _ float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.events += events
	m.bytes += n
}

// TestEngine_Metrics checks that a stream's writes are counted in its
// Metrics as in its Stream: every event once, and every byte but those of
// the opening.
func TestEngine_Metrics(t *testing.T) {
	t.Parallel()
	const opening = 100
	e := New(0)
	m := &tally{}
	sc, cc := tcpPair(t)
	cl := &client{tb: t, conn: cc, r: bufio.NewReaderSize(cc, 512), end: make(chan error, 1)}
	var err error
	cl.c, err = NewConn(sc, ConnOptions{Source: newCounter(time.Millisecond, 8), Heartbeat: time.Hour, Beat: pace.SSEHeartbeat, Opened: pace.Now(),
		Written: opening, Timeout: time.Second, Metrics: m, End: func(err error) { cl.end <- err }})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Add(cl.c); err != nil {
		t.Fatal(err)
	}
	if err := cl.read(20); err != nil {
		t.Fatal(err)
	}
	e.Close() // waits for the writers: nothing is counted after
	if err := cl.ended(); !errors.Is(err, pace.ErrShutdown) {
		t.Errorf("stream ended with %v; want %v", err, pace.ErrShutdown)
	}
	bytes, events := cl.c.Stream().Written()
	m.mu.Lock()
	defer m.mu.Unlock()
	if events < 20 || int64(m.events) != events {
		t.Errorf("Metrics counted %d events, Written() %d; want the same, >= 20", m.events, events)
	}
	if int64(m.bytes) != bytes-opening {
		t.Errorf("Metrics counted %d bytes, Written() %d with a %d-byte opening; want %d", m.bytes, bytes, opening, bytes-opening)
	}
}

// tcpPair returns the two ends of a loopback TCP connection; the client's
// is closed when the test ends, the server's is the caller's.
func tcpPair(tb testing.TB) (server, client *net.TCPConn) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	cc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	sc := <-accepted
	if sc == nil {
		tb.Fatal("accept failed")
	}
	tb.Cleanup(func() { cc.Close() })
	return sc.(*net.TCPConn), cc.(*net.TCPConn)
}
