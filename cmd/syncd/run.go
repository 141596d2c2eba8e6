package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/robfig/cron/v3"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/syncd/syncd/config"
	"github.com/syncd/syncd/daemon"
	"github.com/syncd/syncd/extract"
	"github.com/syncd/syncd/internal/passview"
	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/load/duckdb"
	"github.com/syncd/syncd/load/duckdb/sqlguard"
	"github.com/syncd/syncd/models"
	"github.com/syncd/syncd/pipeline"
	"github.com/syncd/syncd/plan"
	"github.com/syncd/syncd/verify"
)

func newRunCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "Run as a daemon: every enabled stream on its schedule, with /healthz, /metrics and a status page",
		Long: `Run every enabled stream on its own schedule (streams.<name>.schedule: a
cron spec or "@every 15m") until SIGTERM or SIGINT. Passes of one stream
never overlap; all streams share one request budget. A failed pass is
retried with backoff, at the latest on the next tick. At start-up every
stream that is due (never ran, failed last time, or missed a tick) runs at
once. Each pass logs one "pass finished" line: rows read, inserted, updated
and unchanged, requests, retries, duration, cursor before and after. On a
terminal, one line on stderr shows the passes in flight (windows, rows,
requests, time left).

HTTP on http.listen (default 127.0.0.1:9464):
  /          status page: per stream freshness, last pass (what it read and
             stored), cursor, last error; amber while a stream is failing;
             daily revenue, payouts and profit of the last 30 days
  /healthz   200 while every stream is healthy; 503 naming, by reason, the
             streams that are stale (no success within 3 schedule intervals
             + up to 5m), whose stored cursor is in the future, or whose
             every pass since start failed
  /metrics   Prometheus metrics (syncd_*)
  /api/query read-only SQL: "syncd query" uses it while the daemon holds the
             DuckDB file
  /api/status, /api/plan  what "syncd state" and "syncd plan" show, as JSON

With postgres.listen set (e.g. 127.0.0.1:5433), BI tools and psql read the
warehouse over the Postgres protocol, read-only, as postgres.user with
postgres.password (SCRAM-SHA-256; TLS with postgres.tls_cert/tls_key).

On SIGTERM/SIGINT the daemon stops scheduling, lets each window in flight
commit or roll back, and exits 0 within 10s. A second signal exits at once
(the warehouse stays consistent: DuckDB's WAL and the per-window
transactions see to it).`,
		Example: `  syncd run -c /etc/syncd/syncd.yaml
  curl -s 127.0.0.1:9464/healthz`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDaemon(cmd.Context(), g)
		},
	}
}

func runDaemon(ctx context.Context, g *globals) error {
	a, err := loadApp(g)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := daemon.NewMetrics(reg)
	srcs, wh, err := a.startLoad(ctx, a.cfg.Networks, nil, true, func(network string) []extract.ClientOption {
		return []extract.ClientOption{extract.WithObserver(metrics.ForNetwork(network))}
	})
	if err != nil {
		return err
	}
	var jobs []daemon.Job
	tracker := a.tracker()
	for _, src := range srcs {
		js, err := a.jobs(src, tracker)
		if err != nil {
			_ = wh.Close()
			return err
		}
		jobs = append(jobs, js...)
	}
	clientDB, err := wh.ClientDB()
	if err != nil {
		_ = wh.Close()
		return err
	}
	guard := sqlguard.New(clientDB)
	// BI tools' SQL goes through the same guard and pool as /api/query's.
	pg, err := newPostgres(a, guard, reg)
	if err != nil {
		_ = wh.Close()
		return err
	}
	var services []daemon.Service
	closeServices := func() {}
	if pg != nil {
		services = append(services, pg)
		closeServices = func() { _ = pg.Close() }
	}
	var verifications []*daemon.Verification
	for _, src := range srcs {
		v, err := a.verification(src)
		if err != nil {
			closeServices()
			_ = wh.Close()
			return err
		}
		if v != nil {
			verifications = append(verifications, v)
		}
	}
	d, err := daemon.New(daemon.Config{
		Jobs:      jobs,
		Services:  services,
		Verify:    verifications,
		Warehouse: wh,
		// Each network's cursors, passes and money, for its jobs' state.
		NetworkReader: func(network string) load.Reader { return wh.ForNetwork(network) },
		ClientSQL:     guard,
		Listen:        a.cfg.HTTP.Listen,
		Log:           a.log,
		Registry:      reg,
		Metrics:       metrics,
		Redact:        a.redact,
		Version:       version,
		// syncd_build_info's duckdb label; "" if DuckDB cannot say, which
		// must not stop the daemon.
		DuckDBVersion: duckdb.LibraryVersion(),
	})
	if err != nil {
		closeServices()
		_ = wh.Close()
		return err
	}
	if err := d.Listen(); err != nil {
		closeServices()
		_ = wh.Close()
		return err
	}

	// main's signal.NotifyContext cancels ctx on the first signal; this
	// watches for a second one and leaves at once.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		n := 0
		for sig := range sigs {
			n++
			if n == 1 {
				a.log.Info().Str("signal", sig.String()).Msg("shutting down (send it again to exit at once)")
				continue
			}
			a.log.Warn().Str("signal", sig.String()).Msg("second signal: exiting now; uncommitted windows are discarded and synced again next time")
			os.Exit(exitFailed)
		}
	}()

	err = d.Run(ctx)
	if errors.Is(err, daemon.ErrShutdownTimeout) {
		// A pass is still inside a transaction: leave without closing the
		// database (closing would wait for it); the WAL keeps the file
		// consistent and the next start resumes from the last commit.
		a.log.Warn().Msg("exiting with a pass still in flight")
		return nil
	}
	closeDone := make(chan error, 1)
	go func() { closeDone <- wh.Close() }()
	select {
	case cerr := <-closeDone:
		if cerr != nil && err == nil {
			err = fmt.Errorf("closing the warehouse: %w", cerr)
		}
	case <-time.After(1500 * time.Millisecond):
		a.log.Warn().Msg("closing the warehouse is taking long; exiting without waiting")
	}
	return err
}

