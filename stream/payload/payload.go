// Package payload is the contract between the server and its clients.
//
// It names the events and defines the JSON of their data. Both are the same
// on every route and transport. Change a field here and every stream changes
// with it. The pages (static/*.js) and the load generator
// (internal/sseload) read these fields.
//
// The encoders append by hand rather than through encoding/json. This way a
// move costs no allocation and no reflection on the hot path. The tests
// check the encoders against encoding/json's output for the same struct.
package payload

import (
	"strconv"
	"unicode/utf8"

	"github.com/sse-demo/movingobject/simulation"
)

// The event names of a stream. A browser listens with
// EventSource.addEventListener(name, …).
const (
	// EventInit opens every stream. It carries the walk's parameters and
	// where the walk stands. Its id is the resume token of that position.
	EventInit = "init"
	// EventMove is one step of the walk.
	EventMove = "move"
	// EventViewers is the number of open streams of the play room, across
	// all instances. It is sent when a stream opens, then whenever the
	// number changes, at most once a second. It has no id, so a client's
	// last event id stays that of its last move.
	EventViewers = "viewers"
)

// Init is the data of the [EventInit] event.
type Init struct {
	Width      int    `json:"width"`       // the box, in px
	Height     int    `json:"height"`      //
	Step       int    `json:"step"`        // the largest move, in px
	IntervalMS int64  `json:"interval_ms"` // time between moves
	Seed       uint64 `json:"seed"`        // the walk's seed (the same seed gives the same walk)
	Resumed    bool   `json:"resumed"`     // the stream continues from the client's Last-Event-ID
	Seq        uint64 `json:"seq"`         // the move the walk stands at
	X          int    `json:"x"`           // its position
	Y          int    `json:"y"`           //
	// RetryMS repeats the retry field sent just before. EventSource hides
	// that field from scripts, so a page reads it from here.
	RetryMS int64 `json:"retry_ms"`
}

// NewInit returns the init of a walk with box and pace cfg and this seed,
// standing at pos. Resumed says that the stream continues from the
// client's last event. The transport sets RetryMS.
func NewInit(cfg simulation.Config, seed uint64, pos simulation.Position, resumed bool) Init {
	return Init{
		Width: cfg.Width, Height: cfg.Height, Step: cfg.Step, IntervalMS: cfg.Interval.Milliseconds(),
		Seed: seed, Resumed: resumed, Seq: pos.Seq, X: pos.X, Y: pos.Y,
	}
}

// Move is the data of the [EventMove] event.
type Move struct {
	// Seq is 1 for the first move of a walk. The shared world numbers its
	// moves from its start time.
	Seq uint64 `json:"seq"`
	X   int    `json:"x"`
	Y   int    `json:"y"`
	// TS is when the move was made, in Unix milliseconds. For the shared
	// world, it is when the move was due. For a per-viewer walk, it is when
	// the move was written. A client's delivery delay is its clock minus TS.
	TS int64 `json:"ts"`
}

// Directions of a [Push], as the client sends and the room replays them.
const (
	DirUp    = "up"
	DirDown  = "down"
	DirLeft  = "left"
	DirRight = "right"
)

// Push is a visitor's push of the play room's object. ID is the client's
// idempotency key, and Dir is one of [DirUp], [DirDown], [DirLeft] and
// [DirRight]. A Push is the body of POST /play/push, and an element of the
// pushes of a [PlayMove].
type Push struct {
	ID  string `json:"id"`
	Dir string `json:"dir"`
}

// PlayMove is the data of a move of the play room. It is a [Move] with the
// pushes applied before its step, in the order of the log. Pushes is left
// out when there were none.
type PlayMove struct {
	Move
	Pushes []Push `json:"pushes,omitempty"`
}

// AppendJSON appends m as JSON, as [encoding/json] would, to dst.
func (m PlayMove) AppendJSON(dst []byte) []byte {
	dst = m.Move.AppendJSON(dst)
	if len(m.Pushes) == 0 {
		return dst
	}
	dst = append(dst[:len(dst)-1], `,"pushes":[`...) // reopen the move's object
	for i, p := range m.Pushes {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"id":`...)
		dst = appendString(dst, p.ID)
		dst = append(dst, `,"dir":`...)
		dst = appendString(dst, p.Dir)
		dst = append(dst, '}')
	}
	return append(dst, "]}"...)
}

// Viewers is the data of the [EventViewers] event.
type Viewers struct {
	Viewers int `json:"viewers"`
}

// AppendJSON appends v as JSON, as [encoding/json] would, to dst.
func (v Viewers) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"viewers":`...)
	dst = strconv.AppendInt(dst, int64(v.Viewers), 10)
	return append(dst, '}')
}

