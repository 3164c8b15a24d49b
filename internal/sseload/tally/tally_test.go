package tally

import (
	"io"
	"net"
	"sync/atomic"
	"testing"
)

// TestConn counts the bytes of a connection over loopback, and none
// while the window is closed.
func TestConn(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	echoed := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_, err = io.Copy(c, c)
			c.Close()
		}
		echoed <- err
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	var window atomic.Bool
	b := &Bytes{Window: &window}
	c := b.Conn(raw)
	roundTrip := func(msg string) {
		if _, err := io.WriteString(c, msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, make([]byte, len(msg))); err != nil {
			t.Fatal(err)
		}
	}
	roundTrip("before") // the window is closed
	window.Store(true)
	roundTrip("in the window")
	c.Close()
	if err := <-echoed; err != nil {
		t.Fatal(err)
	}
	if in, out := b.In.Load(), b.Out.Load(); in != 13 || out != 13 {
		t.Errorf("counted %d in, %d out; want 13 and 13, the window's bytes alone", in, out)
	}
}

// TestPacketConn counts a datagram each way.
func TestPacketConn(t *testing.T) {
	a, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	peer, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	var window atomic.Bool
	window.Store(true)
	b := &Bytes{Window: &window}
	pc := b.PacketConn(a)
	if err := pc.(interface{ SetReadBuffer(int) error }).SetReadBuffer(1 << 20); err != nil {
		t.Errorf("SetReadBuffer: %v", err)
	}
	if _, err := pc.WriteTo([]byte("12345"), peer.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, from, err := peer.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := peer.WriteTo(buf[:n+2], from); err != nil {
		t.Fatal(err)
	}
	if _, _, err := pc.ReadFrom(buf); err != nil {
		t.Fatal(err)
	}
	if in, out := b.In.Load(), b.Out.Load(); in != 7 || out != 5 {
		t.Errorf("counted %d in, %d out; want 7 and 5", in, out)
	}
}
