package quicserver

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"
	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestServeLocalhost serves a handler at localhost without a certificate
// of its own. Both loopback addresses answer over HTTP/3 at the TCP
// listener's port, with a certificate whose hash CertHashes gives first.
// Close ends it all.
func TestServeLocalhost(t *testing.T) {
	s, err := New(Options{Host: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := ListenTCP("localhost:0", s)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	if s.Port() != port {
		t.Errorf("UDP port %d; want the TCP listener's %d", s.Port(), port)
	}
	if err := s.Serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	})); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	hashes, err := s.CertHashes()
	if err != nil || len(hashes) != 2 {
		t.Fatalf("CertHashes() = %q, %v; want the current and the next", hashes, err)
	}
	for _, host := range []string{"127.0.0.1", "::1"} {
		var served string
		tr := &http3.Transport{TLSClientConfig: &tls.Config{
			InsecureSkipVerify: true, // checked by hash below, as a browser does
			VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
				sum := sha256.Sum256(raw[0])
				served = base64.StdEncoding.EncodeToString(sum[:])
				if !slices.Contains(hashes, served) {
					return errors.New("hash not offered")
				}
				return nil
			},
		}}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+net.JoinHostPort(host, strconv.Itoa(port))+"/", nil)
		res, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatalf("GET over HTTP/3 at %s: %v", host, err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		cancel()
		tr.Close()
		if string(body) != "HTTP/3.0" {
			t.Errorf("at %s the handler saw %q; want HTTP/3.0", host, body)
		}
		if served != hashes[0] {
			t.Errorf("at %s the certificate served has hash %s; want the first of %q", host, served, hashes)
		}
	}
}

// TestListenTCPBadAddr checks the error of an address with no port.
func TestListenTCPBadAddr(t *testing.T) {
	if _, err := ListenTCP("localhost", nil); err == nil {
		t.Error("ListenTCP(localhost) = nil error; want one naming -addr")
	}
}
