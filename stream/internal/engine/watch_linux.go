//go:build linux && !portable

package engine

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"

	"github.com/sse-demo/movingobject/stream/internal/pace"
)

// watcher notices clients leaving for every stream of an engine with one
// goroutine, parked in epoll_wait(2) on all their sockets, where a
// goroutine per stream, parked in a read, would cost each stream its
// stack: at 10,000 streams that was the larger part of their memory.
//
// Each socket is registered with an id of its own, not its descriptor,
// so that an event read just before a stream ended is not taken for a
// later stream that got the same descriptor; a socket leaves the epoll
// set before it is closed, for the same reason.
//
// The goroutine runs while the watcher has streams: when the last leaves,
// a byte on a pipe wakes it, and it closes its descriptors and returns.
type watcher struct {
	mu    sync.Mutex
	epfd  int // -1 while the goroutine is not running
	wake  [2]int
	conns map[uint64]*Conn
	last  uint64 // the last id handed out
}

// wakeID is the id of the wake pipe in the epoll set; streams start at 1.
const wakeID = 0

func newWatcher() *watcher { return &watcher{epfd: -1, conns: make(map[uint64]*Conn)} }

// add watches c for its client leaving, starting the watcher's goroutine
// if it is not running; e.mu is held, as for every wg.Go.
func (w *watcher) add(e *Engine, c *Conn) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.epfd < 0 {
		if err := w.open(); err != nil {
			return err
		}
		e.wg.Go(func() { w.run(e) })
	}
	w.last++
	c.watchID = w.last
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP}
	setID(&ev, c.watchID)
	if err := syscall.EpollCtl(w.epfd, syscall.EPOLL_CTL_ADD, c.fd, &ev); err != nil {
		w.wakeIfIdle()
		return fmt.Errorf("watch the client: %w", os.NewSyscallError("epoll_ctl", err))
	}
	w.conns[c.watchID] = c
	return nil
}

// remove stops watching c; it is called before c's socket is closed.
func (w *watcher) remove(c *Conn) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.conns[c.watchID]; !ok {
		return
	}
	delete(w.conns, c.watchID)
	syscall.EpollCtl(w.epfd, syscall.EPOLL_CTL_DEL, c.fd, nil) // the socket is still open: it fails only if it was never added
	w.wakeIfIdle()
}

// wakeIfIdle wakes the goroutine when no stream is left, so that it
// returns; w.mu is held.
func (w *watcher) wakeIfIdle() {
	if len(w.conns) == 0 && w.epfd >= 0 {
		syscall.Write(w.wake[1], []byte{0}) // a full pipe has woken it already
	}
}

// open makes the epoll set and the wake pipe; w.mu is held.
func (w *watcher) open() error {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return fmt.Errorf("watch clients: %w", os.NewSyscallError("epoll_create1", err))
	}
	if err := syscall.Pipe2(w.wake[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		syscall.Close(epfd)
		return fmt.Errorf("watch clients: %w", os.NewSyscallError("pipe2", err))
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN}
	setID(&ev, wakeID)
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, w.wake[0], &ev); err != nil {
		syscall.Close(epfd)
		syscall.Close(w.wake[0])
		syscall.Close(w.wake[1])
		return fmt.Errorf("watch clients: %w", os.NewSyscallError("epoll_ctl", err))
	}
	w.epfd = epfd
	return nil
}

// run waits for clients to leave and ends their streams, until the
// watcher has no stream left.
func (w *watcher) run(e *Engine) {
	events := make([]syscall.EpollEvent, 128)
	gone := make([]*Conn, 0, len(events))
	for {
		n, err := syscall.EpollWait(w.epfd, events, -1)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		gone = gone[:0]
		w.mu.Lock()
		for _, ev := range events[:max(n, 0)] {
			id := getID(&ev)
			if id == wakeID {
				var b [64]byte
				syscall.Read(w.wake[0], b[:])
				continue
			}
			c, ok := w.conns[id]
			if ok && (ev.Events&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 || c.discardInput()) {
				gone = append(gone, c)
			}
		}
		stop := len(w.conns) == 0 || err != nil
		if stop {
			for _, c := range w.conns { // epoll_wait failed: hand the streams back to per-stream reads
				e.wg.Go(func() { e.watchRead(c) })
			}
			clear(w.conns)
			syscall.Close(w.epfd)
			syscall.Close(w.wake[0])
			syscall.Close(w.wake[1])
			w.epfd = -1
		}
		w.mu.Unlock()
		for _, c := range gone {
			e.finish(c, pace.ErrClientGone)
		}
		if stop {
			return
		}
	}
}

// discardInput reads and drops what the client sent (an event stream's
// request has no body, so nothing it sends is for the server), and
// reports whether the client closed its end.
func (c *Conn) discardInput() (eof bool) {
	var b [512]byte
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended.Load() {
		return false
	}
	n, err := syscall.Read(c.fd, b[:])
	return n == 0 && err == nil || err != nil && !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EINTR)
}

// setID and getID keep a 64-bit id in the two 32-bit fields of an epoll
// event's data.
func setID(ev *syscall.EpollEvent, id uint64) {
	ev.Fd, ev.Pad = int32(uint32(id)), int32(uint32(id>>32))
}

func getID(ev *syscall.EpollEvent) uint64 {
	return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
}
