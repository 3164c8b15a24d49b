//go:build !linux || 386

package engine

import (
	"syscall"
	"unsafe"
)

// rawWrite writes b to socket fd with one write(2), which does not wait
// on a non-blocking socket, without telling the scheduler, as the Linux
// version does with send(2) (where linux/386 has no such call of its own).
func rawWrite(fd int, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
