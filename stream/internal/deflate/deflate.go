// Package deflate compresses an event stream once for every client.
//
// A [Shared] stream compresses each event once, as it is made, and flushes
// after it (a sync flush), so that a client's decoder can decode every
// event as soon as it arrives. Every client on gzip or deflate is written
// the same compressed bytes: the two codings differ only in the header
// that starts a response, and a stream that never ends sends no trailer.
//
// A client that joins mid-stream cannot start with the shared bytes: they
// refer back to events it never got. So the shared stream restarts its
// compressor every [RestartEvery] events, at a restart point, after which
// it refers to nothing earlier. Until the next restart point, a joining
// client gets its events in stored blocks: deflate's uncompressed framing,
// which costs a 5-byte header and a copy. From the restart point on, it
// gets the shared bytes. So the per-client work is copying bytes, and a
// joining client pays for a few seconds of uncompressed events.
package deflate

import (
	"bytes"
	"fmt"

	"github.com/klauspost/compress/flate"
)

// RestartEvery is how many events the shared stream compresses between
// two restart points. More compresses better (the window holds more
// events), and fewer lets a joining client share sooner: at 32 a run of
// world moves compresses to 0.29 of its size (0.25 without restarts), and
// at 10 moves a second a joining client shares within 3.2 s.
const RestartEvery = 32

// level is the shared stream's compression level: the best, since it
// compresses each event once for all clients.
const level = flate.BestCompression

// Heartbeat is an empty stored block. A compressed stream sends it where
// a plain one sends its heartbeat comment: bytes on the wire that keep the
// connection alive and decode to nothing. It is valid wherever a block may
// start, which in a stream flushed after every event is between any two.
var Heartbeat = []byte{0x00, 0x00, 0x00, 0xff, 0xff}

// Beat returns what a silent stream in c sends: plain, the stream's own
// heartbeat, when c is None, and else [Heartbeat].
func (c Coding) Beat(plain []byte) []byte {
	if c == None {
		return plain
	}
	return Heartbeat
}

// Shared is the compressed stream of one sequence of events, shared by
// every client of a coding. It is not safe for concurrent use: its owner
// adds events in order under its own lock.
type Shared struct {
	zw    *flate.Writer
	out   bytes.Buffer
	count int    // events since the last restart point
	next  uint64 // the seq that follows the last event added
}

// NewShared returns a shared stream whose first event is a restart point.
func NewShared() *Shared {
	s := &Shared{}
	zw, err := flate.NewWriter(&s.out, level)
	if err != nil {
		panic(fmt.Errorf("deflate: level %d: %w", level, err)) // a bug: the level is a constant
	}
	s.zw = zw
	return s
}

// Add compresses event, whose seq is seq, and returns its compressed
// bytes, a new slice, and whether the stream restarted just before it: a
// client that has not shared yet may start sharing with this event. The
// stream restarts every [RestartEvery] events, and at an event that does
// not follow the last one added (those in between were never made, or
// never read).
func (s *Shared) Add(seq uint64, event []byte) (chunk []byte, restart bool) {
	restart = s.count == 0 || seq != s.next
	if restart {
		s.zw.Reset(&s.out)
		s.count = 0
	}
	s.out.Reset()
	// Writes to a bytes.Buffer do not fail.
	s.zw.Write(event)
	s.zw.Flush()
	s.count = (s.count + 1) % RestartEvery
	s.next = seq + 1
	return bytes.Clone(s.out.Bytes()), restart
}

// Follower is one client's place in a [Shared] stream. Until the stream's
// next restart point it appends its events in stored blocks; from there
// on, the shared bytes. A stream in no coding appends its events as they
// are.
type Follower struct {
	Coding Coding
	shared bool
}

// Append appends an event of the shared stream: plain as it is, packed
// its bytes in the shared stream, restart whether the stream restarted
// just before it ([Shared.Add]).
func (f *Follower) Append(dst, plain, packed []byte, restart bool) []byte {
	switch {
	case f.Coding == None:
		return append(dst, plain...)
	case f.shared || restart:
		f.shared = true
		return append(dst, packed...)
	}
	return AppendStored(dst, plain)
}

// AppendOwn appends plain, an event of this client alone. The shared
// bytes that follow refer to what the other clients got, so the client
// stores its events again until the next restart point.
func (f *Follower) AppendOwn(dst, plain []byte) []byte {
	if f.Coding == None {
		return append(dst, plain...)
	}
	f.shared = false
	return AppendStored(dst, plain)
}

// maxStored is the most bytes one stored block holds.
const maxStored = 0xffff

// AppendStored appends plain to dst in stored blocks: uncompressed, each
// with its 5-byte header. They may go wherever a block may start.
func AppendStored(dst, plain []byte) []byte {
	for len(plain) > 0 {
		n := min(len(plain), maxStored)
		dst = append(dst, 0x00, byte(n), byte(n>>8), ^byte(n), ^byte(n>>8))
		dst = append(dst, plain[:n]...)
		plain = plain[n:]
	}
	return dst
}
