package viewers_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"

	"github.com/sse-demo/movingobject/internal/natstest"
	"github.com/sse-demo/movingobject/stream/internal/viewers"
)

// TestMain fails the package's tests if any goroutine outlives them: the
// embedded servers, the connections and the counters' own.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const waitBound = natstest.WaitBound

// subject is where the tests' counters report.
const subject = "room.viewers"

// start returns a counter of instance on its own connection to ns,
// reporting every every (0: the default) and at once on a change, and
// runs it until the test ends. Calling the returned stop ends it sooner,
// and it reports none.
func start(tb testing.TB, ns *server.Server, instance string, every time.Duration) (c *viewers.Counter, stop func()) {
	tb.Helper()
	nc := natstest.Connect(tb, ns)
	c, err := viewers.New(nc, viewers.Options{Subject: subject, Instance: instance, Every: every, Min: time.Millisecond})
	if err != nil {
		tb.Fatalf("New(%s) = %v", instance, err)
	}
	// The server has the subscription once it answers a flush: from
	// then on, the counter reads every report.
	if err := nc.Flush(); err != nil {
		tb.Fatalf("flush: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { c.Run(ctx) })
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			wg.Wait()
			c.Stop()
		})
	}
	tb.Cleanup(stop)
	return c, stop
}

// waitTotal waits until c counts want viewers on every instance.
func waitTotal(tb testing.TB, c *viewers.Counter, name string, want int) {
	tb.Helper()
	deadline := time.NewTimer(waitBound)
	defer deadline.Stop()
	for {
		changed := c.Changed()
		if c.Total() == want {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			tb.Fatalf("%s.Total() = %d; want %d within %v", name, c.Total(), want, waitBound)
		}
	}
}

// reports subscribes to every counter's reports, on a connection of its
// own to ns, and returns a function that returns the next one.
func reports(tb testing.TB, ns *server.Server) (next func() (instance, count string)) {
	tb.Helper()
	ch := make(chan *nats.Msg, 256)
	sub, err := natstest.Connect(tb, ns).ChanSubscribe(subject+".*", ch)
	if err != nil {
		tb.Fatalf("subscribe to the viewer reports: %v", err)
	}
	tb.Cleanup(func() { sub.Unsubscribe() })
	return func() (string, string) {
		tb.Helper()
		select {
		case m := <-ch:
			return m.Subject[strings.LastIndexByte(m.Subject, '.')+1:], string(m.Data)
		case <-time.After(waitBound):
			tb.Fatalf("no viewer report within %v", waitBound)
			return "", ""
		}
	}
}

// publish sends count on nc on behalf of instance, as its counter would,
// and returns once the server has it.
func publish(tb testing.TB, nc *nats.Conn, instance, count string) {
	tb.Helper()
	if err := nc.Publish(subject+"."+instance, []byte(count)); err != nil {
		tb.Fatalf("publish %s for %s: %v", count, instance, err)
	}
	if err := nc.Flush(); err != nil {
		tb.Fatalf("flush: %v", err)
	}
}

// TestSum: each instance counts its viewers, and every instance sums them
// all. A viewer's leave counts once, however often it is called.
func TestSum(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	a, _ := start(t, ns, "a", 0)
	b, _ := start(t, ns, "b", 0)
	leave1 := a.Join()
	if got := a.Total(); got != 1 {
		t.Errorf("a.Total() = %d right after Join; want 1", got)
	}
	leave2 := b.Join()
	leave3 := b.Join()
	waitTotal(t, a, "a", 3)
	waitTotal(t, b, "b", 3)
	leave2()
	leave2() // once only
	waitTotal(t, a, "a", 2)
	leave1()
	waitTotal(t, b, "b", 1)
	leave3()
	waitTotal(t, a, "a", 0)
}

// TestNoneReportedOnce: an instance whose last viewer left reports none
// once, then nothing, while another with a viewer goes on reporting.
func TestNoneReportedOnce(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	next := reports(t, ns)
	const every = 10 * time.Millisecond
	a, _ := start(t, ns, "a", every)
	b, _ := start(t, ns, "b", every)
	t.Cleanup(b.Join())
	leave := a.Join()
	for inst, n := next(); inst != "a" || n != "1"; inst, n = next() {
	}
	leave()
	for inst, n := next(); inst != "a" || n != "0"; inst, n = next() {
		if inst == "a" && n != "1" {
			t.Fatalf("a reported %s viewers; want 1, then 0", n)
		}
	}
	// b reports every Every: over ten of its reports, a, left with none,
	// reports nothing.
	for range 10 {
		if inst, n := next(); inst == "a" {
			t.Fatalf("a reported %s viewers again after reporting none; want no report", n)
		}
	}
}

// TestStopReportsNone: a counter whose Run ends reports none, and the
// others stop counting its viewers at once, not once its report is too
// old. Its reports come once a minute, longer than the test's bound, so
// only the last report can take its viewers out of the others' sum.
func TestStopReportsNone(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	a, stopA := start(t, ns, "a", 2*waitBound)
	b, _ := start(t, ns, "b", 2*waitBound)
	a.Join()
	a.Join()
	waitTotal(t, b, "b", 2)
	stopA()
	waitTotal(t, b, "b", 0)
}

// TestGoneForgotten: the viewers of an instance that stops reporting
// without a last report (it died) are forgotten once its last report is
// three reports old. Counter a reports every 10 ms, and forgets the
// ghost soon. Counter b reports once a minute, and counts the ghost for
// longer than the test's bound.
func TestGoneForgotten(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	a, _ := start(t, ns, "a", 10*time.Millisecond)
	b, _ := start(t, ns, "b", 2*waitBound)
	changed := a.Changed()
	publish(t, natstest.Connect(t, ns), "ghost", "5")
	waitTotal(t, b, "b", 5)
	select {
	case <-changed: // with no viewer of a's own, only the ghost's report changes its total
	case <-time.After(waitBound):
		t.Fatalf("a.Total() did not change within %v of the ghost's report", waitBound)
	}
	waitTotal(t, a, "a", 0)
	if got := b.Total(); got != 5 {
		t.Errorf("b.Total() = %d once a forgot the ghost; want 5, its report still fresh for b", got)
	}
}

// TestBadReportsIgnored: a report that is no count, or a negative one, is
// ignored, and a counter ignores reports in its own name.
func TestBadReportsIgnored(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	a, _ := start(t, ns, "a", 2*waitBound)
	nc := natstest.Connect(t, ns)
	for _, r := range []struct{ instance, count string }{
		{"x", "many"}, {"y", "-3"}, {"z", ""}, {"a", "7"}, {"w", "2"},
	} {
		publish(t, nc, r.instance, r.count)
	}
	// The reports arrive in the order sent, so w's arrives last.
	waitTotal(t, a, "a", 2)
	leave := a.Join()
	if got := a.Total(); got != 3 {
		t.Errorf("a.Total() = %d after a Join and w's report of 2; want 3", got)
	}
	leave()
}
