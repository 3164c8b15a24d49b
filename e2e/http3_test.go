package e2e

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/sse-demo/movingobject/internal/apptest"
	"github.com/sse-demo/movingobject/internal/logwatch"
	"github.com/sse-demo/movingobject/server/servertest"
)

// spkiHash returns the base64 SHA-256 of the public key of the PEM
// certificate in file, as Chromium's --ignore-certificate-errors-spki-list
// takes it.
func spkiHash(tb testing.TB, file string) string {
	tb.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		tb.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		tb.Fatalf("%s: no PEM block", file)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		tb.Fatal(err)
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// TestChromiumHTTP3 serves the world with a certificate, and opens /world
// in a Chromium of its own that speaks QUIC to the server from the first
// request (--origin-to-force-quic-on) and trusts the test certificate by
// its key (--ignore-certificate-errors-spki-list). The page and its event
// stream come over HTTP/3, and the stream delivers every move in order.
func TestChromiumHTTP3(t *testing.T) {
	t.Parallel()
	path := chromium(t)
	certFile, keyFile, _ := apptest.SelfSigned(t, t.TempDir())
	s := servertest.Start(t, append(apptest.WorldArgs(t), "-tls-cert", certFile, "-tls-key", keyFile)...)
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop, err := launchChromium(path,
		chromedp.Flag("origin-to-force-quic-on", u.Host),
		chromedp.Flag("ignore-certificate-errors-spki-list", spkiHash(t, certFile)))
	if err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	defer stop()
	tabCtx, cancel := chromedp.NewContext(ctx)
	tb := openTab(t, tabCtx, cancel)
	if res := tb.navigate(s.URL + "/world"); res.status != 200 {
		t.Fatalf("GET /world = %d; want 200", res.status)
	}
	if proto := eval[string](tb, `performance.getEntriesByType('navigation')[0].nextHopProtocol`); proto != "h3" {
		t.Errorf("the page came over %q; want h3", proto)
	}
	tb.waitFor("60 moves", `window.__seen.filter((e) => e.type === 'move').length >= 60`)
	var last int
	for _, e := range tb.seen() {
		if e.Type != "move" {
			continue
		}
		id, err := strconv.Atoi(e.ID)
		if err != nil || (last != 0 && id != last+1) {
			t.Fatalf("move id %q after %d; want every move in order", e.ID, last)
		}
		last = id
	}
	tb.checkClean(false)
	cancel() // the tab closes, and its stream ends
	s.Log.WaitLine(t, "the event stream's request over HTTP/3", func(l logwatch.Line) bool {
		return l["msg"] == "request" && strings.HasPrefix(l["uri"], "/world/events") && l["proto"] == "HTTP/3.0"
	})
}
