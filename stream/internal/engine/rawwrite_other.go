//go:build !linux || 386

package engine

import "syscall"

// The engine's one call a write ([rawWrite]) is write(2), which does not
// wait on a non-blocking socket, where Linux's is send(2) (linux/386 has
// no call of its own for it); write(2) takes no flags.
const (
	rawCall  = syscall.SYS_WRITE
	rawFlags = 0
)
