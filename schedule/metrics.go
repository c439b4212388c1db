package schedule

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the scheduler's collectors; the caller registers them on its
// private registry (Scheduler.Collectors), beside the receiver's.
type metrics struct {
	runs         *prometheus.CounterVec // kind, outcome
	skipped      *prometheus.CounterVec // kind, reason
	lastRun      *prometheus.GaugeVec   // kind: end of the last run, Unix seconds
	lastSuccess  *prometheus.GaugeVec   // kind: 1 if the last run succeeded
	catchUp      prometheus.Counter
	running      prometheus.Gauge
	pulls        *prometheus.CounterVec // outcome
	ledgerErrors prometheus.Counter
	lastTick     prometheus.Gauge
	nextTick     prometheus.Gauge
}

// Run outcomes as the metrics count them: a panic is a failed run in the
// Ledger, but its own outcome here so that it can be alerted on.
const (
	outcomeSucceeded = "succeeded"
	outcomeFailed    = "failed"
	outcomePanicked  = "panicked"
	outcomeCanceled  = "canceled"
)

func newMetrics() *metrics {
	m := &metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "roamsettle_schedule_runs_total",
			Help: "Settlement runs by kind and outcome (succeeded, failed, panicked, canceled)."}, []string{"kind", "outcome"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "roamsettle_schedule_skipped_total",
			Help: "Runs not started because the ledger had the identity done or busy."}, []string{"kind", "reason"}),
		lastRun: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "roamsettle_schedule_last_run_timestamp_seconds",
			Help: "When the last run of each kind ended (Unix time)."}, []string{"kind"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "roamsettle_schedule_last_run_success",
			Help: "1 if the last run of each kind succeeded, 0 if not."}, []string{"kind"}),
		catchUp: prometheus.NewCounter(prometheus.CounterOpts{Name: "roamsettle_schedule_catchup_runs_total",
			Help: "Runs started to catch up ticks missed while the scheduler was down or stalled."}),
		running: prometheus.NewGauge(prometheus.GaugeOpts{Name: "roamsettle_schedule_running",
			Help: "Settlement runs in progress."}),
		pulls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "roamsettle_schedule_pulls_total",
			Help: "Pulls from partners before runs, by outcome."}, []string{"outcome"}),
		ledgerErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "roamsettle_schedule_ledger_errors_total",
			Help: "Ledger calls that failed (a run not claimed or its outcome not recorded)."}),
		lastTick: prometheus.NewGauge(prometheus.GaugeOpts{Name: "roamsettle_schedule_last_tick_timestamp_seconds",
			Help: "When the last tick ended (Unix time)."}),
		nextTick: prometheus.NewGauge(prometheus.GaugeOpts{Name: "roamsettle_schedule_next_tick_timestamp_seconds",
			Help: "When the next tick is due (Unix time)."}),
	}
	// Every series exists from the start, so a rate or an absence alert works
	// before the first failure.
	for _, k := range []Kind{Provisional, Final} {
		for _, o := range []string{outcomeSucceeded, outcomeFailed, outcomePanicked, outcomeCanceled} {
			m.runs.WithLabelValues(string(k), o)
		}
		for _, r := range []Claim{Done, Busy} {
			m.skipped.WithLabelValues(string(k), r.String())
		}
	}
	m.pulls.WithLabelValues(outcomeSucceeded)
	m.pulls.WithLabelValues(outcomeFailed)
	return m
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.runs, m.skipped, m.lastRun, m.lastSuccess, m.catchUp, m.running,
		m.pulls, m.ledgerErrors, m.lastTick, m.nextTick}
}

func (m *metrics) observe(k Kind, out Outcome, origin Origin) {
	o := outcomeSucceeded
	switch {
	case out.Panic:
		o = outcomePanicked
	case out.Status == Failed:
		o = outcomeFailed
	case out.Status == Canceled:
		o = outcomeCanceled
	}
	m.runs.WithLabelValues(string(k), o).Inc()
	m.lastRun.WithLabelValues(string(k)).Set(unix(out.Ended))
	ok := 0.0
	if out.Status == Succeeded {
		ok = 1
	}
	m.lastSuccess.WithLabelValues(string(k)).Set(ok)
	if origin == OriginCatchUp {
		m.catchUp.Inc()
	}
}

func unix(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}
