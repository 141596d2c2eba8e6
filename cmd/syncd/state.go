package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/spf13/cobra"

	"github.com/syncd/syncd/checkpoints"
	"github.com/syncd/syncd/daemon"
	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/load/warehouse"
)

func newStateCmd(g *globals) *cobra.Command {
	var stream, format string
	cmd := &cobra.Command{
		Use:   "state [--stream NAME] [--format table|json]",
		Short: "Show each stream's checkpoint, how far behind it is, its last pass and next run",
		Long: `Show, per stream, where its next sync starts (its cursor, in UTC), how far
behind now that is, its last sync pass (when, rows, error) and when the daemon
runs it next (from its schedule). A stream without a checkpoint starts at its
start_date. Backfills in progress show as NAME#backfill; an affiliate key's
settle re-read keeps NAME#settle. A cursor more than a few minutes in the
future shows under problem with the command that fixes it: sync refuses such a
stream rather than silently skip what lies before it.

While ` + "`syncd run`" + ` holds a DuckDB warehouse, the state comes from the
daemon (its /api/status on http.listen).`,
		Example: `  syncd state
  syncd state --stream conversions --format json`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "table" && format != "json" {
				return usagef("--format %q: use table or json", format)
			}
			a, err := loadLocalApp(g)
			if err != nil {
				return err
			}
			if stream != "" && a.cfg.Stream(stream) == nil {
				return usagef("--stream %q: no such stream", stream)
			}
			now := time.Now().UTC()
			rows, err := a.stateRows(cmd.Context(), now)
			if err != nil {
				return err
			}
			if stream != "" {
				rows = slices.DeleteFunc(rows, func(r stateRow) bool {
					return r.Stream != stream && r.Stream != checkpoints.BackfillKey(stream) && r.Stream != checkpoints.SettleKey(stream)
				})
			}
			var future []string
			for _, r := range rows {
				if r.inFuture {
					future = append(future, r.Stream)
				}
			}
			if err := printState(cmd.OutOrStdout(), rows, format); err != nil {
				return err
			}
			if len(future) > 0 {
				// Also on stderr, so a script or a reader skimming past the
				// table still sees that these streams are stopped.
				a.log.Error().Strs("streams", future).Time("now", now).
					Msg("cursor in the future: these streams do not sync until their cursor is moved (see the problem column)")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&stream, "stream", "", "show only this stream")
	cmd.Flags().StringVar(&format, "format", "table", "output: table or json")
	cmd.AddCommand(newStateResetCmd(g))
	return cmd
}

// stateRow is one stream (or a backfill's or settle re-read's cursor) as
// syncd state shows it.
type stateRow struct {
	Stream      string    `json:"stream"`
	Enabled     bool      `json:"enabled"`
	Cursor      time.Time `json:"cursor,omitzero"`
	Behind      string    `json:"behind,omitempty"`
	StartsAt    string    `json:"starts_at,omitempty"` // without a cursor
	LastPassEnd time.Time `json:"last_pass_finished,omitzero"`
	LastRows    int64     `json:"last_pass_rows"`
	LastError   string    `json:"last_error,omitempty"`
	NextRun     time.Time `json:"next_run,omitzero"`
	Problem     string    `json:"problem,omitempty"`
	inFuture    bool
}

// stateRows reads the state of every configured stream from the
// warehouse, or from the daemon when it holds a DuckDB warehouse.
func (a *app) stateRows(ctx context.Context, now time.Time) ([]stateRow, error) {
	byName := map[string]*stateRow{}
	var rows []*stateRow
	row := func(name string) *stateRow {
		if r, ok := byName[name]; ok {
			return r
		}
		r := &stateRow{Stream: name}
		byName[name] = r
		rows = append(rows, r)
		return r
	}
	for _, s := range a.cfg.Streams {
		r := row(s.Name)
		r.Enabled = s.Enabled
	}
	ro, err := warehouse.OpenReadOnly(ctx, a.cfg.Warehouse)
	var locked *load.LockError
	switch {
	case errors.As(err, &locked) && (locked.Holder == "" || locked.Holder == "syncd run"):
		sts, rerr := daemon.RemoteStatus(ctx, a.cfg.HTTP.Listen)
		if rerr != nil {
			return nil, fmt.Errorf("%s, and asking it at http.listen %s failed: %w", locked.InUse(), a.cfg.HTTP.Listen, rerr)
		}
		for _, st := range sts {
			r := row(st.Stream)
			r.Cursor, r.LastPassEnd, r.LastRows, r.LastError = st.Cursor, st.LastEnd, st.LastRows, st.LastError
			if !st.LastStart.IsZero() && st.Interval > 0 {
				r.NextRun = st.LastStart.Add(st.Interval)
			}
		}
	case err != nil:
		return nil, err
	default:
		defer ro.Close()
		cursors, err := ro.Cursors(ctx)
		if err != nil {
			return nil, err
		}
		for _, c := range cursors {
			row(c.Stream).Cursor = c.Position.UTC()
		}
		runs, err := ro.LastRuns(ctx)
		if err != nil {
			return nil, err
		}
		for _, run := range runs {
			r := row(run.Stream)
			r.LastPassEnd, r.LastRows, r.LastError = run.FinishedAt, run.Rows, run.Error
		}
	}
	out := make([]stateRow, 0, len(rows))
	for _, r := range rows {
		s := a.cfg.Stream(r.Stream)
		switch {
		case !r.Cursor.IsZero():
			if lag := now.Sub(r.Cursor); lag > 0 {
				r.Behind = humanDuration(lag)
			}
		case s != nil && !s.StartDate.IsZero():
			r.StartsAt = "start_date " + s.StartDate.Format(time.DateOnly)
		case s != nil:
			r.StartsAt = "its default start (30 days back; clicks 7)"
		}
		if s != nil && s.Enabled && r.NextRun.IsZero() {
			if sched, err := cron.ParseStandard(s.Schedule); err == nil {
				from := now
				if !r.LastPassEnd.IsZero() {
					from = r.LastPassEnd
				}
				if r.NextRun = sched.Next(from); r.NextRun.Before(now) {
					r.NextRun = now // overdue: the daemon runs it at start
				}
			}
		}
		c := checkpoints.Cursor{Stream: r.Stream, Position: r.Cursor}
		if !r.Cursor.IsZero() && !checkpoints.IsBackfillKey(r.Stream) && c.InFuture(now) {
			r.inFuture = true
			r.Problem = fmt.Sprintf("IN THE FUTURE (now %s): sync refuses this stream; fix: %s", now.Format(time.RFC3339), checkpoints.ResetCommand(r.Stream))
		}
		out = append(out, *r)
	}
	return out, nil
}

// humanDuration prints d as people say it: 3d4h, 2h5m, 45s.
func humanDuration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d >= 24*time.Hour:
		return fmt.Sprintf("%dd%dh", d/(24*time.Hour), d%(24*time.Hour)/time.Hour)
	case d >= time.Hour:
		return fmt.Sprintf("%dh%dm", d/time.Hour, d%time.Hour/time.Minute)
	case d >= time.Minute:
		return fmt.Sprintf("%dm%ds", d/time.Minute, d%time.Minute/time.Second)
	}
	return d.String()
}

