// Package daemon is `syncd run`: every enabled stream on its own schedule,
// never two passes of one stream at once, with an HTTP listener serving
// /healthz, /metrics, a status page at / and POST /api/query, GET
// /api/status and GET /api/plan (so `syncd query`, `syncd state` and
// `syncd plan` work while the daemon holds the DuckDB file).
//
// The daemon knows nothing about Affise or DuckDB files: a Job is a name, a
// cron schedule and a function running one pass; the warehouse is reached
// through load.Reader, which asks questions rather than SQL, and clients'
// SQL through ReadOnlyQuerier. Which sources drop old rows (for the
// retention alarm) comes with each Job.
package daemon

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/oklog/run"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/robfig/cron/v3"
	"github.com/rs/zerolog"

	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/pipeline"
)

// Defaults of Config.
const (
	DefaultListen          = "127.0.0.1:9464"
	DefaultShutdownTimeout = 8 * time.Second
	// DefaultClicksAlarmLag: Affise drops clicks after about 7 days; warn
	// well before.
	DefaultClicksAlarmLag = 5 * 24 * time.Hour
)

// ErrShutdownTimeout is returned by Run when a pass did not stop within
// Config.ShutdownTimeout after the context ended. The caller should exit
// without closing the warehouse (a transaction may still be open; DuckDB's
// WAL keeps the file consistent when the process simply ends).
var ErrShutdownTimeout = errors.New("daemon: passes still running at the shutdown deadline")

// Job is one stream's schedule and pass.
type Job struct {
	Stream   string
	Schedule cron.Schedule
	// Staleness is how long the stream may go without a successful pass
	// before /healthz fails; zero: DefaultStaleness(Schedule).
	Staleness time.Duration
	// Run runs one pass. It must return soon after ctx ends (the pipeline
	// rolls back the window in flight).
	Run func(ctx context.Context) (pipeline.Result, error)
	// Retention says the stream's source drops old rows (Affise's clicks
	// after about 7 days), so the retention alarm watches its cursor lag.
	// The caller knows the stream; the daemon does not.
	Retention bool
	// Behind, when set, is how far a cursor lags the furthest place the
	// stream's cursor can be at now (a daily stream is not 19h behind at
	// 19:00); without it, now minus the cursor.
	Behind func(cursor, now time.Time) time.Duration
	// Plan, when set, says what the stream's next pass would do without
	// running it (GET /api/plan, for `syncd plan` while the daemon holds
	// the warehouse). What it returns is served as one JSON value.
	Plan func(ctx context.Context) (any, error)
}

// ReadOnlyQuerier runs SQL that clients send (POST /api/query). Package
// sqlguard implements it over DuckDB.
type ReadOnlyQuerier interface {
	// RunReadOnly runs stmt only when it cannot change anything (the
	// warehouse, settings, files) and hands its rows to read; the rows are
	// closed when read returns. A refused statement runs nothing and its
	// error says why. network "" reads every network's rows, a network's
	// name only that network's. Safe for concurrent use.
	RunReadOnly(ctx context.Context, network, stmt string, read func(*sql.Rows) error) error
}

// Service is a server the daemon runs beside its HTTP listener, such as
// the Postgres endpoint for BI tools; the daemon knows nothing of what it
// serves.
type Service interface {
	// Serve serves until ctx ends, then stops, ends its clients' sessions
	// and returns once they are gone, within a few seconds. It returns
	// early only when it cannot go on; the daemon then stops too.
	Serve(ctx context.Context) error
}

