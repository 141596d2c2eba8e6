package daemon

import (
	"cmp"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/syncd/syncd/models"
	"github.com/syncd/syncd/pipeline"
)

// Metrics are the daemon's counters, every per-stream and per-request
// series labelled with its network. Create them before the Affise clients
// and hand each network's client its own observer, so every HTTP attempt
// and retry is counted under the right network:
//
//	m := daemon.NewMetrics(reg)
//	client, _ := extract.NewClient(cfg, extract.WithObserver(m.ForNetwork(cfg.Network)))
//
// Metrics itself observes for the default network (extract.WithObserver(m)
// is m.ForNetwork("")). extract.WithOnRequest(m.OnRequest) works too but
// sees no retries; use one or the other, not both.
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
			Help: "Rows the warehouse added or changed (inserted plus updated), by network and stream.",
		}, []string{"network", "stream"}),
		rowsRead: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncd_rows_read_total",
			Help: "Rows fetched from the Affise API, by network and stream.",
		}, []string{"network", "stream"}),
		rowsStored: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncd_rows_stored_total",
			Help: "Rows committed to the warehouse, one per key, by network, stream and what the commit did with the key: inserted (new), updated (changed) or unchanged (held as it was).",
		}, []string{"network", "stream", "change"}),
		passRetries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncd_pass_retries_total",
			Help: "Affise requests retried by the stream's passes (attempts beyond a page's first), by network and stream.",
		}, []string{"network", "stream"}),
		passes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncd_passes_total",
			Help: "Passes finished, by network, stream and result (ok, error, canceled).",
		}, []string{"network", "stream", "result"}),
		passDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "syncd_pass_duration_seconds",
			Help:    "Duration of a stream's pass.",
			Buckets: []float64{0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200},
		}, []string{"network", "stream"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncd_requests_total",
			Help: "HTTP attempts to the Affise API, by network, endpoint path and status code (0: no response).",
		}, []string{"network", "endpoint", "code"}),
		requestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "syncd_request_duration_seconds",
			Help:    "Duration of one HTTP attempt to the Affise API, body included.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"network", "endpoint"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncd_retries_total",
			Help: "Affise requests retried, by network, endpoint and reason.",
		}, []string{"network", "endpoint", "reason"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncd_rate_limited_total",
			Help: "HTTP 429 replies from the Affise API, by network and endpoint.",
		}, []string{"network", "endpoint"}),
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

// initStream creates every per-stream series of network's stream at 0, so
// rate() and increase() see a stream's first pass rather than a series
// appearing.
func (m *Metrics) initStream(network, stream string) {
	m.rows.WithLabelValues(network, stream)
	m.rowsRead.WithLabelValues(network, stream)
	m.passRetries.WithLabelValues(network, stream)
	for _, c := range storedChanges {
		m.rowsStored.WithLabelValues(network, stream, c)
	}
	for _, r := range passResults {
		m.passes.WithLabelValues(network, stream, r)
	}
}

