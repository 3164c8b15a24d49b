// Package room is the play room: one object that visitors push, shared by
// any number of server instances through NATS JetStream. It keeps the
// ordered log and the ticker lease, and knows nothing of HTTP.
//
// Three JetStream resources hold the room (names for the default prefix
// "play"):
//
//   - the stream PLAY_PUSHES (subject play.pushes): every accepted push, in
//     the order the log took them. A push is published with its client's
//     idempotency key as Nats-Msg-Id, so that the same key sent again within
//     the duplicate window is stored once.
//   - the stream PLAY_MOVES (subject play.moves): move n is the stream's
//     message n. It records the position, the pushes it applied and the
//     PLAY_PUSHES sequence of the last of them, which is all the next move
//     needs. Move n is published with an expected last sequence of n-1, so
//     that two instances can never both write move n.
//   - the key-value bucket PLAY_LEASE: the key "ticker" names the one
//     instance that turns pushes into moves. Its holder renews it every
//     [Config.Renew]; when it stops (it died, or lost its connection), the
//     key expires after [Config.LeaseTTL] and another instance creates it.
//     A [lease.Lease] holds that key.
//
// Every instance reads PLAY_MOVES into a ring of encoded SSE events. It
// reads them with a [follow.Reader], which survives the loss of a NATS
// node. The instance writes its viewers' streams from the ring, and the
// ring replays what a reconnecting client missed. Each instance publishes
// its number of viewers on play.viewers.<instance> (core NATS, no
// storage), and a [viewers.Counter] sums them all.
package room

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sse-demo/movingobject/simulation"
	"github.com/sse-demo/movingobject/stream/internal/deflate"
	"github.com/sse-demo/movingobject/stream/internal/follow"
	"github.com/sse-demo/movingobject/stream/internal/lease"
	"github.com/sse-demo/movingobject/stream/internal/ring"
	"github.com/sse-demo/movingobject/stream/internal/viewers"
	"github.com/sse-demo/movingobject/stream/payload"
	"github.com/sse-demo/movingobject/stream/sse"
)

// Defaults for the zero fields of [Config].
const (
	DefaultPush     = 20
	DefaultKeep     = 6000 // ten minutes at ten moves a second
	DefaultLeaseTTL = 2 * time.Second
	DefaultRenew    = 400 * time.Millisecond
	DefaultTimeout  = 5 * time.Second
	// DefaultPushWait bounds how long Push tries to store a push: long
	// enough to ride out a JetStream leader change in most cases, short
	// enough for a visitor waiting on the answer.
	DefaultPushWait = 2 * time.Second
	DefaultStartup  = 30 * time.Second
	DefaultPrefix   = "play"
	// DefaultDuplicates is how long the push log remembers an idempotency
	// key: the same key sent again within it is stored once.
	DefaultDuplicates = 2 * time.Minute
	// MaxPushesPerMove bounds the pushes one move applies, which bounds the
	// size of a move's message; any more wait for the next move.
	MaxPushesPerMove = 1000
)

// pushesMaxAge is how long the push log keeps a push: far longer than any
// pause between two tickers, so that none is dropped before it is applied.
const pushesMaxAge = time.Hour

// Config is a room's walk, pace and coordination. Every instance of a room
// must be given the same Walk, Seed and Push.
type Config struct {
	// Walk is the box, the walk's largest step and the time between moves.
	Walk simulation.Config
	// Seed fixes the walk between pushes and the start position.
	Seed uint64
	// Push is how far a push moves the object, in px: at most
	// min(Walk.Width, Walk.Height). 0 means [DefaultPush].
	Push int
	// Keep is how many moves the moves stream and every instance's ring
	// keep, for replay to reconnecting clients. 0 means [DefaultKeep].
	Keep int
	// LeaseTTL is how long the ticker lease lasts unrenewed, and Renew how
	// often its holder renews it and the others try to take it.
	LeaseTTL, Renew time.Duration
	// Timeout bounds each JetStream call.
	Timeout time.Duration
	// PushWait bounds [Room.Push], its tries included. 0 means
	// [DefaultPushWait].
	PushWait time.Duration
	// Startup bounds Open's tries to create the streams and the bucket and
	// to start reading the moves. A JetStream cluster that has just formed
	// may take a while to place replicated streams. 0 means
	// [DefaultStartup].
	Startup time.Duration
	// Duplicates is the push log's duplicate window. 0 means
	// [DefaultDuplicates].
	Duplicates time.Duration
	// Replicas is the number of copies of each stream and bucket in a
	// JetStream cluster; 0 means 1.
	Replicas int
	// Prefix names the streams, the bucket and the subjects, so that rooms
	// can share one NATS. Empty means [DefaultPrefix].
	Prefix string
	// Instance names this instance in its log lines, the lease and its
	// viewer count; empty means a random one.
	Instance string
	// Logger receives the room's log lines; nil discards.
	Logger *slog.Logger
}

