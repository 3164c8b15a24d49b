package server

import (
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sse-demo/movingobject/stream/routes/walks"
)

func TestWarnResumeKey(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		addr net.Addr
		key  string
		warn bool
	}{
		{"loopback, built-in key", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}, "", false},
		{"IPv6 loopback", &net.TCPAddr{IP: net.IPv6loopback, Port: 8080}, "", false},
		{"all interfaces, built-in key", &net.TCPAddr{IP: net.IPv4zero, Port: 8080}, "", true},
		{"a public address, the built-in key given", &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 80}, walks.DefaultResumeKey, true},
		{"all interfaces, own key", &net.TCPAddr{IP: net.IPv4zero, Port: 8080}, "s3cret", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var buf strings.Builder
			warnResumeKey(slog.New(slog.NewTextHandler(&buf, nil)), tt.addr, tt.key)
			if got := strings.Contains(buf.String(), "level=WARN") && strings.Contains(buf.String(), "-resume-key"); got != tt.warn {
				t.Errorf("warnResumeKey(%v, %q) logged %q; want a warning %v", tt.addr, tt.key, buf.String(), tt.warn)
			}
		})
	}
}

func TestRunBadTLSFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	missing := filepath.Join(dir, "none.pem")
	err := runArgs(context.Background(), "-addr", "127.0.0.1:0", "-tls-cert", missing, "-tls-key", missing)
	if err == nil || !strings.Contains(err.Error(), "load -tls-cert and -tls-key") {
		t.Errorf("runArgs() with missing certificate files = %v; want a load error", err)
	}
}

// runArgs reads args as the command does, with no environment, and runs
// the server until ctx is done, for the tests of what it refuses.
func runArgs(ctx context.Context, args ...string) error {
	cfg, err := ParseConfig(args, func(string) string { return "" }, io.Discard)
	if err != nil {
		return err
	}
	return Run(ctx, cfg, io.Discard, io.Discard)
}
