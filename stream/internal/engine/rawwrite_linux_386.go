//go:build linux && 386 && !portable

package engine

import "syscall"

// The engine's one call a write ([rawWrite]) is write(2) on linux/386,
// which has no call of its own for send(2) (it goes through
// socketcall(2)). On a non-blocking socket write(2) does not wait either,
// and it takes no flags.
const (
	rawCall  = syscall.SYS_WRITE
	rawFlags = 0
)
