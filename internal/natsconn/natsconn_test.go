package natsconn

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	nc, stop, err := Embedded(dir, false, SyncAlways, log)
	if err != nil {
		t.Fatalf("Embedded(%s) = %v; want a connection", dir, err)
	}
	if !nc.IsConnected() {
		t.Errorf("connection status %v; want connected", nc.Status())
	}
	if _, _, err := Embedded(dir, false, SyncAlways, log); err == nil || !strings.Contains(err.Error(), "in use by another process") {
		t.Errorf("Embedded(%s) while in use = %v; want it refused as in use", dir, err)
	}
	stop()
	if nc.IsConnected() {
		t.Errorf("connection status %v after stop; want closed", nc.Status())
	}
	nc, stop, err = Embedded(dir, false, SyncAlways, log)
	if err != nil {
		t.Fatalf("Embedded(%s) after stop = %v; want the store free again", dir, err)
	}
	stop()

	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Embedded(file, false, SyncAlways, log); err == nil {
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

// TestEmbeddedSync checks the sync that Embedded gives its server: an
// fsync before each acknowledgement by default, or one every interval.
func TestEmbeddedSync(t *testing.T) {
	for _, tt := range []struct {
		sync         time.Duration
		wantAlways   bool
		wantInterval time.Duration
	}{
		{SyncAlways, true, 0},
		{-time.Second, true, 0},
		{2 * time.Minute, false, 2 * time.Minute},
		{time.Second, false, time.Second},
	} {
		o := embeddedOptions("dir", tt.sync)
		if o.SyncAlways != tt.wantAlways || o.SyncInterval != tt.wantInterval || o.StoreDir != "dir" || !o.JetStream || !o.DontListen {
			t.Errorf("embeddedOptions(dir, %v) = SyncAlways %v, SyncInterval %v, store %q; want %v, %v, dir, with JetStream and no port",
				tt.sync, o.SyncAlways, o.SyncInterval, o.StoreDir, tt.wantAlways, tt.wantInterval)
		}
	}
}
