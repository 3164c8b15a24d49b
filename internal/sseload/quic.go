package sseload

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	"github.com/quic-go/webtransport-go"
)

// quicConn opens cl's UDP socket, from its source address, and a QUIC
// transport on it, and returns what closes both. The socket's datagrams
// count as cl's bytes.
func (cl *client) quicConn() (*quic.Transport, func(), error) {
	laddr := &net.UDPAddr{}
	if tcp, ok := cl.dialer.LocalAddr.(*net.TCPAddr); ok {
		laddr.IP = tcp.IP
	}
	uc, err := net.ListenUDP("udp", laddr)
	if err != nil {
		return nil, nil, fmt.Errorf("open a UDP socket: %w", err)
	}
	tr := &quic.Transport{Conn: cl.c.bytes.PacketConn(uc)}
	return tr, func() { tr.Close(); uc.Close() }, nil
}

// dialVia returns a QUIC dialer that dials on qt.
func dialVia(qt *quic.Transport) func(context.Context, string, *tls.Config, *quic.Config) (*quic.Conn, error) {
	return func(ctx context.Context, addr string, tlsConf *tls.Config, conf *quic.Config) (*quic.Conn, error) {
		ua, err := net.ResolveUDPAddr("udp", addr)
		if err != nil {
			return nil, err
		}
		return qt.DialEarly(ctx, ua, tlsConf, conf)
	}
}

// quicTLS trusts any certificate: the clients measure, on loopback, a
// server whose certificate may be its own.
var quicTLS = &tls.Config{InsecureSkipVerify: true, NextProtos: []string{http3.NextProtoH3}}

// followH3 keeps one event stream open over HTTP/3 until ctx is done,
// reopening it with its last event id, on a new QUIC connection, when it
// ends.
func followH3(ctx context.Context, cl *client, u *url.URL) {
	var lastID string
	reconnect(ctx, cl, func() error {
		qt, closeConn, err := cl.quicConn()
		if err != nil {
			return err
		}
		defer closeConn()
		rt := &http3.Transport{
			TLSClientConfig:    quicTLS,
			DisableCompression: cl.acceptEncoding == "",
			Dial:               dialVia(qt),
		}
		defer rt.Close()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return err
		}
		req.Header = cl.sseHeader(lastID)
		res, err := rt.RoundTrip(req)
		if err != nil {
			return fmt.Errorf("request: %w", err)
		}
		defer res.Body.Close()
		return cl.readStream(res, &lastID)
	})
}

// followWebTransport keeps one WebTransport session open until ctx is
// done, reading the lines of the stream the server opens, and opens a new
// one with after=SEQ, the last move it has, when it ends.
func followWebTransport(ctx context.Context, cl *client, u *url.URL) {
	reconnect(ctx, cl, func() error {
		qt, closeConn, err := cl.quicConn()
		if err != nil {
			return err
		}
		defer closeConn()
		d := &webtransport.Transport{
			TLSClientConfig: quicTLS,
			DialAddr:        dialVia(qt),
		}
		defer d.Close()
		target := cl.after(u)
		_, sess, err := d.Dial(ctx, target.String(), http.Header{"Origin": {"https://" + u.Host}})
		if err != nil {
			return fmt.Errorf("open a session: %w", err)
		}
		defer context.AfterFunc(ctx, func() { sess.CloseWithError(0, "") })() // ends the read below
		defer sess.CloseWithError(0, "")
		cl.c.answered()
		str, err := sess.AcceptUniStream(ctx)
		if err != nil {
			return fmt.Errorf("accept the stream: %w", err)
		}
		cl.c.opened()
		defer cl.c.closed()
		br := bufio.NewReaderSize(str, 2048)
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				return fmt.Errorf("read the stream: %w", err)
			}
			if len(line) == 1 {
				continue // the heartbeat
			}
			if err := cl.message(line, time.Now()); err != nil { // line is valid until the next read
				return err
			}
		}
	})
}
