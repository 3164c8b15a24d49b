package sse

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"time"
	"unicode/utf8"
)

// Decoder reads events from a text/event-stream as section "Interpreting an
// event stream" of the WHATWG HTML standard says. It drops one leading byte
// order mark and decodes the bytes as UTF-8, so each invalid sequence becomes
// U+FFFD. Lines end with CRLF, LF or CR. Field names are matched exactly, and
// unknown fields are ignored. A blank line dispatches the event.
//
// Lines and events may be of any length, as in a browser. A line longer than
// the read buffer is collected across reads rather than rejected, so memory
// grows with the longest line and event of the stream. Read only streams you
// trust to be bounded.
//
// A Decoder reads through a small buffer and reuses its line and field
// buffers, so that the strings of each returned [Event] are normally its only
// allocations. It does not close r. It is not safe for concurrent use.
type Decoder struct {
	r *bufio.Reader

	line []byte // a line that spans more than one buffered chunk
	data []byte // the data buffer
	typ  []byte // the event type buffer
	id   []byte // the last event ID buffer, kept across events

	lastID   string // the ID of the last returned event, reused while id is unchanged
	lastName string // the Name of the last returned event, reused while typ is unchanged

	retry    time.Duration // the reconnection time from the last valid retry field
	retrySet bool          // a retry field has set retry
	comments int           // comment lines read so far

	started bool  // the first line, which may start with a byte order mark, has been read
	skipLF  bool  // the last line ended with CR, so an LF that follows belongs to it
	err     error // the read error that ended the stream, returned by every later call
}

// maxKeptDecodeBuf is the largest line or data buffer a [Decoder] keeps for
// the next event. A larger one, left by an unusually long event, is dropped.
const maxKeptDecodeBuf = 64 << 10

// NewDecoder returns a [Decoder] that reads the event stream from r through a
// [bufio.Reader] of the default size.
func NewDecoder(r io.Reader) *Decoder {
	return &Decoder{r: bufio.NewReader(r)}
}

// Next returns the next dispatched event. The event's ID is the last event
// ID at dispatch, which persists from earlier events as in a browser. Its
// Name is the event type, or "message" when none was given. Its Data is the
// data. Retry and Comment are always zero in returned events.
// [Decoder.Retry] and [Decoder.Comments] report them instead.
//
// Next returns [io.EOF] when the stream ends. An event not yet ended by a
// blank line is then discarded, as the standard says. Any other read error
// is returned wrapped, and every later call returns the same error.
func (d *Decoder) Next() (Event, error) {
	for {
		line, err := d.readLine()
		if err != nil {
			if err == io.EOF {
				return Event{}, io.EOF
			}
			return Event{}, fmt.Errorf("sse: read event stream: %w", err)
		}
		if len(line) == 0 {
			if e, ok := d.dispatch(); ok {
				return e, nil
			}
			continue
		}
		d.processLine(line)
	}
}

// Retry returns the reconnection time most recently set by a retry field, and
// whether any was set. A retry field counts when its line has been read, even
// if the event it is part of is never dispatched.
func (d *Decoder) Retry() (time.Duration, bool) {
	return d.retry, d.retrySet
}

// Comments returns how many comment lines have been read so far. Servers send
// comments as heartbeats.
func (d *Decoder) Comments() int {
	return d.comments
}

// readLine returns the next line without its line end. The line is valid
// until the next call. At the end of the stream a line without a line end is
// discarded and the read error returned.
func (d *Decoder) readLine() ([]byte, error) {
	if cap(d.line) > maxKeptDecodeBuf {
		d.line = nil
	}
	d.line = d.line[:0]
	for {
		b, err := d.buffered()
		if err != nil {
			return nil, err
		}
		if d.skipLF {
			d.skipLF = false
			if b[0] == '\n' {
				d.discard(1)
				continue
			}
		}
		i := indexLineEnd(b)
		if i < 0 {
			d.line = append(d.line, b...)
			d.discard(len(b))
			continue
		}
		var line []byte
		if len(d.line) == 0 {
			line = b[:i] // valid until the next read from d.r
		} else {
			d.line = append(d.line, b[:i]...)
			line = d.line
		}
		d.skipLF = b[i] == '\r'
		d.discard(i + 1)
		if !d.started {
			d.started = true
			line = bytes.TrimPrefix(line, []byte("\xEF\xBB\xBF"))
		}
		return line, nil
	}
}

// buffered returns the bytes buffered in d.r, reading if there are none.
func (d *Decoder) buffered() ([]byte, error) {
	if d.err != nil {
		return nil, d.err
	}
	if d.r.Buffered() == 0 {
		if _, err := d.r.Peek(1); err != nil {
			d.err = err
			return nil, err
		}
	}
	b, _ := d.r.Peek(d.r.Buffered())
	return b, nil
}

