// Package powercut gives tests a folder that loses, on a power cut, what
// was not written to disk with fsync.
//
// A [Disk] is a FUSE file system in the manner of LazyFS. It passes reads
// and writes through to a folder of its own, which plays the page cache.
// It keeps a second copy of every file as the file stood at its last
// fsync, which plays the disk. [Disk.Cut] is the power cut: it unmounts
// the file system and puts the disk's copy back. Data written but not
// fsynced is gone, and so is a file created but never fsynced.
//
// The model of the disk:
//   - fsync or fdatasync of a file (or a write to a file opened with
//     O_SYNC) puts the whole file, as it is then, on the disk;
//   - a rename, an unlink or a rmdir reaches the disk at once, as a
//     journaled file system's metadata does. A rename of a file that is
//     not on the disk yet is lost with the file;
//   - a directory is on the disk once a file in it is.
//
// The processes that use the folder must be killed before the cut. The
// package needs Linux and /dev/fuse, and mounts without a helper as root.
// Elsewhere [New] skips the test, or fails it when CI is set.
package powercut

import (
	"os"
	"testing"
)

// unavailable skips tb for why, or fails it when the CI environment
// variable is set: CI runs as root on Linux, where the harness must run.
func unavailable(tb testing.TB, why string) {
	tb.Helper()
	if os.Getenv("CI") != "" {
		tb.Fatalf("powercut: %s (CI is set: the power-cut tests must run)", why)
	}
	tb.Skipf("powercut: %s; the power-cut tests need Linux, /dev/fuse and root", why)
}
