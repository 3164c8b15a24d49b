package lease_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/sse-demo/movingobject/internal/apptest"
	"github.com/sse-demo/movingobject/internal/logwatch"
	"github.com/sse-demo/movingobject/internal/natstest"
	"github.com/sse-demo/movingobject/stream/internal/lease"
)

// TestMain fails the package's tests if any goroutine outlives them: the
// embedded servers, the connections and the leases' own.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const waitBound = natstest.WaitBound

// long is a lease TTL longer than any test's bound: a test that sees the
// lease change hands under it knows that no key expired.
const long = 2 * waitBound

// bucket runs an embedded NATS server and returns a bucket on it whose
// keys expire after ttl, as the room makes its lease's bucket.
func bucket(tb testing.TB, ttl time.Duration) jetstream.KeyValue {
	tb.Helper()
	js := natstest.JetStream(tb, natstest.Start(tb))
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "LEASE", TTL: ttl, Storage: jetstream.MemoryStorage, History: 1})
	if err != nil {
		tb.Fatalf("create bucket LEASE: %v", err)
	}
	return kv
}

// newLease returns holder's side of the lease in kv, logging to logs.
func newLease(kv jetstream.KeyValue, holder string, ttl time.Duration, logs *logwatch.Watch) *lease.Lease {
	return lease.New(kv, lease.Options{Holder: holder, TTL: ttl, Renew: min(ttl/5, 2*time.Second), Logger: apptest.Logger(logs)})
}

// step calls l.Step with the tests' bound.
func step(l *lease.Lease) {
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	l.Step(ctx)
}

// holder returns whom the key names, or "" when there is no key.
func holder(tb testing.TB, kv jetstream.KeyValue) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	e, err := kv.Get(ctx, lease.Key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return ""
	}
	if err != nil {
		tb.Fatalf("read the lease: %v", err)
	}
	return string(e.Value())
}

// taken reports whether l's Taken channel holds a signal now.
func taken(l *lease.Lease) bool {
	select {
	case <-l.Taken():
		return true
	default:
		return false
	}
}

// TestOneHolder: the first instance to try takes the lease, and says so.
// Another that tries while it holds it does not take it.
func TestOneHolder(t *testing.T) {
	t.Parallel()
	kv := bucket(t, long)
	logs := logwatch.New()
	a, b := newLease(kv, "a", long, logs), newLease(kv, "b", long, logwatch.New())
	if a.Held() {
		t.Fatal("a.Held() = true before any try")
	}
	step(a)
	if held, sig := a.Held(), taken(a); !held || !sig {
		t.Fatalf("after a's first try: Held() = %v, Taken signalled = %v; want both true", held, sig)
	}
	if l := logs.WaitLine(t, "the lease taken", func(l logwatch.Line) bool {
		return l["msg"] == "ticker lease taken: this instance makes the moves"
	}); l["revision"] == "" || l["level"] != "INFO" {
		t.Errorf("log line %v; want level INFO with the revision", l)
	}
	step(b)
	if held, sig := b.Held(), taken(b); held || sig {
		t.Errorf("after b's try while a holds the lease: Held() = %v, Taken signalled = %v; want both false", held, sig)
	}
	step(a) // renews
	if held, sig := a.Held(), taken(a); !held || sig {
		t.Errorf("after a renewed: Held() = %v, Taken signalled = %v; want true, and no second signal", held, sig)
	}
	if got := holder(t, kv); got != "a" {
		t.Errorf("the key names %q; want a", got)
	}
}

// TestTakeover: when the holder stops renewing (it died, or lost its
// connection), another instance takes the lease once the key expires.
// By then the holder no longer counts itself as holding it: it gives the
// lease up before the key expires on the server. The TTL is short, so
// that the test waits less for the key to expire.
func TestTakeover(t *testing.T) {
	t.Parallel()
	const ttl = 500 * time.Millisecond
	kv := bucket(t, ttl)
	logs := logwatch.New()
	a, b := newLease(kv, "a", ttl, logwatch.New()), newLease(kv, "b", ttl, logs)
	step(a) // and never again
	if !a.Held() {
		t.Fatal("a.Held() = false after its first try")
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { b.Run(ctx) })
	defer func() {
		cancel()
		wg.Wait()
	}()
	select {
	case <-b.Taken():
	case <-time.After(waitBound):
		t.Fatalf("b did not take the lease within %v after a stopped renewing", waitBound)
	}
	if a.Held() {
		t.Error("a.Held() = true once b took the lease; want a to have ended it first")
	}
	if !b.Held() {
		t.Error("b.Held() = false after Taken was signalled")
	}
	if got := holder(t, kv); got != "b" {
		t.Errorf("the key names %q; want b", got)
	}
	cancel()
	wg.Wait()
	if got := holder(t, kv); got != "" {
		t.Errorf("the key names %q after b's Run ended; want it deleted", got)
	}
	logs.WaitCount(t, "ticker lease given up", 1)
}

