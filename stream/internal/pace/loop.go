package pace

import "time"

// A Framer writes a stream's events to one client in its transport's
// framing. It gets what [Stream.Next] appended, and heartbeat when the
// stream has been silent for its interval: an SSE comment, a WebSocket
// ping, a long poll's empty answer. It returns the bytes it put on the
// wire, which count even when err is not nil. An error ends the stream.
type Framer interface {
	Write(out []byte, heartbeat bool) (n int, err error)
}

// Loop is the one write loop of every stream that has a goroutine of its
// own. It writes st through f as its events fall due, or its heartbeat,
// until the client leaves (done closes: [ErrClientGone]), the server
// shuts down (stop closes: [ErrShutdown]), or a write fails or ends the
// stream. m counts the writes.
func Loop(done, stop <-chan struct{}, f Framer, st *Stream, m Metrics) error {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	var buf []byte
	for {
		if wait := st.Due() - Now(); wait > 0 {
			t.Reset(wait)
			select {
			case <-done:
				return ErrClientGone
			case <-stop:
				return ErrShutdown
			case <-t.C:
			}
		}
		now := Now()
		out, events, heartbeat, err := st.Next(buf[:0], now)
		buf = out
		if err != nil {
			return err
		}
		if len(out) == 0 && !heartbeat {
			continue
		}
		start := time.Now()
		n, err := f.Write(out, heartbeat)
		if n > 0 {
			st.Wrote(n, events, now)
			m.Wrote(events, n, time.Since(start).Seconds())
		} else if heartbeat {
			st.Wrote(0, 0, now) // a heartbeat with no bytes of its own (a ping)
		}
		if err != nil {
			return err
		}
	}
}
