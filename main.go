// Command movingobject serves a random walk to the browser as Server-Sent
// Events. It is the Go heir of the Jetty EventSourceServlet moving-object
// demo. The application is package server, and this command only starts
// it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/sse-demo/movingobject/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// run reads the configuration from args and the environment (getenv),
// then serves it until ctx is done and shuts down gracefully. -help prints
// the flags to stderr, which is no error.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := server.ParseConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	return server.Run(ctx, cfg, stdout, stderr)
}
