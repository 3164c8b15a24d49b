package e2e

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/sse-demo/movingobject/internal/apptest"
)

// TestMain runs up to 8 tests at once (they mostly wait: for moves at
// their pace, for a browser, for a process), or 4 with the race detector,
// which makes every instance of the program several times dearer and the
// play room's takeovers slower than their 3 s bound when too many run. It
// ends the browser they shared, then fails the package's tests if any
// goroutine outlives them.
func TestMain(m *testing.M) {
	n := 8
	if apptest.RaceEnabled() {
		n = 4
	}
	apptest.DefaultParallel(n)
	goleak.VerifyTestMain(withBrowser{m})
}

// withBrowser runs the tests, then ends the package's browser and removes
// the programs the tests built.
type withBrowser struct{ m *testing.M }

func (w withBrowser) Run() int {
	defer stopBrowser()
	defer apptest.RemoveBuilds()
	return w.m.Run()
}
