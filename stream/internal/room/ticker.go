package room

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/sse-demo/movingobject/simulation"
	"github.com/sse-demo/movingobject/stream/internal/follow"
	"github.com/sse-demo/movingobject/stream/payload"
)

// tick makes the moves while this instance holds the lease, until ctx
// ends, starting with first when Open took the lease already.
func (r *Room) tick(ctx context.Context, first *leader) {
	retry := time.NewTimer(0)
	defer retry.Stop()
	for {
		if first != nil {
			if err := r.lead(ctx, first); err != nil && ctx.Err() == nil {
				r.log.Warn("ticker stopped", "err", err)
			}
			first = nil
			retry.Reset(r.cfg.Renew)
		}
		select {
		case <-ctx.Done():
			return
		case <-r.lease.Taken():
		case <-retry.C:
		}
		if !r.lease.Held() {
			continue
		}
		l, err := r.prepare(ctx)
		if err != nil {
			if ctx.Err() == nil {
				r.log.Warn("ticker not started", "err", err)
			}
			retry.Reset(r.cfg.Renew)
			continue
		}
		first = l
	}
}

// leader is what a ticker starts from: the newest move of the log, and
// the pushes after it as they are read.
type leader struct {
	st     record
	buf    *pushBuffer
	pushes *follow.Reader // reads the pushes into buf
}

// prepare reads the newest move and starts reading the pushes after it.
func (r *Room) prepare(ctx context.Context) (*leader, error) {
	st, err := r.lastMove(ctx)
	if err != nil {
		return nil, err
	}
	buf := newPushBuffer()
	pushes, err := r.readPushes(ctx, st.PushSeq+1, buf)
	if err != nil {
		return nil, err
	}
	return &leader{st: st, buf: buf, pushes: pushes}, nil
}

// lead makes a move every interval, from the newest move in the log and
// the pushes after it, until the lease is lost, another ticker writes a
// move first, or ctx ends.
func (r *Room) lead(ctx context.Context, l *leader) error {
	defer l.pushes.Stop()
	st, buf := l.st, l.buf
	r.log.Info("ticker started", "after", st.Seq, "push_seq", st.PushSeq)

	interval := r.cfg.Walk.Interval
	next := time.UnixMilli(st.TS).Add(interval)
	if now := time.Now(); next.Before(now) {
		next = now
	}
	t := time.NewTimer(time.Until(next))
	defer t.Stop()
	// While the walk waits: closed when the viewers change, and signalled
	// when a push is read.
	var viewed <-chan struct{}
	var pushed <-chan struct{}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-viewed:
			next = time.Now() // the walk waited an interval at least: go on at once
		case <-pushed:
			next = time.Now()
		}
		viewed, pushed = nil, nil
		if !r.lease.Held() {
			return errors.New("lease lost")
		}
		changed := r.viewers.Changed() // before the count, so no change is missed
		pushes := buf.after(st.PushSeq, MaxPushesPerMove)
		if len(pushes) == 0 && r.Viewers() == 0 {
			// Nobody watches and nobody pushed: the walk waits, and the
			// log does not grow, until the first viewer or push, so that
			// a new viewer does not wait out a long interval. It looks at
			// the lease only every LeaseTTL meanwhile, not every interval:
			// an idle room costs next to nothing.
			next = time.Now().Add(r.cfg.LeaseTTL)
			t.Reset(r.cfg.LeaseTTL)
			viewed, pushed = changed, buf.more // a push read meanwhile left its signal
			continue
		}
		mv := r.nextMove(st, pushes, time.Now())
		err := r.publishMove(ctx, mv)
		switch {
		case err == nil:
			st = mv
			buf.drop(st.PushSeq)
			next = next.Add(interval)
		case errors.Is(err, errFenced):
			return fmt.Errorf("move %d: %w", mv.Seq, err)
		default:
			if ctx.Err() != nil {
				return nil
			}
			r.log.Warn("publish move", "seq", mv.Seq, "err", err) // tried again at the next tick
			next = next.Add(interval)
		}
		if now := time.Now(); next.Before(now) {
			next = now // late: go on from now rather than in a burst
		}
		t.Reset(time.Until(next))
	}
}

