// Package wire serves the event stream typed by hand on the /wire page.
//
// GET /wire/stream answers exactly the bytes it is given, as a
// text/event-stream for the browser's own EventSource to read.
// POST /wire/parse answers what this project's spec decoder,
// [sse.Decoder], makes of the same bytes. The page puts the two side by
// side. The page's presets, one per pitfall of the format, are here too.
package wire

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sse-demo/movingobject/stream/sse"
)

// MaxBytes is the most bytes of stream that either endpoint takes: the
// decoded raw of GET /wire/stream, or the body of POST /wire/parse. More
// gets 413.
const MaxBytes = 8192

// maxRawLen is the longest raw parameter that can decode to at most
// [MaxBytes]: its padded base64url length. A longer one gets 413 without
// being decoded.
var maxRawLen = base64.URLEncoding.EncodedLen(MaxBytes)

// maxURILen bounds the request URI of GET /wire/stream, with room for the
// longest raw and more. A longer one gets 414. Past the server's limit on
// request headers, net/http answers 431 before the handler runs.
const maxURILen = 12 << 10

// readTimeout bounds the reading of the body of POST /wire/parse, so that
// a client that sends it slowly, or never, cannot hold the request open.
const readTimeout = 10 * time.Second

// The answers to a refused request. Each names the parameter or the body.
var (
	msgRawMissing  = "raw: missing: give the stream's bytes in base64url (RFC 4648 §5), padding optional"
	msgRawTwice    = "raw: given more than once; give it once"
	msgRawEscape   = "raw: malformed: the query holds a bad %-escape; base64url needs no escaping"
	msgRawTooLarge = "raw: must decode to at most " + strconv.Itoa(MaxBytes) + " bytes"
	msgURITooLong  = "URI too long: raw must decode to at most " + strconv.Itoa(MaxBytes) + " bytes"
	msgBodyTooBig  = "body: must be at most " + strconv.Itoa(MaxBytes) + " bytes"
	msgBodySlow    = "body: not received within " + readTimeout.String()
	msgMethod      = "method: only POST, with the stream's bytes as the body"
)

// Stream serves GET /wire/stream?raw=B, where B is a stream's bytes in
// base64url (RFC 4648 §5, padding optional). The answer is 200 with
// exactly those bytes as a text/event-stream, with no field added. Then
// the response ends, and an EventSource reading it fires error and would
// reconnect. raw= with nothing after it is the empty stream. Each refusal
// has a plain-text reason. A missing, repeated or malformed raw gets 400.
// A raw that decodes to more than [MaxBytes] gets 413. A request URI
// longer than 12 KiB gets 414.
func Stream(c echo.Context) error {
	req := c.Request()
	if len(req.RequestURI) > maxURILen {
		return echo.NewHTTPError(http.StatusRequestURITooLong, msgURITooLong)
	}
	query, qerr := url.ParseQuery(req.URL.RawQuery) // the parameters it could parse, and the first it could not
	raws, ok := query["raw"]
	switch {
	case !ok && qerr != nil:
		return echo.NewHTTPError(http.StatusBadRequest, msgRawEscape)
	case !ok:
		return echo.NewHTTPError(http.StatusBadRequest, msgRawMissing)
	case len(raws) > 1:
		return echo.NewHTTPError(http.StatusBadRequest, msgRawTwice)
	case len(raws[0]) > maxRawLen:
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge, msgRawTooLarge)
	}
	b, err := DecodeRaw(raws[0])
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "raw: "+err.Error())
	}
	if len(b) > MaxBytes {
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge, msgRawTooLarge)
	}
	h := c.Response().Header()
	h.Set(echo.HeaderCacheControl, "no-store")
	h.Set(echo.HeaderXContentTypeOptions, "nosniff")
	// The answer is never a document. Nothing in it may run or load,
	// should a browser ever be shown it as one.
	h.Set(echo.HeaderContentSecurityPolicy, "default-src 'none'; frame-ancestors 'none'")
	h.Set(echo.HeaderContentLength, strconv.Itoa(len(b)))
	if err := c.Blob(http.StatusOK, "text/event-stream", b); err != nil {
		return fmt.Errorf("write the stream of %d bytes: %w", len(b), err)
	}
	return nil
}

