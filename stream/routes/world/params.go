package world

import (
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// MaxWait is the longest a long poll holds its request.
const MaxWait = 30 * time.Second

// parseAfter reads the after parameter of a poll or WebSocket request: the
// seq of the last move the client has. It may be at most current, the move
// due now, since a later one is in the future. ok is false when after is
// absent or empty, for a client that has no move.
func parseAfter(q url.Values, current uint64) (after uint64, ok bool, err error) {
	s := q.Get("after")
	if s == "" {
		return 0, false, nil
	}
	after, err = strconv.ParseUint(s, 10, 64)
	if err != nil || after > current {
		return 0, false, fmt.Errorf("after: must be an integer in [0, %d]", current)
	}
	return after, true, nil
}

// parseWait reads the wait parameter of a poll, in milliseconds: how long
// a long poll may hold the request. ok is false when wait is absent or
// empty, for a poll that is answered at once.
func parseWait(q url.Values) (wait time.Duration, ok bool, err error) {
	s := q.Get("wait")
	if s == "" {
		return 0, false, nil
	}
	ms, err := strconv.ParseUint(s, 10, 64)
	if err != nil || ms < 1 || ms > uint64(MaxWait/time.Millisecond) {
		return 0, false, fmt.Errorf("wait: must be an integer in [1, %d]", MaxWait/time.Millisecond)
	}
	return time.Duration(ms) * time.Millisecond, true, nil
}
