//go:build linux && !386

package engine

import (
	"syscall"
	"unsafe"
)

// rawWrite writes b to socket fd with one send(2) that does not wait.
//
// It tells the scheduler nothing, as syscall.Write would (that the
// goroutine may block): a non-blocking call does not, and in a burst of
// thousands of writes that notice costs more than the write's own work in
// user space, and, when the runtime's monitor finds a shard's thread in a
// call and hands its processor to another thread, a wake-up in the kernel
// too (BENCHMARKS.md, "Against C").
//
// It is send(2), not write(2): a socket's own call skips what write(2)
// does for every kind of file (the file layer's permission hook, fsnotify,
// the write accounting), which cost 5 to 7% of a move at 2,000 streams,
// in C as in Go (BENCHMARKS.md, "send(2) rather than write(2)").
// MSG_NOSIGNAL has a connection the client reset fail with EPIPE rather
// than raise SIGPIPE, which the runtime would catch and ignore.
func rawWrite(fd int, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, _, errno := syscall.RawSyscall6(syscall.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)),
		syscall.MSG_DONTWAIT|syscall.MSG_NOSIGNAL, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