// Config configures a Daemon. Only Jobs is required.
type Config struct {
	Jobs []Job
	// Warehouse, when set, is read for each stream's cursor after every
	// pass (cursor lag, the clicks retention alarm), for the cursors and
	// last passes at start-up, and for the revenue chart; without it those
	// are absent. Clients' SQL never reaches it (see ClientSQL).
	Warehouse load.Reader
	// ClientSQL, when set, answers /api/query; without it /api/query
	// answers 503.
	ClientSQL ReadOnlyQuerier
	// Services run beside the HTTP listener, started and stopped with
	// the daemon.
	Services []Service
	// Verify, when set, checks the warehouse against the source on its
	// schedule; the result is on the status page and in
	// syncd_verify_mismatched_days.
	Verify *Verification
	// Listen is the HTTP address (default 127.0.0.1:9464). Listener, when
	// set, is used instead.
	Listen   string
	Listener net.Listener
	Log      zerolog.Logger
	// Registry receives the daemon's collectors and is served on /metrics
	// (default: a new registry).
	Registry *prometheus.Registry
	// Metrics is the set of counters the extract client feeds (create it
	// with NewMetrics on the same Registry before building the client);
	// default: NewMetrics(Registry).
	Metrics *Metrics
	// Now is the clock of state and staleness (default time.Now).
	Now func() time.Time
	// Redact scrubs secrets from any error text shown or logged.
	Redact func(string) string
	// ShutdownTimeout bounds how long Run waits for passes in flight after
	// ctx ends (default 8s, so the process exits within 10s).
	ShutdownTimeout time.Duration
	// ClicksAlarmLag is the clicks cursor lag that raises the retention
	// alarm (default 5 days).
	ClicksAlarmLag time.Duration
	// QueryTimeout bounds one /api/query (default 10 minutes).
	QueryTimeout time.Duration
	// Version is shown on the status page and in syncd_build_info.
	Version string
	// DuckDBVersion is the DuckDB library's version, in syncd_build_info
	// ("" when unknown).
	DuckDBVersion string
}

// Daemon runs jobs and serves HTTP. Create it with New.
type Daemon struct {
	cfg      Config
	log      zerolog.Logger
	now      func() time.Time
	redact   func(string) string
	reg      *prometheus.Registry
	metrics  *Metrics
	started  time.Time
	streams  []*stream // in Jobs order
	byName   map[string]*stream
	handler  http.Handler
	querySem chan struct{}
	verifier *verifier // nil without Config.Verify

	lnMu sync.Mutex
	ln   net.Listener
}

