package simulation

import (
	"context"
	"fmt"
	"time"
)

// Run calls tick once per period every until ctx is done or tick returns an
// error, and returns that error (ctx.Err() on cancellation). The first call
// comes one period after Run starts. Like a [time.Ticker], Run drops ticks
// rather than queueing them when tick is slower than every.
//
// Run starts no goroutine; it returns promptly when ctx is cancelled, and
// calls tick no more once it has seen ctx done. A period that is not positive
// is an error.
func Run(ctx context.Context, every time.Duration, tick func() error) error {
	if every <= 0 {
		return fmt.Errorf("run every %v: period must be positive", every)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			// Both cases may be ready at once; cancellation wins.
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := tick(); err != nil {
				return err
			}
		}
	}
}
