package server

import (
	"flag"
	"fmt"
	"time"

	"github.com/sse-demo/movingobject/simulation"
	"github.com/sse-demo/movingobject/stream/routes/world"
)

// defaultWorldStart is the moment of the world's move 0, fixed so that any
// two servers agree on the world with no setup.
var defaultWorldStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// worldConfig is the shared world of /world, set by the -world-* flags.
type worldConfig struct {
	walk   simulation.Config
	seed   uint64
	start  time.Time
	epoch  time.Duration
	replay time.Duration
}

// worldFlags registers the -world-* flags on fs.
func worldFlags(fs *flag.FlagSet) *worldConfig {
	w := &worldConfig{walk: simulation.DefaultConfig(), seed: 1, start: defaultWorldStart, epoch: 24 * time.Hour, replay: world.DefaultReplay}
	fs.IntVar(&w.walk.Width, "world-width", w.walk.Width, "shared world's box width in px")
	fs.IntVar(&w.walk.Height, "world-height", w.walk.Height, "shared world's box height in px")
	fs.IntVar(&w.walk.Step, "world-step", w.walk.Step, "shared world's largest move in px")
	fs.DurationVar(&w.walk.Interval, "world-interval", w.walk.Interval, "time between the shared world's moves")
	fs.Uint64Var(&w.seed, "world-seed", w.seed, "seed of the shared world's walk")
	fs.TextVar(&w.start, "world-start", defaultWorldStart, "`time` (RFC 3339) of the shared world's move 0; the same on every instance")
	fs.DurationVar(&w.epoch, "world-epoch", w.epoch, "the world's walk starts afresh this often, which bounds start-up work to one epoch of moves (0: never)")
	fs.DurationVar(&w.replay, "world-replay", w.replay, "how long a client may be gone from /world/events and still get every move it missed")
	return w
}

// world checks the -world-* flags and returns the world they describe.
func (w *worldConfig) world() (*simulation.World, error) {
	if w.replay <= 0 {
		return nil, fmt.Errorf("-world-replay: must be a positive duration, got %v", w.replay)
	}
	sim, err := simulation.NewWorld(w.walk, w.seed, w.start, w.epoch)
	if err != nil {
		return nil, fmt.Errorf("invalid world: -world-%w", err)
	}
	return sim, nil
}
