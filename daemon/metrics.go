package daemon

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/syncd/syncd/pipeline"
)

// Metrics are the daemon's counters. Create them before the Affise client
// and hand them to it, so every HTTP attempt and retry is counted:
//
//	m := daemon.NewMetrics(reg)
//	client, _ := extract.NewClient(cfg, extract.WithObserver(m))
//
// (extract.WithOnRequest(m.OnRequest) works too but sees no retries; use
// one or the other, not both.)
type Metrics struct {
	rows            *prometheus.CounterVec
	rowsRead        *prometheus.CounterVec
	rowsStored      *prometheus.CounterVec // by stream and how: inserted, updated, unchanged
	passRetries     *prometheus.CounterVec
	passes          *prometheus.CounterVec
	passDuration    *prometheus.HistogramVec
	requests        *prometheus.CounterVec
	requestDuration *prometheus.HistogramVec
	retries         *prometheus.CounterVec
	rateLimited     *prometheus.CounterVec
}

// NewMetrics creates the counters and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncd_rows_total",
			Help: "Rows the warehouse added or changed (inserted plus updated), by stream.",
		}, []string{"stream"}),
		rowsRead: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncd_rows_read_total",
			Help: "Rows fetched from the Affise API, by stream.",
		}, []string{"stream"}),
		rowsStored: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncd_rows_stored_total",
			Help: "Rows committed to the warehouse, one per key, by stream and what the commit did with the key: inserted (new), updated (changed) or unchanged (held as it was).",
		}, []string{"stream", "change"}),
		passRetries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncd_pass_retries_total",
			Help: "Affise requests retried by the stream's passes (attempts beyond a page's first), by stream.",
		}, []string{"stream"}),
		passes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncd_passes_total",
			Help: "Passes finished, by stream and result (ok, error, canceled).",
		}, []string{"stream", "result"}),
		passDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "syncd_pass_duration_seconds",
			Help:    "Duration of a stream's pass.",
			Buckets: []float64{0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200},
		}, []string{"stream"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncd_requests_total",
			Help: "HTTP attempts to the Affise API, by endpoint path and status code (0: no response).",
		}, []string{"endpoint", "code"}),
		requestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "syncd_request_duration_seconds",
			Help:    "Duration of one HTTP attempt to the Affise API, body included.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"endpoint"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncd_retries_total",
			Help: "Affise requests retried, by endpoint and reason.",
		}, []string{"endpoint", "reason"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncd_rate_limited_total",
			Help: "HTTP 429 replies from the Affise API, by endpoint.",
		}, []string{"endpoint"}),
	}
	if reg != nil {
		reg.MustRegister(m.rows, m.rowsRead, m.rowsStored, m.passRetries, m.passes, m.passDuration, m.requests, m.requestDuration, m.retries, m.rateLimited)
	}
	return m
}

// passResults are the values of syncd_passes_total's result label.
var passResults = []string{"ok", "error", "canceled"}

// storedChanges are the values of syncd_rows_stored_total's change label.
var storedChanges = []string{"inserted", "updated", "unchanged"}

// initStream creates every per-stream series at 0, so rate() and
// increase() see a stream's first pass rather than a series appearing.
func (m *Metrics) initStream(stream string) {
	m.rows.WithLabelValues(stream)
	m.rowsRead.WithLabelValues(stream)
	m.passRetries.WithLabelValues(stream)
	for _, c := range storedChanges {
		m.rowsStored.WithLabelValues(stream, c)
	}
	for _, r := range passResults {
		m.passes.WithLabelValues(stream, r)
	}
}

// pass counts a finished pass's rows and retries.
func (m *Metrics) pass(res pipeline.Result) {
	m.rows.WithLabelValues(res.Stream).Add(float64(res.Rows))
	m.rowsRead.WithLabelValues(res.Stream).Add(float64(res.Read))
	for i, n := range []int64{res.Committed.Inserted, res.Committed.Updated, res.Committed.Unchanged} {
		m.rowsStored.WithLabelValues(res.Stream, storedChanges[i]).Add(float64(n))
	}
	m.passRetries.WithLabelValues(res.Stream).Add(float64(res.Retries))
	m.passDuration.WithLabelValues(res.Stream).Observe(res.Duration.Seconds())
}

// buildInfo is syncd_build_info: 1, labelled with what this build is.
func buildInfo(version, duckdb string) prometheus.Collector {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "syncd_build_info",
		Help: "Always 1; the labels say which syncd and which DuckDB library run.",
	}, []string{"version", "duckdb"})
	g.WithLabelValues(version, duckdb).Set(1)
	return g
}