// discard drops n bytes that buffered returned.
func (d *Decoder) discard(n int) {
	_, _ = d.r.Discard(n) // cannot fail, because the bytes are buffered
}

// indexLineEnd returns the index of the first CR or LF in b, or -1.
func indexLineEnd(b []byte) int {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return bytes.IndexByte(b, '\r')
	}
	if j := bytes.IndexByte(b[:i], '\r'); j >= 0 {
		return j
	}
	return i
}

// processLine interprets one non-empty line, which is a comment or a field.
// It splits the raw bytes on ':' and ' ' before decoding UTF-8. That gives
// the same result as decoding first, because ASCII bytes are never part of a
// multi-byte sequence and an invalid sequence ends before one.
func (d *Decoder) processLine(line []byte) {
	if line[0] == ':' {
		d.comments++
		return
	}
	name, value := line, []byte(nil)
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		name, value = line[:i], line[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	switch string(name) {
	case "event":
		d.typ = appendValidUTF8(d.typ[:0], value)
	case "data":
		d.data = appendValidUTF8(d.data, value)
		d.data = append(d.data, '\n')
	case "id":
		if bytes.IndexByte(value, 0) < 0 {
			d.id = appendValidUTF8(d.id[:0], value)
		}
	case "retry":
		if r, ok := parseRetry(value); ok {
			d.retry, d.retrySet = r, true
		}
	}
}

// dispatch ends the current event at a blank line and reports whether there
// is one to return. An event without data lines is not dispatched.
func (d *Decoder) dispatch() (Event, bool) {
	defer func() {
		if cap(d.data) > maxKeptDecodeBuf {
			d.data = nil
		}
		d.data, d.typ = d.data[:0], d.typ[:0]
	}()
	if len(d.data) == 0 {
		return Event{}, false
	}
	// The last event ID string is set at every dispatch, even one without
	// data, but it only shows in returned events, so it is computed here.
	if string(d.id) != d.lastID {
		d.lastID = string(d.id)
	}
	name := "message"
	if len(d.typ) > 0 {
		if string(d.typ) != d.lastName {
			d.lastName = string(d.typ)
		}
		name = d.lastName
	}
	return Event{
		ID:   d.lastID,
		Name: name,
		Data: string(d.data[:len(d.data)-1]), // every data line ends with LF, so drop the last one
	}, true
}

// parseRetry interprets the value of a retry field, which must be a
// non-empty run of ASCII digits counting milliseconds. A value too large for
// a [time.Duration] is clamped to the largest whole number of milliseconds
// that a Duration holds.
func parseRetry(v []byte) (time.Duration, bool) {
	if len(v) == 0 {
		return 0, false
	}
	const maxMs = math.MaxInt64 / int64(time.Millisecond)
	var ms int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		if digit := int64(c - '0'); ms <= (maxMs-digit)/10 {
			ms = ms*10 + digit
		} else {
			ms = maxMs
		}
	}
	return time.Duration(ms) * time.Millisecond, true
}

// appendValidUTF8 appends src to dst, decoded as the WHATWG "UTF-8 decode"
// does. Each maximal subpart of an invalid sequence becomes one U+FFFD.
func appendValidUTF8(dst, src []byte) []byte {
	if utf8.Valid(src) {
		return append(dst, src...)
	}
	for len(src) > 0 {
		if src[0] < utf8.RuneSelf {
			dst = append(dst, src[0])
			src = src[1:]
			continue
		}
		if r, n := utf8.DecodeRune(src); r != utf8.RuneError || n > 1 {
			dst = append(dst, src[:n]...)
			src = src[n:]
			continue
		}
		dst = utf8.AppendRune(dst, utf8.RuneError)
		src = src[invalidUTF8Len(src):]
	}
	return dst
}

// invalidUTF8Len returns the length of the maximal subpart at the start of
// b, where b does not start a valid UTF-8 sequence. The maximal subpart is
// the longest prefix that some valid sequence starts with, or 1 byte when
// there is none.
func invalidUTF8Len(b []byte) int {
	need, lo, hi := 0, byte(0x80), byte(0xBF)
	switch c := b[0]; {
	case 0xC2 <= c && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case c == 0xED:
		need, hi = 2, 0x9F
	case 0xE1 <= c && c <= 0xEF:
		need = 2
	case c == 0xF0:
		need, lo = 3, 0x90
	case 0xF1 <= c && c <= 0xF3:
		need = 3
	case c == 0xF4:
		need, hi = 3, 0x8F
	default:
		return 1
	}
	n := 1
	for n <= need && n < len(b) && lo <= b[n] && b[n] <= hi {
		lo, hi = 0x80, 0xBF
		n++
	}
	return n
}