// newHealthcheckCmd is `syncd healthcheck`: a container HEALTHCHECK
// without curl. It GETs /healthz of the daemon on http.listen
// and exits 0 when it answers 200, 1 otherwise.
func newHealthcheckCmd(g *globals) *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   "healthcheck [--listen ADDR]",
		Short: "Exit 0 when the running daemon's /healthz answers 200 (for container HEALTHCHECKs)",
		Long: `GET /healthz of the daemon listening on http.listen, read from the config
(-c, SYNCD_CONFIG, and SYNCD_HTTP_LISTEN) as syncd run reads it, or on
--listen. Exit 0 when it answers 200; exit 1 with one line saying why
otherwise, including when the config cannot be loaded (never 2, which
Docker reserves).`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if listen == "" {
				// The daemon's own address, as it reads it (file and
				// SYNCD_* environment). A config that cannot load is the
				// failure to report: guessing the default address would
				// pass or fail for a reason nobody can see.
				a, err := loadLocalApp(g)
				if err != nil {
					// %v, not %w: a config error would exit 2, which a
					// Docker HEALTHCHECK must not return.
					return fmt.Errorf("healthcheck: cannot read http.listen from the config (%v); fix it or pass --listen", err)
				}
				listen = a.cfg.HTTP.Listen
			}
			if err := daemon.CheckHealth(cmd.Context(), listen); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "ok")
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "", "the daemon's address (default: http.listen of the config)")
	return cmd
}

// jobs are the daemon's jobs of src's network: one per stream, each
// syncing into the network's view of the warehouse on its schedule.
func (a *app) jobs(src *source, tracker *passview.Tracker) ([]daemon.Job, error) {
	n := src.network
	// Behind plans a pass on every status read: with planners of their
	// own, silent, so a lagging clicks cursor is warned about by its
	// passes, not by every scrape.
	quiet := map[string]extract.Extractor{}
	if ps, err := a.plannerSource(n, names(src), zerolog.Nop()); err == nil {
		for _, ex := range ps.extractors {
			quiet[ex.Stream()] = ex
		}
	}
	jobs := make([]daemon.Job, 0, len(src.extractors))
	for _, ex := range src.extractors {
		spec := n.Stream(ex.Stream()).Schedule
		sched, err := cron.ParseStandard(spec)
		if err != nil {
			return nil, &config.Error{Msg: fmt.Sprintf("%sstreams.%s.schedule: %q is not a cron spec or @every duration (%v)", a.label(n.Name), ex.Stream(), spec, err)}
		}
		decl, err := models.Lookup(ex.Stream())
		if err != nil {
			return nil, err
		}
		var behind func(cursor, now time.Time) time.Duration
		if q := quiet[ex.Stream()]; q != nil {
			behind = func(cursor, now time.Time) time.Duration { return pipeline.Behind(q, cursor, now) }
		}
		jobs = append(jobs, daemon.Job{
			Network:   n.Name,
			Stream:    ex.Stream(),
			Schedule:  sched,
			Retention: plan.HasRetention(decl.Planner),
			Behind:    behind,
			Run: func(ctx context.Context) (pipeline.Result, error) {
				opts := pipeline.Options{Log: a.log, Progress: daemon.Progress(ctx), WindowsAhead: n.API.Concurrency}
				// On a terminal the passes in flight share a line too.
				done := a.track(tracker, src, &opts)
				defer done(ex.Stream())
				return pipeline.Sync(ctx, ex, src.sink, opts)
			},
			Plan: func(ctx context.Context) (any, error) {
				return a.planStream(ctx, n, ex, src.sink, time.Now().UTC())
			},
		})
	}
	return jobs, nil
}

// verification is the daemon's scheduled syncd verify of src's network
// over the last verify.days days; nil when verify.schedule is "".
func (a *app) verification(src *source) (*daemon.Verification, error) {
	wh := src.sink
	v := a.cfg.Verify
	if v.Schedule == "" {
		return nil, nil
	}
	sched, err := cron.ParseStandard(v.Schedule)
	if err != nil {
		return nil, &config.Error{Msg: fmt.Sprintf("verify.schedule: %q is not a cron spec or @every duration (%v)", v.Schedule, err)}
	}
	days := int(v.Days)
	return &daemon.Verification{Network: src.network.Name, Schedule: sched, Days: days, Run: func(ctx context.Context) (daemon.VerifyResult, error) {
		today := a.today(src.network)
		cfg, err := a.verifyConfig(ctx, src.network, wh, today.AddDate(0, 0, -(days-1)), today.AddDate(0, 0, 1))
		if err != nil {
			return daemon.VerifyResult{}, err
		}
		rep, err := verify.Run(ctx, wh, src.client, cfg)
		if err != nil {
			return daemon.VerifyResult{}, err
		}
		res := daemon.VerifyResult{Rows: len(rep.Rows), Requests: rep.Requests}
		for _, d := range rep.MismatchedDays() {
			res.MismatchedDays = append(res.MismatchedDays, d.Format(time.DateOnly))
		}
		if len(res.MismatchedDays) > 0 {
			a.log.Warn().Strs("days", res.MismatchedDays).Msg("verification: days differ from Affise's own numbers; run `syncd verify --repair`")
		}
		return res, nil
	}}, nil
}
