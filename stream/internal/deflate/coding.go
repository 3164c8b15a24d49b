package deflate

import (
	"strconv"
	"strings"
)

// Coding is a content coding whose body is a deflate stream.
type Coding uint8

// The codings a stream can be sent in.
const (
	// None sends the stream as it is.
	None Coding = iota
	// Gzip is RFC 1952's gzip: a 10-byte header, then the deflate stream.
	Gzip
	// Deflate is HTTP's "deflate": RFC 1950's zlib, a 2-byte header, then
	// the deflate stream. (Browsers also accept a raw deflate stream under
	// this name; this package sends the zlib one the RFC names.)
	Deflate
)

// String returns the coding's name in Content-Encoding; "" for None.
func (c Coding) String() string {
	switch c {
	case Gzip:
		return "gzip"
	case Deflate:
		return "deflate"
	}
	return ""
}

// The headers that start a response in each coding. The gzip header names
// no file and no time (MTIME 0), and an unknown system (OS 255). The zlib
// header names a 32 KiB window and the best compression, and checks
// (0x78<<8 | 0xda) % 31 == 0.
var (
	gzipHeader = []byte{0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0xff}
	zlibHeader = []byte{0x78, 0xda}
)

// AppendHeader appends the bytes that start a response in c.
func (c Coding) AppendHeader(dst []byte) []byte {
	switch c {
	case Gzip:
		return append(dst, gzipHeader...)
	case Deflate:
		return append(dst, zlibHeader...)
	}
	return dst
}

// Negotiate picks the coding of a response from the request's
// Accept-Encoding field lines (RFC 9110, section 12.5.3): gzip or deflate,
// whichever has the higher q-value (gzip on a tie), when it is above 0 and
// not below identity's. A coding not listed takes the q-value of "*". No
// field, an empty one, or one that lists neither coding gives None. An
// element that does not parse is skipped.
func Negotiate(fields []string) Coding {
	q := map[string]float64{}
	for _, field := range fields {
		for elem := range strings.SplitSeq(field, ",") {
			name, weight, ok := parseElem(elem)
			if !ok {
				continue
			}
			if name == "x-gzip" {
				name = "gzip"
			}
			if _, seen := q[name]; !seen {
				q[name] = weight
			}
		}
	}
	weight := func(name string) (float64, bool) {
		if w, ok := q[name]; ok {
			return w, true
		}
		w, ok := q["*"]
		return w, ok
	}
	best, bestQ := None, 0.0
	for _, c := range []Coding{Gzip, Deflate} {
		if w, _ := weight(c.String()); w > bestQ {
			best, bestQ = c, w
		}
	}
	if id, ok := q["identity"]; ok && id > bestQ {
		return None
	}
	return best
}

// parseElem parses one element of Accept-Encoding: a coding, and an
// optional weight ";q=" with a q-value from 0 to 1 in at most three
// decimals. It lowercases the coding.
func parseElem(elem string) (name string, q float64, ok bool) {
	name, params, _ := strings.Cut(elem, ";")
	name = strings.ToLower(strings.TrimSpace(name))
	if name == "" || strings.ContainsAny(name, " \t\"=") {
		return "", 0, false
	}
	q = 1
	for p := range strings.SplitSeq(params, ";") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		k, v, found := strings.Cut(p, "=")
		if !found || !strings.EqualFold(strings.TrimSpace(k), "q") {
			return "", 0, false // accept-encoding takes no parameter but q
		}
		v = strings.TrimSpace(v)
		if !validQ(v) {
			return "", 0, false
		}
		q, _ = strconv.ParseFloat(v, 64)
	}
	return name, q, true
}

// validQ reports whether v is a qvalue: "0" or "1", each with up to three
// decimals after a dot, and none above 1.
func validQ(v string) bool {
	whole, frac, dot := strings.Cut(v, ".")
	if whole != "0" && whole != "1" || dot && len(frac) > 3 {
		return false
	}
	for _, r := range frac {
		if r < '0' || r > '9' || whole == "1" && r != '0' {
			return false
		}
	}
	return true
}
