// Package sse implements the Server-Sent Events wire format of the WHATWG
// HTML standard, section "Server-sent events".
//
// An [Event] validates and encodes itself. A [Decoder] reads a stream as a
// browser does. The package imports only the standard library, so that
// clients and load generators can use it.
package sse

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Event is one message of a text/event-stream, as defined by the WHATWG HTML
// standard, section "Server-sent events". [Event.WriteTo] and
// [Event.AppendTo] encode it, and [Decoder] reads it back.
//
// An encoded Event starts with one ": " line per line of Comment. The
// "retry: ", "id: " and "event: " lines follow, each only when set. Then
// come the "data: " lines, and a blank line ends the message.
//
// Data lines are written when Data or Name is non-empty, so a named event
// with empty data still dispatches in the browser. A message with only a
// comment, retry or id dispatches nothing, but it still updates the
// browser's reconnection time and last event ID. The zero Event encodes as
// a lone blank line.
type Event struct {
	// ID is written as "id: ..." only when non-empty. An empty id line
	// would reset the browser's last event ID.
	ID string
	// Name is written as "event: ..." when non-empty. Without it, the
	// browser dispatches a "message" event.
	Name string
	// Data is written as one "data: " line per line of Data, split on
	// CRLF, CR and LF.
	Data string
	// Retry is written as "retry: <ms>" when it is positive, in whole
	// milliseconds (truncated) and digits only. A negative Retry is an
	// error.
	Retry time.Duration
	// Comment is written first, as one ": ..." line per line of Comment.
	// An empty Comment writes no comment line.
	Comment string
}

// Reasons an [Event] cannot be encoded, returned by [Event.Validate].
var (
	errEventIDLine     = errors.New("sse: event id contains CR, LF or NUL")
	errEventIDUTF8     = errors.New("sse: event id is not valid UTF-8")
	errEventNameLine   = errors.New("sse: event name contains CR, LF or NUL")
	errEventNameUTF8   = errors.New("sse: event name is not valid UTF-8")
	errEventDataUTF8   = errors.New("sse: event data is not valid UTF-8")
	errEventCommentUTF = errors.New("sse: event comment is not valid UTF-8")
)

// Validate reports why e cannot be written, and the error names the field.
// An ID or Name must not contain CR, LF or NUL. A line break would let the
// value inject fields of its own, and a browser ignores an id that holds
// NUL. Retry must not be negative. Every field must be valid UTF-8. Data and
// Comment may contain line breaks, because they are split into lines when
// written.
func (e Event) Validate() error {
	if err := checkLine(e.ID, errEventIDLine, errEventIDUTF8); err != nil {
		return err
	}
	if err := checkLine(e.Name, errEventNameLine, errEventNameUTF8); err != nil {
		return err
	}
	switch {
	case !utf8.ValidString(e.Data):
		return errEventDataUTF8
	case !utf8.ValidString(e.Comment):
		return errEventCommentUTF
	case e.Retry < 0:
		return fmt.Errorf("sse: event retry %v is negative", e.Retry)
	}
	return nil
}

// checkLine returns errLine when s (an id or an event name) holds CR, LF or
// NUL. Otherwise it returns errUTF8 when s is not valid UTF-8. It checks both
// in one pass over the usual ASCII value, because every event of a stream
// pays for this check.
func checkLine(s string, errLine, errUTF8 error) error {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\r' || c == '\n' || c == 0:
			return errLine
		case c >= utf8.RuneSelf: // the rest, the slow way
			if strings.ContainsAny(s[i:], "\r\n\x00") {
				return errLine
			}
			if !utf8.ValidString(s[i:]) {
				return errUTF8
			}
			return nil
		}
	}
	return nil
}

// AppendTo appends the encoded event to dst and returns the extended buffer.
// If e is not valid (see [Event.Validate]) it returns dst unchanged and the
// error. It allocates only to grow dst, so a caller that reuses a buffer
// encodes without allocating.
func (e Event) AppendTo(dst []byte) ([]byte, error) {
	if err := e.Validate(); err != nil {
		return dst, err
	}
	// One growth up front covers the usual event. Many short lines may
	// need more, and append provides it.
	dst = slices.Grow(dst, len(e.Comment)+len(e.ID)+len(e.Name)+len(e.Data)+48)
	if e.Comment != "" {
		dst = appendFieldLines(dst, ": ", e.Comment)
	}
	if e.Retry > 0 {
		dst = append(dst, "retry: "...)
		dst = strconv.AppendInt(dst, int64(e.Retry/time.Millisecond), 10)
		dst = append(dst, '\n')
	}
	if e.ID != "" {
		dst = append(dst, "id: "...)
		dst = append(dst, e.ID...)
		dst = append(dst, '\n')
	}
	if e.Name != "" {
		dst = append(dst, "event: "...)
		dst = append(dst, e.Name...)
		dst = append(dst, '\n')
	}
	if e.Data != "" || e.Name != "" {
		dst = appendFieldLines(dst, "data: ", e.Data)
	}
	return append(dst, '\n'), nil
}

// appendFieldLines appends prefix+line+"\n" for each line of s, splitting on
// CRLF, CR and LF as the event stream parser does. An empty s, or a final
// line break, yields an empty last line, so the parser gets s back exactly
// (with CR and CRLF turned into LF).
func appendFieldLines(dst []byte, prefix, s string) []byte {
	for {
		i := indexLineBreak(s)
		if i < 0 {
			dst = append(dst, prefix...)
			dst = append(dst, s...)
			return append(dst, '\n')
		}
		dst = append(dst, prefix...)
		dst = append(dst, s[:i]...)
		dst = append(dst, '\n')
		if s[i] == '\r' && i+1 < len(s) && s[i+1] == '\n' {
			i++
		}
		s = s[i+1:]
	}
}

// indexLineBreak returns the index of the first CR or LF in s, or -1. It
// gives the answer of strings.IndexAny(s, "\r\n"), but uses the standard
// library's fast search for one byte.
func indexLineBreak(s string) int {
	lf := strings.IndexByte(s, '\n')
	before := s
	if lf >= 0 {
		before = s[:lf]
	}
	if cr := strings.IndexByte(before, '\r'); cr >= 0 {
		return cr
	}
	return lf
}

// eventBufPool holds encode buffers for [Event.WriteTo], so that writing an
// event does not allocate.
var eventBufPool = sync.Pool{
	New: func() any {
		b := make([]byte, 0, 512)
		return &b
	},
}

// maxPooledEventBuf is the largest buffer returned to eventBufPool. One huge
// event should not pin its buffer for the life of the process.
const maxPooledEventBuf = 64 << 10

// WriteTo writes the encoded event to w with a single Write call. This way
// the package never leaves half an event on a stream. Either the whole
// message reaches w, or the error says it did not. An invalid event (see
// [Event.Validate]) writes nothing. WriteTo implements [io.WriterTo].
func (e Event) WriteTo(w io.Writer) (int64, error) {
	bp := eventBufPool.Get().(*[]byte)
	b, err := e.AppendTo((*bp)[:0])
	if err != nil {
		eventBufPool.Put(bp)
		return 0, err
	}
	n, err := w.Write(b)
	if cap(b) <= maxPooledEventBuf {
		*bp = b
		eventBufPool.Put(bp)
	}
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return int64(n), fmt.Errorf("sse: write event: %w", err)
	}
	return int64(n), nil
}