// OnRequest counts one HTTP attempt (the extract.WithOnRequest hook).
func (m *Metrics) OnRequest(endpoint string, code int, dur time.Duration) {
	m.requests.WithLabelValues(endpoint, strconv.Itoa(code)).Inc()
	m.requestDuration.WithLabelValues(endpoint).Observe(dur.Seconds())
	if code == 429 {
		m.rateLimited.WithLabelValues(endpoint).Inc()
	}
}

// ObserveRequest implements extract.Observer.
func (m *Metrics) ObserveRequest(endpoint string, code int, dur time.Duration) {
	m.OnRequest(endpoint, code, dur)
}

// ObserveRetry implements extract.Observer.
func (m *Metrics) ObserveRetry(endpoint, reason string, _ time.Duration) {
	m.retries.WithLabelValues(endpoint, reason).Inc()
}

// stateCollector derives gauges from the streams' state at scrape time, so
// lags and staleness keep moving between passes.
type stateCollector struct{ d *Daemon }

var (
	descLastSuccess = prometheus.NewDesc("syncd_last_success_timestamp_seconds",
		"Unix time of the stream's last successful pass.", []string{"stream"}, nil)
	descCursorLag = prometheus.NewDesc("syncd_cursor_lag_seconds",
		"Now minus the stream's committed cursor.", []string{"stream"}, nil)
	descClicksAlarm = prometheus.NewDesc("syncd_clicks_retention_alarm",
		"1 when the clicks cursor is further behind than the alarm lag (Affise drops clicks after about 7 days).", nil, nil)
	descStale = prometheus.NewDesc("syncd_stream_stale",
		"1 when the stream had no successful pass within its allowed staleness (what /healthz checks).", []string{"stream"}, nil)
	descStaleness = prometheus.NewDesc("syncd_stream_staleness_seconds",
		"The stream's allowed staleness.", []string{"stream"}, nil)
	descRunning = prometheus.NewDesc("syncd_pass_running",
		"1 while a pass of the stream is in flight.", []string{"stream"}, nil)
	descFailures = prometheus.NewDesc("syncd_consecutive_failures",
		"Passes of the stream that failed in a row.", []string{"stream"}, nil)
	descNextRun = prometheus.NewDesc("syncd_next_pass_timestamp_seconds",
		"Unix time the stream's next pass is due.", []string{"stream"}, nil)
	descCursorInFuture = prometheus.NewDesc("syncd_cursor_in_future",
		"1 when the stream's stored cursor is ahead of now: its passes are refused until the cursor is moved (syncd state reset).", []string{"stream"}, nil)
	descUnhealthy = prometheus.NewDesc("syncd_stream_unhealthy",
		"1 when /healthz counts the stream against the daemon: stale, cursor in future, or every pass since start failed.", []string{"stream"}, nil)
)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLastSuccess, descCursorLag, descClicksAlarm, descStale, descStaleness, descRunning, descFailures, descNextRun, descCursorInFuture, descUnhealthy} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	hasClicks := false
	alarm := 0.0
	for _, s := range c.d.Status() {
		if !s.LastSuccess.IsZero() {
			ch <- prometheus.MustNewConstMetric(descLastSuccess, prometheus.GaugeValue, float64(s.LastSuccess.UnixNano())/1e9, s.Stream)
		}
		if !s.Cursor.IsZero() {
			ch <- prometheus.MustNewConstMetric(descCursorLag, prometheus.GaugeValue, s.CursorLag.Seconds(), s.Stream)
		}
		if !s.NextRun.IsZero() {
			ch <- prometheus.MustNewConstMetric(descNextRun, prometheus.GaugeValue, float64(s.NextRun.UnixNano())/1e9, s.Stream)
		}
		ch <- prometheus.MustNewConstMetric(descStale, prometheus.GaugeValue, b2f(s.Stale), s.Stream)
		ch <- prometheus.MustNewConstMetric(descStaleness, prometheus.GaugeValue, s.Staleness.Seconds(), s.Stream)
		ch <- prometheus.MustNewConstMetric(descRunning, prometheus.GaugeValue, b2f(s.Running), s.Stream)
		ch <- prometheus.MustNewConstMetric(descFailures, prometheus.GaugeValue, float64(s.Failures), s.Stream)
		ch <- prometheus.MustNewConstMetric(descCursorInFuture, prometheus.GaugeValue, b2f(s.CursorInFuture), s.Stream)
		ch <- prometheus.MustNewConstMetric(descUnhealthy, prometheus.GaugeValue, b2f(s.Problem != ""), s.Stream)
		if c.d.byName[s.Stream].retention {
			hasClicks = true
			alarm = b2f(s.RetentionRisk)
		}
	}
	if hasClicks {
		ch <- prometheus.MustNewConstMetric(descClicksAlarm, prometheus.GaugeValue, alarm)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
