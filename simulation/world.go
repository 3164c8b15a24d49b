package simulation

import (
	"fmt"
	"time"
)

// World is a walk that every viewer shares. It is a pure function of its
// seed, start time, interval and the clock. Move n happens at
// Start + n*Interval. Two processes given the same parameters therefore show
// the same position at the same moment with no coordination, and any of them
// can replay any move.
//
// Computing position n means walking to it, so the walk starts afresh every
// epoch, at a new start position drawn from the seed and the epoch number.
// No position is then more than one epoch of moves away from a known one.
// Seq numbers stay continuous across epochs. The move that opens an epoch is
// a jump to its start position.
type World struct {
	cfg        Config
	seed       uint64
	start      time.Time
	epochMoves uint64 // moves per epoch, or 0 for a single endless epoch
}

// NewWorld returns the world with this box and pace, seed and start.
// cfg.Interval is the time between moves. epoch is how often the walk starts
// afresh, and it bounds the work of [World.Cursor] to epoch/cfg.Interval
// moves. An epoch of 0 means never, and the cost then grows with the time
// since start.
func NewWorld(cfg Config, seed uint64, start time.Time, epoch time.Duration) (*World, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if epoch < 0 || (epoch > 0 && epoch < cfg.Interval) {
		return nil, fmt.Errorf("world epoch %v: must be 0 (never) or at least the interval %v", epoch, cfg.Interval)
	}
	return &World{cfg: cfg, seed: seed, start: start, epochMoves: uint64(epoch / cfg.Interval)}, nil
}

// Config returns the world's box and pace.
func (w *World) Config() Config { return w.cfg }

// Seed returns the seed that fixes the world's walk.
func (w *World) Seed() uint64 { return w.seed }

// SeqAt returns the number of the last move made at or before t. It is 0,
// the start position, until Start + Interval.
func (w *World) SeqAt(t time.Time) uint64 {
	d := t.Sub(w.start)
	if d < w.cfg.Interval {
		return 0
	}
	return uint64(d / w.cfg.Interval)
}

// Time returns when move seq happens, which is Start + seq*Interval.
func (w *World) Time(seq uint64) time.Time {
	return w.start.Add(time.Duration(seq) * w.cfg.Interval)
}

// Cursor returns a cursor standing at move seq. It walks from the start of
// seq's epoch, so it costs up to one epoch of [Walker.Step] calls.
func (w *World) Cursor(seq uint64) *Cursor {
	c := &Cursor{world: w}
	c.enter(w.epochStart(seq))
	for c.pos.Seq < seq {
		c.Next()
	}
	return c
}

// epochStart returns the first move of the epoch holding seq.
func (w *World) epochStart(seq uint64) uint64 {
	if w.epochMoves == 0 {
		return 0
	}
	return seq - seq%w.epochMoves
}

// Cursor walks a [World] forwards, one move at a time, as the world does.
// It is not safe for concurrent use.
type Cursor struct {
	world  *World
	walker *Walker
	base   uint64   // the seq of the walker's position 0, its epoch's start
	pos    Position // with the world's seq, not the walker's
}

// enter starts the epoch whose first move is base.
func (c *Cursor) enter(base uint64) {
	seed := c.world.seed
	if base > 0 {
		seed = mix(seed ^ mix(base))
	}
	c.walker, c.base = NewWalker(c.world.cfg, seed), base
	c.pos = c.walker.Position()
	c.pos.Seq = base
}

// Position returns where the world stands at the cursor.
func (c *Cursor) Position() Position { return c.pos }

// Next moves the cursor one move on and returns the new position.
func (c *Cursor) Next() Position {
	n := c.pos.Seq + 1
	if c.world.epochMoves > 0 && n%c.world.epochMoves == 0 {
		c.enter(n)
		return c.pos
	}
	c.pos = c.walker.Step()
	c.pos.Seq += c.base
	return c.pos
}