// New checks cfg and builds a daemon; nothing runs until Run.
func New(cfg Config) (*Daemon, error) {
	if len(cfg.Jobs) == 0 {
		return nil, errors.New("daemon: no stream to run (enable one under streams:)")
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Redact == nil {
		cfg.Redact = func(s string) string { return s }
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	if cfg.ClicksAlarmLag <= 0 {
		cfg.ClicksAlarmLag = DefaultClicksAlarmLag
	}
	if cfg.QueryTimeout <= 0 {
		cfg.QueryTimeout = 10 * time.Minute
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(cfg.Registry)
	}
	d := &Daemon{
		cfg:      cfg,
		log:      cfg.Log,
		now:      cfg.Now,
		redact:   cfg.Redact,
		reg:      cfg.Registry,
		metrics:  cfg.Metrics,
		byName:   map[string]*stream{},
		querySem: make(chan struct{}, 2),
	}
	d.started = d.now()
	for _, j := range cfg.Jobs {
		if j.Stream == "" || j.Schedule == nil || j.Run == nil {
			return nil, fmt.Errorf("daemon: job %q needs a stream name, a schedule and a Run func", j.Stream)
		}
		if _, dup := d.byName[j.Stream]; dup {
			return nil, fmt.Errorf("daemon: stream %s is scheduled twice", j.Stream)
		}
		interval := Interval(j.Schedule, d.started)
		st := &stream{job: j, interval: interval, staleness: j.Staleness, retention: j.Retention}
		if st.staleness <= 0 {
			st.staleness = DefaultStaleness(j.Schedule, d.started)
		}
		d.streams = append(d.streams, st)
		d.byName[j.Stream] = st
		d.metrics.initStream(j.Stream)
	}
	if cfg.Verify != nil {
		if cfg.Verify.Schedule == nil || cfg.Verify.Run == nil {
			return nil, errors.New("daemon: a verification needs a schedule and a check")
		}
		vf, err := newVerifier(*cfg.Verify, d.reg)
		if err != nil {
			return nil, err
		}
		d.verifier = vf
	}
	if err := d.reg.Register(buildInfo(cfg.Version, cfg.DuckDBVersion)); err != nil {
		return nil, fmt.Errorf("daemon: registering metrics: %w", err)
	}
	if err := d.reg.Register(&stateCollector{d: d}); err != nil {
		return nil, fmt.Errorf("daemon: registering metrics: %w", err)
	}
	d.handler = d.routes()
	return d, nil
}

// Handler serves /, /healthz, /metrics and /api/query (what Run listens
// with).
func (d *Daemon) Handler() http.Handler { return d.handler }

// Listen opens the HTTP listener now (Run does it when not done before), so
// a bad address fails before any pass starts and Addr is known.
func (d *Daemon) Listen() error {
	d.lnMu.Lock()
	defer d.lnMu.Unlock()
	if d.ln != nil {
		return nil
	}
	if d.cfg.Listener != nil {
		d.ln = d.cfg.Listener
		return nil
	}
	ln, err := net.Listen("tcp", d.cfg.Listen)
	if err != nil {
		return fmt.Errorf("daemon: http.listen %s: %w", d.cfg.Listen, err)
	}
	d.ln = ln
	return nil
}

// Addr is the listening address (nil before Listen or Run).
func (d *Daemon) Addr() net.Addr {
	d.lnMu.Lock()
	defer d.lnMu.Unlock()
	if d.ln == nil {
		return nil
	}
	return d.ln.Addr()
}

// Run schedules every job, serves HTTP and runs the Services until ctx
// ends or a server fails. On ctx's end it stops scheduling, cancels the passes in flight
// (each window commits or rolls back), waits for them up to
// ShutdownTimeout and returns nil, or ErrShutdownTimeout when a pass is
// still running.
func (d *Daemon) Run(ctx context.Context) error {
	if err := d.Listen(); err != nil {
		return err
	}
	d.seed(ctx)
	srv := &http.Server{
		Handler:           d.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          nil,
	}
	d.log.Info().Str("listen", d.Addr().String()).Int("streams", len(d.streams)).Msg("daemon started")

	var g run.Group
	// run.Group returns only the first actor's error: keep the scheduler's
	// (a shutdown deadline) apart.
	var schedErr error
	{
		sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		g.Add(func() error {
			schedErr = d.schedule(sctx)
			return schedErr
		}, func(error) { cancel() })
	}
	{
		g.Add(func() error {
			if err := srv.Serve(d.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("daemon: http: %w", err)
			}
			return nil
		}, func(error) {
			sctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if err := srv.Shutdown(sctx); err != nil {
				_ = srv.Close()
			}
		})
	}
	if d.verifier != nil {
		vctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		g.Add(func() error {
			d.verifier.loop(vctx, d.now, d.cfg.Redact)
			return nil
		}, func(error) { cancel() })
	}
	for _, svc := range d.cfg.Services {
		// Stopped by the group (after ctx ends), so the passes in flight
		// and the clients' sessions wind down side by side.
		sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		g.Add(func() error {
			if err := svc.Serve(sctx); err != nil {
				return fmt.Errorf("daemon: %w", err)
			}
			return nil
		}, func(error) { cancel() })
	}
	{
		done := make(chan struct{})
		g.Add(func() error {
			select {
			case <-ctx.Done():
				d.log.Info().Msg("stopping: no new passes; waiting for the passes in flight to commit or roll back")
			case <-done:
			}
			return nil
		}, func(error) { close(done) })
	}
	err := g.Run()
	if err == nil {
		err = schedErr
	}
	if err == nil {
		d.log.Info().Msg("daemon stopped")
	}
	return err
}
