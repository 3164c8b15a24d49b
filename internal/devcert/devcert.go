// Package devcert makes the server's own short-lived certificates, which a
// page served over plain HTTP trusts by their hash.
//
// A browser opens a WebTransport session only over QUIC, which always has
// TLS. Without a certificate from an authority, the page may still connect
// with new WebTransport(url, {serverCertificateHashes}), if the
// certificate is an ECDSA one valid for less than 14 days, counted from
// NotBefore to NotAfter. A [Rotator] keeps two such certificates: the one
// it serves, and the next, made in advance. A page gets the hashes of
// both, so that it still connects after the next rotation.
package devcert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"sync"
	"time"
)

// Lifetime is how long a certificate is valid, from NotBefore to NotAfter:
// under the 14 days that browsers allow for a certificate trusted by its
// hash.
const Lifetime = 13 * 24 * time.Hour

// Every is how often a [Rotator] serves its next certificate. A
// certificate is made one period before it is served, and served for one
// period, so it is at most 2 × Every old when it is replaced: within its
// Lifetime, with a margin.
const Every = 6 * 24 * time.Hour

// backdate is how far before its making a certificate's validity starts,
// for clients whose clock runs a little late.
const backdate = time.Hour

// Rotator serves a certificate of its own and renews it every [Every]. It
// needs no goroutine: it renews when asked, once the time has come.
type Rotator struct {
	hosts []string
	now   func() time.Time

	mu      sync.Mutex
	current *cert
	next    *cert
	rotate  time.Time // when next is served
}

// cert is one certificate with its hash.
type cert struct {
	tls  *tls.Certificate
	hash [sha256.Size]byte
}

// New returns a rotator whose certificates name hosts (DNS names or IP
// addresses) besides localhost and the loopback addresses. now is the
// clock; nil means [time.Now].
func New(hosts []string, now func() time.Time) (*Rotator, error) {
	if now == nil {
		now = time.Now
	}
	r := &Rotator{hosts: hosts, now: now}
	if err := r.start(now()); err != nil {
		return nil, err
	}
	return r, nil
}

// start makes the current and the next certificate afresh at t.
func (r *Rotator) start(t time.Time) error {
	cur, err := r.mint(t)
	if err != nil {
		return err
	}
	next, err := r.mint(t)
	if err != nil {
		return err
	}
	r.current, r.next, r.rotate = cur, next, t.Add(Every)
	return nil
}

// GetCertificate returns the certificate to serve now. It is the
// [tls.Config.GetCertificate] of the QUIC listener.
func (r *Rotator) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	cur, _, err := r.certs()
	if err != nil {
		return nil, err
	}
	return cur.tls, nil
}

// Hashes returns the SHA-256 hashes of the certificate served now and of
// the next one, as a page passes them to serverCertificateHashes.
func (r *Rotator) Hashes() ([][sha256.Size]byte, error) {
	cur, next, err := r.certs()
	if err != nil {
		return nil, err
	}
	return [][sha256.Size]byte{cur.hash, next.hash}, nil
}

// certs renews the certificates when their time has come, and returns
// the current and the next one.
func (r *Rotator) certs() (current, next *cert, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.now()
	switch {
	case t.Sub(r.rotate) >= Every: // a clock that jumped: start afresh
		if err := r.start(t); err != nil {
			return nil, nil, err
		}
	case !t.Before(r.rotate):
		n, err := r.mint(r.rotate)
		if err != nil {
			return nil, nil, err
		}
		r.current, r.next, r.rotate = r.next, n, r.rotate.Add(Every)
	}
	return r.current, r.next, nil
}

// mint returns a new certificate valid from shortly before at, for
// [Lifetime].
func (r *Rotator) mint(at time.Time) (*cert, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("make a certificate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("make a certificate serial: %w", err)
	}
	from := at.Add(-backdate)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "localhost"},
		NotBefore:             from,
		NotAfter:              from.Add(Lifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	for _, h := range r.hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" && h != "localhost" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("make a certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("read the certificate made: %w", err)
	}
	return &cert{
		tls:  &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
		hash: sha256.Sum256(der),
	}, nil
}
