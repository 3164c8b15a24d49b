package walks

import (
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/sse-demo/movingobject/simulation"
)

// MaxSeed is the largest seed a client may ask for, 2^53-1. A JavaScript
// number holds every seed up to it exactly, so a page can share its URL.
const MaxSeed = 1<<53 - 1

// Params are the query parameters of a walk: its box, pace and seed.
type Params struct {
	Config  simulation.Config
	Seed    uint64
	HasSeed bool // the client chose the seed; otherwise Seed is zero
}

// ParseParams reads width, height, step, interval (milliseconds) and seed
// from q, taking def for the ones that are absent or empty. Its error
// names the first bad parameter and its allowed range, in the words of
// [simulation.Config.Validate], so that the page and the stream refuse
// alike.
func ParseParams(q url.Values, def simulation.Config) (Params, error) {
	p := Params{Config: def}
	// A value that is not an integer becomes 0, which every field rejects,
	// so Validate reports the first bad field with its range.
	p.Config.Width = intParam(q, "width", def.Width)
	p.Config.Height = intParam(q, "height", def.Height)
	p.Config.Step = intParam(q, "step", def.Step)
	p.Config.Interval = intervalParam(q, def.Interval)
	if err := p.Config.Validate(); err != nil {
		return Params{}, err
	}
	if s := q.Get("seed"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil || seed > MaxSeed {
			return Params{}, fmt.Errorf("seed: must be an integer in [0, %d]", uint64(MaxSeed))
		}
		p.Seed, p.HasSeed = seed, true
	}
	return p, nil
}

// Query encodes p as the query of a page or stream URL, leaving out what
// equals def, so that shared links stay short.
func (p Params) Query(def simulation.Config) url.Values {
	q := url.Values{}
	set := func(name string, v, d int) {
		if v != d {
			q.Set(name, strconv.Itoa(v))
		}
	}
	set("width", p.Config.Width, def.Width)
	set("height", p.Config.Height, def.Height)
	set("step", p.Config.Step, def.Step)
	set("interval", int(p.Config.Interval/time.Millisecond), int(def.Interval/time.Millisecond))
	if p.HasSeed {
		q.Set("seed", strconv.FormatUint(p.Seed, 10))
	}
	return q
}

func intParam(q url.Values, name string, def int) int {
	s := q.Get(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0
	}
	return n
}

func intervalParam(q url.Values, def time.Duration) time.Duration {
	ms := intParam(q, "interval", int(def/time.Millisecond))
	if ms <= 0 || time.Duration(ms) > simulation.MaxInterval/time.Millisecond {
		return 0 // out of range; also keeps the multiplication from overflowing
	}
	return time.Duration(ms) * time.Millisecond
}
