package procstat

import (
	"os"
	"runtime"
	"testing"
	"time"
)

// TestReadSelf reads the test's own process after it has spent CPU time:
// some CPU, and a resident size of a few MiB or more.
func TestReadSelf(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc is Linux's")
	}
	for start := time.Now(); time.Since(start) < 50*time.Millisecond; { // burn some CPU
	}
	p, err := Read([]int{os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	if p.User+p.Sys <= 0 || p.RSSKiB < 1024 {
		t.Errorf("Read(self) = %+v; want some CPU time and 1 MiB or more resident", p)
	}
	if _, err := Read([]int{-1}); err == nil {
		t.Error("Read(-1) = nil error; want one")
	}
}
