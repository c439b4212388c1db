package receiver

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics live in a private registry so tests and several servers in one
// process never collide.
type metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	rejects   *prometheus.CounterVec
	outcomes  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	batchSize prometheus.Histogram
	batchTime prometheus.Histogram
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "roamsettle_http_requests_total",
			Help: "HTTP requests by module, method and HTTP status."}, []string{"module", "method", "code"}),
		rejects: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "roamsettle_rejects_total",
			Help: "Refused requests and rejected payloads by rule."}, []string{"rule"}),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "roamsettle_received_total",
			Help: "Stored payloads by kind and outcome."}, []string{"kind", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "roamsettle_http_request_duration_seconds",
			Help:    "Request latency by module.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}}, []string{"module"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "roamsettle_commit_batch_records",
			Help: "Records per group commit.", Buckets: prometheus.ExponentialBuckets(1, 2, 11)}),
		batchTime: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "roamsettle_commit_duration_seconds",
			Help: "Duration of one group commit (Sink.Save).", Buckets: prometheus.ExponentialBuckets(.0005, 2, 12)}),
	}
	m.reg.MustRegister(m.requests, m.rejects, m.outcomes, m.latency, m.batchSize, m.batchTime)
	return m
}

func (m *metrics) observeBatch(n int, d time.Duration) {
	m.batchSize.Observe(float64(n))
	m.batchTime.Observe(d.Seconds())
}

// recorder captures what the access log and metrics need.
type recorder struct {
	http.ResponseWriter
	status     int
	bytes      int
	module     string
	partner    string
	ocpiStatus int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

// middleware echoes X-Request-ID and X-Correlation-ID, and writes one access
// log line and the metrics per request. It logs no header but those two ids
// and no body: the Authorization header and credentials never reach a log.
func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		requestID := headerID(r.Header.Get("X-Request-ID"))
		if requestID == "" {
			requestID = newID()
		}
		correlationID := headerID(r.Header.Get("X-Correlation-ID"))
		if correlationID == "" {
			correlationID = requestID
		}
		w.Header().Set("X-Request-ID", requestID)
		w.Header().Set("X-Correlation-ID", correlationID)
		rec := &recorder{ResponseWriter: w, module: "other"}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		elapsed := time.Since(start)
		s.metrics.requests.WithLabelValues(rec.module, r.Method, strconv.Itoa(rec.status)).Inc()
		s.metrics.latency.WithLabelValues(rec.module).Observe(elapsed.Seconds())
		if rec.module == "health" || r.URL.Path == "/metrics" || r.URL.Path == "/health" {
			return
		}
		s.cfg.Log.LogAttrs(r.Context(), levelFor(rec.status), "request",
			slogString("method", r.Method), slogString("path", r.URL.Path), slogInt("status", rec.status),
			slogInt("ocpi_status", rec.ocpiStatus), slogString("partner", rec.partner),
			slogString("module", rec.module), slogInt("bytes_in", int(r.ContentLength)), slogInt("bytes_out", rec.bytes),
			slogDuration("duration", elapsed), slogString("request_id", requestID),
			slogString("correlation_id", correlationID), slogString("remote", r.RemoteAddr))
	})
}

// headerID keeps an id header only when it is short printable ASCII, so a
// hostile value cannot forge log lines.
func headerID(s string) string {
	if len(s) == 0 || len(s) > 128 {
		return ""
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return ""
		}
	}
	return s
}

func newID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
