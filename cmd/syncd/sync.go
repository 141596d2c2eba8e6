package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/syncd/syncd/config"
	"github.com/syncd/syncd/extract"
	"github.com/syncd/syncd/internal/passview"
	"github.com/syncd/syncd/models"
	"github.com/syncd/syncd/pipeline"
)

func newSyncCmd(g *globals) *cobra.Command {
	var streams, networks []string
	var clock, format string
	cmd := &cobra.Command{
		Use:   "sync [--stream a,b] [--network a,b]",
		Short: "Run one incremental pass of each enabled stream, then exit",
		Long: `Run one incremental pass of each enabled stream (or only those given with
--stream), each from its stored checkpoint, then exit. Every window is
committed together with its checkpoint: interrupt it at any moment and the
next sync resumes where it stopped. Exit 1 if any stream failed (the others
still run); the message names the stream and the reason.

With several networks (networks: in the config) each network syncs at
once beside the others, with its own request budget; a network that fails
(a wrong key, an outage) fails only its own passes: the others sync fully,
and the exit message has one line per failed pass, "network NAME: STREAM:
reason". --network limits the sync to those networks; the summary then
has a NETWORK column.

On a terminal, a line on stderr shows each pass as it runs: windows done of
planned, rows read, requests and the time left. At the end, stdout gets one
summary line per stream: windows, rows read from the API, rows inserted,
updated and unchanged in the warehouse, requests, retries, duration and the
cursor before -> after (--format json: the same as a JSON array).

Streams: ` + strings.Join(models.Names(), ", "),
		Example: `  syncd sync -c syncd.yaml
  syncd sync --stream conversions,stats_daily
  syncd sync --network alpha,beta`,
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
			nets, err := a.selectNetworks(networks)
			if err != nil {
				return err
			}
			srcs, wh, err := a.startLoad(cmd.Context(), nets, streams, true, func(string) []extract.ClientOption {
				return []extract.ClientOption{extract.WithClock(now)}
			})
			if err != nil {
				return err
			}
			defer wh.Close()
			tracker := a.tracker()
			passes, failed := a.eachNetwork(cmd.Context(), srcs, false, func(ctx context.Context, src *source, ex extract.Extractor) passview.Pass {
				opts := pipeline.Options{Log: a.log, Now: now, WindowsAhead: src.network.API.Concurrency}
				done := a.track(tracker, src, &opts)
				res, err := pipeline.Sync(ctx, ex, src.sink, opts)
				done(ex.Stream())
				ev := a.log.Info()
				pass := passview.Pass{Result: res, Network: a.column(src.network.Name)}
				if err != nil {
					err = fmt.Errorf("%s%w", a.label(src.network.Name), err)
					ev = a.log.Error().Str("error", err.Error())
					pass.Error = a.redact(err.Error())
					pass.Err = err
				}
				a.logNetwork(res.Log(ev), src).Msg("pass finished")
				return pass
			})
			write := passview.WriteTable
			if format == "json" {
				write = passview.WriteJSON
			}
			if err := write(cmd.OutOrStdout(), passes); err != nil {
				return fmt.Errorf("writing the summary: %w", err)
			}
			return a.failures(passes, failed)
		},
	}
	cmd.Flags().StringSliceVar(&streams, "stream", nil, "streams to sync (comma-separated; default: every enabled stream)")
	cmd.Flags().StringSliceVar(&networks, "network", nil, networkFlag)
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

// selectStreams validates --stream against the known streams and those
// enabled in the networks nets, and says which streams each network runs:
// a stream named but disabled in one network runs in the others.
func (a *app) selectStreams(nets []*config.Network, requested []string, defaultAll bool) (map[string][]string, error) {
	out := map[string][]string{}
	if len(requested) == 0 {
		if !defaultAll {
			return nil, usagef("--stream is required (one of %s)", strings.Join(models.Names(), ", "))
		}
		for _, n := range nets {
			for _, s := range n.Streams {
				if s.Enabled {
					out[n.Name] = append(out[n.Name], s.Name)
				}
			}
		}
		return out, nil
	}
	seen := map[string]bool{}
	for _, r := range requested {
		r = strings.TrimSpace(r)
		if !slices.Contains(models.Names(), r) {
			return nil, usagef("--stream %q: no such stream (streams are %s)", r, strings.Join(models.Names(), ", "))
		}
		if seen[r] {
			continue
		}
		seen[r] = true
		enabled := false
		for _, n := range nets {
			if n.Stream(r).Enabled {
				enabled = true
				out[n.Name] = append(out[n.Name], r)
			}
		}
		if !enabled {
			if len(nets) == 1 {
				return nil, usagef("--stream %s: the stream is disabled (%s.enabled: false)", r, a.streamKey(nets[0], r))
			}
			return nil, usagef("--stream %s: the stream is disabled in every network chosen (streams.%s.enabled: false)", r, r)
		}
	}
	return out, nil
}

