package stream

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/sse-demo/movingobject/stream/sse"
)

// tcpSubscriber is a client of the fast path: a real TCP connection with a
// small receive buffer, so that a pause in reading fills it quickly.
type tcpSubscriber struct {
	tb   testing.TB
	conn *net.TCPConn
	dec  *sse.Decoder
	last uint64 // seq of the last event read
}

func dialWorld(tb testing.TB, url string) *tcpSubscriber {
	tb.Helper()
	addr := url[len("http://"):]
	c, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	tc := c.(*net.TCPConn)
	tc.SetReadBuffer(2048)
	fmt.Fprintf(tc, "GET /world/events HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	br := bufio.NewReader(tc)
	res, err := http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != http.StatusOK || !res.Close || res.TransferEncoding != nil {
		tb.Fatalf("GET /world/events = %v, %v; want 200, not chunked, with Connection: close (the fast path)", res, err)
	}
	s := &tcpSubscriber{tb: tb, conn: tc, dec: sse.NewDecoder(res.Body)}
	ev, err := s.dec.Next()
	if err != nil || ev.Name != "init" {
		tb.Fatalf("first event = %+v, %v; want init", ev, err)
	}
	s.last, _ = strconv.ParseUint(ev.ID, 10, 64)
	return s
}

// read reads n moves and checks that they follow with no gap.
func (s *tcpSubscriber) read(n int) error {
	for range n {
		ev, err := s.dec.Next()
		if err != nil {
			return err
		}
		if seq, _ := strconv.ParseUint(ev.ID, 10, 64); ev.Name != "move" || seq != s.last+1 {
			s.tb.Fatalf("event %q id %s after %d; want move %d", ev.Name, ev.ID, s.last, s.last+1)
		}
		s.last++
	}
	return nil
}

// readUntilFull reads on until the hub has found a socket full: the other
// client's, which does not read.
func (s *tcpSubscriber) readUntilFull(h *Hub) {
	s.tb.Helper()
	for h.fan.full.Load() == 0 {
		if err := s.read(10); err != nil {
			s.tb.Fatalf("live client: %v", err)
		}
	}
}

func newFastServer(tb testing.TB, writeTimeout time.Duration) (*httptest.Server, *Hub) {
	tb.Helper()
	h, _ := newTestHub(tb, HubOptions{Options: Options{WriteTimeout: writeTimeout}})
	h.sendBuffer = 4096
	e := echo.New()
	e.GET("/world/events", h.Events)
	srv := httptest.NewServer(e)
	tb.Cleanup(func() {
		h.Close() // closes the hijacked connections, which srv does not track
		srv.Close()
	})
	return srv, h
}

// TestFastPath_PausedReaderCatchesUp checks that a client that stops
// reading long enough to fill its socket gets every move once it reads
// again, while another client goes on.
func TestFastPath_PausedReaderCatchesUp(t *testing.T) {
	srv, h := newFastServer(t, 10*time.Second)
	paused, live := dialWorld(t, srv.URL), dialWorld(t, srv.URL)
	live.readUntilFull(h)
	if err := paused.read(int(live.last-paused.last) + 20); err != nil {
		t.Fatalf("paused client: %v", err)
	}
	if err := live.read(20); err != nil {
		t.Fatalf("live client after the catch-up: %v", err)
	}
}

// TestFastPath_DropsStalledReader checks that a client that does not read
// for longer than the write timeout is dropped: after the moves that were
// on their way, its stream ends.
func TestFastPath_DropsStalledReader(t *testing.T) {
	srv, h := newFastServer(t, 100*time.Millisecond)
	stalled, live := dialWorld(t, srv.URL), dialWorld(t, srv.URL)
	live.readUntilFull(h)
	stalled.conn.SetReadDeadline(time.Now().Add(10 * time.Second)) // a bound on a hang
	err := stalled.read(1 << 20)
	if !errors.Is(err, io.EOF) {
		t.Fatalf("stalled client's stream ended with %v after move %d; want EOF (dropped)", err, stalled.last)
	}
	if err := live.read(20); err != nil {
		t.Fatalf("live client after the drop: %v", err)
	}
}
