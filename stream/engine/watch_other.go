//go:build !linux

package engine

// watcher, without epoll, gives each stream a goroutine parked in a read
// of its connection, which notices its client leaving.
type watcher struct{}

func newWatcher() *watcher { return &watcher{} }

// add starts c's reading goroutine; e.mu is held, as for every wg.Go.
func (w *watcher) add(e *Engine, c *Conn) error {
	e.wg.Go(func() { e.watchRead(c) })
	return nil
}

// remove does nothing: closing the connection ends the read.
func (w *watcher) remove(*Conn) {}
