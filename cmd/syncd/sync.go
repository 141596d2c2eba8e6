package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/syncd/syncd/extract"
	"github.com/syncd/syncd/internal/passview"
	"github.com/syncd/syncd/models"
	"github.com/syncd/syncd/pipeline"
)

func newSyncCmd(g *globals) *cobra.Command {
	var streams []string
	var clock, format string
	cmd := &cobra.Command{
		Use:   "sync [--stream a,b]",
		Short: "Run one incremental pass of each enabled stream, then exit",
		Long: `Run one incremental pass of each enabled stream (or only those given with
--stream), each from its stored checkpoint, then exit. Every window is
committed together with its checkpoint: interrupt it at any moment and the
next sync resumes where it stopped. Exit 1 if any stream failed (the others
still run); the message names the stream and the reason.

On a terminal, a line on stderr shows each pass as it runs: windows done of
planned, rows read, requests and the time left. At the end, stdout gets one
summary line per stream: windows, rows read from the API, rows inserted,
updated and unchanged in the warehouse, requests, retries, duration and the
cursor before -> after (--format json: the same as a JSON array).

Streams: ` + strings.Join(models.Names(), ", "),
		Example: `  syncd sync -c syncd.yaml
  syncd sync --stream conversions,stats_daily`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			now, err := clockFlag(clock)
			if err != nil {
				return err
			}
			if format != "table" && format != "json" {
				return usagef("--format %q: use table or json", format)
			}
			a, err := loadApp(g)
			if err != nil {
				return err
			}
			src, sink, err := a.startLoad(cmd.Context(), streams, true, extract.WithClock(now))
			if err != nil {
				return err
			}
			defer sink.Close()
			var failed []error
			var failedNames []string
			var passes []passview.Pass
			tracker := a.tracker()
			for _, ex := range src.extractors {
				opts := pipeline.Options{Log: a.log, Now: now, WindowsAhead: a.cfg.API.Concurrency}
				if tracker != nil {
					opts.Progress = tracker.Progress
				}
				res, err := pipeline.Sync(cmd.Context(), ex, sink, opts)
				if tracker != nil {
					tracker.Done(ex.Stream())
				}
				ev := a.log.Info()
				pass := passview.Pass{Result: res}
				if err != nil {
					ev = a.log.Error().Str("error", err.Error())
					failed = append(failed, err)
					failedNames = append(failedNames, res.Stream)
					pass.Error = a.redact(err.Error())
				}
				res.Log(ev).Msg("pass finished")
				passes = append(passes, pass)
				if cmd.Context().Err() != nil {
					break
				}
			}
			write := passview.WriteTable
			if format == "json" {
				write = passview.WriteJSON
			}
			if err := write(cmd.OutOrStdout(), passes); err != nil {
				return fmt.Errorf("writing the summary: %w", err)
			}
			switch {
			case len(failed) == 1:
				return failed[0]
			case len(failed) > 1:
				// One line: the first reason in full, the rest are logged above.
				return fmt.Errorf("%d of %d streams failed (%s); first: %w", len(failed), len(src.extractors), strings.Join(failedNames, ", "), failed[0])
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&streams, "stream", nil, "streams to sync (comma-separated; default: every enabled stream)")
	cmd.Flags().StringVar(&format, "format", "table", "summary on stdout: table or json")
	// End-to-end tests replay days long gone, such as DST changes, against a
	// simulator whose clock starts there too.
	cmd.Flags().StringVar(&clock, "clock", "", "run the pass as if the clock had read this instant (RFC3339) when it started")
	_ = cmd.Flags().MarkHidden("clock")
	return cmd
}

// clockFlag is time.Now, or with a --clock instant a clock that starts there
// and runs at the real pace.
func clockFlag(v string) (func() time.Time, error) {
	if v == "" {
		return time.Now, nil
	}
	t0, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return nil, usagef("--clock %q: use an instant like 2026-10-26T12:00:00Z", v)
	}
	started := time.Now()
	return func() time.Time { return t0.Add(time.Since(started)) }, nil
}

// selectStreams validates --stream against the known and enabled streams.
func (a *app) selectStreams(requested []string, defaultAll bool) ([]string, error) {
	if len(requested) == 0 {
		if !defaultAll {
			return nil, usagef("--stream is required (one of %s)", strings.Join(models.Names(), ", "))
		}
		var names []string
		for _, s := range a.cfg.Streams {
			if s.Enabled {
				names = append(names, s.Name)
			}
		}
		return names, nil
	}
	seen := map[string]bool{}
	var names []string
	for _, r := range requested {
		r = strings.TrimSpace(r)
		s := a.cfg.Stream(r)
		if s == nil {
			return nil, usagef("--stream %q: no such stream (streams are %s)", r, strings.Join(models.Names(), ", "))
		}
		if !s.Enabled {
			return nil, usagef("--stream %s: the stream is disabled (streams.%s.enabled: false)", r, r)
		}
		if !seen[r] {
			seen[r] = true
			names = append(names, r)
		}
	}
	return names, nil
}

func parseDateFlag(name, v string) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return time.Time{}, usagef("--%s %q: use a date like 2025-01-31", name, v)
	}
	return t, nil
}
