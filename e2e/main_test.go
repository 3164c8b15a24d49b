package e2e

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/sse-demo/movingobject/internal/apptest"
)

// TestMain runs up to 4 tests at once (they mostly wait: for moves at
// their pace, for a browser, for a process), ends the browser they shared,
// then fails the package's tests if any goroutine outlives them.
func TestMain(m *testing.M) {
	apptest.DefaultParallel(4)
	goleak.VerifyTestMain(withBrowser{m})
}

// withBrowser runs the tests, then ends the package's browser.
type withBrowser struct{ m *testing.M }

func (w withBrowser) Run() int {
	defer stopBrowser()
	return w.m.Run()
}