// DecodeRaw decodes a raw parameter. It takes base64url, the alphabet of
// RFC 4648 §5 (A–Z, a–z, 0–9, '-' and '_'), with or without its '='
// padding. It refuses any other character, even the line breaks that
// [base64] skips.
func DecodeRaw(raw string) ([]byte, error) {
	padded := false
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
			if padded {
				return nil, fmt.Errorf("not base64url (RFC 4648 §5): %q after the padding, at %d", c, i)
			}
		case c == '=':
			padded = true
		default:
			return nil, fmt.Errorf("not base64url (RFC 4648 §5, A-Z a-z 0-9 - _): %q at %d", c, i)
		}
	}
	enc := base64.RawURLEncoding
	if padded {
		enc = base64.URLEncoding
	}
	b, err := enc.Strict().DecodeString(raw)
	if err != nil {
		return nil, fmt.Errorf("not base64url (RFC 4648 §5): %w", err)
	}
	return b, nil
}

// Parse serves POST /wire/parse. The body is a stream's bytes, at most
// [MaxBytes] (more gets 413). The answer is [Parsed] as JSON: what the
// spec decoder makes of them. Any other method gets 405 with Allow: POST.
func Parse(c echo.Context) error {
	req := c.Request()
	if req.Method != http.MethodPost {
		c.Response().Header().Set(echo.HeaderAllow, http.MethodPost)
		return echo.NewHTTPError(http.StatusMethodNotAllowed, msgMethod)
	}
	if req.ContentLength > MaxBytes {
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge, msgBodyTooBig)
	}
	// Not every writer can set a deadline (a test's recorder cannot). The
	// server's own timeouts hold then.
	_ = http.NewResponseController(c.Response()).SetReadDeadline(time.Now().Add(readTimeout))
	body, err := io.ReadAll(io.LimitReader(req.Body, MaxBytes+1))
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return echo.NewHTTPError(http.StatusRequestTimeout, msgBodySlow)
	case err != nil:
		return echo.NewHTTPError(http.StatusBadRequest, "body: "+err.Error())
	case len(body) > MaxBytes:
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge, msgBodyTooBig)
	}
	p, err := Decode(body)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return c.JSON(http.StatusOK, p)
}

// Parsed is what the spec decoder makes of a stream: the answer of
// POST /wire/parse.
type Parsed struct {
	// Events are the events dispatched, in order. It is never nil, so
	// that no event is [] in JSON.
	Events []Event `json:"events"`
	// Retry is the reconnection time in milliseconds that the last valid
	// retry field set, or nil (JSON null) when none did. A value too
	// large for a [time.Duration] is clamped to the largest it holds.
	Retry *int64 `json:"retry"`
}

// Event is one dispatched event, with the values a browser's MessageEvent
// would have.
type Event struct {
	Type        string `json:"type"`        // the event type: "message" when the stream named none
	Data        string `json:"data"`        // the data, its lines joined by LF
	LastEventID string `json:"lastEventId"` // the last event ID at dispatch
}

// Decode reads a whole stream held in memory with [sse.Decoder], as a
// browser would read it. It returns the events dispatched and the last
// valid retry.
func Decode(b []byte) (Parsed, error) {
	d := sse.NewDecoder(bytes.NewReader(b))
	p := Parsed{Events: []Event{}}
	for {
		e, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return p, fmt.Errorf("decode the stream of %d bytes: %w", len(b), err)
		}
		p.Events = append(p.Events, Event{Type: e.Name, Data: e.Data, LastEventID: e.ID})
	}
	if r, ok := d.Retry(); ok {
		ms := r.Milliseconds()
		p.Retry = &ms
	}
	return p, nil
}
