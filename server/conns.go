package server

import (
	"net"
	"net/http"
	"sync"
)

// newConns tracks the connections that have not begun a request yet, so
// that shutdown can close them at once. [http.Server.Shutdown] treats such
// a connection as busy for its first 5 seconds, and browsers open them
// ahead of need (preconnect). Without newConns, one such connection would
// hold a shutdown for 5 s, longer than the default -shutdown-timeout
// leaves for everything else. Closing one loses nothing, since no request
// has been sent on it.
type newConns struct {
	mu    sync.Mutex // guards conns
	conns map[net.Conn]struct{}
}

// track is an [http.Server.ConnState] hook.
func (t *newConns) track(c net.Conn, state http.ConnState) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if state == http.StateNew {
		if t.conns == nil {
			t.conns = make(map[net.Conn]struct{})
		}
		t.conns[c] = struct{}{}
		return
	}
	delete(t.conns, c)
}

// closeAll closes the connections that have not begun a request. Register
// it with [http.Server.RegisterOnShutdown], which calls it once the
// listeners are closed.
func (t *newConns) closeAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for c := range t.conns {
		c.Close()
	}
	clear(t.conns)
}
