// Package viewers counts the viewers of a room on every instance.
//
// Each instance counts its own viewers and reports the count over core
// NATS, with no storage, on a subject of its own. Every instance sums its
// own count and the fresh reports of the others.
package viewers

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// Defaults for the zero fields of [Options].
//
// Each instance reports its count every DefaultEvery. It reports at once
// when the count changes, but at most every DefaultMin. A report older
// than three times Every is of an instance that is gone. A count of none
// is reported once, not again every Every. The others forget an instance
// that reports none, so an idle instance sends nothing.
const (
	DefaultEvery = 500 * time.Millisecond
	DefaultMin   = 50 * time.Millisecond
)

// Options say where a [Counter] reports, and how often.
type Options struct {
	// Subject is where the counts travel. This instance reports on
	// Subject.<Instance>, and reads the reports of Subject.*.
	Subject string
	// Instance names this instance. It must be a single subject token.
	Instance string
	// Every is how often this instance reports its count. 0 means
	// [DefaultEvery].
	Every time.Duration
	// Min is the least time between two reports. 0 means [DefaultMin].
	Min time.Duration
	// Logger receives the counter's log lines. Nil discards them.
	Logger *slog.Logger
}

// Counter counts the viewers of a room, here and on every instance.
type Counter struct {
	nc      *nats.Conn
	opts    Options
	subject string        // where this instance reports
	maxAge  time.Duration // how long a report is fresh
	sub     *nats.Subscription
	local   atomic.Int64
	total   atomic.Int64
	changed chan struct{} // signalled (capacity 1) when local changes

	mu     sync.Mutex // guards others and wake
	others map[string]report
	wake   chan struct{} // closed, and replaced, when total changes
}

// report is an instance's last viewer count.
type report struct {
	n  int64
	at time.Time
}

// New returns a counter that reads the reports of every instance on nc
// from now on. Run it to report this instance's count, and Stop it to
// stop reading.
func New(nc *nats.Conn, o Options) (*Counter, error) {
	if o.Every <= 0 {
		o.Every = DefaultEvery
	}
	if o.Min <= 0 {
		o.Min = DefaultMin
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Counter{
		nc: nc, opts: o, subject: o.Subject + "." + o.Instance, maxAge: 3 * o.Every,
		changed: make(chan struct{}, 1), others: make(map[string]report), wake: make(chan struct{}),
	}
	sub, err := nc.Subscribe(o.Subject+".*", c.receive)
	if err != nil {
		return nil, fmt.Errorf("subscribe to the viewer counts on %s.*: %w", o.Subject, err)
	}
	c.sub = sub
	return c, nil
}

// receive records another instance's report.
func (c *Counter) receive(m *nats.Msg) {
	inst := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
	if inst == c.opts.Instance {
		return
	}
	n, err := strconv.ParseInt(string(m.Data), 10, 64)
	if err != nil || n < 0 {
		return
	}
	c.mu.Lock()
	if n == 0 {
		delete(c.others, inst)
	} else {
		c.others[inst] = report{n: n, at: time.Now()}
	}
	c.mu.Unlock()
	c.sum()
}

// sum recomputes the total from the local count and the fresh reports.
func (c *Counter) sum() {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.local.Load()
	now := time.Now()
	for inst, rep := range c.others {
		if now.Sub(rep.at) > c.maxAge {
			delete(c.others, inst)
			continue
		}
		n += rep.n
	}
	if c.total.Swap(n) != n {
		close(c.wake)
		c.wake = make(chan struct{})
	}
}

// Changed returns a channel that is closed when the total next changes.
func (c *Counter) Changed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wake
}

// Run reports this instance's count until ctx ends. Then it reports
// none.
func (c *Counter) Run(ctx context.Context) {
	t := time.NewTicker(c.opts.Every)
	defer t.Stop()
	var last time.Time
	sent := int64(-1) // the count last reported
	for {
		select {
		case <-ctx.Done():
			c.nc.Publish(c.subject, []byte("0"))
			return
		case <-t.C:
		case <-c.changed:
			if wait := c.opts.Min - time.Since(last); wait > 0 {
				select {
				case <-ctx.Done():
					continue
				case <-time.After(wait):
				}
			}
		}
		c.sum() // forgets the reports that are too old
		n := c.local.Load()
		if n == 0 && sent == 0 {
			continue
		}
		last = time.Now()
		if err := c.nc.Publish(c.subject, strconv.AppendInt(nil, n, 10)); err != nil {
			c.opts.Logger.Debug("report viewers", "err", err)
			continue
		}
		sent = n
	}
}

// Stop stops reading the reports of the other instances.
func (c *Counter) Stop() {
	c.sub.Unsubscribe()
}

// Join counts one more viewer here, until the returned leave is called.
// Only the first call of leave counts. Later calls do nothing.
func (c *Counter) Join() (leave func()) {
	c.add(1)
	var once sync.Once
	return func() { once.Do(func() { c.add(-1) }) }
}

// add changes the local count by d.
func (c *Counter) add(d int64) {
	c.local.Add(d)
	c.sum()
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

// Total returns the number of viewers on every instance, as last
// reported.
func (c *Counter) Total() int { return int(c.total.Load()) }
