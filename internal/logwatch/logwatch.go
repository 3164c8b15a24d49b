// Package logwatch reads a server's log for tests, line by line as it is
// written.
//
// A [Watch] stands in for the server's stderr. It parses each line that
// [slog.TextHandler] writes and wakes the tests waiting on it, so that a
// test waits for what the server says it did rather than poll or sleep.
package logwatch

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// WaitBound turns a hang into a failure. It is no timing assertion.
const WaitBound = 60 * time.Second

// Watch stands in for a server's stderr. It parses each line of the log
// ([slog.TextHandler]'s format) and wakes the tests waiting on it.
type Watch struct {
	mu      sync.Mutex // guards the fields below
	partial []byte     // the start of a line not yet ended
	text    []string   // each line as written
	lines   []Line     // each line parsed
	counts  map[string]int
	wake    chan struct{} // closed, and replaced, at each new line
}

// Line is a log line's keys (time, level, msg, then the attributes)
// with their values, unquoted.
type Line map[string]string

// New returns an empty Watch.
func New() *Watch {
	return &Watch{counts: make(map[string]int), wake: make(chan struct{})}
}

// Write takes the log's bytes, parsing each line as it ends.
func (w *Watch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	rest, added := w.partial, false
	for {
		line, after, ok := bytes.Cut(rest, []byte("\n"))
		if !ok {
			break
		}
		l := Parse(string(line))
		w.text, w.lines = append(w.text, string(line)), append(w.lines, l)
		w.counts[l["msg"]]++
		rest, added = after, true
	}
	w.partial = append(w.partial[:0], rest...)
	if added {
		close(w.wake)
		w.wake = make(chan struct{})
	}
	return len(p), nil
}

// Parse returns the key=value pairs of a line that
// [slog.TextHandler] wrote: a value is quoted as a Go string when it
// needs to be.
func Parse(s string) Line {
	l := Line{}
	for s = strings.TrimLeft(s, " "); s != ""; s = strings.TrimLeft(s, " ") {
		key, rest, ok := strings.Cut(s, "=")
		if !ok {
			l[s] = ""
			break
		}
		var val string
		if q, err := strconv.QuotedPrefix(rest); strings.HasPrefix(rest, `"`) && err == nil {
			val, _ = strconv.Unquote(q)
			rest = rest[len(q):]
		} else {
			val, rest, _ = strings.Cut(rest, " ")
		}
		l[key] = val
		s = rest
	}
	return l
}

// WaitCount waits until n lines with message msg have been logged.
func (w *Watch) WaitCount(tb testing.TB, msg string, n int) {
	tb.Helper()
	w.Wait(tb, fmt.Sprintf("%d %q lines", n, msg), func() bool { return w.counts[msg] >= n })
}

// WaitLine waits until a line that match accepts has been logged, and
// returns it.
func (w *Watch) WaitLine(tb testing.TB, what string, match func(Line) bool) Line {
	tb.Helper()
	var found Line
	next := 0
	w.Wait(tb, what, func() bool {
		for ; next < len(w.lines); next++ {
			if match(w.lines[next]) {
				found = w.lines[next]
				return true
			}
		}
		return false
	})
	return found
}

// All returns the lines logged so far.
func (w *Watch) All() []Line {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.lines)
}

// Count returns how many lines with message msg have been logged.
func (w *Watch) Count(msg string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.counts[msg]
}

// Tail returns the last n lines logged.
func (w *Watch) Tail(n int) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.text[max(0, len(w.text)-n):], "\n")
}

// WaitText waits until a line that match accepts has been logged, and
// returns it, for logs that are not slog's.
func (w *Watch) WaitText(tb testing.TB, what string, match func(string) bool) string {
	tb.Helper()
	var found string
	w.Wait(tb, what, func() bool {
		i := slices.IndexFunc(w.text, match)
		if i >= 0 {
			found = w.text[i]
		}
		return i >= 0
	})
	return found
}

// String returns the log so far.
func (w *Watch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.text, "\n")
}

// Wait calls done, with w.mu held, now and after each new line, until it
// reports true. It fails the test, showing the end of the log, when that
// takes longer than waitBound.
func (w *Watch) Wait(tb testing.TB, what string, done func() bool) {
	tb.Helper()
	deadline := time.NewTimer(WaitBound)
	defer deadline.Stop()
	for {
		w.mu.Lock()
		ok, wake := done(), w.wake
		w.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-wake:
		case <-deadline.C:
			tb.Fatalf("waiting for %s in the server's log: not within %v; the log ends:\n%s", what, WaitBound, w.Tail(20))
		}
	}
}

// WaitTotal waits until ws, together, have logged at least n lines with
// message msg, and returns how many they have.
func WaitTotal(tb testing.TB, ws []*Watch, msg string, n int) int {
	tb.Helper()
	deadline := time.After(WaitBound)
	for {
		cases := make([]reflect.SelectCase, 0, len(ws)+1)
		total := 0
		for _, w := range ws {
			w.mu.Lock()
			total += w.counts[msg]
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(w.wake)})
			w.mu.Unlock()
		}
		if total >= n {
			return total
		}
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(deadline)})
		if i, _, _ := reflect.Select(cases); i == len(ws) {
			tb.Fatalf("waiting for %d %q lines in the logs of %d servers: %d within %v", n, msg, len(ws), total, WaitBound)
		}
	}
}
