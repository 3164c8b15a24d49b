package server

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/sse-demo/movingobject/simulation"
	"github.com/sse-demo/movingobject/stream/transport"
	"github.com/sse-demo/movingobject/stream/transport/limits"
)

// envPrefix makes the environment fallback of flag -write-timeout
// SSE_WRITE_TIMEOUT.
const envPrefix = "SSE_"

// Config is what the command line and environment set. [ParseConfig]
// makes one.
type Config struct {
	addr            string
	walk            simulation.Config // defaults for /events and /
	heartbeat       time.Duration
	writeTimeout    time.Duration
	retry           time.Duration
	shutdownTimeout time.Duration
	resumeKey       string
	logLevel        slog.Level
	maxStreams      int          // streams open at once, in all
	maxStreamsPerIP int          // streams open at once per client address; 0: no cap
	allowOrigins    originList   // cross-origin EventSource; empty: CORS off
	tlsCert, tlsKey string       // PEM files; both or neither
	http3           bool         // serve HTTP/3 and WebTransport on UDP
	world           *worldConfig // the shared world of /world
	play            *playConfig  // the play room of /play
}

// ParseConfig reads flags from args, each falling back to its environment
// variable (SSE_ and the flag name in upper case, dashes as underscores),
// then to its default.
func ParseConfig(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	c := Config{walk: simulation.DefaultConfig()}
	fs := flag.NewFlagSet("movingobject", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.addr, "addr", "localhost:8080", "listen `address` (host:port; port 0 picks a free one)")
	fs.IntVar(&c.walk.Width, "width", c.walk.Width, fmt.Sprintf("default box width in px, %d..%d", simulation.MinSize, simulation.MaxSize))
	fs.IntVar(&c.walk.Height, "height", c.walk.Height, fmt.Sprintf("default box height in px, %d..%d", simulation.MinSize, simulation.MaxSize))
	fs.IntVar(&c.walk.Step, "step", c.walk.Step, fmt.Sprintf("default largest move in px, %d..%d and at most min(width, height)", simulation.MinStep, simulation.MaxStep))
	fs.DurationVar(&c.walk.Interval, "interval", c.walk.Interval, fmt.Sprintf("default tick period, %v..%v", simulation.MinInterval, simulation.MaxInterval))
	fs.DurationVar(&c.heartbeat, "heartbeat", transport.DefaultHeartbeat, "send a comment on a stream idle this long")
	fs.DurationVar(&c.writeTimeout, "write-timeout", transport.DefaultWriteTimeout, "drop a client that takes longer than this to take one event")
	fs.DurationVar(&c.retry, "retry", transport.DefaultRetry, "base reconnection delay sent to clients (each gets up to half again at random)")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", 5*time.Second, "how long shutdown waits for open requests")
	fs.StringVar(&c.resumeKey, "resume-key", "", "secret `key` that signs resume tokens (event ids); set the same on every instance")
	c.world = worldFlags(fs)
	c.play = playFlags(fs)
	fs.TextVar(&c.logLevel, "log-level", slog.LevelInfo, "log `level`: debug, info, warn or error")
	fs.IntVar(&c.maxStreams, "max-streams", limits.DefaultMaxStreams, "most streams open at once; past it new ones get 503 with Retry-After")
	fs.IntVar(&c.maxStreamsPerIP, "max-streams-per-ip", limits.DefaultMaxStreamsPerIP, "most streams open at once from one client address (the TCP peer); 0 turns the cap off; past it new ones get 429")
	fs.Var(&c.allowOrigins, "allow-origin", "`origin` (scheme://host[:port]) whose pages may open streams cross-origin, with credentials; repeatable or comma-separated; * allows any, without credentials")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "TLS certificate chain PEM `file`: serve HTTPS and HTTP/2 (with -tls-key)")
	fs.StringVar(&c.tlsKey, "tls-key", "", "TLS private key PEM `file` (with -tls-cert)")
	fs.BoolVar(&c.http3, "http3", true, "serve HTTP/3 and WebTransport on UDP at the port of -addr (with the -tls-cert certificate, or one of the server's own)")

	var err error
	fs.VisitAll(func(f *flag.Flag) {
		name := envPrefix + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(name); v != "" && err == nil {
			if serr := fs.Set(f.Name, v); serr != nil {
				err = fmt.Errorf("environment %s=%q: %w", name, v, serr)
			}
		}
	})
	if err != nil {
		return c, err
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if err := c.walk.Validate(); err != nil {
		return c, fmt.Errorf("invalid default walk: -%w", err)
	}
	if c.maxStreams < 1 {
		return c, fmt.Errorf("-max-streams: must be at least 1, got %d", c.maxStreams)
	}
	if c.maxStreamsPerIP < 0 {
		return c, fmt.Errorf("-max-streams-per-ip: must be 0 (no cap) or more, got %d", c.maxStreamsPerIP)
	}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return c, errors.New("-tls-cert and -tls-key: give both or neither")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"heartbeat", c.heartbeat}, {"write-timeout", c.writeTimeout}, {"retry", c.retry}, {"shutdown-timeout", c.shutdownTimeout}} {
		if d.v <= 0 {
			return c, fmt.Errorf("-%s: must be a positive duration, got %v", d.name, d.v)
		}
	}
	return c, nil
}

// originList is the value of the repeatable -allow-origin flag. Each use may
// list several origins, separated by commas.
type originList []string

func (o *originList) String() string { return strings.Join(*o, ",") }

// Set adds the comma-separated origins in v, each of which must be "*" or
// an origin as a browser sends it: scheme://host[:port], nothing more.
func (o *originList) Set(v string) error {
	for s := range strings.SplitSeq(v, ",") {
		s = strings.TrimSpace(s)
		if s != "*" {
			u, err := url.Parse(s)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.String() != u.Scheme+"://"+u.Host {
				return fmt.Errorf("%q: not an origin (scheme://host[:port], or *)", s)
			}
		}
		*o = append(*o, s)
	}
	return nil
}

// prefixes is the value of the repeatable -trusted-proxy flag. It takes
// addresses and CIDR ranges, separated by commas.
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
