package stream

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"
)

// hijacked is an event stream whose connection was taken over from
// net/http, so that a shared goroutine can write it without blocking: no
// goroutine per stream waits on it, and net/http's per-connection buffers
// are freed. The response has no chunked encoding and ends when the
// connection closes, so the stream can be cut anywhere between events.
type hijacked struct {
	c       net.Conn
	raw     syscall.RawConn
	timeout time.Duration // of a blocking write
	release func()        // gives the stream's slot back to the limiter
	log     *slog.Logger  // with the request's id

	out     []byte // what writeFn writes
	n       int    // its result
	err     error
	writeFn func(fd uintptr) bool // made once, so that a write allocates nothing
}

// errNoFD is returned for a hijacked connection that is not a socket.
var errNoFD = errors.New("hijacked connection has no file descriptor")

// hijackStream takes over the connection of c and writes the response
// head and first within timeout. ok is false when the connection cannot be
// taken over (HTTP/2, TLS, or a writer without Hijack): the caller then
// serves the stream through the ResponseWriter. An error means that the
// connection was taken but is closed now. sendBuffer, when positive, sets
// the socket's send buffer.
func hijackStream(c echo.Context, first []byte, timeout time.Duration, sendBuffer int, log *slog.Logger) (hc *hijacked, ok bool, err error) {
	w, r := c.Response(), c.Request()
	if r.ProtoMajor != 1 || r.TLS != nil {
		return nil, false, nil
	}
	nc, _, err := http.NewResponseController(w).Hijack() // an event stream request has no body to read
	if err != nil {
		return nil, false, nil
	}
	var raw syscall.RawConn
	if sc, ok := nc.(syscall.Conn); ok {
		raw, err = sc.SyscallConn()
	}
	if raw == nil {
		nc.Close()
		return nil, true, fmt.Errorf("%w: %w", errNoFD, err)
	}
	hc = newHijacked(nc, raw, timeout, requestLogger(log, c))
	if tc, ok := nc.(*net.TCPConn); ok && sendBuffer > 0 {
		tc.SetWriteBuffer(sendBuffer)
	}
	var head bytes.Buffer
	head.WriteString("HTTP/1.1 200 OK\r\n")
	hdr := w.Header().Clone()
	setStreamHeaders(hdr)
	hdr.Set("Connection", "close")
	hdr.Write(&head)
	head.WriteString("\r\n")
	head.Write(first)
	if err := hc.writeBlocking(head.Bytes()); err != nil {
		nc.Close()
		return nil, true, err
	}
	hc.release = detachLimit(c) // the stream stays counted until close
	return hc, true, nil
}

// newHijacked returns the stream of connection c, written through raw.
func newHijacked(c net.Conn, raw syscall.RawConn, timeout time.Duration, log *slog.Logger) *hijacked {
	hc := &hijacked{c: c, raw: raw, timeout: timeout, release: func() {}, log: log}
	hc.writeFn = func(fd uintptr) bool {
		hc.n, hc.err = syscall.Write(int(fd), hc.out)
		return true // never wait: a full socket is the caller's to handle
	}
	return hc
}

// tryWrite writes b with one write(2) that does not wait: n < len(b) with
// a nil error means the socket is full.
func (hc *hijacked) tryWrite(b []byte) (int, error) {
	hc.out = b
	err := hc.raw.Write(hc.writeFn)
	hc.out = nil
	n := max(hc.n, 0)
	if err == nil {
		err = hc.err
	}
	if errors.Is(err, syscall.EAGAIN) {
		err = nil
	}
	return n, err
}

// writeBlocking writes b within the write timeout, then clears the
// deadline, which would otherwise fail later non-blocking writes.
func (hc *hijacked) writeBlocking(b []byte) error {
	return hc.writeBuffers(net.Buffers{b})
}

// writeBuffers writes bufs with writev(2) within the write timeout.
func (hc *hijacked) writeBuffers(bufs net.Buffers) error {
	if err := hc.c.SetWriteDeadline(time.Now().Add(hc.timeout)); err != nil {
		return fmt.Errorf("set write deadline: %w", err)
	}
	if _, err := bufs.WriteTo(hc.c); err != nil {
		return fmt.Errorf("write events: %w", err)
	}
	if err := hc.c.SetWriteDeadline(time.Time{}); err != nil {
		return fmt.Errorf("clear write deadline: %w", err)
	}
	return nil
}

// watch starts a goroutine, counted in wg, that calls gone when the client
// closes or resets the connection, or when close is called: a client that
// leaves an idle stream is noticed at once, not at the next write. gone
// reports whether it ended the stream (rather than finding it ended). The
// goroutine is the only reader of the connection: an event stream request
// has no body.
func (hc *hijacked) watch(wg *sync.WaitGroup, gone func() bool) {
	wg.Go(func() {
		var b [1]byte
		for {
			if _, err := hc.c.Read(b[:]); err != nil {
				if gone() {
					hc.log.Debug("client gone")
				}
				return
			}
		}
	})
}

// close closes the connection and frees the stream's slot; call it once.
func (hc *hijacked) close() {
	hc.c.Close()
	hc.release()
}

// writeFailed logs why a stream's write failed and reports whether the
// server dropped a slow client (a missed write deadline, or moves gone from
// the replay ring) rather than found it gone, which is logged at Debug.
func writeFailed(log *slog.Logger, err error) (dropped bool) {
	dropped = errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, errBehind)
	if dropped {
		log.Info("slow client dropped", "err", err)
	} else {
		log.Debug("stream write failed", "err", err)
	}
	return dropped
}
