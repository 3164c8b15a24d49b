// Package natsconn connects the play room to NATS.
//
// It either starts an embedded server in the process, with its JetStream
// store in a directory that it locks, or it connects to the servers of an
// external cluster.
package natsconn

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// name is how the connections name themselves to the servers.
const name = "movingobject"

// ready bounds the start of the embedded server.
const ready = 10 * time.Second

// Copies of a stream in a JetStream cluster. JetStream keeps at most
// MaxReplicas. DefaultReplicas copies survive the loss of one node with a
// majority left to elect a new leader.
const (
	DefaultReplicas = 3
	MaxReplicas     = 5
)

// Nodes returns how many servers the cluster of nc has, as nc knows them.
// It counts the servers nc was given and those the servers told it of.
func Nodes(nc *nats.Conn) int {
	return max(len(nc.Servers()), 1)
}

// External connects to the servers at urls (comma-separated), bounding
// each call by timeout, and reconnects to them for as long as the
// connection is open.
func External(urls string, timeout time.Duration) (*nats.Conn, error) {
	nc, err := nats.Connect(urls, nats.Name(name), nats.Timeout(timeout), nats.MaxReconnects(-1))
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	return nc, nil
}

// SyncAlways is the sync of [Embedded] that writes every message to disk
// (fsync) before JetStream acknowledges it.
const SyncAlways time.Duration = 0

// Embedded starts a NATS server with JetStream in the process and connects
// to it in process, so no port is opened. The server keeps its store in
// dir, which Embedded locks against a second process. The server's warnings
// and errors go to log. stop closes the connection and the server, unlocks
// dir, and removes dir when it is a throwaway.
//
// sync says when the store reaches the disk. [SyncAlways] (0) fsyncs every
// message before JetStream acknowledges it, so an acknowledged message
// survives a power cut or an OS crash. A positive sync fsyncs that often
// instead, as nats-server does by default (every 2 minutes): an
// acknowledged message then lives only in the OS's page cache until the
// next sync. Both survive the process being killed.
func Embedded(dir string, throwaway bool, sync time.Duration, log *slog.Logger) (nc *nats.Conn, stop func(), err error) {
	cleanup := func() {
		if throwaway {
			os.RemoveAll(dir)
		}
	}
	unlock, err := useDir(dir)
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	ns, err := natsserver.NewServer(embeddedOptions(dir, sync))
	if err != nil {
		unlock()
		cleanup()
		return nil, nil, fmt.Errorf("embedded NATS server: %w", err)
	}
	ns.SetLoggerV2(logger{log}, false, false, false)
	go ns.Start()
	shutdown := func() {
		ns.Shutdown()
		ns.WaitForShutdown()
		unlock()
		cleanup()
	}
	if !ns.ReadyForConnections(ready) || !ns.JetStreamEnabled() {
		shutdown()
		return nil, nil, fmt.Errorf("embedded NATS server with JetStream not ready within %v (see the log)", ready)
	}
	nc, err = nats.Connect("", nats.InProcessServer(ns), nats.Name(name))
	if err != nil {
		shutdown()
		return nil, nil, fmt.Errorf("connect to the embedded NATS server: %w", err)
	}
	return nc, func() { nc.Close(); shutdown() }, nil
}

// embeddedOptions returns the options of the embedded server with its
// store in dir and the sync of [Embedded].
func embeddedOptions(dir string, sync time.Duration) *natsserver.Options {
	o := &natsserver.Options{ServerName: name, JetStream: true, StoreDir: dir, DontListen: true, NoSigs: true}
	if sync <= SyncAlways {
		o.SyncAlways = true
	} else {
		o.SyncInterval = sync
	}
	return o
}

// DefaultDir returns the embedded store for listen address addr. It is one
// folder per address under the user's cache directory (or the temporary
// directory when there is none), so that instances on one machine do not
// share a store. For port 0 it is a new throwaway folder.
func DefaultDir(addr string) (dir string, throwaway bool, err error) {
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

// useDir makes dir if need be, checks that it can be written, and locks
// it against a second process, until unlock.
func useDir(dir string) (unlock func(), err error) {
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

// errDirLocked reports a store that another process uses.
var errDirLocked = errors.New("in use by another process (give each instance its own -data)")

// logger writes the embedded server's notices to slog. Its warnings and
// errors (such as a store it cannot use) go out at Warn and Error, and the
// rest at Debug.
type logger struct{ log *slog.Logger }

func (l logger) Noticef(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l logger) Warnf(format string, v ...any)   { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l logger) Fatalf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l logger) Errorf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l logger) Debugf(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l logger) Tracef(format string, v ...any)  {}
