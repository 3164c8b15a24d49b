//go:build !linux

package engine

import "errors"

// watcher, without epoll, watches nothing: [Engine.Add] gives each stream
// a goroutine parked in a read of its connection instead.
type watcher struct{}

func newWatcher() *watcher { return &watcher{} }

// add reports that c cannot be watched here.
func (w *watcher) add(*Engine, *Conn) error { return errors.ErrUnsupported }

// remove does nothing: closing the connection ends the read.
func (w *watcher) remove(*Conn) {}