// withDefaults returns c with its zero fields set, or an error naming a
// field out of range.
func (c Config) withDefaults() (Config, error) {
	if err := c.Walk.Validate(); err != nil {
		return c, fmt.Errorf("room walk: %w", err)
	}
	if c.Push == 0 {
		c.Push = DefaultPush
	}
	if c.Push < 1 || c.Push > min(c.Walk.Width, c.Walk.Height) {
		return c, fmt.Errorf("push: must be an integer in [1, %d]", min(c.Walk.Width, c.Walk.Height))
	}
	if c.Keep <= 0 {
		c.Keep = DefaultKeep
	}
	c.Keep = max(c.Keep, 2)
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = DefaultLeaseTTL
	}
	if c.Renew <= 0 {
		c.Renew = DefaultRenew
	}
	if c.Renew*2 > c.LeaseTTL {
		return c, fmt.Errorf("lease: renew %v must be at most half the ttl %v", c.Renew, c.LeaseTTL)
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.PushWait <= 0 {
		c.PushWait = DefaultPushWait
	}
	if c.Startup <= 0 {
		c.Startup = DefaultStartup
	}
	if c.Duplicates <= 0 {
		c.Duplicates = DefaultDuplicates
	}
	c.Replicas = max(c.Replicas, 1)
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	for _, r := range c.Prefix {
		if !('a' <= r && r <= 'z' || '0' <= r && r <= '9') {
			return c, fmt.Errorf("prefix %q: must be lower-case letters and digits", c.Prefix)
		}
	}
	if c.Instance == "" {
		var b [6]byte
		rand.Read(b[:])
		c.Instance = hex.EncodeToString(b[:])
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// names are the JetStream names and subjects of a room.
type names struct {
	pushes, moves, lease     string // streams and bucket
	pushSubject, moveSubject string
	viewersSubject           string // the viewer counts, one subject below it per instance
}

func newNames(prefix string) names {
	up := strings.ToUpper(prefix)
	return names{
		pushes: up + "_PUSHES", moves: up + "_MOVES", lease: up + "_LEASE",
		pushSubject: prefix + ".pushes", moveSubject: prefix + ".moves",
		viewersSubject: prefix + ".viewers",
	}
}

// Room is one instance's view of the play room: its ring of moves, its
// viewers, and, while it holds the lease, the ticker that makes the moves.
type Room struct {
	cfg   Config
	names names
	log   *slog.Logger
	nc    *nats.Conn
	js    jetstream.JetStream
	start simulation.Position // move 0: where the object stands before any move

	// The moves read so far; its Latest is the newest.
	ring    *ring.Ring[Entry]
	mu      sync.Mutex     // guards arrived
	arrived chan struct{}  // closed, and replaced, when a move arrives
	moves   *follow.Reader // reads the moves into the ring

	packMu sync.Mutex      // guards packed
	packed *deflate.Shared // the moves' events, compressed in order

	leaseKV jetstream.KeyValue
	lease   *lease.Lease
	viewers *viewers.Counter

	cancel context.CancelFunc
	wg     sync.WaitGroup // the lease, ticker and viewer goroutines
	closed sync.Once
}

// Entry is one move as every instance keeps it: the move and its
// encoding, made once for all its viewers. An Entry is never modified once
// stored, so readers share it without a lock.
type Entry struct {
	Move payload.PlayMove
	// PushSeq is the sequence, in the push log, of the last push applied
	// by this move or any before it: the next move applies those after.
	PushSeq uint64
	// Event is the SSE event: id (the seq), event name, data.
	Event []byte
	// Deflate is Event in this instance's shared compressed stream, which
	// restarts just before this move when Restart is set
	// ([deflate.Shared]).
	Deflate []byte
	Restart bool
	// Arrived is when this instance read the move from the log.
	Arrived time.Time
}

// record is a move as the moves stream stores it.
type record struct {
	payload.PlayMove
	PushSeq uint64 `json:"push_seq"`
}

// Open opens the room on nc: it creates the streams and the bucket when
// they do not exist yet (or updates them to cfg), reads the moves kept so
// far into the ring, and starts competing for the ticker lease. It fails
// when JetStream does not answer within cfg.Timeout. Close it to stop.
func Open(ctx context.Context, nc *nats.Conn, cfg Config) (*Room, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	r := &Room{
		cfg: cfg, names: newNames(cfg.Prefix), log: cfg.Logger.With("instance", cfg.Instance),
		nc: nc, js: js, start: simulation.NewWalker(cfg.Walk, cfg.Seed).Position(),
		ring: ring.New(cfg.Keep, func(e *Entry) uint64 { return e.Move.Seq }), arrived: make(chan struct{}),
		packed: deflate.NewShared(),
	}
	var last uint64
	err = r.retryStartup(ctx, "play room not created yet; trying again", func() error {
		info, err := r.createResources(ctx)
		if err == nil {
			last, err = r.fanOut(ctx, info.State)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	r.viewers, err = viewers.New(nc, viewers.Options{Subject: r.names.viewersSubject, Instance: cfg.Instance, Logger: r.log})
	if err != nil {
		r.moves.Stop()
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	caught := r.WaitFor(wctx, last)
	cancel()
	if !caught {
		r.viewers.Stop()
		r.moves.Stop()
		return nil, fmt.Errorf("read the moves stream %s up to move %d: not within %v", r.names.moves, last, cfg.Timeout)
	}
	// Try the lease once before returning, and when it is taken start
	// reading the pushes, so that a lone instance is the ticker once Open
	// returns (and its goroutines are all running).
	r.lease = lease.New(r.leaseKV, lease.Options{Holder: cfg.Instance, TTL: cfg.LeaseTTL, Renew: cfg.Renew, Logger: r.log})
	r.lease.Step(ctx)
	var first *leader
	if r.lease.Held() {
		if first, err = r.prepare(ctx); err != nil {
			r.lease.Release()
			r.viewers.Stop()
			r.moves.Stop()
			return nil, err
		}
	}
	lctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.wg.Go(func() { r.lease.Run(lctx) })
	r.wg.Go(func() { r.tick(lctx, first) })
	r.wg.Go(func() { r.viewers.Run(lctx) })
	r.log.Info("play room open", "moves", r.names.moves, "latest", last, "push", cfg.Push, "keep", cfg.Keep)
	return r, nil
}

// retryStartup calls f until it succeeds, for up to cfg.Startup, and logs
// msg before each new try. Several instances that start together on a
// cluster that has just formed may each see their first calls time out,
// while the cluster places the replicas and their streams elect leaders:
// creating the streams, reading where they stand, or making the first
// consumer.
func (r *Room) retryStartup(ctx context.Context, msg string, f func() error) error {
	deadline := time.Now().Add(r.cfg.Startup)
	wait := 100 * time.Millisecond
	for {
		err := f()
		if err == nil || time.Now().Add(wait).After(deadline) || ctx.Err() != nil {
			return err
		}
		r.log.Warn(msg, "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// createResources creates or updates the streams and the bucket of the
// room, and returns where the moves stream stands. That last answer comes
// from the stream's leader, which a stream just created on a cluster may
// not have elected yet.
func (r *Room) createResources(ctx context.Context) (*jetstream.StreamInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	for _, name := range []string{r.names.pushes, r.names.moves, "KV_" + r.names.lease} {
		r.noteCopies(ctx, name)
	}
	_, err := r.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: r.names.pushes, Description: "play room: accepted pushes, in the order applied",
		Subjects: []string{r.names.pushSubject}, Storage: jetstream.FileStorage, Replicas: r.cfg.Replicas,
		MaxAge: pushesMaxAge, Duplicates: r.cfg.Duplicates, MaxMsgSize: 1 << 10, Discard: jetstream.DiscardOld,
	})
	if err != nil {
		return nil, fmt.Errorf("create stream %s: %w", r.names.pushes, err)
	}
	moves, err := r.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: r.names.moves, Description: "play room: move n is message n",
		Subjects: []string{r.names.moveSubject}, Storage: jetstream.FileStorage, Replicas: r.cfg.Replicas,
		MaxMsgs: int64(r.cfg.Keep), Discard: jetstream.DiscardOld,
	})
	if err != nil {
		return nil, fmt.Errorf("create stream %s: %w", r.names.moves, err)
	}
	kv, err := r.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: r.names.lease, Description: "play room: the instance that makes the moves",
		TTL: r.cfg.LeaseTTL, Storage: jetstream.MemoryStorage, Replicas: r.cfg.Replicas, History: 1,
	})
	if err != nil {
		return nil, fmt.Errorf("create bucket %s: %w", r.names.lease, err)
	}
	r.leaseKV = kv
	info, err := moves.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("stream %s info: %w", r.names.moves, err)
	}
	return info, nil
}

// noteCopies logs when the stream name exists with fewer copies than the
// room wants: createResources raises them (JetStream allows it, and the
// new copies catch up from the others).
func (r *Room) noteCopies(ctx context.Context, name string) {
	s, err := r.js.Stream(ctx, name)
	if err != nil {
		return // not there yet: created with its copies
	}
	if have := s.CachedInfo().Config.Replicas; have < r.cfg.Replicas {
		r.log.Info("raising the copies of a stream", "stream", name, "from", have, "to", r.cfg.Replicas)
	}
}

// fanOut starts reading the moves stream, whose state was st, into the
// ring, from the oldest move the ring keeps, and returns the newest move
// stored then.
func (r *Room) fanOut(ctx context.Context, st jetstream.StreamState) (last uint64, err error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	last = st.LastSeq
	first := uint64(1)
	if last > 0 {
		first = max(st.FirstSeq, last-min(last, uint64(r.ring.Len()))+1, 1)
	}
	if r.moves, err = r.follow(ctx, r.names.moves, first, r.store); err != nil {
		return 0, err
	}
	return last, nil
}

// store puts a move read from the moves stream into the ring.
func (r *Room) store(m jetstream.Msg) {
	md, err := m.Metadata()
	if err != nil {
		r.log.Error("move without metadata", "err", err)
		return
	}
	var rec record
	if err := json.Unmarshal(m.Data(), &rec); err != nil || rec.Seq != md.Sequence.Stream {
		r.log.Error("move refused", "stream_seq", md.Sequence.Stream, "seq", rec.Seq, "err", err)
		return
	}
	e, err := newEntry(rec, time.Now())
	if err != nil {
		r.log.Error("move refused", "seq", rec.Seq, "err", err)
		return
	}
	r.pack(e)
	r.ring.Store(e)
	r.ring.SetLatest(rec.Seq)
	r.mu.Lock()
	close(r.arrived)
	r.arrived = make(chan struct{})
	r.mu.Unlock()
}

// pack adds e's event to the shared compressed stream.
func (r *Room) pack(e *Entry) {
	r.packMu.Lock()
	defer r.packMu.Unlock()
	e.Deflate, e.Restart = r.packed.Add(e.Move.Seq, e.Event)
}

// newEntry encodes rec as a ring entry.
func newEntry(rec record, arrived time.Time) (*Entry, error) {
	data := rec.PlayMove.AppendJSON(make([]byte, 0, 64+40*len(rec.Pushes)))
	ev, err := sse.Event{ID: strconv.FormatUint(rec.Seq, 10), Name: payload.EventMove, Data: string(data)}.AppendTo(make([]byte, 0, len(data)+32))
	if err != nil {
		return nil, fmt.Errorf("encode move %d: %w", rec.Seq, err)
	}
	return &Entry{Move: rec.PlayMove, PushSeq: rec.PushSeq, Event: ev, Arrived: arrived}, nil
}

// Close stops the room: it gives the lease up, so that another instance
// takes over at once, stops reading the log, and reports no viewers. It
// does not close the connection.
func (r *Room) Close() {
	r.closed.Do(func() {
		r.cancel()
		r.wg.Wait()
		r.moves.Stop()
		r.viewers.Stop()
		r.log.Info("play room closed")
	})
}

// Config returns the room's configuration, its defaults filled in.
func (r *Room) Config() Config { return r.cfg }

// Latest returns the seq of the newest move this instance has read, 0
// before any.
func (r *Room) Latest() uint64 { return r.ring.Latest() }

// Entry returns move seq, or nil when the ring does not hold it (not read
// yet, or gone from the window).
func (r *Room) Entry(seq uint64) *Entry { return r.ring.Get(seq) }

// Start returns where the object stands before the first move: move 0.
func (r *Room) Start() simulation.Position { return r.start }

// Position returns where the object stands after move seq, and whether the
// ring still holds it: move 0 is known while move 1 is held, or before
// any move.
func (r *Room) Position(seq uint64) (simulation.Position, bool) {
	if seq > r.Latest() {
		return simulation.Position{}, false
	}
	if e := r.Entry(seq); e != nil {
		return simulation.Position{Seq: seq, X: e.Move.X, Y: e.Move.Y}, true
	}
	if seq == 0 && (r.Latest() == 0 || r.Entry(1) != nil) {
		return r.start, true
	}
	return simulation.Position{}, false
}

// WaitFor waits until this instance has read move seq, and reports
// whether it has; false when ctx ends first.
func (r *Room) WaitFor(ctx context.Context, seq uint64) bool {
	for {
		r.mu.Lock()
		ch := r.arrived
		r.mu.Unlock()
		if r.Latest() >= seq {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-ch:
		}
	}
}

// Arrived returns a channel closed when the next move arrives.
func (r *Room) Arrived() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.arrived
}

// ErrLogUnavailable is a push the log did not store within
// [Config.PushWait]: JetStream had no leader for the push log (a node was
// lost and the others are electing one), or did not answer.
var ErrLogUnavailable = errors.New("the push log did not store the push in time")

// Push appends p to the push log and returns once the log has stored it
// with its copies (JetStream acknowledges a publish once a majority of
// them have it): dup reports that its id was stored already (within the
// duplicate window), in which case it is applied once, as before. While
// the log has no leader, Push tries again, with the same message id so
// that a try that was stored after all counts once, until
// [Config.PushWait] has passed; then it returns an error wrapping
// [ErrLogUnavailable].
func (r *Room) Push(ctx context.Context, p payload.Push) (dup bool, err error) {
	data, err := json.Marshal(p)
	if err != nil {
		return false, fmt.Errorf("encode push: %w", err)
	}
	deadline := time.Now().Add(r.cfg.PushWait)
	for wait := pushRetryMin; ; wait = min(2*wait, pushRetryMax) {
		end := time.Now().Add(pushTry)
		if end.After(deadline) {
			end = deadline
		}
		try, cancel := context.WithDeadline(ctx, end)
		ack, err := r.js.Publish(try, r.names.pushSubject, data, jetstream.WithMsgID(p.ID), jetstream.WithExpectStream(r.names.pushes))
		cancel()
		if err == nil {
			return ack.Duplicate, nil
		}
		if ctx.Err() != nil {
			return false, fmt.Errorf("publish push %q: %w", p.ID, ctx.Err())
		}
		if time.Now().Add(wait).After(deadline) {
			return false, fmt.Errorf("publish push %q: %w: %w", p.ID, ErrLogUnavailable, err)
		}
		r.log.Debug("push not stored yet; trying again", "id", p.ID, "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return false, fmt.Errorf("publish push %q: %w", p.ID, ctx.Err())
		case <-time.After(wait):
		}
	}
}

// How Push tries: each try waits for its acknowledgement up to pushTry,
// and the pauses between tries double from pushRetryMin to pushRetryMax.
const (
	pushTry      = 500 * time.Millisecond
	pushRetryMin = 25 * time.Millisecond
	pushRetryMax = 250 * time.Millisecond
)

// Ticker reports whether this instance holds the lease: it makes the
// moves.
func (r *Room) Ticker() bool { return r.lease.Held() }

// Join counts one more viewer here, until the returned leave is called
// (once; later calls do nothing).
func (r *Room) Join() (leave func()) { return r.viewers.Join() }

// Viewers returns the number of viewers on every instance, as last
// reported.
func (r *Room) Viewers() int { return r.viewers.Total() }

// follow starts reading stream from sequence first into handle, with the
// room's bounds and log. See [follow.Start].
func (r *Room) follow(ctx context.Context, stream string, first uint64, handle func(jetstream.Msg)) (*follow.Reader, error) {
	return follow.Start(ctx, r.js, stream, first, handle, follow.Options{Timeout: r.cfg.Timeout, Logger: r.log})
}

// Instance returns this instance's name.
func (r *Room) Instance() string { return r.cfg.Instance }

// errFenced is a move that another ticker wrote first.
var errFenced = errors.New("another ticker wrote this move")
