package sseload

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sse-demo/movingobject/stream/sse"
)

// followSSE keeps one stream open until ctx is done, reopening it with its
// last event id when it ends.
func followSSE(ctx context.Context, cl *client, u *url.URL) {
	var lastID string
	reconnect(ctx, cl, func() error {
		conn, err := cl.dial(ctx, "tcp", u.Host)
		if err != nil {
			return err
		}
		defer conn.Close()
		stop := context.AfterFunc(ctx, func() { conn.Close() })
		defer stop()
		req := bytes.NewBufferString("GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\n")
		cl.sseHeader(lastID).Write(req)
		req.WriteString("\r\n")
		if _, err := req.WriteTo(conn); err != nil {
			return fmt.Errorf("send request: %w", err)
		}
		br := bufio.NewReaderSize(conn, 2048)
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			return fmt.Errorf("read response: %w", err)
		}
		defer res.Body.Close()
		return cl.readStream(res, &lastID)
	})
}

// sseHeader returns the header of an event stream's request, over
// HTTP/1.1 or HTTP/3: where to resume (the last event id, if any) and the
// client's Accept-Encoding.
func (cl *client) sseHeader(lastID string) http.Header {
	h := http.Header{"Accept": {"text/event-stream"}}
	if lastID != "" {
		h.Set("Last-Event-ID", lastID)
	}
	if cl.acceptEncoding != "" {
		h.Set("Accept-Encoding", cl.acceptEncoding)
	}
	return h
}

// readStream counts res, a response just received, and reads its event
// stream, keeping the id of each init or move in lastID.
func (cl *client) readStream(res *http.Response, lastID *string) error {
	cl.c.answered()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s", res.Status)
	}
	body, err := decodeBody(res)
	if err != nil {
		return fmt.Errorf("%s stream: %w", res.Header.Get("Content-Encoding"), err)
	}
	if body != res.Body {
		cl.c.encoded.Add(1)
	}
	cl.c.opened()
	defer cl.c.closed()
	dec := sse.NewDecoder(body)
	for {
		ev, err := dec.Next()
		if err != nil {
			return fmt.Errorf("read stream: %w", err)
		}
		if ev.Name != "init" && ev.Name != "move" {
			continue // the play room's viewers event, say
		}
		now := time.Now()
		seq, ts, ok := parseMove(ev.Data)
		if !ok {
			return fmt.Errorf("event %q: no seq in %q", ev.Name, ev.Data)
		}
		switch ev.Name {
		case "init":
			cl.init(seq)
		case "move":
			cl.move(seq, ts, now)
		}
		*lastID = ev.ID
	}
}

// parseMove reads seq and ts from the data of an init or move event,
// without the cost of a JSON decoder. An init has no ts, so ts is 0 for it.
func parseMove(data string) (seq uint64, ts int64, ok bool) {
	num := func(key string) (string, bool) {
		i := strings.Index(data, key)
		if i < 0 {
			return "", false
		}
		s := data[i+len(key):]
		j := strings.IndexAny(s, ",}")
		if j < 0 {
			return "", false
		}
		return s[:j], true
	}
	s, ok := num(`"seq":`)
	if !ok {
		return 0, 0, false
	}
	seq, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	if s, ok := num(`"ts":`); ok {
		ts, _ = strconv.ParseInt(s, 10, 64)
	}
	return seq, ts, true
}

// decodeBody returns the body of res decoded from its content coding.
func decodeBody(res *http.Response) (io.Reader, error) {
	switch coding := res.Header.Get("Content-Encoding"); coding {
	case "":
		return res.Body, nil
	case "gzip":
		return gzip.NewReader(res.Body)
	case "deflate":
		return zlib.NewReader(res.Body)
	default:
		return nil, fmt.Errorf("content coding %q: want gzip or deflate", coding)
	}
}
