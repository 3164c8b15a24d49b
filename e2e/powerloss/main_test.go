// Package powerloss cuts the power under the program and its NATS
// servers (internal/powercut), and checks that no push answered 202 is
// lost. It is a package of its own, apart from e2e, so that its tests,
// which mostly wait for NATS elections, run beside the browser tests
// rather than in their turn.
package powerloss

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/sse-demo/movingobject/internal/apptest"
)

// TestMain runs all six tests at once (they mostly wait for NATS to
// elect its leaders), removes the programs they built, and fails if any
// goroutine outlives them.
func TestMain(m *testing.M) {
	apptest.DefaultParallel(6)
	goleak.VerifyTestMain(withBuilds{m})
}

// withBuilds runs the tests, then removes the programs they built.
type withBuilds struct{ m *testing.M }

func (w withBuilds) Run() int {
	defer apptest.RemoveBuilds()
	return w.m.Run()
}
