//go:build !amd64 && !arm64

package engine

import "unsafe"

// prefetch does nothing where the engine has no prefetch instruction: the
// streams are written all the same, a little slower.
func prefetch(unsafe.Pointer, uintptr) {}
