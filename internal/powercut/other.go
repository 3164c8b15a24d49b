//go:build !linux

package powercut

import "testing"

// Disk is a folder that loses what was not fsynced on a power cut. It
// needs Linux.
type Disk struct {
	// Dir is the folder to give the program under test.
	Dir string
}

// New skips tb (or fails it when CI is set): FUSE mounts need Linux here.
func New(tb testing.TB) *Disk {
	tb.Helper()
	unavailable(tb, "FUSE mounts are built for Linux only")
	return nil
}

// Cut is never reached: New does not return a Disk off Linux.
func (d *Disk) Cut(tb testing.TB) { tb.Helper() }

// Syncs is never reached: New does not return a Disk off Linux.
func (d *Disk) Syncs() int { return 0 }
