// The play room's NATS: an embedded server with its store under -data, or
// an external cluster named by -nats.

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/sse-demo/movingobject/stream"
	"github.com/sse-demo/movingobject/stream/room"
)

// natsReady bounds the start of the embedded NATS server.
const natsReady = 10 * time.Second

// playConfig is the play room of /play, set by the -play-*, -nats and
// -data flags; its box, pace and seed are the shared world's.
type playConfig struct {
	push     int
	nats     string // external servers, comma-separated; empty: embedded
	data     string // the embedded server's store; empty: per listen address
	replicas int
	trusted  prefixes
	timeout  time.Duration
}

// playFlags registers the play room's flags on fs.
func playFlags(fs *flag.FlagSet) *playConfig {
	p := &playConfig{push: room.DefaultPush, replicas: 1, timeout: room.DefaultTimeout}
	fs.IntVar(&p.push, "play-push", p.push, "how far a push moves the object of /play, in px")
	fs.StringVar(&p.nats, "nats", "", "NATS `URL[,URL...]` of an external cluster for /play, shared by several instances; empty: an embedded server")
	fs.StringVar(&p.data, "data", "", "`dir`ectory of the embedded NATS server's store (default: one per listen address under the user's cache directory; a throwaway one for port 0)")
	fs.IntVar(&p.replicas, "nats-replicas", p.replicas, "copies of each /play stream in the NATS cluster (with -nats)")
	fs.Var(&p.trusted, "trusted-proxy", "`address` or CIDR of a proxy whose X-Forwarded-For and X-Forwarded-Host are trusted for /play/push; repeatable or comma-separated")
	fs.DurationVar(&p.timeout, "nats-timeout", p.timeout, "bound on each NATS JetStream call")
	return p
}

// open connects to NATS, embedded or external, and opens the play room
// on it. close closes the room, the connection and the embedded server.
func (p *playConfig) open(ctx context.Context, addr string, w *worldConfig, log *slog.Logger) (r *room.Room, close func(), err error) {
	if p.timeout <= 0 {
		return nil, nil, fmt.Errorf("-nats-timeout: must be a positive duration, got %v", p.timeout)
	}
	cfg := room.Config{
		Walk: w.walk, Seed: w.seed, Push: p.push, Keep: int(w.replay/w.walk.Interval) + 1,
		Timeout: p.timeout, Replicas: p.replicas, Logger: log.With("room", "play"),
	}
	if cfg.Push < 1 || cfg.Push > min(w.walk.Width, w.walk.Height) {
		return nil, nil, fmt.Errorf("-play-push: must be an integer in [1, %d]", min(w.walk.Width, w.walk.Height))
	}
	if p.nats != "" {
		nc, err := nats.Connect(p.nats, nats.Name("movingobject"), nats.Timeout(p.timeout), nats.MaxReconnects(-1))
		if err != nil {
			return nil, nil, fmt.Errorf("-nats %s: connect: %w", p.nats, err)
		}
		r, err := room.Open(ctx, nc, cfg)
		if err != nil {
			nc.Close()
			return nil, nil, fmt.Errorf("-nats %s: open the play room: %w", p.nats, err)
		}
		return r, func() { r.Close(); nc.Close() }, nil
	}

	dir, throwaway := p.data, false
	if dir == "" {
		if dir, throwaway, err = defaultDataDir(addr); err != nil {
			return nil, nil, fmt.Errorf("-data: %w", err)
		}
	}
	cleanup := func() {
		if throwaway {
			os.RemoveAll(dir)
		}
	}
	unlock, err := useDataDir(dir)
	if err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("-data %s: %w", dir, err)
	}
	ns, err := natsserver.NewServer(&natsserver.Options{
		ServerName: "movingobject", JetStream: true, StoreDir: dir, DontListen: true, NoSigs: true,
	})
	if err != nil {
		unlock()
		cleanup()
		return nil, nil, fmt.Errorf("-data %s: embedded NATS server: %w", dir, err)
	}
	ns.SetLoggerV2(natsLogger{log.With("nats", "embedded")}, false, false, false)
	go ns.Start()
	stop := func() {
		ns.Shutdown()
		ns.WaitForShutdown()
		unlock()
		cleanup()
	}
	if !ns.ReadyForConnections(natsReady) || !ns.JetStreamEnabled() {
		stop()
		return nil, nil, fmt.Errorf("-data %s: embedded NATS server with JetStream not ready within %v (see the log)", dir, natsReady)
	}
	nc, err := nats.Connect("", nats.InProcessServer(ns), nats.Name("movingobject"))
	if err != nil {
		stop()
		return nil, nil, fmt.Errorf("-data %s: connect to the embedded NATS server: %w", dir, err)
	}
	r, err = room.Open(ctx, nc, cfg)
	if err != nil {
		nc.Close()
		stop()
		return nil, nil, fmt.Errorf("-data %s: open the play room: %w", dir, err)
	}
	return r, func() { r.Close(); nc.Close(); stop() }, nil
}