// streamKey is a stream's section as the config names it: streams.NAME,
// or where the network's own is, for a config with networks:.
func (a *app) streamKey(n *config.Network, stream string) string {
	if !a.cfg.Several() && n.Name == models.DefaultNetwork {
		return "streams." + stream
	}
	return "streams." + stream + " (or network " + n.Name + "'s)"
}

// eachNetwork runs pass over every extractor of srcs: the networks at
// once, each network's streams one after the other (as one network always
// ran them). It returns the passes in network then stream order, and
// how many failed. A network whose pass fails goes on with its next stream
// unless stopOnFailure; the other networks are not touched by it.
func (a *app) eachNetwork(ctx context.Context, srcs []*source, stopOnFailure bool, pass func(context.Context, *source, extract.Extractor) passview.Pass) ([]passview.Pass, int) {
	results := make([][]passview.Pass, len(srcs))
	var wg sync.WaitGroup
	for i, src := range srcs {
		wg.Go(func() {
			for _, ex := range src.extractors {
				p := pass(ctx, src, ex)
				results[i] = append(results[i], p)
				if ctx.Err() != nil || (stopOnFailure && p.Err != nil) {
					return
				}
			}
		})
	}
	wg.Wait()
	var passes []passview.Pass
	failed := 0
	for _, r := range results {
		for _, p := range r {
			if p.Err != nil {
				failed++
			}
			passes = append(passes, p)
		}
	}
	return passes, failed
}

// failures is the error of a run whose passes failed: the one failure as
// it is; several in a config with api: alone as one line naming the
// streams, as it always was; with several networks one line per failure,
// "network NAME: STREAM: reason".
func (a *app) failures(passes []passview.Pass, failed int) error {
	var errs []error
	var streams []string
	for _, p := range passes {
		if p.Err != nil {
			errs = append(errs, p.Err)
			streams = append(streams, p.Stream)
		}
	}
	switch {
	case len(errs) == 0:
		return nil
	case len(errs) == 1:
		return errs[0]
	case !a.cfg.Several():
		// One line: the first reason in full, the rest are logged above.
		return fmt.Errorf("%d of %d streams failed (%s); first: %w", len(errs), len(passes), strings.Join(streams, ", "), errs[0])
	}
	return fmt.Errorf("%d of %d passes failed:\n%w", failed, len(passes), errors.Join(errs...))
}

// track sends opts' progress to tracker (when stderr is a terminal),
// naming each pass network/stream when the config has several networks;
// done ends a pass's part of the line.
func (a *app) track(tracker *passview.Tracker, src *source, opts *pipeline.Options) (done func(stream string)) {
	if tracker == nil {
		return func(string) {}
	}
	prefix := ""
	if a.cfg.Several() {
		prefix = src.network.Name + "/"
	}
	then := opts.Progress
	opts.Progress = func(p pipeline.Progress) {
		if then != nil {
			then(p)
		}
		p.Stream = prefix + p.Stream
		tracker.Progress(p)
	}
	return func(stream string) { tracker.Done(prefix + stream) }
}

// logNetwork adds the network to a log line, when the config has several.
func (a *app) logNetwork(ev *zerolog.Event, src *source) *zerolog.Event {
	if a.cfg.Several() {
		return ev.Str("network", src.network.Name)
	}
	return ev
}

func parseDateFlag(name, v string) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return time.Time{}, usagef("--%s %q: use a date like 2025-01-31", name, v)
	}
	return t, nil
}
