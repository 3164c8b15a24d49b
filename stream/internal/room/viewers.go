package room

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// Viewer counts travel on core NATS, one subject per instance: each
// instance reports its count every reportEvery, and at once (at most every
// reportMin) when it changes; a report older than reportTTL is of an
// instance that is gone. A count of none is reported once, not again
// every reportEvery: the others forget an instance that reports none, so
// an idle instance sends nothing.
const (
	reportEvery = 500 * time.Millisecond
	reportMin   = 50 * time.Millisecond
	reportTTL   = 3 * reportEvery
)

// viewers counts the open streams of the room, here and on every
// instance.
type viewers struct {
	r       *Room
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

func newViewers(r *Room) (*viewers, error) {
	v := &viewers{r: r, changed: make(chan struct{}, 1), others: make(map[string]report), wake: make(chan struct{})}
	sub, err := r.nc.Subscribe(r.names.viewersWatch, v.receive)
	if err != nil {
		return nil, err
	}
	v.sub = sub
	return v, nil
}

// receive records another instance's report.
func (v *viewers) receive(m *nats.Msg) {
	inst := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
	if inst == v.r.cfg.Instance {
		return
	}
	n, err := strconv.ParseInt(string(m.Data), 10, 64)
	if err != nil || n < 0 {
		return
	}
	v.mu.Lock()
	if n == 0 {
		delete(v.others, inst)
	} else {
		v.others[inst] = report{n: n, at: time.Now()}
	}
	v.mu.Unlock()
	v.sum()
}

// sum recomputes the total from the local count and the fresh reports.
func (v *viewers) sum() {
	v.mu.Lock()
	defer v.mu.Unlock()
	n := v.local.Load()
	now := time.Now()
	for inst, rep := range v.others {
		if now.Sub(rep.at) > reportTTL {
			delete(v.others, inst)
			continue
		}
		n += rep.n
	}
	if v.total.Swap(n) != n {
		close(v.wake)
		v.wake = make(chan struct{})
	}
}

// changedTotal returns a channel closed when the total next changes.
func (v *viewers) changedTotal() <-chan struct{} {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.wake
}

// run reports the local count until ctx ends, then reports none.
func (v *viewers) run(ctx context.Context) {
	t := time.NewTicker(reportEvery)
	defer t.Stop()
	var last time.Time
	sent := int64(-1) // the count last reported
	for {
		select {
		case <-ctx.Done():
			v.r.nc.Publish(v.r.names.viewersSubject, []byte("0"))
			return
		case <-t.C:
		case <-v.changed:
			if wait := reportMin - time.Since(last); wait > 0 {
				select {
				case <-ctx.Done():
					continue
				case <-time.After(wait):
				}
			}
		}
		v.sum() // forgets the reports that are too old
		n := v.local.Load()
		if n == 0 && sent == 0 {
			continue
		}
		last = time.Now()
		if err := v.r.nc.Publish(v.r.names.viewersSubject, strconv.AppendInt(nil, n, 10)); err != nil {
			v.r.log.Debug("report viewers", "err", err)
			continue
		}
		sent = n
	}
}

func (v *viewers) stop() {
	v.sub.Unsubscribe()
}

// Join counts one more viewer here, until the returned leave is called
// (once; later calls do nothing).
func (r *Room) Join() (leave func()) {
	r.viewers.add(1)
	var once sync.Once
	return func() { once.Do(func() { r.viewers.add(-1) }) }
}

func (v *viewers) add(d int64) {
	v.local.Add(d)
	v.sum()
	select {
	case v.changed <- struct{}{}:
	default:
	}
}

// Viewers returns the number of viewers on every instance, as last
// reported.
func (r *Room) Viewers() int { return int(r.viewers.total.Load()) }
