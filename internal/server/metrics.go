package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus metrics, on a registry of its own
// (no global state), every name prefixed gantry_.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	queued   prometheus.Counter
	pickup   prometheus.Histogram
	leased   prometheus.Counter
	finished *prometheus.CounterVec
	webhooks *prometheus.CounterVec
	logLines prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gantry_http_requests_total", Help: "HTTP requests by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gantry_http_request_duration_seconds", Help: "HTTP request latency by route pattern.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route"}),
		queued: prometheus.NewCounter(prometheus.CounterOpts{Name: "gantry_jobs_queued_total", Help: "Jobs queued."}),
		pickup: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "gantry_job_pickup_seconds", Help: "Time from a job's queueing to its lease by an agent.",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 5, 30},
		}),
		leased:   prometheus.NewCounter(prometheus.CounterOpts{Name: "gantry_jobs_leased_total", Help: "Job leases granted, re-leases included."}),
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gantry_runs_finished_total", Help: "Runs finished, by status."}, []string{"status"}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gantry_webhooks_total", Help: "Webhooks received, by outcome."}, []string{"outcome"}),
		logLines: prometheus.NewCounter(prometheus.CounterOpts{Name: "gantry_log_lines_total", Help: "Log lines received from agents."}),
	}
	m.reg.MustRegister(m.requests, m.duration, m.queued, m.pickup, m.leased, m.finished, m.webhooks, m.logLines,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// statusWriter remembers the status code a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// instrument counts and times requests by their route pattern, so that
// IDs in paths do not make a series each.
func (m *metrics) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		m.requests.WithLabelValues(route, r.Method, strconv.Itoa(sw.code)).Inc()
		m.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}
