// Package lease holds the ticker lease of the play room in a JetStream
// key-value bucket.
//
// The lease is one key, [Key], whose value names the one instance that
// makes the room's moves. Its holder renews the key by revision (Update),
// and the other instances create it (Create) once it has expired. The
// bucket's TTL expires a key that is not renewed, so an instance that dies
// or loses its connection hands the lease on within the TTL.
//
// The holder counts its lease from the moment it sent the request that
// took or renewed it. It gives the lease up, locally, before the TTL runs
// out, so that it stops making moves before another instance can start.
// The room's moves stream covers what is left with its expected-sequence
// check: a holder paused past its lease cannot write a move that another
// wrote.
//
// An instance that finds its own name in the key holds the lease again.
// That happens when its Create was applied on the server but the answer
// came too late. The instance renews the key by revision rather than wait
// a TTL for a key that names it.
package lease

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Key is the key of the lease in its bucket.
const Key = "ticker"

// Bucket is the key-value bucket that holds the lease. A
// [jetstream.KeyValue] is one. The bucket's TTL must be the lease's TTL.
type Bucket interface {
	Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error)
	Create(ctx context.Context, key string, value []byte, opts ...jetstream.KVCreateOpt) (uint64, error)
	Update(ctx context.Context, key string, value []byte, revision uint64) (uint64, error)
	Delete(ctx context.Context, key string, opts ...jetstream.KVDeleteOpt) error
}

// Options are an instance's side of the lease.
type Options struct {
	// Holder names this instance. It is the key's value while this
	// instance holds the lease.
	Holder string
	// TTL is how long the lease lasts unrenewed: the bucket's TTL.
	TTL time.Duration
	// Renew is how often the holder renews the lease and the others try
	// to take it. It also bounds each call to the bucket. It must be more
	// than 0 and at most half the TTL.
	Renew time.Duration
	// Logger receives the lease's log lines. Nil discards them.
	Logger *slog.Logger
}

// Lease is this instance's side of the ticker lease.
type Lease struct {
	kv   Bucket
	opts Options
	log  *slog.Logger

	mu    sync.Mutex    // guards rev and until
	rev   uint64        // the key's revision while held, 0 when not held
	until time.Time     // when the lease ends unless renewed
	taken chan struct{} // signalled (capacity 1) when the lease is taken
}

// New returns this instance's side of the lease held in kv. It holds no
// lease until Step or Run takes it.
func New(kv Bucket, o Options) *Lease {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Lease{kv: kv, opts: o, log: o.Logger, taken: make(chan struct{}, 1)}
}

// Held reports whether this instance holds the lease now.
func (l *Lease) Held() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rev != 0 && time.Now().Before(l.until)
}

// Taken returns a channel that is signalled when this instance takes the
// lease. It holds one signal at most, so a signal sent while nobody
// waited is kept for the next receive.
func (l *Lease) Taken() <-chan struct{} { return l.taken }

// Run takes and renews the lease every Renew until ctx ends. Then it
// gives the lease up.
func (l *Lease) Run(ctx context.Context) {
	t := time.NewTicker(l.opts.Renew)
	defer t.Stop()
	for {
		l.Step(ctx)
		select {
		case <-ctx.Done():
			l.Release()
			return
		case <-t.C:
		}
	}
}

// Step renews the lease when this instance holds it, or tries once to
// take it.
func (l *Lease) Step(ctx context.Context) {
	l.mu.Lock()
	rev, until := l.rev, l.until
	l.mu.Unlock()
	// Each call is bounded by the renew interval, so that a slow server
	// delays no renewal past the next.
	cctx, cancel := context.WithTimeout(ctx, l.opts.Renew)
	defer cancel()
	sent := time.Now()
	if rev != 0 {
		if time.Now().After(until) {
			l.lost("lease expired before it was renewed")
			return
		}
		nrev, err := l.kv.Update(cctx, Key, []byte(l.opts.Holder), rev)
		switch {
		case err == nil:
			l.set(nrev, sent)
		case errors.Is(err, jetstream.ErrKeyRevisionMismatch), errors.Is(err, jetstream.ErrKeyNotFound):
			l.lost("lease taken over: " + err.Error())
		default:
			if ctx.Err() == nil {
				l.log.Warn("renew ticker lease", "err", err)
			}
		}
		return
	}
	nrev, err := l.take(cctx)
	switch {
	case err == nil && nrev != 0:
		l.set(nrev, sent)
		l.log.Info("ticker lease taken: this instance makes the moves", "revision", nrev)
		select {
		case l.taken <- struct{}{}:
		default:
		}
	case err != nil && ctx.Err() == nil:
		l.log.Debug("take ticker lease", "err", err)
	}
}

// take tries to take the lease. It creates the key when no instance holds
// it. It renews the key when the key already names this instance, which
// happens when a Create (or a renewal) was applied but its answer did not
// come in time. Without that, the key would hold the lease for nobody
// until it expired. take returns the key's new revision, or 0 when
// another instance holds the lease.
func (l *Lease) take(ctx context.Context) (uint64, error) {
	me := []byte(l.opts.Holder)
	e, err := l.kv.Get(ctx, Key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound): // never taken, given up or expired
		nrev, err := l.kv.Create(ctx, Key, me)
		if errors.Is(err, jetstream.ErrKeyExists) { // another instance was quicker
			return 0, nil
		}
		return nrev, err
	case err != nil:
		return 0, fmt.Errorf("read ticker lease: %w", err)
	case !bytes.Equal(e.Value(), me):
		return 0, nil
	}
	nrev, err := l.kv.Update(ctx, Key, me, e.Revision())
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, nil // it expired, or changed hands, since it was read
	}
	return nrev, err
}

// set records a lease taken or renewed at sent, with revision rev. The
// lease is counted from when the request was sent, and it ends a fifth of
// the TTL early, so that it ends here before the key expires on the
// server.
func (l *Lease) set(rev uint64, sent time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rev, l.until = rev, sent.Add(l.opts.TTL*4/5)
}

// lost records that the lease is no longer held.
func (l *Lease) lost(why string) {
	l.mu.Lock()
	l.rev = 0
	l.mu.Unlock()
	l.log.Warn("ticker lease lost", "why", why)
}

// Release deletes the key if this instance still holds it, so that
// another instance takes the lease at its next try rather than after the
// TTL.
func (l *Lease) Release() {
	l.mu.Lock()
	rev := l.rev
	l.rev = 0
	l.mu.Unlock()
	if rev == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.opts.Renew)
	defer cancel()
	if err := l.kv.Delete(ctx, Key, jetstream.LastRevision(rev)); err != nil {
		l.log.Debug("give ticker lease up", "err", err)
		return
	}
	l.log.Info("ticker lease given up")
}
