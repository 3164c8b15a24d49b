package wire

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Preset is a stream the /wire page offers, one per pitfall of the format,
// with the rule it shows.
type Preset struct {
	Name  string // the page's select value: a short token
	Label string // what the select shows
	Raw   string // the stream's bytes, as sent
	Rule  string // one sentence on the rule, quoting the WHATWG HTML standard
}

// Example is the stream the /wire page starts with: a comment, an id, a
// named event and a message.
const Example = ": a comment\nid: 1\nevent: greeting\ndata: hello\n\ndata: world\n\n"

// Presets are the page's presets, in the select's order. Each shows a
// pitfall of the format with a stream short enough to read at a glance.
// The quotes are from the WHATWG HTML standard, "Server-sent events".
var Presets = []Preset{
	{
		Name: "blank-line", Label: "Missing blank line",
		Raw:  "data: first\n\ndata: second\n",
		Rule: `An event is dispatched only by the blank line that ends it, so the last one here is lost: "If the file ends in the middle of an event, before the final empty line, the incomplete event is not dispatched."`,
	},
	{
		Name: "space", Label: "The one leading space",
		Raw:  "data: one space\n\ndata:no space\n\ndata:  two spaces\n\n",
		Rule: `Only the first space after the colon goes: "If value starts with a U+0020 SPACE character, remove it from value."`,
	},
	{
		Name: "cr", Label: "CR line ends",
		Raw:  "data: a CR\rdata: ends a line\r\rdata: and so does CRLF\r\n\r\n",
		Rule: `A line ends at "a U+000D CARRIAGE RETURN U+000A LINE FEED (CRLF) character pair, a single U+000A LINE FEED (LF) character not preceded by a U+000D CARRIAGE RETURN (CR) character, and a single U+000D CARRIAGE RETURN (CR) character not followed by a U+000A LINE FEED (LF) character", in any mix.`,
	},
	{
		Name: "id-reset", Label: "A bare id resets",
		Raw:  "id: 7\ndata: a\n\ndata: b keeps id 7\n\nid\ndata: c has none\n\n",
		Rule: `The last event ID holds until the server sets it again ("The buffer does not get reset"), and a line "id" alone sets it to the empty string, since a line without a colon is processed "using the whole line as the field name, and the empty string as the field value".`,
	},
	{
		Name: "data-empty", Label: "data with no value",
		Raw:  "data\n\ndata:\n\ndata\ndata\n\n",
		Rule: `A data line with no value still adds a line feed, so it dispatches an event with empty data, and two of them one whose data is a single LF: "Append the field value to the data buffer, then append a single U+000A LINE FEED (LF) character to the data buffer."`,
	},
	{
		Name: "bom", Label: "Byte order mark",
		Raw:  "\xEF\xBB\xBFdata: first\n\n\xEF\xBB\xBFdata: second\n\n",
		Rule: `One BOM at the very start is dropped ("The UTF-8 decode algorithm strips one leading UTF-8 Byte Order Mark (BOM), if any"), and a later one is part of its line: here of the field name U+FEFF "data", which is ignored.`,
	},
	{
		Name: "utf8", Label: "Bytes that are not UTF-8",
		Raw:  "data: caf\xE9 in Latin-1\n\ndata: cut \xE2\x82 short, whole \xE2\x82\xAC\n\n",
		Rule: `The stream is UTF-8 whatever its Content-Type says ("Streams must be decoded using the UTF-8 decode algorithm"), and each invalid sequence becomes one U+FFFD REPLACEMENT CHARACTER.`,
	},
	{
		Name: "case", Label: "Field names are case-sensitive",
		Raw:  "Data: not data\nDATA: nor this\ndata: only this\n\nEvent: ignored\ndata: still a message\n\n",
		Rule: `"Field names must be compared literally, with no case folding performed", so Data, DATA and Event are unknown fields, and of those the standard says "The field is ignored."`,
	},
	{
		Name: "multi-line", Label: "Data on several lines",
		Raw:  "data: line one\ndata: line two\n\n",
		Rule: `Each data line adds its value and a line feed, and at dispatch only the last one goes: "If the data buffer's last character is a U+000A LINE FEED (LF) character, then remove the last character from the data buffer."`,
	},
	{
		Name: "no-data", Label: "An event without data",
		Raw:  "event: ping\nid: 1\n\ndata: only this one\n\n",
		Rule: `Without a data line nothing is dispatched, though its id still counts: "If the data buffer is an empty string, set the data buffer and the event type buffer to the empty string and return."`,
	},
	{
		Name: "type-reset", Label: "The event type resets",
		Raw:  "event: add\ndata: 1\n\ndata: 2\n\n",
		Rule: `An event type holds for one event only, for after each dispatch the browser must "Set the data buffer and the event type buffer to the empty string."`,
	},
	{
		Name: "retry", Label: "retry takes digits only",
		Raw:  "retry: 3000\nretry: 2.5s\nretry: -1\ndata: x\n\n",
		Rule: `Only digits set the reconnection time, which EventSource keeps to itself and the decoder's column shows: "If the field value consists of only ASCII digits, then interpret the field value as an integer in base ten, and set the event stream's reconnection time to that integer."`,
	},
	{
		Name: "comments", Label: "Comments",
		Raw:  ": a comment, as a heartbeat\ndata: a\n: one inside the event\ndata: b\n\n",
		Rule: `A line that starts with a colon is a comment, even inside an event: "If the line starts with a U+003A COLON character (:)", "Ignore the line."`,
	},
	{
		Name: "nul-id", Label: "NUL in an id",
		Raw:  "id: 1\ndata: a\n\nid: 2\x003\ndata: b keeps id 1\n\n",
		Rule: `An id with a NUL in it is dropped whole: "If the field value does not contain U+0000 NULL, then set the last event ID buffer to the field value. Otherwise, ignore the field."`,
	},
	{
		Name: "error-name", Label: "An event named error",
		Raw:  "event: error\ndata: not a failure\n\nevent: open\ndata: nor this\n\n",
		Rule: `Any name goes, even one of EventSource's own ("change the type of the newly created event to equal the value of the event type buffer"), so an error listener must tell a MessageEvent from a lost connection.`,
	},
}

// Escape writes a stream's bytes as the /wire page's textarea holds them,
// the inverse of the page's reading. A real newline is LF. `\r` is CR,
// `\0` is NUL and `\\` is a backslash. `\xHH` is any other byte that
// would not show: the other control bytes, bytes that are not UTF-8, and
// the bytes of characters that print nothing (spaces but the ASCII one,
// format characters such as the byte order mark).
func Escape(raw string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == '\n' || c == ' ' || ('!' <= c && c <= '~' && c != '\\'):
			b.WriteByte(c)
			i++
			continue
		case c == '\\':
			b.WriteString(`\\`)
			i++
			continue
		case c == '\r':
			b.WriteString(`\r`)
			i++
			continue
		case c == 0:
			b.WriteString(`\0`)
			i++
			continue
		}
		n := 1
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(raw[i:])
			if r != utf8.RuneError || size > 1 {
				if unicode.IsGraphic(r) && !unicode.Is(unicode.Zs, r) {
					b.WriteString(raw[i : i+size])
					i += size
					continue
				}
				n = size
			}
		}
		for _, x := range []byte(raw[i : i+n]) {
			b.WriteString(`\x`)
			b.WriteByte(hex[x>>4])
			b.WriteByte(hex[x&0xF])
		}
		i += n
	}
	return b.String()
}
