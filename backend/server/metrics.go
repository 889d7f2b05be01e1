package server

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/berthpaas/berth/backend/auth"
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
}

func newMetrics() *metrics {
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
	}
	m.registry.MustRegister(m.requests, m.latency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
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
		if errors.As(err, &se) {
			code = int(se.ErrStatus.Code)
		}
		m.requests.WithLabelValues(ri.Verb, ri.Resource, strconv.Itoa(code)).Inc()
		if ri.Verb != "watch" {
			m.latency.WithLabelValues(ri.Verb, ri.Resource).Observe(time.Since(start).Seconds())
		}
		return err
	}
}
