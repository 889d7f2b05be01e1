package server

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/berthpaas/berth/backend/auth"
	"github.com/berthpaas/berth/backend/streams"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// metrics are the master's Prometheus metrics, in a registry of their own
// so that tests can run several masters in one process.
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	labels   labeler
}

// labeler names a request's verb and resource for the metrics, from a
// bounded set (see api.API.MetricLabels).
type labeler interface {
	MetricLabels(ri auth.RequestInfo) (verb, resource string)
}

// auditDrops counts the audit entries lost (accounts.AuditWriter).
type auditDrops interface {
	Dropped() uint64
}

// streamCounts says how many streams of each kind are open and how many
// were refused (streams.Registry).
type streamCounts interface {
	OpenCount(kind streams.Kind) int
	Refused(kind streams.Kind) uint64
}

func newMetrics(labels labeler, audit auditDrops, reg streamCounts) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_apiserver_requests_total",
			Help: "API requests by verb, resource and HTTP status code.",
		}, []string{"verb", "resource", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "berth_apiserver_request_duration_seconds",
			Help:    "API request latency by verb and resource (watches excluded).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"verb", "resource"}),
		labels: labels,
	}
	m.registry.MustRegister(m.requests, m.latency,
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "berth_audit_dropped_total",
			Help: "Audit entries lost: the queue stayed full past the wait, or the database refused a batch.",
		}, func() float64 { return float64(audit.Dropped()) }),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, kind := range streams.Kinds {
		labels := prometheus.Labels{"kind": string(kind)}
		m.registry.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "berth_streams_open", Help: "Long-lived requests open, by kind (watch, log, exec, console).", ConstLabels: labels,
			}, func() float64 { return float64(reg.OpenCount(kind)) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "berth_streams_refused_total", Help: "Long-lived requests refused at a per-user or total limit, by kind.", ConstLabels: labels,
			}, func() float64 { return float64(reg.Refused(kind)) }))
	}
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

func (m *metrics) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		ri, ok := c.Get("requestInfo").(auth.RequestInfo)
		if !ok {
			return err
		}
		code := c.Response().Status
		var se *apierrors.StatusError
		var he *echo.HTTPError
		switch {
		case err == nil:
		case errors.As(err, &se):
			code = int(se.ErrStatus.Code)
		case errors.As(err, &he):
			code = he.Code
		default:
			code = http.StatusInternalServerError
		}
		verb, resource := m.labels.MetricLabels(ri)
		m.requests.WithLabelValues(verb, resource, strconv.Itoa(code)).Inc()
		if ri.Verb != "watch" {
			m.latency.WithLabelValues(verb, resource).Observe(time.Since(start).Seconds())
		}
		return err
	}
}
