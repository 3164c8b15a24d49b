package room

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// leaseKey is the key of the lease in the room's bucket.
const leaseKey = "ticker"

// lease is this instance's side of the ticker lease: a key that the holder
// renews by revision (Update), and that the others create (Create) once it
// has expired. The bucket's TTL expires a key that is not renewed, so an
// instance that dies or loses its connection hands the lease on within the
// TTL. The holder counts its lease from the moment it sent the request
// that took or renewed it, and gives it up, locally, before the TTL runs
// out, so that it stops making moves before another instance can start.
// The moves stream's expected-sequence check covers what is left: a
// holder paused past its lease cannot write a move that another wrote.
// An instance that finds its own name in the key (a Create applied on the
// server whose answer came too late) renews it by revision and holds the
// lease again, rather than wait a TTL for a key that names it.
type lease struct {
	r  *Room
	kv jetstream.KeyValue

	mu    sync.Mutex    // guards rev and until
	rev   uint64        // the key's revision while held; 0: not held
	until time.Time     // when the lease ends unless renewed
	up    chan struct{} // signalled (capacity 1) when the lease is taken
}

func newLease(r *Room) *lease {
	return &lease{r: r, kv: r.leaseKV, up: make(chan struct{}, 1)}
}

// held reports whether this instance holds the lease now.
func (l *lease) held() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rev != 0 && time.Now().Before(l.until)
}

// run takes and renews the lease every Renew until ctx ends, then gives it
// up.
func (l *lease) run(ctx context.Context) {
	t := time.NewTicker(l.r.cfg.Renew)
	defer t.Stop()
	for {
		l.step(ctx)
		select {
		case <-ctx.Done():
			l.release()
			return
		case <-t.C:
		}
	}
}

// step renews the lease when held, or tries to take it.
func (l *lease) step(ctx context.Context) {
	l.mu.Lock()
	rev, until := l.rev, l.until
	l.mu.Unlock()
	// Each call is bounded by the renew interval, so that a slow server
	// delays no renewal past the next.
	cctx, cancel := context.WithTimeout(ctx, l.r.cfg.Renew)
	defer cancel()
	sent := time.Now()
	if rev != 0 {
		if time.Now().After(until) {
			l.lost("lease expired before it was renewed")
			return
		}
		nrev, err := l.kv.Update(cctx, leaseKey, []byte(l.r.cfg.Instance), rev)
		switch {
		case err == nil:
			l.set(nrev, sent)
		case errors.Is(err, jetstream.ErrKeyRevisionMismatch), errors.Is(err, jetstream.ErrKeyNotFound):
			l.lost("lease taken over: " + err.Error())
		default:
			if ctx.Err() == nil {
				l.r.log.Warn("renew ticker lease", "err", err)
			}
		}
		return
	}
	nrev, err := l.take(cctx)
	switch {
	case err == nil && nrev != 0:
		l.set(nrev, sent)
		l.r.log.Info("ticker lease taken: this instance makes the moves", "revision", nrev)
		select {
		case l.up <- struct{}{}:
		default:
		}
	case err != nil && ctx.Err() == nil:
		l.r.log.Debug("take ticker lease", "err", err)
	}
}

// take tries to take the lease: it creates the key when no instance holds
// it, and renews it when it already names this instance, which happens
// when a Create (or a renewal) was applied but its answer did not come in
// time: without that, the key would hold the lease for nobody until it
// expired. It returns the key's new revision, or 0 when another instance
// holds the lease.
func (l *lease) take(ctx context.Context) (uint64, error) {
	me := []byte(l.r.cfg.Instance)
	e, err := l.kv.Get(ctx, leaseKey)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound): // never taken, given up or expired
		nrev, err := l.kv.Create(ctx, leaseKey, me)
		if errors.Is(err, jetstream.ErrKeyExists) { // another instance was quicker
			return 0, nil
		}
		return nrev, err
	case err != nil:
		return 0, fmt.Errorf("read ticker lease: %w", err)
	case !bytes.Equal(e.Value(), me):
		return 0, nil
	}
	nrev, err := l.kv.Update(ctx, leaseKey, me, e.Revision())
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, nil // it expired, or changed hands, since it was read
	}
	return nrev, err
}

// set records a lease taken or renewed at sent, with revision rev. The
// lease is counted from when the request was sent, and ends a fifth of
// the TTL early, so that it ends here before the key expires on the
// server.
func (l *lease) set(rev uint64, sent time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rev, l.until = rev, sent.Add(l.r.cfg.LeaseTTL*4/5)
}

// lost records that the lease is no longer held.
func (l *lease) lost(why string) {
	l.mu.Lock()
	l.rev = 0
	l.mu.Unlock()
	l.r.log.Warn("ticker lease lost", "why", why)
}

// release deletes the key if this instance still holds it, so that
// another instance takes the lease at its next try rather than after the
// TTL.
func (l *lease) release() {
	l.mu.Lock()
	rev := l.rev
	l.rev = 0
	l.mu.Unlock()
	if rev == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.r.cfg.Renew)
	defer cancel()
	if err := l.kv.Delete(ctx, leaseKey, jetstream.LastRevision(rev)); err != nil {
		l.r.log.Debug("give ticker lease up", "err", err)
		return
	}
	l.r.log.Info("ticker lease given up")
}
