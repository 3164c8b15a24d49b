package natsconn

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestEmbeddedStore checks that the embedded server keeps its store in a
// directory that one process at a time may use, and that it refuses one it
// cannot write.
func TestEmbeddedStore(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	dir := t.TempDir()
	nc, stop, err := Embedded(dir, false, log)
	if err != nil {
		t.Fatalf("Embedded(%s) = %v; want a connection", dir, err)
	}
	if !nc.IsConnected() {
		t.Errorf("connection status %v; want connected", nc.Status())
	}
	if _, _, err := Embedded(dir, false, log); err == nil || !strings.Contains(err.Error(), "in use by another process") {
		t.Errorf("Embedded(%s) while in use = %v; want it refused as in use", dir, err)
	}
	stop()
	if nc.IsConnected() {
		t.Errorf("connection status %v after stop; want closed", nc.Status())
	}
	nc, stop, err = Embedded(dir, false, log)
	if err != nil {
		t.Fatalf("Embedded(%s) after stop = %v; want the store free again", dir, err)
	}
	stop()

	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Embedded(file, false, log); err == nil {
		t.Errorf("Embedded(%s), a file = nil error; want it refused", file)
	}
}

// TestDefaultDir checks the default stores. Each listen address gets a
// lasting store of its own, and port 0 gets a new throwaway one each time.
func TestDefaultDir(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	a, throwA, errA := DefaultDir("127.0.0.1:8080")
	b, throwB, errB := DefaultDir("[::1]:8080")
	if errA != nil || errB != nil || a == b || throwA || throwB {
		t.Errorf("DefaultDir = %q %v %v and %q %v %v; want two lasting stores", a, throwA, errA, b, throwB, errB)
	}
	c, throwC, errC := DefaultDir("127.0.0.1:0")
	d, _, _ := DefaultDir("127.0.0.1:0")
	if errC != nil || !throwC || c == d {
		t.Errorf("DefaultDir(port 0) = %q %v %v then %q; want a new throwaway store each time", c, throwC, errC, d)
	}
}
