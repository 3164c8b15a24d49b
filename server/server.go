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

	"github.com/sse-demo/movingobject/internal/quicserver"
	"github.com/sse-demo/movingobject/metrics"
	"github.com/sse-demo/movingobject/stream/routes/walks"
	"github.com/sse-demo/movingobject/stream/routes/world"
	"github.com/sse-demo/movingobject/stream/transport"
	"github.com/sse-demo/movingobject/stream/transport/limits"
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
	var cert *tls.Certificate
	if cfg.tlsCert != "" {
		c, err := tls.LoadX509KeyPair(cfg.tlsCert, cfg.tlsKey)
		if err != nil {
			return fmt.Errorf("load -tls-cert and -tls-key: %w", err)
		}
		cert = &c
	}
	var q *quicserver.Server
	if cfg.http3 {
		host, _, _ := net.SplitHostPort(cfg.addr)
		q, err = quicserver.New(quicserver.Options{Cert: cert, Host: host, MaxHeaderBytes: maxHeaderBytes, Logger: log})
		if err != nil {
			return err
		}
	}
	ln, err := quicserver.ListenTCP(cfg.addr, q)
	if err != nil {
		return err
	}
	defer ln.Close() // in case Run returns before serving
	m := metrics.New()
	opts := transport.Options{
		Heartbeat:    cfg.heartbeat,
		WriteTimeout: cfg.writeTimeout,
		Retry:        cfg.retry,
		Limits:       limits.New(cfg.maxStreams, cfg.maxStreamsPerIP),
		Logger:       log,
		Metrics:      func(route, name string) transport.Metrics { return m.Route(route, name) },
		AllowOrigins: cfg.allowOrigins,
	}
	if q != nil {
		opts.WebTransport = q.Upgrader()
	}
	streams := transport.New(opts)
	playRoom, closeRoom, err := cfg.play.open(ctx, cfg.addr, cfg.world, streams, m, log)
	if err != nil {
		streams.Close()
		q.Close()
		return err
	}
	defer closeRoom()     // after the streams, which read its ring
	defer streams.Close() // waits for the engine's goroutines
	r := routes{
		events:       walks.New(streams, walks.Options{Defaults: cfg.walk, ResumeKey: []byte(cfg.resumeKey), Logger: log}),
		world:        world.New(streams, w, world.Options{Replay: cfg.world.replay}),
		play:         playRoom,
		streams:      streams,
		metrics:      m,
		origins:      cfg.allowOrigins,
		webTransport: webTransportInfo(q, log),
	}
	e := newEcho(r, log)
	if q != nil && cert != nil {
		e.Use(altSvc(q.Port())) // echo's Use applies to every route, those added before it too
	}
	srv := &http.Server{
		Handler:           e,
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
	if cert != nil {
		// ServeTLS offers HTTP/2 (h2) as well as HTTP/1.1.
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12}
		scheme, serve = "https", func(ln net.Listener) error { return srv.ServeTLS(ln, "", "") }
	}
	served := make(chan error, 1)
	go func() { served <- serve(ln) }()
	if q != nil {
		if err := q.Serve(e); err != nil {
			srv.Close()
			<-served
			q.Close()
			return err
		}
	}
	fmt.Fprintf(stdout, "listening on %s://%s\n", scheme, ln.Addr())
	log.Info("serving", "addr", ln.Addr().String(), "http3", q != nil, "walk", fmt.Sprintf("%+v", cfg.walk))
	warnResumeKey(log, ln.Addr(), cfg.resumeKey)

	select {
	case err := <-served:
		q.Close()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", cfg.shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	streams.Close() // ends the streams over HTTP/3 and WebTransport too
	q.Close()
	if err != nil {
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
