// Package metrics counts what the event streams do, for Prometheus.
package metrics

import (
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the stream metrics in a registry of their own. Tests and
// several servers in one process then do not collide in the global default
// registry. Every metric is labelled by route and by transport (poll,
// longpoll, sse, websocket), so that the techniques that carry the same
// moves can be compared.
type Metrics struct {
	reg          *prometheus.Registry
	requests     *prometheus.CounterVec
	open         *prometheus.GaugeVec
	events       *prometheus.CounterVec
	bytes        *prometheus.CounterVec
	drops        *prometheus.CounterVec
	resumes      *prometheus.CounterVec
	writeSeconds *prometheus.HistogramVec
	pushes       *prometheus.CounterVec
	protocols    *prometheus.CounterVec

	mu     sync.Mutex           // guards routes
	routes map[[2]string]*Route // by route and transport
}

// New returns the metrics with the Go runtime and process collectors.
func New() *Metrics {
	labels := []string{"route", "transport"}
	counter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	m := &Metrics{
		reg:      prometheus.NewRegistry(),
		requests: counter("sse_requests_total", "Requests a transport took: each poll answered, each stream opened."),
		open:     prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sse_open_streams", Help: "Connections held open now: streams, and long polls while held."}, labels),
		events:   counter("sse_events_sent_total", "Moves written to clients."),
		bytes:    counter("sse_bytes_sent_total", "Bytes written to clients: events with their framing, poll bodies."),
		drops:    counter("sse_drops_total", "Streams dropped because a write missed its deadline or the client fell out of the replay window."),
		resumes:  counter("sse_resumes_total", "Streams and long polls that continued from the client's last seq."),
		writeSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sse_write_seconds",
			Help:    "Time to make and write one batch of events, or one answer, to a client.",
			Buckets: prometheus.ExponentialBuckets(1e-6, 4, 12), // 1 us .. 4 s
		}, labels),
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sse_play_pushes_total",
			Help: "Pushes to /play/push by result: stored, duplicate (202), unavailable (503: the log did not store it in time), refused (4xx).",
		}, []string{"result"}),
		protocols: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sse_http_requests_total",
			Help: "HTTP requests of every route by protocol: HTTP/1.1, HTTP/2.0 or HTTP/3.0.",
		}, []string{"protocol"}),
		routes: make(map[[2]string]*Route),
	}
	m.reg.MustRegister(m.requests, m.open, m.events, m.bytes, m.drops, m.resumes, m.writeSeconds, m.pushes, m.protocols,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Pushed counts a push to /play/push by its result.
func (m *Metrics) Pushed(result string) {
	m.pushes.WithLabelValues(result).Inc()
}

// Served counts an HTTP request by its protocol (as [http.Request.Proto]
// gives it), so that the share of HTTP/3 shows.
func (m *Metrics) Served(protocol string) {
	m.protocols.WithLabelValues(protocol).Inc()
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Route returns the metrics of one route and transport. Their labels are
// resolved once, so that counting an event costs only atomic additions.
// Route returns the same [Route] for the same labels, so a handler may ask
// for it on each request.
func (m *Metrics) Route(route, transport string) *Route {
	key := [2]string{route, transport}
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.routes[key]; ok {
		return r
	}
	r := &Route{
		requests:     m.requests.WithLabelValues(route, transport),
		open:         m.open.WithLabelValues(route, transport),
		events:       m.events.WithLabelValues(route, transport),
		bytes:        m.bytes.WithLabelValues(route, transport),
		drops:        m.drops.WithLabelValues(route, transport),
		resumes:      m.resumes.WithLabelValues(route, transport),
		writeSeconds: m.writeSeconds.WithLabelValues(route, transport),
	}
	m.routes[key] = r
	return r
}

// Route counts the requests and streams of one route and transport. A nil
// *Route counts nothing, so handlers built without metrics need no checks.
type Route struct {
	requests     prometheus.Counter
	open         prometheus.Gauge
	events       prometheus.Counter
	bytes        prometheus.Counter
	drops        prometheus.Counter
	resumes      prometheus.Counter
	writeSeconds prometheus.Observer
}

// Requested counts a request that the transport took. That is a poll
// answered, or a stream opened.
func (r *Route) Requested() {
	if r == nil {
		return
	}
	r.requests.Inc()
}

// Opened counts a connection held open, which is a stream or a long poll
// while it waits. resumed says that it continued from the client's last
// event.
func (r *Route) Opened(resumed bool) {
	if r == nil {
		return
	}
	r.open.Inc()
	if resumed {
		r.resumes.Inc()
	}
}

// Closed counts a connection that ended. dropped means the server ended it
// because the client could not keep up.
func (r *Route) Closed(dropped bool) {
	if r == nil {
		return
	}
	r.open.Dec()
	if dropped {
		r.drops.Inc()
	}
}

// Wrote counts one write of events events and n bytes that took seconds.
func (r *Route) Wrote(events, n int, seconds float64) {
	if r == nil {
		return
	}
	r.events.Add(float64(events))
	r.bytes.Add(float64(n))
	r.writeSeconds.Observe(seconds)
}
