package wire_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: the
// servers they start, and their clients' connections.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
