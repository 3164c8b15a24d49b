// Package tally counts the bytes that cross a load client's connections
// and sockets while a measurement window is open.
package tally

import (
	"net"
	"sync/atomic"
)

// Bytes counts the bytes read (In) and written (Out) while Window holds
// true.
type Bytes struct {
	Window  *atomic.Bool
	In, Out atomic.Uint64
}

func (b *Bytes) add(n *atomic.Uint64, k int) {
	if k > 0 && b.Window.Load() {
		n.Add(uint64(k))
	}
}

// Conn returns c, whose reads and writes b counts.
func (b *Bytes) Conn(c net.Conn) net.Conn { return conn{Conn: c, b: b} }

type conn struct {
	net.Conn
	b *Bytes
}

func (c conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.b.add(&c.b.In, n)
	return n, err
}

func (c conn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.b.add(&c.b.Out, n)
	return n, err
}

// PacketConn returns uc, whose datagrams b counts. It hides the socket's
// own ways to read and write, which would bypass the counts, but lets
// QUIC size its buffers.
func (b *Bytes) PacketConn(uc *net.UDPConn) net.PacketConn {
	return packetConn{PacketConn: uc, uc: uc, b: b}
}

type packetConn struct {
	net.PacketConn
	uc *net.UDPConn
	b  *Bytes
}

func (pc packetConn) ReadFrom(p []byte) (int, net.Addr, error) {
	n, addr, err := pc.PacketConn.ReadFrom(p)
	pc.b.add(&pc.b.In, n)
	return n, addr, err
}

func (pc packetConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	n, err := pc.PacketConn.WriteTo(p, addr)
	pc.b.add(&pc.b.Out, n)
	return n, err
}

// SetReadBuffer sets the socket's receive buffer, as QUIC asks.
func (pc packetConn) SetReadBuffer(n int) error { return pc.uc.SetReadBuffer(n) }

// SetWriteBuffer sets the socket's send buffer, as QUIC asks.
func (pc packetConn) SetWriteBuffer(n int) error { return pc.uc.SetWriteBuffer(n) }
