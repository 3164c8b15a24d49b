// Package follow reads a JetStream stream in order, from a sequence on.
//
// A Reader hands each message of the stream to its handler once, in
// stream order. Its consumer is one copy on one node, while the stream
// itself has its copies. When that node is lost, the Reader makes a new
// consumer from where it was, so the reading survives the loss.
package follow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// How a Reader makes its consumer again. When the node of the consumer is
// lost, the consumer's heartbeats stop. After two missed ones (heartbeat)
// the Reader makes a new consumer from where it was. It tries every retry,
// doubling up to retryMax, and each try is bounded by try.
//
// The ordered consumer of nats.go does the same, but it bounds each try by
// 10 s and waits 1, 2, 4 and 8 s between them. A try that starts while the
// cluster is electing hangs for all of it, and the reading stays stopped
// 10 s and more after the election.
const (
	heartbeat = time.Second
	try       = time.Second
	retry     = 100 * time.Millisecond
	retryMax  = time.Second
	// idle is how long the server keeps a consumer nobody reads.
	idle = 30 * time.Second
)

// Consumers makes the consumers a [Reader] reads. A [jetstream.JetStream]
// is one.
type Consumers interface {
	CreateConsumer(ctx context.Context, stream string, cfg jetstream.ConsumerConfig) (jetstream.Consumer, error)
}

// Options are the bounds and the log of a [Reader].
type Options struct {
	// Timeout bounds each try to make a consumer. The Reader bounds it to
	// a second in any case, and 0 means that second.
	Timeout time.Duration
	// Logger receives the Reader's log lines. Nil discards them.
	Logger *slog.Logger
}

// Reader reads one stream in order, from a sequence on, for as long as it
// runs. It hands each message to its handler, over the loss of the node
// that holds its consumer.
type Reader struct {
	js     Consumers
	stream string
	handle func(jetstream.Msg)
	bound  time.Duration // bounds each try to make a consumer
	log    *slog.Logger
	reset  chan struct{} // signalled (capacity 1) when the consumer must be made again
	cancel context.CancelFunc
	wg     sync.WaitGroup // the goroutine of run

	// The consume loop's own fields. next is the stream sequence it waits
	// for, and delivered is the consumer sequence of the last message
	// handed on.
	next, delivered uint64
}

// Start starts reading stream from sequence first into handle. When the
// stream's first message is newer than first, it starts there. Start
// calls handle on one goroutine at a time, in stream order, once for each
// message. It makes the first consumer before it returns, within ctx.
// Stop the Reader to end the reading.
func Start(ctx context.Context, js Consumers, stream string, first uint64, handle func(jetstream.Msg), o Options) (*Reader, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	bound := try
	if o.Timeout > 0 {
		bound = min(o.Timeout, try)
	}
	r := &Reader{js: js, stream: stream, handle: handle, bound: bound, log: o.Logger, reset: make(chan struct{}, 1), next: max(first, 1)}
	cc, err := r.consume(ctx)
	if err != nil {
		return nil, err
	}
	lctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.wg.Go(func() { r.run(lctx, cc) })
	return r, nil
}

// Stop ends the reading, and returns once the handler has returned.
func (r *Reader) Stop() {
	r.cancel()
	r.wg.Wait()
}

// run makes the consumer again each time it fails, until ctx ends.
func (r *Reader) run(ctx context.Context, cc jetstream.ConsumeContext) {
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
		case <-r.reset:
		}
		if cc != nil {
			cc.Stop()
			<-cc.Closed() // the handler is not running, so next is settled
			cc = nil
		}
		r.log.Info("reading a stream again", "stream", r.stream, "from", r.next)
		for wait := retry; cc == nil; wait = min(2*wait, retryMax) {
			var err error
			if cc, err = r.consume(ctx); err == nil {
				break
			}
			if ctx.Err() != nil {
				return
			}
			r.log.Debug("consumer not made yet; trying again", "stream", r.stream, "err", err, "in", wait)
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
	}
}

// consume makes a consumer from r.next and starts reading it.
func (r *Reader) consume(ctx context.Context) (jetstream.ConsumeContext, error) {
	ctx, cancel := context.WithTimeout(ctx, r.bound)
	defer cancel()
	cons, err := r.js.CreateConsumer(ctx, r.stream, jetstream.ConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: r.next,
		AckPolicy: jetstream.AckNonePolicy, Replicas: 1, MemoryStorage: true, InactiveThreshold: idle,
	})
	if err != nil {
		return nil, fmt.Errorf("consume stream %s from %d: %w", r.stream, r.next, err)
	}
	r.delivered = 0
	cc, err := cons.Consume(r.receive, jetstream.PullHeartbeat(heartbeat),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			if errors.Is(err, jetstream.ErrNoHeartbeat) || errors.Is(err, jetstream.ErrConsumerDeleted) ||
				errors.Is(err, jetstream.ErrConsumerNotFound) {
				r.again()
			}
		}))
	if err != nil {
		return nil, fmt.Errorf("consume stream %s from %d: %w", r.stream, r.next, err)
	}
	return cc, nil
}

// receive hands m on when it is the next message of the consumer. A gap
// (a message the server did not deliver) makes the consumer again from
// the last message handed on.
func (r *Reader) receive(m jetstream.Msg) {
	md, err := m.Metadata()
	if err != nil {
		r.log.Error("message without metadata", "stream", r.stream, "err", err)
		return
	}
	if md.Sequence.Consumer != r.delivered+1 {
		r.again()
		return
	}
	r.delivered = md.Sequence.Consumer
	if md.Sequence.Stream < r.next {
		return // handed on already, by the consumer before this one
	}
	r.next = md.Sequence.Stream + 1
	r.handle(m)
}

// again asks run to make the consumer again.
func (r *Reader) again() {
	select {
	case r.reset <- struct{}{}:
	default:
	}
}
