package engine

import (
	"fmt"
	"time"

	"github.com/sse-demo/movingobject/stream/internal/pace"
)

// ConnOptions describe a [Conn]'s stream.
type ConnOptions struct {
	Source    pace.Source   // its events
	Heartbeat time.Duration // its silence before a heartbeat
	Beat      []byte        // its heartbeat, in its framing (such as [pace.SSEHeartbeat])
	Opened    pace.Time     // when it opened
	Written   int           // the bytes written before the engine takes it (response head, opening events)
	Timeout   time.Duration // the bound on each blocking write
	Metrics   pace.Metrics  // counts its writes; nil counts nothing
	// End is called once when the stream ends, with the reason:
	// [pace.ErrClientGone], [pace.ErrShutdown], or the error of a write.
	End func(error)
}

// Stream returns c's stream: what it has written, for its end.
func (c *Conn) Stream() *pace.Stream { return &c.st }

type noMetrics struct{}

func (noMetrics) Wrote(int, int, float64) {}

// WriteBlocking writes b within the write timeout, for the response head
// and opening events before the engine takes the stream. It then clears
// the deadline, which would otherwise fail later non-blocking writes.
func (c *Conn) WriteBlocking(b []byte) error {
	if err := c.nc.SetWriteDeadline(time.Now().Add(c.timeout)); err != nil {
		return fmt.Errorf("set write deadline: %w", err)
	}
	if _, err := c.nc.Write(b); err != nil {
		return fmt.Errorf("write events: %w", err)
	}
	if err := c.nc.SetWriteDeadline(time.Time{}); err != nil {
		return fmt.Errorf("clear write deadline: %w", err)
	}
	return nil
}