// lastMove reads the newest move of the log: where the next move starts.
// Before any move, it is move 0 at the start position.
//
// Its calls are bounded by lastMoveTry, not Timeout: a new ticker starts
// while the cluster may still be electing, and a call that hangs for the
// whole Timeout would hold the moves back that long after the election;
// tick tries again within Renew.
func (r *Room) lastMove(ctx context.Context) (record, error) {
	ctx, cancel := context.WithTimeout(ctx, min(r.cfg.Timeout, lastMoveTry))
	defer cancel()
	s, err := r.js.Stream(ctx, r.names.moves)
	if err != nil {
		return record{}, fmt.Errorf("stream %s: %w", r.names.moves, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return record{}, fmt.Errorf("stream %s info: %w", r.names.moves, err)
	}
	last := info.State.LastSeq
	if last == 0 {
		return record{PlayMove: payload.PlayMove{Move: payload.Move{X: r.start.X, Y: r.start.Y}}}, nil
	}
	m, err := s.GetMsg(ctx, last)
	if err != nil {
		return record{}, fmt.Errorf("read move %d: %w", last, err)
	}
	var rec record
	if err := json.Unmarshal(m.Data, &rec); err != nil || rec.Seq != last {
		return record{}, fmt.Errorf("read move %d: seq %d, %v", last, rec.Seq, err)
	}
	return rec, nil
}

// lastMoveTry bounds each call of lastMove. It is the bound of each try
// of a [follow.Reader] to make its consumer.
const lastMoveTry = time.Second

// readPushes starts reading the push log from seq first into buf.
func (r *Room) readPushes(ctx context.Context, first uint64, buf *pushBuffer) (*follow.Reader, error) {
	return r.follow(ctx, r.names.pushes, first, func(m jetstream.Msg) {
		md, err := m.Metadata()
		if err != nil {
			return
		}
		var p payload.Push
		if err := json.Unmarshal(m.Data(), &p); err != nil || dirOf(p.Dir) == (simulation.Position{}) {
			r.log.Warn("push refused from the log", "seq", md.Sequence.Stream, "err", err)
			buf.add(logged{seq: md.Sequence.Stream}) // skipped, but counted as read
			return
		}
		buf.add(logged{seq: md.Sequence.Stream, push: p, ok: true})
	})
}

// nextMove returns the move after st: the pushes applied in log order,
// each moving the object Push px and reflecting at the walls, then the
// walk's own step, made at now.
func (r *Room) nextMove(st record, pushes []logged, now time.Time) record {
	pos := simulation.Position{Seq: st.Seq, X: st.X, Y: st.Y}
	mv := record{PushSeq: st.PushSeq}
	for _, l := range pushes {
		mv.PushSeq = l.seq
		if !l.ok {
			continue
		}
		d := dirOf(l.push.Dir)
		pos = r.cfg.Walk.Shift(pos, d.X*r.cfg.Push, d.Y*r.cfg.Push)
		mv.Pushes = append(mv.Pushes, l.push)
	}
	w, err := simulation.Resume(r.cfg.Walk, r.cfg.Seed, pos)
	if err != nil {
		panic(fmt.Errorf("resume the room's walk at %+v: %w", pos, err)) // a bug: Shift keeps it in the box
	}
	p := w.Step()
	mv.Move = payload.Move{Seq: p.Seq, X: p.X, Y: p.Y, TS: now.UnixMilli()}
	return mv
}

// dirOf returns the unit vector of a push's direction, zero for none.
func dirOf(dir string) simulation.Position {
	switch dir {
	case payload.DirUp:
		return simulation.Position{Y: -1}
	case payload.DirDown:
		return simulation.Position{Y: 1}
	case payload.DirLeft:
		return simulation.Position{X: -1}
	case payload.DirRight:
		return simulation.Position{X: 1}
	}
	return simulation.Position{}
}

// publishMove appends mv to the moves stream as message mv.Seq: the
// stream's last message must be move mv.Seq-1, or another ticker wrote
// first and the publish fails with errFenced.
func (r *Room) publishMove(ctx context.Context, mv record) error {
	data, err := json.Marshal(mv)
	if err != nil {
		return fmt.Errorf("encode move %d: %w", mv.Seq, err)
	}
	// Each try is bounded by pushTry: while the moves stream elects a
	// leader, a try that waited for the whole Timeout would hold the moves
	// back that long after the election.
	ctx, cancel := context.WithTimeout(ctx, min(r.cfg.Timeout, pushTry))
	defer cancel()
	// No message id: a deduplicated move n would be acknowledged although
	// the move stored is another ticker's. The sequence check is the fence.
	_, err = r.js.Publish(ctx, r.names.moveSubject, data,
		jetstream.WithExpectLastSequence(mv.Seq-1), jetstream.WithExpectStream(r.names.moves))
	if isWrongLastSeq(err) {
		return fmt.Errorf("%w: %w", errFenced, err)
	}
	return err
}

// isWrongLastSeq reports whether err is JetStream's refusal of a publish
// whose expected last sequence is not the stream's.
func isWrongLastSeq(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// logged is a push read from the log, with its sequence there; ok is false
// for a message that is no valid push, which is skipped.
type logged struct {
	seq  uint64
	push payload.Push
	ok   bool
}

// pushBuffer holds the pushes read from the log and not yet applied, in
// log order.
type pushBuffer struct {
	more   chan struct{} // signalled (capacity 1) when a push is added
	mu     sync.Mutex    // guards pushes
	pushes []logged
}

func newPushBuffer() *pushBuffer { return &pushBuffer{more: make(chan struct{}, 1)} }

func (b *pushBuffer) add(l logged) {
	b.mu.Lock()
	b.pushes = append(b.pushes, l)
	b.mu.Unlock()
	select {
	case b.more <- struct{}{}:
	default:
	}
}

// after returns up to n pushes after seq, in log order.
func (b *pushBuffer) after(seq uint64, n int) []logged {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []logged
	for _, l := range b.pushes {
		if l.seq > seq && len(out) < n {
			out = append(out, l)
		}
	}
	return out
}

// drop forgets the pushes up to seq, applied.
func (b *pushBuffer) drop(seq uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	i := 0
	for i < len(b.pushes) && b.pushes[i].seq <= seq {
		i++
	}
	b.pushes = append(b.pushes[:0], b.pushes[i:]...)
}
