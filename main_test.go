package main

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/sse-demo/movingobject/internal/apptest"
)

// TestMain runs up to 16 tests at once (they mostly wait for moves at
// their pace), then fails the package's tests if any goroutine outlives
// them.
func TestMain(m *testing.M) {
	apptest.DefaultParallel(16)
	goleak.VerifyTestMain(m)
}
