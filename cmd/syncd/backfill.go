package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/syncd/syncd/config"
	"github.com/syncd/syncd/extract"
	"github.com/syncd/syncd/internal/passview"
	"github.com/syncd/syncd/pipeline"
)

func newBackfillCmd(g *globals) *cobra.Command {
	var streams, networks []string
	var fromFlag, toFlag string
	cmd := &cobra.Command{
		Use:   "backfill --stream NAME --from DATE [--to DATE] [--network a,b]",
		Short: "Re-sync a bounded date range, resumably, without moving the incremental cursor",
		Long: `Re-sync the days [--from, --to] (both inclusive, in api.timezone's calendar
as Affise counts them) of one or more streams. Rows are upserted (stats_daily
replaces its days), so a backfill never doubles anything. It keeps its own
checkpoint: run the same command again after an interruption and it resumes.
The incremental cursor used by sync and run is left where it was.

conversions are selected by creation date; clicks only exist for Affise's
last 7 days; offers, partners and advertisers are snapshots (use sync).

Each stream's pass logs one "backfill finished" line: rows read, inserted,
updated and unchanged (rows already held as they were), requests, retries
and duration; on a terminal a line on stderr shows its progress.

With several networks, the dates are days of each network's own
api.timezone; the networks are backfilled at once, and one that fails
leaves the others to finish (the exit message names each failed network
and stream). --network limits it to those networks.`,
		Example: `  syncd backfill --stream conversions --from 2025-01-01 --to 2025-03-31
  syncd backfill --stream conversions,stats_daily --from 2025-06-01
  syncd backfill --stream conversions --from 2025-06-01 --network beta`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if fromFlag == "" {
				return usagef("--from is required (a date like 2025-01-01)")
			}
			from, err := parseDateFlag("from", fromFlag)
			if err != nil {
				return err
			}
			to := time.Time{}
			if toFlag != "" {
				if to, err = parseDateFlag("to", toFlag); err != nil {
					return err
				}
				if from.After(to) {
					return usagef("--from %s is after --to %s", fromFlag, toFlag)
				}
			}
			a, err := loadApp(g)
			if err != nil {
				return err
			}
			nets, err := a.selectNetworks(networks)
			if err != nil {
				return err
			}
			// The dates are days of each network's calendar, as Affise
			// counts stats_daily's days; streams planned in UTC widen them
			// to the whole UTC days around them.
			today := time.Time{}
			for _, n := range nets {
				if t := a.today(n); t.After(today) {
					today = t
				}
			}
			if from.After(today) {
				return usagef("--from %s is in the future", fromFlag)
			}
			srcs, wh, err := a.startLoad(cmd.Context(), nets, streams, false, nil)
			if err != nil {
				return err
			}
			defer wh.Close()
			return a.backfill(cmd.Context(), srcs, from, to)
		},
	}
	cmd.Flags().StringSliceVar(&streams, "stream", nil, "streams to backfill (comma-separated; required)")
	cmd.Flags().StringVar(&fromFlag, "from", "", "first day to re-sync, YYYY-MM-DD (required)")
	cmd.Flags().StringVar(&toFlag, "to", "", "last day to re-sync, YYYY-MM-DD (default: today)")
	cmd.Flags().StringSliceVar(&networks, "network", nil, networkFlag)
	return cmd
}

// backfill re-syncs the days [from, to] (both inclusive, days of each
// network's calendar as UTC midnights; to zero or past today: today) of
// srcs' streams into their networks' views. The networks run at once; the
// error has a line per failed pass (see failures).
func (a *app) backfill(ctx context.Context, srcs []*source, from, to time.Time) error {
	tracker := a.tracker()
	passes, failed := a.eachNetwork(ctx, srcs, true, func(ctx context.Context, src *source, ex extract.Extractor) passview.Pass {
		loc := src.network.API.Location
		last := to
		if today := a.today(src.network); last.IsZero() || last.After(today) {
			last = today
		}
		start := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, loc)
		end := time.Date(last.Year(), last.Month(), last.Day()+1, 0, 0, 0, 0, loc) // --to is inclusive
		opts := pipeline.Options{Log: a.log, WindowsAhead: src.network.API.Concurrency}
		done := a.track(tracker, src, &opts)
		res, err := pipeline.Backfill(ctx, ex, src.sink, start, end, opts)
		done(ex.Stream())
		pass := passview.Pass{Result: res, Network: a.column(src.network.Name)}
		if err != nil {
			pass.Err = fmt.Errorf("%s%w", a.label(src.network.Name), err)
			a.logNetwork(a.log.Error().Str("error", a.redact(pass.Err.Error())), src).Str("stream", ex.Stream()).Msg("backfill failed")
			return pass
		}
		a.logNetwork(res.Log(a.log.Info()), src).Msg("backfill finished")
		return pass
	})
	if !a.cfg.Several() {
		// One network stops at its first failure, as a backfill always did.
		for _, p := range passes {
			if p.Err != nil {
				return p.Err
			}
		}
		return nil
	}
	return a.failures(passes, failed)
}

// today is the current day of network n's calendar (its api.timezone), as
// a UTC midnight: the form --from/--to dates take.
func (a *app) today(n *config.Network) time.Time {
	now := time.Now().In(n.API.Location)
	return time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
}
