package sseload

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// pollBody is the part of a poll answer that a client reads. An answer
// looks like {"init":{...,"seq":N,...},"moves":[{"seq","x","y","ts"},...]}.
type pollBody struct {
	Init *struct {
		Seq uint64 `json:"seq"`
	} `json:"init"`
	Moves []struct {
		Seq uint64 `json:"seq"`
		TS  int64  `json:"ts"`
	} `json:"moves"`
}

// poll runs one poller until ctx is done. The poller uses a keep-alive
// HTTP/1.1 connection of its own, and reopens it after a failure. It asks
// for the moves after the last one it has. With a positive interval it asks
// every interval (short polling). With interval 0 it asks again as soon as
// an answer comes, and asks the server to hold the request up to wait (long
// polling). Its first request has no after and no wait, so the answer's
// init says where the world stands.
func (cl *client) poll(ctx context.Context, u *url.URL, interval, wait time.Duration) {
	p := poller{client: cl, u: u, wait: wait}
	defer p.hangUp()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	next := time.Now()
	for failures := 0; ctx.Err() == nil; {
		if interval > 0 {
			timer.Reset(time.Until(next))
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
			// Ask at a fixed rate. After a late answer, ask at once, but
			// without a burst.
			next = next.Add(interval)
			if now := time.Now(); next.Before(now) {
				next = now
			}
		}
		err := p.ask(ctx)
		if err == nil {
			failures = 0
			continue
		}
		p.hangUp()
		if ctx.Err() != nil {
			return
		}
		cl.c.fail(err)
		cl.c.reconnects.Add(1)
		// A poller that fails waits before it dials again, longer each
		// time, up to a second.
		failures++
		if !sleepUntil(ctx, time.Now().Add(min(time.Duration(failures)*100*time.Millisecond, time.Second))) {
			return
		}
	}
}

// poller is the state of one polling client between two requests.
type poller struct {
	*client
	u       *url.URL
	wait    time.Duration
	conn    net.Conn
	stop    func() bool // ends the AfterFunc that closes conn with the run
	br      *bufio.Reader
	counted bool   // the connection has had an answer, and counts as open
	req     []byte // the request, rewritten for every poll
	body    []byte // the answer's body
}

// ask sends one poll and takes its answer, dialing first if need be.
func (p *poller) ask(ctx context.Context) error {
	if p.conn == nil {
		conn, err := p.dial(ctx, "tcp", p.u.Host)
		if err != nil {
			return err
		}
		p.conn, p.stop = conn, context.AfterFunc(ctx, func() { conn.Close() })
		if p.br == nil {
			p.br = bufio.NewReaderSize(conn, 1024)
		} else {
			p.br.Reset(conn)
		}
	}
	// A long poll is answered within wait. Any answer may take 10 s
	// more than that. A server that takes longer is taken as gone.
	if err := p.conn.SetDeadline(time.Now().Add(p.wait + 10*time.Second)); err != nil {
		return fmt.Errorf("set deadline: %w", err)
	}
	p.req = p.request(p.req[:0])
	if _, err := p.conn.Write(p.req); err != nil {
		return fmt.Errorf("send request: %w", err)
	}
	res, err := http.ReadResponse(p.br, nil)
	if err != nil {
		return fmt.Errorf("read response: %w", err)
	}
	p.body, err = readAll(reuse(p.body), res.Body)
	res.Body.Close()
	now := time.Now()
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	p.c.answered()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s: %.100s", res.Status, p.body)
	}
	if !p.counted {
		p.counted = true
		p.c.opened()
	}
	if err := p.take(p.body, now); err != nil {
		return err
	}
	if res.Close {
		p.hangUp() // the server ends the connection, so dial again next time
	}
	return nil
}

// request appends the next poll's request to dst, a GET of the URL. Once
// the client has a seq, the query adds after=SEQ, and wait=MS for a long
// poll.
func (p *poller) request(dst []byte) []byte {
	dst = append(dst, "GET "...)
	dst = append(dst, p.u.RequestURI()...)
	if p.haveSeq {
		if p.u.RawQuery != "" {
			dst = append(dst, '&')
		} else {
			dst = append(dst, '?')
		}
		dst = append(dst, "after="...)
		dst = strconv.AppendUint(dst, p.lastSeq, 10)
		if p.wait > 0 {
			dst = append(dst, "&wait="...)
			dst = strconv.AppendInt(dst, p.wait.Milliseconds(), 10)
		}
	}
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, p.u.Host...)
	return append(dst, "\r\nAccept: application/json\r\n\r\n"...)
}

// take counts the moves of a poll answer's body, received at now.
func (p *poller) take(body []byte, now time.Time) error {
	var b pollBody
	if err := json.Unmarshal(body, &b); err != nil {
		return fmt.Errorf("poll body %.100q: %w", body, err)
	}
	if b.Moves == nil {
		return fmt.Errorf("poll body %.100q: no moves", body)
	}
	if b.Init != nil {
		p.init(b.Init.Seq)
	}
	for _, m := range b.Moves {
		if m.Seq == 0 {
			return fmt.Errorf("poll body %.100q: a move without seq", body)
		}
		p.move(m.Seq, m.TS, now)
	}
	return nil
}

// hangUp closes the connection, if any, so that the next poll dials.
func (p *poller) hangUp() {
	if p.conn == nil {
		return
	}
	p.stop()
	p.conn.Close()
	p.conn = nil
	if p.counted {
		p.counted = false
		p.c.closed()
	}
}
