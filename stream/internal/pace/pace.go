// Package pace holds what every stream shares, whatever writes it.
//
// A [Source] makes a stream's events on the clock of this package ([Time],
// [Now]). A [Stream] asks its source for the events due and keeps the one
// heartbeat rule: a stream is written when its next event falls due, or
// after its heartbeat interval of silence. [Loop] is the one write loop of
// the streams that have a goroutine of their own. The engine (package
// engine) writes the streams taken over from net/http, and the transports
// (package transport) write the others through [Loop]. Nothing here knows
// HTTP, routes or payloads.
package pace

import (
	"errors"
	"sync/atomic"
	"time"
)

// A Source makes the events of one stream, such as a per-viewer walk, or
// the shared world from where a client stands. It is called by one
// goroutine at a time.
type Source interface {
	// Next appends to dst the encoded events due at now (none when now is
	// before Due), and returns how many it appended. An error ends the
	// stream.
	Next(dst []byte, now Time) (out []byte, events int, err error)
	// Due returns when the next event falls due.
	Due() Time
}

// Time is a moment on the streams' clock: the monotonic time since the
// process started. Comparing two is cheaper than comparing [time.Time]
// values, which the engine does for every event.
type Time = time.Duration

// base is the origin of the clock.
var base = time.Now()

// Now returns the time now on the clock.
func Now() Time { return time.Since(base) }

// At returns the time on the clock of wall-clock time t.
func At(t time.Time) Time { return t.Sub(base) }

// Wall returns the wall-clock time of t.
func Wall(t Time) time.Time { return base.Add(t) }

// SSEHeartbeat is the heartbeat of a Server-Sent Events stream: a comment,
// which a browser ignores.
var SSEHeartbeat = []byte(": heartbeat\n\n")

// Stream is one client's stream: its source, its heartbeat, and what was
// written to it, for the line logged when it ends. It is used by one
// goroutine at a time.
type Stream struct {
	// What every write reads or counts comes first. The engine's fast
	// path holds a Stream in the first cache lines of a connection, which
	// it fetches ahead.
	src       Source
	heartbeat time.Duration
	lastWrite Time // when the stream last wrote anything
	// What was written, read when the stream ends, maybe by another
	// goroutine than the one writing it.
	bytes  atomic.Int64 // opening included
	events atomic.Int64 // heartbeats and opening excluded

	// Opened is when the stream opened.
	Opened time.Time
}

// NewStream returns a stream of src that opened at now, having written n
// bytes of opening events, and that sends a heartbeat after heartbeat of
// silence.
func NewStream(src Source, heartbeat time.Duration, now Time, n int) *Stream {
	s := &Stream{}
	s.Init(src, heartbeat, now, n)
	return s
}

// Init sets s up in place, as NewStream does, for a Stream held inside
// another struct.
func (s *Stream) Init(src Source, heartbeat time.Duration, now Time, n int) {
	s.src, s.heartbeat, s.lastWrite, s.Opened = src, heartbeat, now, Wall(now)
	s.bytes.Store(int64(n))
}

// Source returns the stream's source.
func (s *Stream) Source() Source { return s.src }

// Written returns the bytes and the events written so far.
func (s *Stream) Written() (bytes, events int64) { return s.bytes.Load(), s.events.Load() }

// Due is the one heartbeat rule: a stream is next written when its
// source's next event falls due, or when it has been silent for its
// heartbeat interval, whichever comes first.
func (s *Stream) Due() Time {
	return min(s.src.Due(), s.lastWrite+s.heartbeat)
}

// Next appends the source's events due at now to dst. With none due,
// heartbeat reports whether the stream has been silent for its heartbeat
// interval: the transport then sends its heartbeat (an SSE comment, a
// WebSocket ping), so that proxies keep the stream open and a client that
// vanished fails the write.
func (s *Stream) Next(dst []byte, now Time) (out []byte, events int, heartbeat bool, err error) {
	out, events, err = s.src.Next(dst, now)
	if err != nil || events > 0 {
		return out, events, false, err
	}
	return out, 0, now >= s.lastWrite+s.heartbeat, nil
}

// Wrote records that n bytes holding events events were written at now.
func (s *Stream) Wrote(n, events int, now Time) {
	s.bytes.Add(int64(n))
	if events > 0 {
		s.events.Add(int64(events))
	}
	s.lastWrite = now
}

// Metrics counts what a stream writes. The metrics package satisfies it.
type Metrics interface {
	// Wrote counts one write of events events and n bytes that took seconds.
	Wrote(events, n int, seconds float64)
}

// Reasons a stream ends, for the error its transport ends it with.
var (
	// ErrClientGone: the client closed the connection.
	ErrClientGone = errors.New("client gone")
	// ErrShutdown: the server is shutting down.
	ErrShutdown = errors.New("server shutting down")
)
