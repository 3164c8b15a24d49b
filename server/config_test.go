package server

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseConfigReliability(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
		check   func(Config) bool
	}{
		{"defaults", nil, nil, "", func(c Config) bool {
			return c.maxStreams == 10000 && c.maxStreamsPerIP == 100 && len(c.allowOrigins) == 0 && c.tlsCert == ""
		}},
		{"origins", []string{"-allow-origin", "https://a.example,http://b.example:8080", "-allow-origin", "*"}, nil, "", func(c Config) bool {
			return strings.Join(c.allowOrigins, " ") == "https://a.example http://b.example:8080 *"
		}},
		{"origins from env", nil, map[string]string{"SSE_ALLOW_ORIGIN": "https://a.example, https://b.example"}, "", func(c Config) bool {
			return strings.Join(c.allowOrigins, " ") == "https://a.example https://b.example"
		}},
		{"per-ip off", []string{"-max-streams-per-ip", "0"}, nil, "", func(c Config) bool { return c.maxStreamsPerIP == 0 }},
		{"sync always by default", nil, nil, "", func(c Config) bool {
			return c.play.sync.every == 0 && !c.play.sync.set && c.play.sync.String() == "always"
		}},
		{"sync every 30 s", []string{"-nats-sync", "30s"}, nil, "", func(c Config) bool { return c.play.sync.every == 30*time.Second && c.play.sync.String() == "30s" }},
		{"sync from env", nil, map[string]string{"SSE_NATS_SYNC": "always"}, "", func(c Config) bool { return c.play.sync.every == 0 && c.play.sync.set }},
		{"origin with path", []string{"-allow-origin", "https://a.example/x"}, nil, `"https://a.example/x": not an origin`, nil},
		{"origin without scheme", []string{"-allow-origin", "a.example"}, nil, `"a.example": not an origin`, nil},
		{"no streams", []string{"-max-streams", "0"}, nil, "-max-streams: must be at least 1, got 0", nil},
		{"negative per-ip", []string{"-max-streams-per-ip", "-1"}, nil, "-max-streams-per-ip: must be 0 (no cap) or more, got -1", nil},
		{"cert without key", []string{"-tls-cert", "c.pem"}, nil, "-tls-cert and -tls-key: give both or neither", nil},
		{"key without cert", []string{"-tls-key", "k.pem"}, nil, "-tls-cert and -tls-key: give both or neither", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConfig(tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("ParseConfig(%q) error = %v; want %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil || !tt.check(c) {
				t.Errorf("ParseConfig(%q) = %+v, %v; want it accepted as the test says", tt.args, c, err)
			}
		})
	}
}

func TestWorldBadFlags(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-world-step", "601"}, "invalid world: -world-step: must be an integer in [1, 600]"},
		{[]string{"-world-replay", "0s"}, "-world-replay: must be a positive duration, got 0s"},
		{[]string{"-world-epoch", "1ms"}, "world epoch 1ms: must be 0 (never) or at least the interval 100ms"},
		{[]string{"-world-start", "yesterday"}, `invalid value "yesterday" for flag -world-start`},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			err := runArgs(t.Context(), append([]string{"-addr", "127.0.0.1:0"}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("runArgs(%q) = %v; want an error with %q", tt.args, err, tt.want)
			}
		})
	}
}

func TestPlayDataRefused(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"a file", []string{"-data", file}, "-data " + file},
		{"push beyond the box", []string{"-data", t.TempDir(), "-world-width", "300", "-world-height", "200", "-play-push", "201"}, "-play-push: must be an integer in [1, 200]"},
		{"no NATS there", []string{"-nats", "nats://127.0.0.1:1", "-nats-timeout", "1s"}, "-nats nats://127.0.0.1:1: connect"},
		{"bad trusted proxy", []string{"-trusted-proxy", "proxy.example"}, "proxy.example"},
		{"sync not a duration", []string{"-nats-sync", "soon"}, `invalid value "soon" for flag -nats-sync: "soon": must be always or a positive duration`},
		{"sync of zero", []string{"-nats-sync", "0s"}, `"0s": must be always or a positive duration`},
		{"sync with a cluster", []string{"-nats", "nats://127.0.0.1:1", "-nats-sync", "1s"}, "-nats-sync: only for the embedded server"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			err := runArgs(ctx, append([]string{"-addr", "127.0.0.1:0"}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("runArgs(%q) = %v; want an error with %q", tt.args, err, tt.want)
			}
		})
	}
}
