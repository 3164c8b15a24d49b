// Command sseload runs many clients of a server on this machine, over one
// of its transports (-transport sse, poll, longpoll, websocket, h3 or
// webtransport), and
// reports moves delivered per second, delivery delay (receive time minus
// the move's ts) percentiles, requests per second, bytes on the wire per
// move (headers and framing included), errors, reconnects, lost moves,
// and, given the server's pid, its CPU time per delivered move and its
// memory per client.
//
// Past -per-proc clients it runs several copies of itself, since a
// process may hold at most as many connections as it may open files:
//
//	sseload -url http://127.0.0.1:8080/world/events -n 10000 -ramp 10s -d 20s -pid $(pgrep -n movingobject)
//	sseload -transport poll -poll-interval 100ms -n 1000 -pid $(pgrep -n movingobject)
//	sseload -transport webtransport -n 1000 -pid $(pgrep -n movingobject)
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sse-demo/movingobject/internal/sseload"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "sseload:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg sseload.Config
	fs := flag.NewFlagSet("sseload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.URL, "url", "", "endpoint `URL` (loopback; default http://127.0.0.1:8080/world/events, /world/poll or /world/ws by transport; https://127.0.0.1:8080/world/events or /world/webtransport over QUIC)")
	fs.StringVar(&cfg.Transport, "transport", sseload.TransportSSE, "sse, poll, longpoll, websocket, h3 (SSE over HTTP/3) or webtransport")
	fs.DurationVar(&cfg.PollInterval, "poll-interval", time.Second, "time between two polls of a client, for -transport poll")
	fs.IntVar(&cfg.Streams, "n", 100, "clients to run (streams, pollers or sockets)")
	fs.DurationVar(&cfg.Ramp, "ramp", 5*time.Second, "start the clients evenly over this time")
	fs.DurationVar(&cfg.Duration, "d", 10*time.Second, "measurement window, after the ramp")
	fs.StringVar(&cfg.AcceptEncoding, "accept-encoding", "", "Accept-Encoding of each SSE request (gzip, deflate, or a browser's \"gzip, deflate, br, zstd\"); the clients decode the stream")
	fs.IntVar(&cfg.Sources, "sources", 16, "spread clients over source addresses 127.0.0.1..127.0.0.N (0: any)")
	fs.Func("pid", "server `pid[,pid...]` whose CPU and memory to read from /proc, summed (several: nginx's master and workers, say; 0: none)", func(v string) error {
		for f := range strings.SplitSeq(v, ",") {
			pid, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || pid < 0 {
				return fmt.Errorf("%q: want a process id", f)
			}
			if pid > 0 {
				cfg.PIDs = append(cfg.PIDs, pid)
			}
		}
		return nil
	})
	perProc := fs.Int("per-proc", 15000, "most clients in one process; more run in child processes")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if cfg.URL == "" {
		cfg.URL = "http://127.0.0.1:8080" + defaultPath[cfg.Transport]
		if cfg.Transport == sseload.TransportH3 || cfg.Transport == sseload.TransportWebTransport {
			cfg.URL = "https" + strings.TrimPrefix(cfg.URL, "http") // QUIC has TLS
		}
	}
	cfg.First = 1
	if err := raiseFileLimit(); err != nil {
		fmt.Fprintln(stderr, "sseload:", err)
	}
	var r sseload.Result
	var err error
	if cfg.Streams <= *perProc {
		r, err = sseload.Run(ctx, cfg)
	} else {
		r, err = runChildren(ctx, cfg, *perProc, stderr)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		return enc.Encode(r)
	}
	_, err = io.WriteString(stdout, r.Table())
	return err
}

// defaultPath is the endpoint of each transport on this project's server.
var defaultPath = map[string]string{
	sseload.TransportSSE:          "/world/events",
	sseload.TransportPoll:         "/world/poll",
	sseload.TransportLongPoll:     "/world/poll",
	sseload.TransportWebSocket:    "/world/ws",
	sseload.TransportH3:           "/world/events",
	sseload.TransportWebTransport: "/world/webtransport",
}

// runChildren splits the clients over copies of this program, measures
// the server itself over the same window, and merges their results.
func runChildren(ctx context.Context, cfg sseload.Config, perProc int, stderr io.Writer) (sseload.Result, error) {
	self, err := os.Executable()
	if err != nil {
		return sseload.Result{}, fmt.Errorf("find own binary: %w", err)
	}
	procs := (cfg.Streams + perProc - 1) / perProc
	results := make([]sseload.Result, procs)
	errs := make([]error, procs)
	var wg sync.WaitGroup
	for p := range procs {
		n := cfg.Streams / procs
		if p < cfg.Streams%procs {
			n++
		}
		wg.Go(func() {
			cmd := exec.CommandContext(ctx, self, "-json", "-url", cfg.URL, "-n", fmt.Sprint(n),
				"-transport", cfg.Transport, "-poll-interval", cfg.PollInterval.String(),
				"-ramp", cfg.Ramp.String(), "-d", cfg.Duration.String(), "-sources", fmt.Sprint(cfg.Sources), "-per-proc", fmt.Sprint(n), "-accept-encoding", cfg.AcceptEncoding)
			cmd.Stderr = stderr
			out, err := cmd.Output()
			if err == nil {
				err = json.Unmarshal(out, &results[p])
			}
			if err != nil {
				errs[p] = fmt.Errorf("child %d: %w", p, err)
			}
		})
	}
	// The server's figures, over the children's window: the ramp plus the
	// second they wait, then the window; a child is not asked for them.
	srv, serr := measureServer(ctx, cfg)
	wg.Wait()
	if err := errors.Join(append(errs, serr)...); err != nil {
		return sseload.Result{}, err
	}
	r := results[0]
	for _, o := range results[1:] {
		r.Merge(o)
	}
	r.SetServer(srv)
	r.Merge(sseload.Result{}) // recompute the rates
	return r, nil
}

// measureServer reads the server's CPU and memory over the window of the
// children, by running one client of its own alongside them.
func measureServer(ctx context.Context, cfg sseload.Config) (sseload.Result, error) {
	if len(cfg.PIDs) == 0 {
		return sseload.Result{}, nil
	}
	cfg.Streams = 1
	return sseload.Run(ctx, cfg)
}
