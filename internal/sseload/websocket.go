package sseload

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/coder/websocket"
)

// wsMessage is the part of a WebSocket message that a client reads. An
// init looks like {"type":"init",...,"seq":N,...}, and a move like
// {"type":"move","seq","x","y","ts"}.
type wsMessage struct {
	Type string `json:"type"`
	Seq  uint64 `json:"seq"`
	TS   int64  `json:"ts"`
}

// after returns u with after=SEQ, the last move cl has, if any: where a
// WebSocket or WebTransport client resumes.
func (cl *client) after(u *url.URL) url.URL {
	target := *u
	if cl.haveSeq {
		q := target.Query()
		q.Set("after", strconv.FormatUint(cl.lastSeq, 10))
		target.RawQuery = q.Encode()
	}
	return target
}

// followWebSocket keeps one WebSocket open until ctx is done, reopening it
// with after=SEQ, the last move it has, when it ends.
func followWebSocket(ctx context.Context, cl *client, u *url.URL) {
	var buf []byte
	reconnect(ctx, cl, func() error {
		target := cl.after(u)
		// A transport of its own dials from the client's address and
		// counts the bytes. After the handshake the connection belongs
		// to the WebSocket alone, and the transport holds nothing.
		hc := &http.Client{Transport: &http.Transport{DialContext: cl.dial}}
		conn, _, err := websocket.Dial(ctx, target.String(), &websocket.DialOptions{HTTPClient: hc})
		if err != nil {
			return err
		}
		defer conn.CloseNow()
		cl.c.answered()
		cl.c.opened()
		defer cl.c.closed()
		for {
			typ, r, err := conn.Reader(ctx)
			if err != nil {
				return fmt.Errorf("read message: %w", err)
			}
			buf, err = readAll(reuse(buf), r)
			if err != nil {
				return fmt.Errorf("read message: %w", err)
			}
			if typ != websocket.MessageText {
				return fmt.Errorf("message %.100q: want text, got %v", buf, typ)
			}
			if err := cl.message(buf, time.Now()); err != nil {
				return err
			}
		}
	})
}

// message takes a WebSocket message, or a line of a WebTransport stream,
// received at now.
func (cl *client) message(buf []byte, now time.Time) error {
	var m wsMessage
	if err := json.Unmarshal(buf, &m); err != nil {
		return fmt.Errorf("message %.100q: %w", buf, err)
	}
	switch m.Type {
	case "init":
		cl.init(m.Seq)
	case "move":
		if m.Seq == 0 {
			return fmt.Errorf("message %.100q: a move without seq", buf)
		}
		cl.move(m.Seq, m.TS, now)
	default:
		return fmt.Errorf("message %.100q: unknown type", buf)
	}
	return nil
}
