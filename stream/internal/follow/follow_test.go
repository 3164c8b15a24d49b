package follow_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/sse-demo/movingobject/internal/apptest"
	"github.com/sse-demo/movingobject/internal/logwatch"
	"github.com/sse-demo/movingobject/internal/natstest"
	"github.com/sse-demo/movingobject/stream/internal/follow"
)

// TestMain fails the package's tests if any goroutine outlives them: the
// embedded servers, the connections and the readers' own.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const waitBound = natstest.WaitBound

// newStream creates the stream name on js, with subject name in lower
// case, keeping at most keep messages (0: all), and publishes n messages
// to it. Message i holds "m<i>".
func newStream(tb testing.TB, js jetstream.JetStream, name string, keep int64, n int) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	cfg := jetstream.StreamConfig{Name: name, Subjects: []string{strings.ToLower(name)}, Storage: jetstream.MemoryStorage}
	if keep > 0 {
		cfg.MaxMsgs, cfg.Discard = keep, jetstream.DiscardOld
	}
	if _, err := js.CreateStream(ctx, cfg); err != nil {
		tb.Fatalf("create stream %s: %v", name, err)
	}
	publish(tb, js, name, n)
}

// publish publishes n more messages to the stream name.
func publish(tb testing.TB, js jetstream.JetStream, name string, n int) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	for range n {
		s, err := js.Stream(ctx, name)
		if err != nil {
			tb.Fatalf("stream %s: %v", name, err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			tb.Fatalf("stream %s info: %v", name, err)
		}
		data := fmt.Sprintf("m%d", info.State.LastSeq+1)
		if _, err := js.Publish(ctx, strings.ToLower(name), []byte(data)); err != nil {
			tb.Fatalf("publish %s to %s: %v", data, name, err)
		}
	}
}

// got is a message as the handler was given it.
type got struct {
	seq  uint64
	data string
}

// start starts a reader of stream from first, which hands each message
// on to the returned channel. The reader stops when the test ends.
func start(tb testing.TB, js jetstream.JetStream, stream string, first uint64, o follow.Options) <-chan got {
	tb.Helper()
	ch := make(chan got, 1000)
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	r, err := follow.Start(ctx, js, stream, first, func(m jetstream.Msg) {
		md, err := m.Metadata()
		if err != nil {
			tb.Errorf("message without metadata: %v", err)
			return
		}
		ch <- got{seq: md.Sequence.Stream, data: string(m.Data())}
	}, o)
	if err != nil {
		tb.Fatalf("Start(%s, %d) = %v", stream, first, err)
	}
	tb.Cleanup(r.Stop)
	return ch
}

// expect reads len(want) messages from ch and fails tb unless they are
// the messages of the sequences want, in that order.
func expect(tb testing.TB, ch <-chan got, want ...uint64) {
	tb.Helper()
	deadline := time.NewTimer(waitBound)
	defer deadline.Stop()
	for _, seq := range want {
		select {
		case g := <-ch:
			if g.seq != seq || g.data != fmt.Sprintf("m%d", seq) {
				tb.Fatalf("handed message %d (%q); want message %d (%q)", g.seq, g.data, seq, fmt.Sprintf("m%d", seq))
			}
		case <-deadline.C:
			tb.Fatalf("message %d not handed on within %v", seq, waitBound)
		}
	}
}

// seqs returns the sequences from a to b.
func seqs(a, b uint64) []uint64 {
	var out []uint64
	for s := a; s <= b; s++ {
		out = append(out, s)
	}
	return out
}

// TestReadsInOrder: a reader hands on each message from its first
// sequence on, once, in stream order, then each message published after.
// It starts at the stream's oldest message when that is newer than its
// first sequence.
func TestReadsInOrder(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		keep  int64
		first uint64
		want  []uint64 // of the 5 messages published first
	}{
		{"from the first", 0, 1, seqs(1, 5)},
		{"from zero", 0, 0, seqs(1, 5)},
		{"from the middle", 0, 3, seqs(3, 5)},
		{"from the newest", 0, 5, seqs(5, 5)},
		{"from before the oldest kept", 3, 1, seqs(3, 5)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			js := natstest.JetStream(t, natstest.Start(t))
			newStream(t, js, "S", tt.keep, 5)
			ch := start(t, js, "S", tt.first, follow.Options{})
			expect(t, ch, tt.want...)
			publish(t, js, "S", 2)
			expect(t, ch, 6, 7)
		})
	}
}

// TestConsumerLost: when the reader's consumer is gone (its node was
// lost, or here the consumer was deleted), the reader makes a new one
// from the message after the last it handed on, and says so in its log.
// No message is skipped and none is handed on twice.
func TestConsumerLost(t *testing.T) {
	t.Parallel()
	js := natstest.JetStream(t, natstest.Start(t))
	newStream(t, js, "LOST", 0, 3)
	logs := logwatch.New()
	ch := start(t, js, "LOST", 1, follow.Options{Timeout: waitBound, Logger: apptest.Logger(logs)})
	expect(t, ch, 1, 2, 3)

	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	s, err := js.Stream(ctx, "LOST")
	if err != nil {
		t.Fatalf("stream LOST: %v", err)
	}
	names := s.ConsumerNames(ctx)
	n := 0
	for name := range names.Name() {
		if err := s.DeleteConsumer(ctx, name); err != nil {
			t.Fatalf("delete consumer %s: %v", name, err)
		}
		n++
	}
	if err := names.Err(); err != nil {
		t.Fatalf("list the consumers of LOST: %v", err)
	}
	if n != 1 {
		t.Fatalf("stream LOST had %d consumers; want the reader's one", n)
	}
	publish(t, js, "LOST", 2)
	l := logs.WaitLine(t, `"reading a stream again"`, func(l logwatch.Line) bool { return l["msg"] == "reading a stream again" })
	if l["stream"] != "LOST" || l["from"] != "4" {
		t.Errorf("log line %v; want stream=LOST from=4", l)
	}
	expect(t, ch, 4, 5)
	publish(t, js, "LOST", 1)
	expect(t, ch, 6)
}

// TestStartFails: Start fails, naming the stream, when it cannot make the
// first consumer.
func TestStartFails(t *testing.T) {
	t.Parallel()
	js := natstest.JetStream(t, natstest.Start(t))
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	r, err := follow.Start(ctx, js, "NONE", 1, func(jetstream.Msg) {}, follow.Options{})
	if err == nil {
		r.Stop()
		t.Fatal("Start on a stream that does not exist = nil error; want one")
	}
	if !strings.Contains(err.Error(), "stream NONE from 1") {
		t.Errorf("Start error = %q; want it to name the stream NONE and sequence 1", err)
	}
}
