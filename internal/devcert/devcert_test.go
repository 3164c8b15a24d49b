package devcert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"testing"
	"time"
)

// TestRotator walks a rotator's clock over 40 days, an hour at a time. At
// every hour the certificate served is an ECDSA P-256 one, valid now, for
// less than 14 days. Its hash is the first of Hashes. A page that got
// the hashes at any hour still finds the certificate served among them
// until the next rotation after that.
func TestRotator(t *testing.T) {
	start := time.Date(2026, 12, 7, 19, 0, 0, 0, time.UTC)
	now := start
	r, err := New([]string{"example.test", "192.0.2.1"}, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	type seen struct {
		at     time.Time
		hashes [][sha256.Size]byte
	}
	var pages []seen // what a page loaded at each hour was given
	served := map[[sha256.Size]byte]bool{}
	for ; now.Before(start.Add(40 * 24 * time.Hour)); now = now.Add(time.Hour) {
		c, err := r.GetCertificate(nil)
		if err != nil {
			t.Fatal(err)
		}
		leaf := c.Leaf
		if life := leaf.NotAfter.Sub(leaf.NotBefore); life >= 14*24*time.Hour {
			t.Fatalf("at %v: a certificate valid for %v; want less than 14 days", now, life)
		}
		if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
			t.Fatalf("at %v: serving a certificate valid from %v to %v", now, leaf.NotBefore, leaf.NotAfter)
		}
		if key, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || key.Curve != elliptic.P256() {
			t.Fatalf("key %T; want ECDSA P-256", leaf.PublicKey)
		}
		if err := leaf.VerifyHostname("example.test"); err != nil {
			t.Errorf("certificate for example.test: %v", err)
		}
		if err := leaf.VerifyHostname("::1"); err != nil {
			t.Errorf("certificate for ::1: %v", err)
		}
		hash := sha256.Sum256(c.Certificate[0])
		served[hash] = true
		hashes, err := r.Hashes()
		if err != nil {
			t.Fatal(err)
		}
		if len(hashes) != 2 || hashes[0] != hash {
			t.Fatalf("at %v: Hashes() starts with %x; want the served %x", now, hashes[0], hash)
		}
		pages = append(pages, seen{now, hashes})
		for _, p := range pages {
			if now.Sub(p.at) >= Every {
				continue // the page may be older than one rotation
			}
			if p.hashes[0] != hash && p.hashes[1] != hash {
				t.Fatalf("at %v: a page loaded at %v does not know the certificate served", now, p.at)
			}
		}
	}
	if len(served) != 7 { // 40 days: the first and 6 renewals
		t.Errorf("served %d certificates in 40 days; want 7", len(served))
	}
}

// TestRotatorClockJump checks that a clock that jumps weeks ahead gets a
// certificate valid at once.
func TestRotatorClockJump(t *testing.T) {
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	r, err := New(nil, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(90 * 24 * time.Hour)
	c, err := r.GetCertificate(nil)
	if err != nil {
		t.Fatal(err)
	}
	if now.Before(c.Leaf.NotBefore) || now.After(c.Leaf.NotAfter) {
		t.Errorf("after the jump, serving a certificate valid from %v to %v at %v", c.Leaf.NotBefore, c.Leaf.NotAfter, now)
	}
}
