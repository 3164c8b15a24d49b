// Package simulation moves an object on a deterministic random walk inside a box.
//
// The object sits on integer coordinates in [0, Width] x [0, Height], with y
// growing downwards as on a screen. Each move picks one of up, down, left and
// right at random, and a random whole distance 1..Step along it.
//
// At a wall the object reflects. It bounces back by the distance it
// overshot, so x' = x+d becomes 2*Width - x' past the right wall and -x' past
// the left one. The same holds for y. Because Step is at most min(Width,
// Height), one reflection always brings the object back inside. A reflection
// can therefore shorten the net displacement of a move, down to zero.
//
// The walk is a pure function of the seed and the move number. The start
// position is drawn from (seed, 0), and move n from (seed, n). A walk can
// stop and later [Resume] from any position it reached, and it carries on
// exactly as if it had never stopped. These draws are a contract. Changing
// how they are made changes every walk ever served for a seed.
//
// Nothing here waits on a clock, so a walk can be tested with plain values.
// The servers pace the walks, and [World] maps a move to the moment it is
// due.
package simulation

import (
	"fmt"
	"math/rand/v2"
)

// Position is where the object is after move Seq (Seq 0 is the start position).
type Position struct {
	Seq  uint64
	X, Y int
}

// Walker is one deterministic random walk. It is not safe for concurrent
// use. A copy is a walk of its own, which goes on from where the original
// stood.
type Walker struct {
	cfg  Config
	seed uint64
	pos  Position
	// src is the generator, reseeded from (seed, n) before move n is
	// drawn. It is held by value, and each draw goes through a rand.Rand
	// made for it, so that a Walker holds no pointer into itself. A Walker
	// can then be copied, and held inside the state of whoever steps it.
	// That keeps one piece of memory per walk, which a server with many
	// walks touches at every move.
	src rand.PCG
}

// NewWalker starts a walk at a random start position fixed by seed. The
// same seed and cfg give the same walk, move for move.
//
// cfg must be valid (see [Config.Validate]). NewWalker panics otherwise,
// because a walk in a bad box could leave it. Use [Resume] to get an error
// instead.
func NewWalker(cfg Config, seed uint64) *Walker {
	if err := cfg.Validate(); err != nil {
		panic(fmt.Errorf("simulation.NewWalker: %w", err))
	}
	w := newWalker(cfg, seed)
	w.reseed(0)
	rng := rand.New(&w.src)
	w.pos = Position{X: rng.IntN(cfg.Width + 1), Y: rng.IntN(cfg.Height + 1)}
	return w
}

// Resume continues the walk with this seed from at, exactly as if it had
// never stopped. The move after at is move at.Seq+1. If at is position
// at.Seq of NewWalker(cfg, seed), the resumed walk and the uninterrupted one
// agree from then on.
//
// Resume returns an error if at lies outside the box or cfg is invalid. For
// an invalid cfg, the error is the *[FieldError] from [Config.Validate].
func Resume(cfg Config, seed uint64, at Position) (*Walker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if at.X < 0 || at.X > cfg.Width || at.Y < 0 || at.Y > cfg.Height {
		return nil, fmt.Errorf("resume at (%d, %d): outside the %dx%d box", at.X, at.Y, cfg.Width, cfg.Height)
	}
	w := newWalker(cfg, seed)
	w.pos = at
	return w, nil
}

func newWalker(cfg Config, seed uint64) *Walker {
	return &Walker{cfg: cfg, seed: seed}
}

// Position returns where the object is now.
func (w *Walker) Position() Position { return w.pos }

// Seed returns the seed that fixes the walk.
func (w *Walker) Seed() uint64 { return w.seed }

// Config returns the box and pace of the walk.
func (w *Walker) Config() Config { return w.cfg }

// Step makes move Seq+1 and returns the new position. It allocates nothing.
func (w *Walker) Step() Position {
	n := w.pos.Seq + 1
	dir, d := w.move(n)
	switch dir {
	case up:
		w.pos.Y = bounce(w.pos.Y-d, w.cfg.Height)
	case down:
		w.pos.Y = bounce(w.pos.Y+d, w.cfg.Height)
	case left:
		w.pos.X = bounce(w.pos.X-d, w.cfg.Width)
	case right:
		w.pos.X = bounce(w.pos.X+d, w.cfg.Width)
	}
	w.pos.Seq = n
	return w.pos
}

// A direction of one move, on screen axes (y grows downwards).
const (
	up = iota
	down
	left
	right
)

// move draws the direction and distance (1..Step) of move n from (seed, n)
// alone, so any move can be replayed without the ones before it.
func (w *Walker) move(n uint64) (dir, d int) {
	w.reseed(n)
	r := rand.New(&w.src).IntN(4 * w.cfg.Step) // on the stack, so Step allocates nothing
	return r % 4, r/4 + 1
}

// reseed points the generator at draw n of the walk. Both words go through a
// mixer so that neighbouring seeds and move numbers give unrelated streams.
func (w *Walker) reseed(n uint64) {
	w.src.Seed(mix(w.seed), mix(n))
}

// mix is the SplitMix64 finaliser, a bijection on uint64 with good avalanche.
func mix(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// bounce reflects v, at most size beyond [0, size], back into it.
func bounce(v, size int) int {
	switch {
	case v > size:
		return 2*size - v
	case v < 0:
		return -v
	}
	return v
}

// Shift returns p moved by (dx, dy) inside c's box, with its Seq unchanged.
// It reflects p at the walls as a move does. The shift may be of any
// length, so a long one may bounce more than once. The play room applies
// visitors' pushes with Shift before the walk's own step.
func (c Config) Shift(p Position, dx, dy int) Position {
	p.X = reflect(p.X+dx, c.Width)
	p.Y = reflect(p.Y+dy, c.Height)
	return p
}

// reflect folds v into [0, size] as repeated reflections at 0 and size do.
func reflect(v, size int) int {
	if size <= 0 {
		return 0
	}
	period := 2 * size
	v %= period
	if v < 0 {
		v += period
	}
	if v > size {
		v = period - v
	}
	return v
}
