package room

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// How a follower reads a stream. Its consumer is one copy on one node
// (the stream itself has its copies): when that node is lost, the
// consumer's heartbeats stop, and after two missed ones (followHeartbeat)
// the follower makes a new consumer from where it was, trying every
// followRetry up to followRetryMax, each try bounded by followTry. The
// ordered consumer of nats.go does the same, but bounds each try by 10 s
// and waits 1, 2, 4, 8 s between them: a try that starts while the
// cluster is electing hangs for all of it, and the moves stay stopped
// 10 s and more after the election.
const (
	followHeartbeat = time.Second
	followTry       = time.Second
	followRetry     = 100 * time.Millisecond
	followRetryMax  = time.Second
	// followIdle is how long the server keeps a consumer nobody reads.
	followIdle = 30 * time.Second
)

// follower reads one stream in order, from a sequence on, handing each
// message to its handler, for as long as it runs, over the loss of the
// node that holds its consumer.
type follower struct {
	r      *Room
	stream string
	handle func(jetstream.Msg)
	reset  chan struct{} // signalled (capacity 1) when the consumer must be made again
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// The consume loop's own: next is the stream sequence it waits for,
	// delivered the consumer sequence of the last message handed on.
	next, delivered uint64
}

// follow starts reading stream from sequence first (or from its first
// message, when that is older) into handle, called on one goroutine at a
// time, in stream order, each message once. The first consumer is made
// before follow returns, within ctx; stop ends the reading and waits
// for the handler.
func (r *Room) follow(ctx context.Context, stream string, first uint64, handle func(jetstream.Msg)) (stop func(), err error) {
	f := &follower{r: r, stream: stream, handle: handle, reset: make(chan struct{}, 1), next: max(first, 1)}
	cc, err := f.consume(ctx)
	if err != nil {
		return nil, err
	}
	lctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	f.wg.Go(func() { f.run(lctx, cc) })
	return func() { f.cancel(); f.wg.Wait() }, nil
}

// run makes the consumer again each time it fails, until ctx ends.
func (f *follower) run(ctx context.Context, cc jetstream.ConsumeContext) {
	defer func() {
		if cc != nil {
			cc.Stop()
			<-cc.Closed()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.reset:
		}
		if cc != nil {
			cc.Stop()
			<-cc.Closed() // the handler is not running: next is settled
			cc = nil
		}
		f.r.log.Info("reading a stream again", "stream", f.stream, "from", f.next)
		for wait := followRetry; cc == nil; wait = min(2*wait, followRetryMax) {
			var err error
			if cc, err = f.consume(ctx); err == nil {
				break
			}
			if ctx.Err() != nil {
				return
			}
			f.r.log.Debug("consumer not made yet; trying again", "stream", f.stream, "err", err, "in", wait)
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
	}
}

// consume makes a consumer from f.next and starts reading it.
func (f *follower) consume(ctx context.Context) (jetstream.ConsumeContext, error) {
	ctx, cancel := context.WithTimeout(ctx, min(f.r.cfg.Timeout, followTry))
	defer cancel()
	cons, err := f.r.js.CreateConsumer(ctx, f.stream, jetstream.ConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: f.next,
		AckPolicy: jetstream.AckNonePolicy, Replicas: 1, MemoryStorage: true, InactiveThreshold: followIdle,
	})
	if err != nil {
		return nil, fmt.Errorf("consume stream %s from %d: %w", f.stream, f.next, err)
	}
	f.delivered = 0
	cc, err := cons.Consume(f.receive, jetstream.PullHeartbeat(followHeartbeat),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			if errors.Is(err, jetstream.ErrNoHeartbeat) || errors.Is(err, jetstream.ErrConsumerDeleted) ||
				errors.Is(err, jetstream.ErrConsumerNotFound) {
				f.again()
			}
		}))
	if err != nil {
		return nil, fmt.Errorf("consume stream %s from %d: %w", f.stream, f.next, err)
	}
	return cc, nil
}

// receive hands m on when it is the next message of the consumer; a gap
// (a message the server did not deliver) makes the consumer again from
// the last message handed on.
func (f *follower) receive(m jetstream.Msg) {
	md, err := m.Metadata()
	if err != nil {
		f.r.log.Error("message without metadata", "stream", f.stream, "err", err)
		return
	}
	if md.Sequence.Consumer != f.delivered+1 {
		f.again()
		return
	}
	f.delivered = md.Sequence.Consumer
	if md.Sequence.Stream < f.next {
		return // handed on already, by the consumer before this one
	}
	f.next = md.Sequence.Stream + 1
	f.handle(m)
}

// again asks run to make the consumer again.
func (f *follower) again() {
	select {
	case f.reset <- struct{}{}:
	default:
	}
}
