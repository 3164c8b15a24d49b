package server

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/sse-demo/movingobject/internal/apptest"
)

// TestMain runs up to 8 tests at once (they mostly wait on a server of
// their own), then fails the package's tests if any goroutine outlives
// them.
func TestMain(m *testing.M) {
	apptest.DefaultParallel(8)
	goleak.VerifyTestMain(m)
}
