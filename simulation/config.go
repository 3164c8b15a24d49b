package simulation

import (
	"fmt"
	"time"
)

// Bounds of a valid [Config]. [Config.Validate] enforces them and names them in
// its messages, which the HTTP layer sends back as 400 bodies.
const (
	MinSize = 10   // smallest width or height, px
	MaxSize = 4000 // largest width or height, px

	MinStep = 1    // smallest step, px
	MaxStep = 1000 // largest step, px (a step is also at most min(width, height))

	MinInterval = 10 * time.Millisecond // shortest tick period
	MaxInterval = 60 * time.Second      // longest tick period
)

// Config is the box and the pace of the walk.
type Config struct {
	Width, Height int           // size of the box, px (positions lie in [0, Width] x [0, Height])
	Step          int           // maximum distance of one move, px
	Interval      time.Duration // tick period
}

// DefaultConfig returns the classic demo. Its box is 800x600, a move is at
// most 5 px, and it makes ten moves a second.
func DefaultConfig() Config {
	return Config{Width: 800, Height: 600, Step: 5, Interval: 100 * time.Millisecond}
}

// MaxStepFor returns the largest valid step for a width x height box, which
// is min(MaxStep, width, height). The cap keeps one reflection enough to
// bring any move back into the box.
func MaxStepFor(width, height int) int {
	return min(MaxStep, width, height)
}

// Validate checks the fields in the order width, height, step, interval. It
// returns a *[FieldError] for the first one out of range, or nil. The step
// bound depends on the box (see [MaxStepFor]).
func (c Config) Validate() error {
	switch {
	case c.Width < MinSize || c.Width > MaxSize:
		return rangeError("width", MinSize, MaxSize, "")
	case c.Height < MinSize || c.Height > MaxSize:
		return rangeError("height", MinSize, MaxSize, "")
	case c.Step < MinStep || c.Step > MaxStepFor(c.Width, c.Height):
		return rangeError("step", MinStep, MaxStepFor(c.Width, c.Height), "")
	case c.Interval < MinInterval || c.Interval > MaxInterval:
		return rangeError("interval", MinInterval.Milliseconds(), MaxInterval.Milliseconds(), " (milliseconds)")
	}
	return nil
}

// FieldError names a configuration field and its allowed range. The HTTP
// layer sends its Error() as a 400 body.
type FieldError struct {
	Field string // name of the field as the query parameter spells it, e.g. "step"
	Msg   string // what is allowed, e.g. "must be an integer in [1, 600]"
}

// Error returns Field + ": " + Msg, e.g. "step: must be an integer in [1, 600]".
func (e *FieldError) Error() string {
	return e.Field + ": " + e.Msg
}

func rangeError[T int | int64](field string, lo, hi T, unit string) *FieldError {
	return &FieldError{Field: field, Msg: fmt.Sprintf("must be an integer in [%d, %d]%s", lo, hi, unit)}
}
