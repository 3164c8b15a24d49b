// Package ring keeps the recent moves of a walk that many streams read: move
// seq sits in slot seq % size, so that readers share each move without a
// lock, and a move older than the window is gone. The shared world's hub and
// the play room's instances keep their moves in one.
package ring

import "sync/atomic"

// Ring holds the last Len moves of type E, each stored once and never
// modified after, and the seq of the newest one published.
type Ring[E any] struct {
	slots  []atomic.Pointer[E]
	seqOf  func(*E) uint64
	latest atomic.Uint64
}

// New returns a ring of size slots (at least 2) for moves whose seq seqOf
// reads.
func New[E any](size int, seqOf func(*E) uint64) *Ring[E] {
	return &Ring[E]{slots: make([]atomic.Pointer[E], max(size, 2)), seqOf: seqOf}
}

// Len returns how many moves the ring holds.
func (r *Ring[E]) Len() int { return len(r.slots) }

// Store puts e in its slot, in place of the move Len before it. Readers
// see it at once through Get; Latest moves on only with SetLatest.
func (r *Ring[E]) Store(e *E) {
	r.slots[r.seqOf(e)%uint64(len(r.slots))].Store(e)
}

// Get returns move seq, or nil when the ring does not hold it (not stored
// yet, or gone from the window).
func (r *Ring[E]) Get(seq uint64) *E {
	e := r.slots[seq%uint64(len(r.slots))].Load()
	if e == nil || r.seqOf(e) != seq {
		return nil
	}
	return e
}

// Latest returns the seq last given to SetLatest, 0 before any.
func (r *Ring[E]) Latest() uint64 { return r.latest.Load() }

// SetLatest publishes seq as the newest move, once it and the moves before
// it are stored.
func (r *Ring[E]) SetLatest(seq uint64) { r.latest.Store(seq) }
