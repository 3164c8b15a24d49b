package e2e

import (
	"flag"
	"testing"

	"go.uber.org/goleak"
)

// parallel is how many tests run at once unless -test.parallel says: the
// tests here mostly wait (for moves at their pace, for a browser, for a
// process), so more of them than there are processors fit.
const parallel = "4"

// TestMain runs up to parallel tests at once, ends the browser they
// shared, then fails the package's tests if any goroutine outlives them.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		flag.Set("test.parallel", parallel)
	}
	goleak.VerifyTestMain(withBrowser{m})
}

// withBrowser runs the tests, then ends the package's browser.
type withBrowser struct{ m *testing.M }

func (w withBrowser) Run() int {
	defer stopBrowser()
	return w.m.Run()
}