func printState(w io.Writer, rows []stateRow, format string) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	ts := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "stream\tcursor\tbehind\tlast pass\tnext run\tproblem")
	for _, r := range rows {
		cursor, behind := ts(r.Cursor), or(r.Behind, "-")
		if r.Cursor.IsZero() && r.StartsAt != "" {
			cursor = "starts at " + r.StartsAt
		}
		last := "-"
		if !r.LastPassEnd.IsZero() {
			last = fmt.Sprintf("%s, %d rows", ts(r.LastPassEnd), r.LastRows)
			if r.LastError != "" {
				last += ", failed: " + oneLine(r.LastError, 80)
			}
		}
		next := ts(r.NextRun)
		if !r.Enabled && !strings.Contains(r.Stream, "#") {
			next = "disabled"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Stream, cursor, behind, last, next, or(r.Problem, "-"))
	}
	return tw.Flush()
}

func or(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

// oneLine flattens s to one line of at most n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		s = string(r[:n]) + "…"
	}
	return s
}

func newStateResetCmd(g *globals) *cobra.Command {
	var stream, to string
	cmd := &cobra.Command{
		Use:   "reset --stream NAME [--to DATE]",
		Short: "Move a stream's checkpoint back (or forward) so the next sync starts there",
		Long: `Move a stream's checkpoint. With --to, the next sync starts at that date
(00:00 UTC); without it, the checkpoint is removed and the next sync starts
at the stream's start_date. No rows are deleted: re-synced rows are upserted.`,
		Example: `  syncd state reset --stream conversions --to 2025-06-01
  syncd state reset --stream clicks`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if stream == "" {
				return usagef("--stream is required")
			}
			var pos time.Time
			if to != "" {
				var err error
				if pos, err = parseDateFlag("to", to); err != nil {
					return err
				}
				if pos.After(time.Now()) {
					return usagef("--to %s is in the future", to)
				}
			}
			a, err := loadLocalApp(g)
			if err != nil {
				return err
			}
			if a.cfg.Stream(stream) == nil {
				return usagef("--stream %q: no such stream", stream)
			}
			wh, err := warehouse.Open(cmd.Context(), a.cfg.Warehouse, a.command)
			if err != nil {
				return err
			}
			defer wh.Close()
			if to == "" {
				if err := wh.DeleteCursor(cmd.Context(), stream); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: checkpoint removed; the next sync starts at its start_date\n", stream)
				return nil
			}
			if err := wh.SetCursor(cmd.Context(), checkpoints.Cursor{Stream: stream, Position: pos, UpdatedAt: time.Now().UTC()}); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: the next sync starts at %s\n", stream, pos.Format(time.RFC3339))
			return nil
		},
	}
	cmd.Flags().StringVar(&stream, "stream", "", "stream whose checkpoint to move (required)")
	cmd.Flags().StringVar(&to, "to", "", "new checkpoint, YYYY-MM-DD (default: remove it)")
	return cmd
}
