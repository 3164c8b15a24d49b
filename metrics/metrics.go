// Package metrics counts what the event streams do, for Prometheus.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the stream metrics in a registry of their own, so that
// tests and several servers in one process do not collide in the global
// default registry.
type Metrics struct {
	reg          *prometheus.Registry
	open         *prometheus.GaugeVec
	events       *prometheus.CounterVec
	bytes        *prometheus.CounterVec
	drops        *prometheus.CounterVec
	resumes      *prometheus.CounterVec
	writeSeconds *prometheus.HistogramVec
}

// New returns the metrics with the Go runtime and process collectors.
func New() *Metrics {
	route := []string{"route"}
	counter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, route)
	}
	m := &Metrics{
		reg:     prometheus.NewRegistry(),
		open:    prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sse_open_streams", Help: "Event streams open now."}, route),
		events:  counter("sse_events_sent_total", "Events written to streams."),
		bytes:   counter("sse_bytes_sent_total", "Bytes of events written to streams."),
		drops:   counter("sse_drops_total", "Streams dropped because a write missed its deadline."),
		resumes: counter("sse_resumes_total", "Streams that resumed from a Last-Event-ID."),
		writeSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sse_write_seconds",
			Help:    "Time to write and flush one batch of events to a stream.",
			Buckets: prometheus.ExponentialBuckets(1e-6, 4, 12), // 1 us .. 4 s
		}, route),
	}
	m.reg.MustRegister(m.open, m.events, m.bytes, m.drops, m.resumes, m.writeSeconds,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Route returns the metrics of one route, with their label resolved once,
// so that counting an event costs only atomic additions.
func (m *Metrics) Route(name string) *Route {
	return &Route{
		open:         m.open.WithLabelValues(name),
		events:       m.events.WithLabelValues(name),
		bytes:        m.bytes.WithLabelValues(name),
		drops:        m.drops.WithLabelValues(name),
		resumes:      m.resumes.WithLabelValues(name),
		writeSeconds: m.writeSeconds.WithLabelValues(name),
	}
}

// Route counts the streams of one route. A nil *Route counts nothing, so
// handlers built without metrics need no checks.
type Route struct {
	open         prometheus.Gauge
	events       prometheus.Counter
	bytes        prometheus.Counter
	drops        prometheus.Counter
	resumes      prometheus.Counter
	writeSeconds prometheus.Observer
}

// Opened counts a stream that opened, and whether it resumed.
func (r *Route) Opened(resumed bool) {
	if r == nil {
		return
	}
	r.open.Inc()
	if resumed {
		r.resumes.Inc()
	}
}

// Closed counts a stream that ended; dropped means the server ended it
// because a write missed its deadline.
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