// appendString appends s as a JSON string, escaped as [encoding/json]
// escapes it. That includes the HTML characters, U+2028 and U+2029, and
// invalid UTF-8 becomes U+FFFD. The server only sends ids and directions it
// validated, but the encoder does not rely on it.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			switch {
			case b == '"' || b == '\\':
				dst = append(dst, '\\', b)
			case b == '\n':
				dst = append(dst, '\\', 'n')
			case b == '\r':
				dst = append(dst, '\\', 'r')
			case b == '\t':
				dst = append(dst, '\\', 't')
			case b == '\b':
				dst = append(dst, '\\', 'b')
			case b == '\f':
				dst = append(dst, '\\', 'f')
			case b < 0x20 || b == '<' || b == '>' || b == '&':
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xf])
			default:
				dst = append(dst, b)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, "\uFFFD"...) // as encoding/json writes it since Go 1.27
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}

// AppendMessage appends m as a WebSocket message. Each text message is one
// JSON object, with "type":"move" first and then the move's fields. That is
// what [encoding/json] writes for a struct with a Type field and an
// embedded Move. WebSocket has no event names, so the type says what the
// message is.
func (m Move) AppendMessage(dst []byte) []byte {
	return appendTyped(dst, EventMove, m.AppendJSON)
}

// AppendMessage appends in as a WebSocket message, with "type":"init"
// first and then the init's fields.
func (in Init) AppendMessage(dst []byte) []byte {
	return appendTyped(dst, EventInit, in.AppendJSON)
}

// AppendMessage appends the event name with data, a JSON object, as a
// WebSocket message. The message holds "type" and the name first, then
// data's fields.
func AppendMessage(dst []byte, name string, data []byte) []byte {
	return appendTyped(dst, name, func(dst []byte) []byte { return append(dst, data...) })
}

// appendTyped appends {"type":"name", then the fields that appendJSON
// writes after its opening brace. An object with no fields gives
// {"type":"name"}.
func appendTyped(dst []byte, name string, appendJSON func([]byte) []byte) []byte {
	dst = append(dst, `{"type":`...)
	dst = appendString(dst, name)
	start := len(dst)
	dst = appendJSON(append(dst, ','))
	if len(dst) > start+2 && dst[start+1] == '{' {
		dst = append(dst[:start+1], dst[start+2:]...) // drop its opening brace
	}
	if len(dst) == start+2 && dst[start+1] == '}' { // no fields, so drop the comma
		dst = append(dst[:start], '}')
	}
	return dst
}

// Poll is the body of an answer to a poll. Moves holds the moves after the
// client's seq, oldest first. Init tells the client where the world stands.
// It is sent when the client had no seq, or was gone longer than the replay
// window.
type Poll struct {
	Init  *Init  `json:"init,omitempty"`
	Moves []Move `json:"moves"`
}

// AppendPoll appends a [Poll] body as JSON, as [encoding/json] would. It
// takes moves already encoded with [Move.AppendJSON], because a poll answer
// is put together from the encodings the hub keeps, not encoded anew.
func AppendPoll(dst []byte, init *Init, moves [][]byte) []byte {
	dst = append(dst, '{')
	if init != nil {
		dst = append(dst, `"init":`...)
		dst = init.AppendJSON(dst)
		dst = append(dst, ',')
	}
	dst = append(dst, `"moves":[`...)
	for i, m := range moves {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, m...)
	}
	return append(dst, "]}"...)
}

// AppendJSON appends m as JSON, as [encoding/json] would, to dst.
func (m Move) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"seq":`...)
	dst = strconv.AppendUint(dst, m.Seq, 10)
	dst = appendXY(dst, m.X, m.Y)
	dst = append(dst, `,"ts":`...)
	dst = strconv.AppendInt(dst, m.TS, 10)
	return append(dst, '}')
}

// AppendJSON appends in as JSON, as [encoding/json] would, to dst.
func (in Init) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"width":`...)
	dst = strconv.AppendInt(dst, int64(in.Width), 10)
	dst = append(dst, `,"height":`...)
	dst = strconv.AppendInt(dst, int64(in.Height), 10)
	dst = append(dst, `,"step":`...)
	dst = strconv.AppendInt(dst, int64(in.Step), 10)
	dst = append(dst, `,"interval_ms":`...)
	dst = strconv.AppendInt(dst, in.IntervalMS, 10)
	dst = append(dst, `,"seed":`...)
	dst = strconv.AppendUint(dst, in.Seed, 10)
	dst = append(dst, `,"resumed":`...)
	dst = strconv.AppendBool(dst, in.Resumed)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendUint(dst, in.Seq, 10)
	dst = appendXY(dst, in.X, in.Y)
	dst = append(dst, `,"retry_ms":`...)
	dst = strconv.AppendInt(dst, in.RetryMS, 10)
	return append(dst, '}')
}

func appendXY(dst []byte, x, y int) []byte {
	dst = append(dst, `,"x":`...)
	dst = strconv.AppendInt(dst, int64(x), 10)
	dst = append(dst, `,"y":`...)
	return strconv.AppendInt(dst, int64(y), 10)
}