// pass counts a finished pass's rows and retries.
func (m *Metrics) pass(network string, res pipeline.Result) {
	m.rows.WithLabelValues(network, res.Stream).Add(float64(res.Rows))
	m.rowsRead.WithLabelValues(network, res.Stream).Add(float64(res.Read))
	for i, n := range []int64{res.Committed.Inserted, res.Committed.Updated, res.Committed.Unchanged} {
		m.rowsStored.WithLabelValues(network, res.Stream, storedChanges[i]).Add(float64(n))
	}
	m.passRetries.WithLabelValues(network, res.Stream).Add(float64(res.Retries))
	m.passDuration.WithLabelValues(network, res.Stream).Observe(res.Duration.Seconds())
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

// NetworkMetrics counts one network's client's requests: it is the
// extract.Observer (and OnRequest the extract.WithOnRequest hook) of that
// network's client. Get it from Metrics.ForNetwork.
type NetworkMetrics struct {
	m       *Metrics
	network string
}

// ForNetwork is the observer of network's client ("" is
// models.DefaultNetwork): pass extract.WithObserver(m.ForNetwork(name)) to
// each network's extract.NewClient.
func (m *Metrics) ForNetwork(network string) *NetworkMetrics {
	return &NetworkMetrics{m: m, network: cmp.Or(network, models.DefaultNetwork)}
}

// OnRequest counts one HTTP attempt (the extract.WithOnRequest hook).
func (n *NetworkMetrics) OnRequest(endpoint string, code int, dur time.Duration) {
	n.m.requests.WithLabelValues(n.network, endpoint, strconv.Itoa(code)).Inc()
	n.m.requestDuration.WithLabelValues(n.network, endpoint).Observe(dur.Seconds())
	if code == 429 {
		n.m.rateLimited.WithLabelValues(n.network, endpoint).Inc()
	}
}

// ObserveRequest implements extract.Observer.
func (n *NetworkMetrics) ObserveRequest(endpoint string, code int, dur time.Duration) {
	n.OnRequest(endpoint, code, dur)
}

// ObserveRetry implements extract.Observer.
func (n *NetworkMetrics) ObserveRetry(endpoint, reason string, _ time.Duration) {
	n.m.retries.WithLabelValues(n.network, endpoint, reason).Inc()
}

// OnRequest counts one HTTP attempt of the default network's client.
func (m *Metrics) OnRequest(endpoint string, code int, dur time.Duration) {
	m.ForNetwork("").OnRequest(endpoint, code, dur)
}

// ObserveRequest implements extract.Observer for the default network.
func (m *Metrics) ObserveRequest(endpoint string, code int, dur time.Duration) {
	m.ForNetwork("").ObserveRequest(endpoint, code, dur)
}

// ObserveRetry implements extract.Observer for the default network.
func (m *Metrics) ObserveRetry(endpoint, reason string, wait time.Duration) {
	m.ForNetwork("").ObserveRetry(endpoint, reason, wait)
}

// stateCollector derives gauges from the streams' state at scrape time, so
// lags and staleness keep moving between passes.
type stateCollector struct{ d *Daemon }

var (
	descLastSuccess = prometheus.NewDesc("syncd_last_success_timestamp_seconds",
		"Unix time of the stream's last successful pass.", []string{"network", "stream"}, nil)
	descCursorLag = prometheus.NewDesc("syncd_cursor_lag_seconds",
		"Now minus the stream's committed cursor.", []string{"network", "stream"}, nil)
	descClicksAlarm = prometheus.NewDesc("syncd_clicks_retention_alarm",
		"1 when the network's clicks cursor is further behind than the alarm lag (Affise drops clicks after about 7 days).", []string{"network"}, nil)
	descStale = prometheus.NewDesc("syncd_stream_stale",
		"1 when the stream had no successful pass within its allowed staleness (what /healthz checks).", []string{"network", "stream"}, nil)
	descStaleness = prometheus.NewDesc("syncd_stream_staleness_seconds",
		"The stream's allowed staleness.", []string{"network", "stream"}, nil)
	descRunning = prometheus.NewDesc("syncd_pass_running",
		"1 while a pass of the stream is in flight.", []string{"network", "stream"}, nil)
	descFailures = prometheus.NewDesc("syncd_consecutive_failures",
		"Passes of the stream that failed in a row.", []string{"network", "stream"}, nil)
	descNextRun = prometheus.NewDesc("syncd_next_pass_timestamp_seconds",
		"Unix time the stream's next pass is due.", []string{"network", "stream"}, nil)
	descCursorInFuture = prometheus.NewDesc("syncd_cursor_in_future",
		"1 when the stream's stored cursor is ahead of now: its passes are refused until the cursor is moved (syncd state reset).", []string{"network", "stream"}, nil)
	descUnhealthy = prometheus.NewDesc("syncd_stream_unhealthy",
		"1 when /healthz counts the stream against the daemon: stale, cursor in future, or every pass since start failed.", []string{"network", "stream"}, nil)
)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLastSuccess, descCursorLag, descClicksAlarm, descStale, descStaleness, descRunning, descFailures, descNextRun, descCursorInFuture, descUnhealthy} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	alarms := map[string]float64{} // by network, with a clicks stream
	for _, s := range c.d.Status() {
		labels := []string{s.Network, s.Stream}
		if !s.LastSuccess.IsZero() {
			ch <- prometheus.MustNewConstMetric(descLastSuccess, prometheus.GaugeValue, float64(s.LastSuccess.UnixNano())/1e9, labels...)
		}
		if !s.Cursor.IsZero() {
			ch <- prometheus.MustNewConstMetric(descCursorLag, prometheus.GaugeValue, s.CursorLag.Seconds(), labels...)
		}
		if !s.NextRun.IsZero() {
			ch <- prometheus.MustNewConstMetric(descNextRun, prometheus.GaugeValue, float64(s.NextRun.UnixNano())/1e9, labels...)
		}
		ch <- prometheus.MustNewConstMetric(descStale, prometheus.GaugeValue, b2f(s.Stale), labels...)
		ch <- prometheus.MustNewConstMetric(descStaleness, prometheus.GaugeValue, s.Staleness.Seconds(), labels...)
		ch <- prometheus.MustNewConstMetric(descRunning, prometheus.GaugeValue, b2f(s.Running), labels...)
		ch <- prometheus.MustNewConstMetric(descFailures, prometheus.GaugeValue, float64(s.Failures), labels...)
		ch <- prometheus.MustNewConstMetric(descCursorInFuture, prometheus.GaugeValue, b2f(s.CursorInFuture), labels...)
		ch <- prometheus.MustNewConstMetric(descUnhealthy, prometheus.GaugeValue, b2f(s.Problem != ""), labels...)
		if c.d.byKey[jobKey{s.Network, s.Stream}].retention {
			alarms[s.Network] = max(alarms[s.Network], b2f(s.RetentionRisk))
		}
	}
	for network, alarm := range alarms {
		ch <- prometheus.MustNewConstMetric(descClicksAlarm, prometheus.GaugeValue, alarm, network)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
