package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/pipeline"
)

func newBackfillCmd(g *globals) *cobra.Command {
	var streams []string
	var fromFlag, toFlag string
	cmd := &cobra.Command{
		Use:   "backfill --stream NAME --from DATE [--to DATE]",
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
and duration; on a terminal a line on stderr shows its progress.`,
		Example: `  syncd backfill --stream conversions --from 2025-01-01 --to 2025-03-31
  syncd backfill --stream conversions,stats_daily --from 2025-06-01`,
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
			// The dates are days of the network's calendar, as Affise counts
			// stats_daily's days; streams planned in UTC widen them to the
			// whole UTC days around them.
			today := a.today()
			if to.IsZero() || to.After(today) {
				to = today
			}
			if from.After(today) {
				return usagef("--from %s is in the future", fromFlag)
			}
			src, sink, err := a.startLoad(cmd.Context(), streams, false)
			if err != nil {
				return err
			}
			defer sink.Close()
			return a.backfill(cmd.Context(), src, sink, from, to)
		},
	}
	cmd.Flags().StringSliceVar(&streams, "stream", nil, "streams to backfill (comma-separated; required)")
	cmd.Flags().StringVar(&fromFlag, "from", "", "first day to re-sync, YYYY-MM-DD (required)")
	cmd.Flags().StringVar(&toFlag, "to", "", "last day to re-sync, YYYY-MM-DD (default: today)")
	return cmd
}

// backfill re-syncs the days [from, to] (both inclusive, days of the
// network's calendar as UTC midnights) of src's streams into sink.
func (a *app) backfill(ctx context.Context, src *source, sink load.Warehouse, from, to time.Time) error {
	loc := a.cfg.API.Location
	start := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, loc)
	end := time.Date(to.Year(), to.Month(), to.Day()+1, 0, 0, 0, 0, loc) // --to is inclusive
	for _, ex := range src.extractors {
		opts := pipeline.Options{Log: a.log, WindowsAhead: a.cfg.API.Concurrency}
		tracker := a.tracker()
		if tracker != nil {
			opts.Progress = tracker.Progress
		}
		res, err := pipeline.Backfill(ctx, ex, sink, start, end, opts)
		if tracker != nil {
			tracker.Done(ex.Stream())
		}
		if err != nil {
			return err
		}
		res.Log(a.log.Info()).Msg("backfill finished")
	}
	return nil
}

// today is the current day of the network's calendar (api.timezone), as a
// UTC midnight: the form --from/--to dates take.
func (a *app) today() time.Time {
	now := time.Now().In(a.cfg.API.Location)
	return time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
}
