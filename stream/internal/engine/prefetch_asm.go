//go:build linux && (amd64 || arm64) && !portable

package engine

import "unsafe"

// prefetch asks the CPU to bring the n bytes at p (n > 0) into its cache,
// a 64-byte line at a time, without waiting for them. It is only a hint:
// a prefetch never faults, whatever p is.
//
//go:noescape
func prefetch(p unsafe.Pointer, n uintptr)