// defaultDataDir returns the embedded store for listen address addr: one
// folder per address under the user's cache directory, so that instances
// on one machine do not share one, or, for port 0, a new throwaway folder.
func defaultDataDir(addr string) (dir string, throwaway bool, err error) {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	base = filepath.Join(base, "movingobject")
	if err := os.MkdirAll(base, 0o700); err != nil {
		return "", false, err
	}
	if _, port, err := net.SplitHostPort(addr); err == nil && port == "0" {
		dir, err := os.MkdirTemp(base, "play-port0-")
		return dir, true, err
	}
	name := strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '.' {
			return r
		}
		return '_'
	}, addr)
	return filepath.Join(base, "play-"+name), false, nil
}

// useDataDir makes dir if need be, checks that it can be written, and
// locks it against a second process, until unlock.
func useDataDir(dir string) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, ".probe-")
	if err != nil {
		return nil, fmt.Errorf("not writable: %w", err)
	}
	f.Close()
	os.Remove(f.Name())
	return lockDir(dir)
}

// errDirLocked is a store that another process uses.
var errDirLocked = errors.New("in use by another process (give each instance its own -data)")

// natsLogger writes the embedded server's notices to slog: its warnings
// and errors (a store it cannot use) at Warn and Error, the rest at Debug.
type natsLogger struct{ log *slog.Logger }

func (l natsLogger) Noticef(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l natsLogger) Warnf(format string, v ...any)   { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l natsLogger) Fatalf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l natsLogger) Errorf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l natsLogger) Debugf(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l natsLogger) Tracef(format string, v ...any)  {}

// prefixes is the value of the repeatable -trusted-proxy flag: addresses
// and CIDR ranges, comma-separated.
type prefixes []netip.Prefix

func (p *prefixes) String() string {
	s := make([]string, len(*p))
	for i, x := range *p {
		s[i] = x.String()
	}
	return strings.Join(s, ",")
}

func (p *prefixes) Set(v string) error {
	for s := range strings.SplitSeq(v, ",") {
		s = strings.TrimSpace(s)
		if a, err := netip.ParseAddr(s); err == nil {
			*p = append(*p, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		pr, err := netip.ParsePrefix(s)
		if err != nil {
			return fmt.Errorf("%q: not an address or CIDR range", s)
		}
		*p = append(*p, pr.Masked())
	}
	return nil
}

// warnResumeKey warns when the server listens beyond loopback with the
// built-in resume key, which anyone can read in the source and use to
// forge resume tokens.
func warnResumeKey(log *slog.Logger, addr net.Addr, key string) {
	if key != "" && key != stream.DefaultResumeKey {
		return
	}
	if tcp, ok := addr.(*net.TCPAddr); ok && tcp.IP.IsLoopback() {
		return
	}
	log.Warn("listening beyond loopback with the built-in -resume-key: anyone can forge resume tokens; set -resume-key", "addr", addr.String())
}
