// Package server is the movingobject application.
//
// It holds the configuration, the one route table (routes.go), the pages,
// the middleware every request shares, and the HTTP server that runs them
// until shutdown. It wires the packages below it together. Only the
// command and the whole-program tests import it.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/sse-demo/movingobject/metrics"
	"github.com/sse-demo/movingobject/stream/routes/walks"
	"github.com/sse-demo/movingobject/stream/routes/world"
	"github.com/sse-demo/movingobject/stream/transport"
)

// maxHeaderBytes bounds the request line and headers; larger ones get 431
// Request Header Fields Too Large (net/http allows 4 KiB of slack).
const maxHeaderBytes = 16 << 10

// Run serves cfg until ctx is done, then shuts down gracefully: open
// streams end after their current event and the server waits for requests
// to finish. It prints the address it listens on to stdout, as
// "listening on http://host:port", and logs to stderr.
func Run(ctx context.Context, cfg Config, stdout, stderr io.Writer) error {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.logLevel}))
	w, err := cfg.world.world()
	if err != nil {
		return err
	}
	m := metrics.New()
	streams := transport.New(transport.Options{
		Heartbeat:    cfg.heartbeat,
		WriteTimeout: cfg.writeTimeout,
		Retry:        cfg.retry,
		Limits:       transport.NewLimits(cfg.maxStreams, cfg.maxStreamsPerIP),
		Logger:       log,
		Metrics:      func(route, name string) transport.Metrics { return m.Route(route, name) },
		AllowOrigins: cfg.allowOrigins,
	})
	playRoom, closeRoom, err := cfg.play.open(ctx, cfg.addr, cfg.world, streams, m, log)
	if err != nil {
		streams.Close()
		return err
	}
	defer closeRoom()     // after the streams, which read its ring
	defer streams.Close() // waits for the engine's goroutines
	r := routes{
		events:  walks.New(streams, walks.Options{Defaults: cfg.walk, ResumeKey: []byte(cfg.resumeKey), Logger: log}),
		world:   world.New(streams, w, world.Options{Replay: cfg.world.replay}),
		play:    playRoom,
		streams: streams,
		metrics: m,
		origins: cfg.allowOrigins,
	}
	srv := &http.Server{
		Handler:           newEcho(r, log),
		ReadHeaderTimeout: 5 * time.Second,
		// Larger request headers get 431; an SSE client sends a few hundred bytes.
		MaxHeaderBytes: maxHeaderBytes,
		// Pages must be written within this; streams extend it per event.
		WriteTimeout: 30 * time.Second,
		IdleTimeout:  2 * time.Minute,
		ErrorLog:     slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	srv.RegisterOnShutdown(streams.Close) // Shutdown does not end streams itself
	var idle newConns                     // nor close connections that never sent a request
	srv.ConnState = idle.track
	srv.RegisterOnShutdown(idle.closeAll)

	scheme, serve := "http", srv.Serve
	if cfg.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.tlsCert, cfg.tlsKey)
		if err != nil {
			return fmt.Errorf("load -tls-cert and -tls-key: %w", err)
		}
		// ServeTLS offers HTTP/2 (h2) as well as HTTP/1.1.
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		scheme, serve = "https", func(ln net.Listener) error { return srv.ServeTLS(ln, "", "") }
	}

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	served := make(chan error, 1)
	go func() { served <- serve(ln) }()
	fmt.Fprintf(stdout, "listening on %s://%s\n", scheme, ln.Addr())
	log.Info("serving", "addr", ln.Addr().String(), "walk", fmt.Sprintf("%+v", cfg.walk))
	warnResumeKey(log, ln.Addr(), cfg.resumeKey)

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", cfg.shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("stopped")
	return nil
}

// warnResumeKey warns when the server listens beyond loopback with the
// built-in resume key, which anyone can read in the source and use to
// forge resume tokens.
func warnResumeKey(log *slog.Logger, addr net.Addr, key string) {
	if key != "" && key != walks.DefaultResumeKey {
		return
	}
	if tcp, ok := addr.(*net.TCPAddr); ok && tcp.IP.IsLoopback() {
		return
	}
	log.Warn("listening beyond loopback with the built-in -resume-key: anyone can forge resume tokens; set -resume-key", "addr", addr.String())
}
