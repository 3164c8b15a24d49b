//go:build linux

package procstat

import (
	"os"
	"syscall"
	"testing"
	"time"
)

// cpu returns the CPU time the kernel's getrusage(2) gives this process.
func cpu(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestReadSelf reads the test's own process once it has spent 100 ms of
// CPU: /proc's CPU time lies between getrusage's before and after the read,
// give or take a clock tick (10 ms), and the resident size is 1 MiB or
// more.
func TestReadSelf(t *testing.T) {
	x := 0
	for cpu(t) < 100*time.Millisecond { // spend some CPU
		for i := range 1 << 16 {
			x ^= i
		}
	}
	before := cpu(t)
	p, err := Read([]int{os.Getpid()})
	after := cpu(t)
	if err != nil {
		t.Fatal(err)
	}
	const tick = 10 * time.Millisecond
	if got := p.User + p.Sys; got < before-2*tick || got > after+2*tick || p.RSSKiB < 1024 {
		t.Errorf("Read(self) = %+v (CPU %v); want CPU within a tick or two of [%v, %v], and 1 MiB or more resident (x=%d)", p, got, before, after, x)
	}
	if _, err := Read([]int{-1}); err == nil {
		t.Error("Read(-1) = nil error; want one")
	}
}
