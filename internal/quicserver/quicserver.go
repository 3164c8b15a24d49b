// Package quicserver serves a handler over HTTP/3, and WebTransport
// sessions, on UDP at the port of the program's TCP listener.
//
// With a certificate from an authority it serves that. Without one it
// serves certificates of its own (package devcert), which a page served
// over plain HTTP trusts by their hashes, as
// new WebTransport(url, {serverCertificateHashes}) allows.
package quicserver

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	"github.com/quic-go/webtransport-go"

	"github.com/sse-demo/movingobject/internal/devcert"
)

// Options configure a [Server].
type Options struct {
	// Cert is the certificate to serve. Nil makes the server's own
	// (package devcert), for Host besides localhost.
	Cert *tls.Certificate
	// Host is the host name or address the server listens on.
	Host string
	// MaxHeaderBytes bounds a request's header section.
	MaxHeaderBytes int
	// Logger receives the errors of QUIC connections.
	Logger *slog.Logger
}

// Server serves HTTP/3 and WebTransport on UDP.
type Server struct {
	wt        *webtransport.Server
	own       *devcert.Rotator // nil with Options.Cert
	log       *slog.Logger
	conns     []net.PacketConn // one per address listened on
	listeners []*quic.EarlyListener
	port      int
	accepting sync.WaitGroup // the accept loops
	served    sync.WaitGroup // the connections' goroutines
	open      sync.WaitGroup // the connections not yet closed
}

// Linger is how long [Server.Close] waits at most for clients to close
// their connections, once the streams have ended. Closing a connection
// discards what it has not yet delivered, such as the end of the last
// stream, and HTTP/3 clients keep an idle connection open.
const Linger = 250 * time.Millisecond

// New returns a server of o. It listens with [Server.Listen] and serves
// with [Server.Serve].
func New(o Options) (*Server, error) {
	s := &Server{log: o.Logger}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS13}
	if o.Cert != nil {
		tlsConf.Certificates = []tls.Certificate{*o.Cert}
	} else {
		own, err := devcert.New([]string{o.Host}, nil)
		if err != nil {
			return nil, err
		}
		s.own, tlsConf.GetCertificate = own, own.GetCertificate
	}
	h3 := &http3.Server{
		TLSConfig:         http3.ConfigureTLSConfig(tlsConf),
		QUICConfig:        &quic.Config{EnableDatagrams: true, EnableStreamResetPartialDelivery: true},
		MaxHeaderBytes:    o.MaxHeaderBytes,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       2 * time.Minute,
		Logger:            o.Logger,
	}
	// The transport layer checks the Origin itself, and refuses a foreign
	// one with a 403 that says why.
	s.wt = &webtransport.Server{H3: h3, CheckOrigin: func(*http.Request) bool { return true }}
	return s, nil
}

// Upgrader returns what turns an extended CONNECT request into a
// WebTransport session.
func (s *Server) Upgrader() *webtransport.Server { return s.wt }

// Listen opens UDP at port on host. For localhost that is both loopback
// addresses, since browsers resolve localhost to ::1 for QUIC and do not
// fall back to 127.0.0.1; a system without IPv6 gets 127.0.0.1 alone,
// with a warning.
func (s *Server) Listen(host string, port int) error {
	hosts := []string{host}
	if host == "localhost" {
		hosts = []string{"127.0.0.1", "::1"}
	}
	for i, h := range hosts {
		pc, err := net.ListenPacket("udp", net.JoinHostPort(h, strconv.Itoa(port)))
		if err != nil && i > 0 {
			s.log.Warn("HTTP/3 on 127.0.0.1 alone: browsers that resolve localhost to ::1 get no WebTransport", "err", err)
			break
		}
		if err != nil {
			return fmt.Errorf("listen on UDP for HTTP/3: %w", err)
		}
		s.conns = append(s.conns, pc)
	}
	s.port = port
	return nil
}

// ListenTCP opens TCP at addr and, when s is not nil, UDP at the same
// port for s. When addr asks for any free port (0), it tries again, up to
// a few times, when the free TCP port is taken on UDP.
func ListenTCP(addr string, s *Server) (net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("listen: -addr %q: %w", addr, err)
	}
	for try := 0; ; try++ {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("listen: %w", err)
		}
		if s == nil {
			return ln, nil
		}
		if err = s.Listen(host, ln.Addr().(*net.TCPAddr).Port); err == nil {
			return ln, nil
		}
		ln.Close()
		if port != "0" || try == 5 {
			return nil, err
		}
	}
}

// Port returns the UDP port listened on.
func (s *Server) Port() int { return s.port }

// Serve serves h on every address listened on, until [Server.Close]. The
// QUIC listeners run when it returns.
func (s *Server) Serve(h http.Handler) error {
	s.wt.H3.Handler = h
	conf := s.wt.H3.QUICConfig.Clone()
	for _, pc := range s.conns {
		ln, err := quic.ListenEarly(pc, s.wt.H3.TLSConfig, conf)
		if err != nil {
			return fmt.Errorf("serve HTTP/3 on %s: %w", pc.LocalAddr(), err)
		}
		s.listeners = append(s.listeners, ln)
		s.accepting.Go(func() { s.accept(ln) })
	}
	return nil
}

// accept serves each connection of ln until ln closes.
func (s *Server) accept(ln *quic.EarlyListener) {
	for {
		conn, err := ln.Accept(context.Background())
		if err != nil {
			return // closed
		}
		s.open.Add(1)
		context.AfterFunc(conn.Context(), s.open.Done)
		s.served.Go(func() {
			if err := s.wt.ServeQUICConn(conn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Debug("serve a QUIC connection", "peer", conn.RemoteAddr().String(), "err", err)
			}
		})
	}
}

// Close stops taking connections, waits up to [Linger] for clients to
// close theirs, then closes every QUIC connection and the sockets, and
// waits for the serving goroutines. The handler's streams should end
// first: Close cuts what is still open. A nil Server (HTTP/3 off) has
// nothing to close.
func (s *Server) Close() {
	if s == nil {
		return
	}
	for _, ln := range s.listeners {
		ln.Close()
	}
	s.accepting.Wait() // no connection joins open after this
	closed := make(chan struct{})
	go func() {
		s.open.Wait()
		close(closed)
	}()
	t := time.NewTimer(Linger)
	select {
	case <-closed:
	case <-t.C:
	}
	t.Stop()
	s.wt.Close()
	<-closed
	s.closeConns()
	s.served.Wait()
}

func (s *Server) closeConns() {
	for _, pc := range s.conns {
		pc.Close()
	}
}

// CertHashes returns the base64 SHA-256 hashes of the certificates that a
// page may meet, the one served now and the next, for
// serverCertificateHashes. With a certificate from an authority there are
// none.
func (s *Server) CertHashes() ([]string, error) {
	if s.own == nil {
		return nil, nil
	}
	sums, err := s.own.Hashes()
	if err != nil {
		return nil, err
	}
	hashes := make([]string, len(sums))
	for i, h := range sums {
		hashes[i] = base64.StdEncoding.EncodeToString(h[:])
	}
	return hashes, nil
}
