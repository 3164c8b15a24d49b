//go:build linux && !portable

package engine

// The tests of what only the fast path has: the non-blocking write, the
// prefetch, and a Conn's need of a descriptor.

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/sse-demo/movingobject/stream/internal/pace"
)

// stalls returns a channel that receives once a write of e finds a
// client's socket full ([Engine.onStall]), the fast path's stall. The
// engine does not say whose socket it was: with the lines of src longer
// than its client's socket holds, it is src's, or another one's for a
// moment.
func stalls(e *Engine, _ pace.Source) <-chan struct{} {
	stalled := make(chan struct{}, 1)
	e.onStall = func() {
		select {
		case stalled <- struct{}{}:
		default:
		}
	}
	return stalled
}

// TestNewConn_NoFD checks that the fast path refuses a connection that is
// not a socket, which it could not write itself.
func TestNewConn_NoFD(t *testing.T) {
	sc, cc := net.Pipe()
	defer cc.Close()
	defer sc.Close()
	if _, err := NewConn(sc, ConnOptions{Beat: pace.SSEHeartbeat, Timeout: time.Second}); !errors.Is(err, ErrNoFD) {
		t.Errorf("NewConn(pipe) = %v; want %v", err, ErrNoFD)
	}
}

// TestDataWord checks that the address the engine prefetches for a
// stream's source is the source's own: the interface value's data word as
// the runtime lays it out. Were the layout to change, nothing would
// break, but the prefetch would fetch the wrong memory.
func TestDataWord(t *testing.T) {
	src := newCounter(time.Second, 8)
	s := pace.NewStream(src, time.Hour, 0, 0)
	if got, want := dataWord(s.Source()), unsafe.Pointer(src); got != want {
		t.Errorf("dataWord(Source()) = %p; want the source, %p", got, want)
	}
}

// TestPrefetch runs prefetch over every start and length around a line's
// ends, and past the end of an object and of a page: it is a hint, and
// must never fault or touch anything.
func TestPrefetch(t *testing.T) {
	buf := make([]byte, 4096+256)
	for _, off := range []int{0, 1, 63, 64, 65, 4095} {
		for _, n := range []uintptr{1, 63, 64, 65, 88, 128, 129, 4096} {
			prefetch(unsafe.Pointer(&buf[off]), n)
		}
	}
	for i := range buf {
		if buf[i] != 0 {
			t.Fatalf("buf[%d] = %d after prefetch; want 0", i, buf[i])
		}
	}
}

// TestConn_TryWrite checks the one non-blocking call of a write on each
// state a socket can be in: with room it writes all; full (its client
// does not read) it writes short, with no error; reset by its client it
// fails; ended, it does not touch the descriptor.
func TestConn_TryWrite(t *testing.T) {
	chunk := []byte(strings.Repeat("x", 4096))
	for _, tc := range []struct {
		name  string
		check func(t *testing.T, c *Conn, client *net.TCPConn)
	}{
		{"room", func(t *testing.T, c *Conn, client *net.TCPConn) {
			if n, err := c.tryWrite([]byte("hello\n")); n != 6 || err != nil {
				t.Fatalf("tryWrite = %d, %v; want 6, nil", n, err)
			}
			client.SetReadDeadline(time.Now().Add(10 * time.Second)) // a bound on a hang
			if line, err := bufio.NewReader(client).ReadString('\n'); line != "hello\n" || err != nil {
				t.Errorf("client read %q, %v; want %q", line, err, "hello\n")
			}
		}},
		{"full", func(t *testing.T, c *Conn, _ *net.TCPConn) {
			c.nc.(*net.TCPConn).SetWriteBuffer(4096)
			for written := 0; ; {
				n, err := c.tryWrite(chunk)
				if err != nil {
					t.Fatalf("tryWrite after %d bytes = %v; want no error", written, err)
				}
				if n < len(chunk) {
					return // full: short, and no error
				}
				if written += n; written > 64<<20 {
					t.Fatalf("wrote %d bytes to a client that reads nothing; want a short write first", written)
				}
			}
		}},
		{"reset", func(t *testing.T, c *Conn, client *net.TCPConn) {
			client.SetLinger(0)
			client.Close()
			c.nc.SetReadDeadline(time.Now().Add(10 * time.Second)) // a bound on a hang
			if _, err := c.nc.Read(make([]byte, 1)); err == nil {
				t.Fatal("read after the client reset: no error")
			}
			_, err := c.tryWrite(chunk)
			if !errors.Is(err, syscall.EPIPE) && !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("tryWrite after the client reset = %v; want EPIPE or ECONNRESET", err)
			}
		}},
		{"ended", func(t *testing.T, c *Conn, _ *net.TCPConn) {
			c.ended.Store(true)
			if n, err := c.tryWrite(chunk); n != 0 || !errors.Is(err, net.ErrClosed) {
				t.Errorf("tryWrite on an ended Conn = %d, %v; want 0, net.ErrClosed", n, err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			server, client := tcpPair(t)
			t.Cleanup(func() { server.Close() })
			c, err := NewConn(server, ConnOptions{Source: newCounter(time.Hour, 1), Timeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c, client)
		})
	}
}

// BenchmarkEngine_Datagram measures the engine's work per event without
// TCP: every stream of a slot gets one event, sent with one send(2) as a
// datagram to a loopback UDP socket that never reads (the kernel drops
// what its full buffer cannot take), so what remains is the engine's share,
// the cost of entering the kernel, and a short trip through UDP.
func BenchmarkEngine_Datagram(b *testing.B) {
	for _, streams := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("streams=%d", streams), func(b *testing.B) {
			sink, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				b.Fatal(err)
			}
			defer sink.Close()
			sink.SetReadBuffer(4096)
			out, err := net.DialUDP("udp", nil, sink.LocalAddr().(*net.UDPAddr))
			if err != nil {
				b.Fatal(err)
			}
			defer out.Close()
			e := New(0)
			sh := &shard{byslot: make(map[int64][]*Conn)}
			var all []*Conn
			event := []byte("id: 123456789\nevent: move\ndata: {\"seq\":123456789,\"x\":400,\"y\":300,\"ts\":1767225600000}\n\n")
			src := &repeat{event: event}
			for range streams {
				c, err := NewConn(out, ConnOptions{Source: src, Heartbeat: time.Hour, Beat: pace.SSEHeartbeat})
				if err != nil {
					b.Fatal(err)
				}
				all = append(all, c)
			}
			dues := make([]pace.Time, len(all))
			e.reinsert(sh, all, dues)
			batch := sh.byslot[0]
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				now := pace.Time(i + 1)
				if kept, _ := e.writeSlot(sh, batch, now); len(kept) != streams {
					b.Fatalf("%d of %d streams kept after a slot; want every one", len(kept), streams)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(streams), "ns/event")
		})
	}
}

// repeat is a source that is always due with the same event.
type repeat struct{ event []byte }

func (r *repeat) Due() pace.Time { return 0 }
func (r *repeat) Next(dst []byte, _ pace.Time) ([]byte, int, error) {
	return append(dst, r.event...), 1, nil
}