// TestAnswerLost: an instance whose Create or renewal was applied on the
// server, but whose answer came too late, finds its own name in the key
// and holds the lease again at its next tries, not once the key expires.
// The TTL is longer than the test's bound, so only that can give the
// lease back.
func TestAnswerLost(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		// lose does what the server applied while its answer was lost,
		// and returns how many tries a then takes to hold the lease.
		lose func(tb testing.TB, kv jetstream.KeyValue, a *lease.Lease) (tries int)
	}{
		{"create", func(tb testing.TB, kv jetstream.KeyValue, _ *lease.Lease) int {
			if _, err := kv.Create(context.Background(), lease.Key, []byte("a")); err != nil {
				tb.Fatalf("create the lease as a: %v", err)
			}
			return 1
		}},
		{"renewal", func(tb testing.TB, kv jetstream.KeyValue, a *lease.Lease) int {
			step(a)
			e, err := kv.Get(context.Background(), lease.Key)
			if err != nil {
				tb.Fatalf("read the lease: %v", err)
			}
			if _, err := kv.Update(context.Background(), lease.Key, []byte("a"), e.Revision()); err != nil {
				tb.Fatalf("renew the lease as a: %v", err)
			}
			return 2 // the first finds its revision stale and counts the lease lost
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kv := bucket(t, long)
			a := newLease(kv, "a", long, logwatch.New())
			for range tt.lose(t, kv, a) {
				step(a)
			}
			if !a.Held() {
				t.Errorf("a.Held() = false with its own name in the key; want true")
			}
			if got := holder(t, kv); got != "a" {
				t.Errorf("the key names %q; want a", got)
			}
		})
	}
}

// TestLost: a holder whose key was taken over, or deleted, counts the
// lease lost at its next renewal, and says why.
func TestLost(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		other string // who takes the key, "" for nobody
	}{
		{"taken over", "b"},
		{"deleted", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kv := bucket(t, long)
			logs := logwatch.New()
			a := newLease(kv, "a", long, logs)
			step(a)
			ctx, cancel := context.WithTimeout(context.Background(), waitBound)
			defer cancel()
			if err := kv.Delete(ctx, lease.Key); err != nil {
				t.Fatalf("delete the lease: %v", err)
			}
			if tt.other != "" {
				if _, err := kv.Create(ctx, lease.Key, []byte(tt.other)); err != nil {
					t.Fatalf("create the lease as %s: %v", tt.other, err)
				}
			}
			step(a)
			if a.Held() {
				t.Fatal("a.Held() = true after its key was taken from it")
			}
			l := logs.WaitLine(t, "the lease lost", func(l logwatch.Line) bool { return l["msg"] == "ticker lease lost" })
			if !strings.HasPrefix(l["why"], "lease taken over") || l["level"] != "WARN" {
				t.Errorf("log line %v; want level WARN, why=lease taken over…", l)
			}
			a.Release() // not held: it must leave the key alone
			if got := holder(t, kv); got != tt.other {
				t.Errorf("the key names %q after a's Release; want %q", got, tt.other)
			}
		})
	}
}

// TestRelease: a holder that gives the lease up deletes the key, and
// another instance takes it at its next try, long before the TTL.
func TestRelease(t *testing.T) {
	t.Parallel()
	kv := bucket(t, long)
	logs := logwatch.New()
	a, b := newLease(kv, "a", long, logs), newLease(kv, "b", long, logwatch.New())
	step(a)
	step(b)
	if b.Held() {
		t.Fatal("b.Held() = true while a holds the lease")
	}
	a.Release()
	if a.Held() {
		t.Error("a.Held() = true after Release")
	}
	if got := holder(t, kv); got != "" {
		t.Errorf("the key names %q after a's Release; want it deleted", got)
	}
	logs.WaitCount(t, "ticker lease given up", 1)
	step(b)
	if !b.Held() {
		t.Error("b.Held() = false at its first try after a gave the lease up")
	}
}
