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
	"github.com/spf13/cobra"

	"github.com/syncd/syncd/config"
	"github.com/syncd/syncd/daemon"
	"github.com/syncd/syncd/extract"
	"github.com/syncd/syncd/load"
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
once.

HTTP on http.listen (default 127.0.0.1:9464):
  /          status page: per stream freshness, last pass, cursor, last error;
             daily revenue, payouts and profit of the last 30 days
  /healthz   200 while every stream is healthy; 503 naming, by reason, the
             streams that are stale (no success within 3 schedule intervals
             + up to 5m), whose stored cursor is in the future, or whose
             every pass since start failed
  /metrics   Prometheus metrics (syncd_*)
  /api/query read-only SQL: "syncd query" uses it while the daemon holds the
             DuckDB file

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
	src, wh, err := a.startLoad(ctx, nil, true, extract.WithObserver(metrics))
	if err != nil {
		return err
	}
	schedules := map[string]cron.Schedule{}
	for _, ex := range src.extractors {
		spec := a.cfg.Stream(ex.Stream()).Schedule
		s, err := cron.ParseStandard(spec)
		if err != nil {
			wh.Close()
			return &config.Error{Msg: fmt.Sprintf("streams.%s.schedule: %q is not a cron spec or @every duration (%v)", ex.Stream(), spec, err)}
		}
		schedules[ex.Stream()] = s
	}

	jobs := make([]daemon.Job, 0, len(src.extractors))
	for _, ex := range src.extractors {
		decl, err := models.Lookup(ex.Stream())
		if err != nil {
			_ = wh.Close()
			return err
		}
		jobs = append(jobs, daemon.Job{
			Stream:    ex.Stream(),
			Schedule:  schedules[ex.Stream()],
			Retention: plan.HasRetention(decl.Planner),
			Run: func(ctx context.Context) (pipeline.Result, error) {
				return pipeline.Sync(ctx, ex, wh, pipeline.Options{Log: a.log, Progress: daemon.Progress(ctx), WindowsAhead: a.cfg.API.Concurrency})
			},
		})
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
	verification, err := a.verification(src, wh)
	if err != nil {
		closeServices()
		_ = wh.Close()
		return err
	}
	d, err := daemon.New(daemon.Config{
		Jobs:      jobs,
		Services:  services,
		Verify:    verification,
		Warehouse: wh,
		ClientSQL: guard,
		Listen:    a.cfg.HTTP.Listen,
		Log:       a.log,
		Registry:  reg,
		Metrics:   metrics,
		Redact:    a.redact,
		Version:   version,
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

// newHealthcheckCmd is `syncd healthcheck`, hidden: a container
// HEALTHCHECK without curl. It GETs /healthz of the daemon on http.listen
// and exits 0 when it answers 200, 1 otherwise.
func newHealthcheckCmd(g *globals) *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:    "healthcheck",
		Short:  "Exit 0 when the running daemon's /healthz answers 200 (for container HEALTHCHECKs)",
		Hidden: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if listen == "" {
				listen = daemon.DefaultListen
				if v, ok := os.LookupEnv(config.EnvName("http.listen")); ok && v != "" {
					listen = v
				}
				if cfg, err := config.Load(g.configPath); err == nil {
					listen = cfg.HTTP.Listen
				}
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

// verification is the daemon's scheduled syncd verify over the last
// verify.days days; nil when verify.schedule is "".
func (a *app) verification(src *source, wh load.Warehouse) (*daemon.Verification, error) {
	v := a.cfg.Verify
	if v.Schedule == "" {
		return nil, nil
	}
	sched, err := cron.ParseStandard(v.Schedule)
	if err != nil {
		return nil, &config.Error{Msg: fmt.Sprintf("verify.schedule: %q is not a cron spec or @every duration (%v)", v.Schedule, err)}
	}
	days := int(v.Days)
	return &daemon.Verification{Schedule: sched, Days: days, Run: func(ctx context.Context) (daemon.VerifyResult, error) {
		today := a.today()
		cfg, err := a.verifyConfig(ctx, wh, today.AddDate(0, 0, -(days-1)), today.AddDate(0, 0, 1))
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
