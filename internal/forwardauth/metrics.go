package forwardauth

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sessionbridge/sessionbridge"
)

// The outcomes of an authorization, the values of the outcome label.
const (
	OutcomeAllowed    = "allowed"    // a logged-in session: 200, or proxied
	OutcomeDenied     = "denied"     // no valid session: 401
	OutcomeRedirected = "redirected" // no valid session, a browser: 302 to the login page
	OutcomeError      = "error"      // the store failed: 503
)

// latencyBuckets are the histogram buckets, in seconds: a session store
// answers in well under a millisecond on a LAN and an auth decision takes
// little more, so the buckets start at 0.25 ms.
var latencyBuckets = []float64{.00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Metrics are the Prometheus metrics of a Handler and its store, on a
// registry of their own (with the Go runtime and process collectors):
//
//	sessionbridge_auth_decisions_total{outcome}       allowed, denied, redirected, error
//	sessionbridge_auth_duration_seconds{outcome}      from the request's arrival to the decision
//	sessionbridge_store_duration_seconds{op}          one store call: get, get_version, set, set_if, touch, destroy
//	sessionbridge_store_errors_total{op}              store calls that failed (not "not found", not a conflict)
//
// The zero value is not usable; call NewMetrics.
type Metrics struct {
	registry      *prometheus.Registry
	decisions     *prometheus.CounterVec
	authDuration  *prometheus.HistogramVec
	storeDuration *prometheus.HistogramVec
	storeErrors   *prometheus.CounterVec
}

// NewMetrics returns the metrics on a new registry.
func NewMetrics() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sessionbridge_auth_decisions_total",
			Help: "Authorization decisions, by outcome: allowed, denied (401), redirected (302 to the login page), error (503: the session store failed).",
		}, []string{"outcome"}),
		authDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sessionbridge_auth_duration_seconds",
			Help:    "Time from a request's arrival to its authorization decision (store calls included, the upstream's answer not), by outcome.",
			Buckets: latencyBuckets,
		}, []string{"outcome"}),
		storeDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sessionbridge_store_duration_seconds",
			Help:    "Latency of session store calls, by operation.",
			Buckets: latencyBuckets,
		}, []string{"op"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sessionbridge_store_errors_total",
			Help: "Session store calls that failed (an outage, a timeout, an unreadable record), by operation.",
		}, []string{"op"}),
	}
	m.registry.MustRegister(m.decisions, m.authDuration, m.storeDuration, m.storeErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, o := range []string{OutcomeAllowed, OutcomeDenied, OutcomeRedirected, OutcomeError} {
		m.decisions.WithLabelValues(o)
	}
	return m
}

// Handler serves the metrics in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// decided counts a decision and its duration.
func (m *Metrics) decided(outcome string, d time.Duration) {
	if m == nil {
		return
	}
	m.decisions.WithLabelValues(outcome).Inc()
	m.authDuration.WithLabelValues(outcome).Observe(d.Seconds())
}

// storeCall records one store call of op that took d and ended with err.
func (m *Metrics) storeCall(op string, d time.Duration, err error) {
	if m == nil {
		return
	}
	m.storeDuration.WithLabelValues(op).Observe(d.Seconds())
	if err != nil && !errors.Is(err, sessionbridge.ErrNotFound) && !errors.Is(err, sessionbridge.ErrConflict) {
		m.storeErrors.WithLabelValues(op).Inc()
	}
}

// pendingCall is one store call under way: its context (bounded by the
// timeout when that is positive) and what end records. A value, so that
// timing a call allocates nothing beyond the timeout's context.
type pendingCall struct {
	ctx    context.Context
	cancel context.CancelFunc
	m      *Metrics
	op     string
	start  time.Time
}

// call starts the bookkeeping of one store call of op.
func call(ctx context.Context, m *Metrics, timeout time.Duration, op string) pendingCall {
	start := time.Now()
	ctx, cancel := boundedContext(ctx, timeout)
	return pendingCall{ctx: ctx, cancel: cancel, m: m, op: op, start: start}
}

// end releases the call's context and records its duration and error.
func (c pendingCall) end(err error) {
	c.cancel()
	c.m.storeCall(c.op, time.Since(c.start), err)
}

// boundedContext is ctx bounded by timeout when it is positive, else ctx
// itself (with a cancel that does nothing).
func boundedContext(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if timeout > 0 {
		return context.WithTimeout(ctx, timeout)
	}
	return ctx, func() {}
}
