//go:build linux && !amd64 && !arm64 && !portable

package engine

import "unsafe"

// prefetch does nothing where the engine has no prefetch instruction: the
// streams are written all the same, a little slower.
func prefetch(unsafe.Pointer, uintptr) {}
