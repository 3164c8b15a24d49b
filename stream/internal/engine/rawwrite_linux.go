//go:build linux && !386 && !portable

package engine

import "syscall"

// The engine's one call a write ([rawWrite]) is send(2), not write(2): a
// socket's own call skips what write(2) does for every kind of file (the
// file layer's permission hook, fsnotify, the write accounting), which
// cost 5 to 7% of a move at 2,000 streams, in C as in Go (BENCHMARKS.md,
// "send(2) rather than write(2)"). MSG_NOSIGNAL has a connection the
// client reset fail with EPIPE rather than raise SIGPIPE, which the
// runtime would catch and ignore.
const (
	rawCall  = syscall.SYS_SENDTO
	rawFlags = syscall.MSG_DONTWAIT | syscall.MSG_NOSIGNAL
)
