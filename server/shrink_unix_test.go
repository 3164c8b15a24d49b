//go:build unix

package server_test

import (
	"fmt"
	"syscall"
)

// shrinkBuffers gives the socket fd a small receive buffer and a small
// segment size, which keeps the server's send buffer from growing. A
// client that never reads then fills both sides after some 20 KB rather
// than megabytes.
func shrinkBuffers(fd int) error {
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUF, 1024); err != nil {
		return fmt.Errorf("set SO_RCVBUF: %w", err)
	}
	return syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_MAXSEG, 200)
}
