package simulation

import (
	"context"
	"errors"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

var errStop = errors.New("stop")

// TestRun runs each case in a synctest bubble, whose fake clock makes
// time.Now() differences exact.
func TestRun(t *testing.T) {
	const every = 100 * time.Millisecond
	ms := func(ds ...int) []time.Duration {
		var out []time.Duration
		for _, d := range ds {
			out = append(out, time.Duration(d)*time.Millisecond)
		}
		return out
	}
	tests := []struct {
		name        string
		every       time.Duration
		timeout     time.Duration // cancel the context after this long; 0 means never
		cancelled   bool          // cancel the context before Run
		failAt      int           // tick returns errStop on this call; 0 means never
		wantErr     error
		wantTicks   []time.Duration // when tick was called, since Run started
		wantElapsed time.Duration   // when Run returned
	}{
		{
			name: "ticks every period until tick fails", every: every, failAt: 5,
			wantErr: errStop, wantTicks: ms(100, 200, 300, 400, 500), wantElapsed: 500 * time.Millisecond,
		},
		{
			name: "first tick fails", every: time.Minute, failAt: 1,
			wantErr: errStop, wantTicks: []time.Duration{time.Minute}, wantElapsed: time.Minute,
		},
		{
			name: "odd period", every: 33 * time.Millisecond, failAt: 3,
			wantErr: errStop, wantTicks: ms(33, 66, 99), wantElapsed: 99 * time.Millisecond,
		},
		{
			name: "cancelled between ticks", every: every, timeout: 350 * time.Millisecond,
			wantErr: context.DeadlineExceeded, wantTicks: ms(100, 200, 300), wantElapsed: 350 * time.Millisecond,
		},
		{
			name: "cancelled before the first tick", every: every, timeout: 50 * time.Millisecond,
			wantErr: context.DeadlineExceeded, wantElapsed: 50 * time.Millisecond,
		},
		{
			name: "already cancelled", every: every, cancelled: true,
			wantErr: context.Canceled,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				if tt.timeout > 0 {
					ctx, cancel = context.WithTimeout(ctx, tt.timeout)
					defer cancel()
				}
				if tt.cancelled {
					cancel()
				}
				start := time.Now()
				var ticks []time.Duration
				tick := func() error {
					ticks = append(ticks, time.Since(start))
					if len(ticks) == tt.failAt {
						return errStop
					}
					return nil
				}

				err := Run(ctx, tt.every, tick)

				if !errors.Is(err, tt.wantErr) {
					t.Errorf("Run() = %v; want %v", err, tt.wantErr)
				}
				if !slices.Equal(ticks, tt.wantTicks) {
					t.Errorf("ticks at %v; want %v", ticks, tt.wantTicks)
				}
				if got := time.Since(start); got != tt.wantElapsed {
					t.Errorf("Run() returned after %v; want %v", got, tt.wantElapsed)
				}
			})
		})
	}
}

// TestRun_Cancel cancels a Run blocked between ticks from another goroutine
// and checks that it returns at once, with no goroutine left behind.
func TestRun_Cancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		ticks := 0
		errc := make(chan error, 1)
		go func() {
			errc <- Run(ctx, time.Second, func() error { ticks++; return nil })
		}()

		synctest.Wait() // Run is now blocked waiting for its first tick
		select {
		case err := <-errc:
			t.Fatalf("Run() = %v before cancel; want it still running", err)
		default:
		}

		start := time.Now()
		cancel()
		synctest.Wait() // every goroutine in the bubble has exited or blocked
		select {
		case err := <-errc:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Run() = %v; want %v", err, context.Canceled)
			}
		default:
			t.Fatal("Run() still running after cancel; want it returned")
		}
		if got := time.Since(start); got != 0 {
			t.Errorf("Run() returned %v after cancel; want at once", got)
		}
		if ticks != 0 {
			t.Errorf("tick called %d times; want 0", ticks)
		}
	})
}

func TestRun_BadPeriod(t *testing.T) {
	tests := []struct {
		every time.Duration
		want  string
	}{
		{0, "run every 0s: period must be positive"},
		{-time.Second, "run every -1s: period must be positive"},
	}
	for _, tt := range tests {
		called := false
		err := Run(t.Context(), tt.every, func() error { called = true; return nil })
		if err == nil || err.Error() != tt.want {
			t.Errorf("Run(%v) = %v; want %q", tt.every, err, tt.want)
		}
		if called {
			t.Errorf("Run(%v) called tick; want no call", tt.every)
		}
	}
}
