// Package servertest runs the whole program for tests: this module's
// server, in the test's process, on 127.0.0.1:0.
//
// Only the tests of the whole program use it: those of package server, of
// e2e, and the root's simulation_test.go. A package's own tests build its
// handler alone with net/http/httptest.
package servertest

import (
	"context"
	"io"
	"testing"

	"github.com/sse-demo/movingobject/internal/apptest"
	"github.com/sse-demo/movingobject/server"
)

// Start runs the program with args, as [apptest.Start] does.
func Start(tb testing.TB, args ...string) *apptest.Program {
	tb.Helper()
	return apptest.Start(tb, Run, args...)
}

// StartTLS runs the program with a self-signed certificate and args, as
// [apptest.StartTLS] does.
func StartTLS(tb testing.TB, args ...string) *apptest.Program {
	tb.Helper()
	return apptest.StartTLS(tb, Run, args...)
}

// Run reads args as the command does, with no environment, and serves
// until ctx is done.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := server.ParseConfig(args, func(string) string { return "" }, stderr)
	if err != nil {
		return err
	}
	return server.Run(ctx, cfg, stdout, stderr)
}
