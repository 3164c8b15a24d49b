// The play room's flags, and the NATS it runs on: an embedded server with
// its store under -data, or an external cluster named by -nats.

package server

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sse-demo/movingobject/internal/natsconn"
	"github.com/sse-demo/movingobject/stream/routes/play"
	"github.com/sse-demo/movingobject/stream/transport"
)

// playConfig is the play room of /play, set by the -play-*, -nats and
// -data flags. Its box, pace and seed are the shared world's.
type playConfig struct {
	push     int
	nats     string // external servers, comma-separated; empty: embedded
	data     string // the embedded server's store; empty: per listen address
	replicas int
	trusted  prefixes
	timeout  time.Duration
	sync     syncFlag // when the embedded server's store reaches the disk
}

// playFlags registers the play room's flags on fs.
func playFlags(fs *flag.FlagSet) *playConfig {
	p := &playConfig{push: play.DefaultPush, timeout: play.DefaultTimeout}
	fs.IntVar(&p.push, "play-push", p.push, "how far a push moves the object of /play, in px")
	fs.StringVar(&p.nats, "nats", "", "NATS `URL[,URL...]` of an external cluster for /play, shared by several instances; empty: an embedded server")
	fs.StringVar(&p.data, "data", "", "`dir`ectory of the embedded NATS server's store (default: one per listen address under the user's cache directory; a throwaway one for port 0)")
	fs.IntVar(&p.replicas, "nats-replicas", p.replicas, "copies of each /play stream and bucket in the NATS cluster (with -nats); 0: 3, or as many as the cluster has nodes when fewer")
	fs.Var(&p.trusted, "trusted-proxy", "`address` or CIDR of a proxy whose X-Forwarded-For and X-Forwarded-Host are trusted for /play/push; repeatable or comma-separated")
	fs.DurationVar(&p.timeout, "nats-timeout", p.timeout, "bound on each NATS JetStream call")
	fs.Var(&p.sync, "nats-sync", "when the embedded NATS server writes its store to disk: always (fsync before each push is answered 202) or a `duration` between fsyncs, which risks the pushes of that long on a power cut; a cluster's nodes set sync_interval in their config")
	return p
}

// syncFlag is the value of -nats-sync: "always" (the default), or a
// positive duration.
type syncFlag struct {
	every time.Duration // natsconn.SyncAlways (0) for always
	set   bool          // given on the command line or in the environment
}

func (f *syncFlag) String() string {
	if f.every == natsconn.SyncAlways {
		return "always"
	}
	return f.every.String()
}

// Set reads "always" or a positive duration.
func (f *syncFlag) Set(v string) error {
	f.set = true
	if v == "always" {
		f.every = natsconn.SyncAlways
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return fmt.Errorf("%q: must be always or a positive duration", v)
	}
	f.every = d
	return nil
}

// open connects to NATS, embedded or external, and opens the play room
// on it, delivered by streams. close closes the room, the connection and
// the embedded server.
func (p *playConfig) open(ctx context.Context, addr string, w *worldConfig, streams *transport.Streams, pushes play.PushCounter, log *slog.Logger) (h *play.Handler, close func(), err error) {
	if p.timeout <= 0 {
		return nil, nil, fmt.Errorf("-nats-timeout: must be a positive duration, got %v", p.timeout)
	}
	opts := play.Options{
		Walk: w.walk, Seed: w.seed, Push: p.push, Keep: int(w.replay/w.walk.Interval) + 1,
		Timeout: p.timeout, Replicas: p.replicas, Logger: log,
		Pushes: pushes, TrustedProxies: p.trusted,
	}
	if p.replicas < 0 || p.replicas > natsconn.MaxReplicas {
		return nil, nil, fmt.Errorf("-nats-replicas: must be an integer in [0, %d]", natsconn.MaxReplicas)
	}
	if opts.Push < 1 || opts.Push > min(w.walk.Width, w.walk.Height) {
		return nil, nil, fmt.Errorf("-play-push: must be an integer in [1, %d]", min(w.walk.Width, w.walk.Height))
	}
	var (
		nc    *nats.Conn
		stop  func()
		where string // the flag that named the servers, for errors
	)
	if p.nats != "" && p.sync.set {
		return nil, nil, errors.New("-nats-sync: only for the embedded server; with -nats, set sync_interval in each node's config (docs/operations.md)")
	}
	if p.nats != "" {
		where = "-nats " + p.nats
		if nc, err = natsconn.External(p.nats, p.timeout); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", where, err)
		}
		stop = nc.Close
		if opts.Replicas == 0 {
			opts.Replicas = min(natsconn.DefaultReplicas, natsconn.Nodes(nc))
		}
	} else {
		dir, throwaway := p.data, false
		if dir == "" {
			if dir, throwaway, err = natsconn.DefaultDir(addr); err != nil {
				return nil, nil, fmt.Errorf("-data: %w", err)
			}
		}
		where = "-data " + dir
		if nc, stop, err = natsconn.Embedded(dir, throwaway, p.sync.every, log.With("nats", "embedded")); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", where, err)
		}
	}
	if h, err = play.Open(ctx, streams, nc, opts); err != nil {
		stop()
		return nil, nil, fmt.Errorf("%s: open the play room: %w", where, err)
	}
	return h, func() { h.Close(); stop() }, nil
}
