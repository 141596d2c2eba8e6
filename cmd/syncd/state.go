package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/syncd/syncd/checkpoints"
	"github.com/syncd/syncd/config"
	"github.com/syncd/syncd/daemon"
	"github.com/syncd/syncd/extract"
	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/load/warehouse"
	"github.com/syncd/syncd/models"
	"github.com/syncd/syncd/pipeline"
)

func newStateCmd(g *globals) *cobra.Command {
	var stream, format string
	var networks []string
	cmd := &cobra.Command{
		Use:   "state [--stream NAME] [--network a,b] [--format table|json]",
		Short: "Show each stream's checkpoint, how far behind it is, its last pass and next run",
		Long: `Show, per stream, where its next sync starts (its cursor, in UTC), how far
behind it is, its last sync pass (when, rows, error) and when the daemon runs
it next (from its schedule). "behind" is measured from the furthest place the
cursor can be now, not from now: a daily stream whose cursor is today's
midnight (in its zone) and an hourly one at the last full hour are "on time";
a snapshot stream (offers, partners, ...) is behind by its snapshot's age. A
stream without a checkpoint starts at its start_date. Backfills in progress show as NAME#backfill; an affiliate key's
settle re-read keeps NAME#settle. A cursor more than a few minutes in the
future shows under problem with the command that fixes it: sync refuses such a
stream rather than silently skip what lies before it.

While ` + "`syncd run`" + ` holds a DuckDB warehouse, the state comes from the
daemon (its /api/status on http.listen).

With several networks (networks: in the config) each network's streams
have their own checkpoints and rows, with a network column first;
--network shows only those networks.`,
		Example: `  syncd state
  syncd state --network beta
  syncd state --stream conversions --format json`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "table" && format != "json" {
				return usagef("--format %q: use table or json", format)
			}
			a, err := loadLocalApp(g)
			if err != nil {
				return err
			}
			if stream != "" && !slices.Contains(models.Names(), stream) {
				return usagef("--stream %q: no such stream", stream)
			}
			nets, err := a.selectNetworks(networks)
			if err != nil {
				return err
			}
			now := time.Now().UTC()
			rows, err := a.stateRows(cmd.Context(), nets, now)
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
					future = append(future, a.label(r.network)+r.Stream)
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
	cmd.Flags().StringSliceVar(&networks, "network", nil, networkFlag)
	cmd.Flags().StringVar(&format, "format", "table", "output: table or json")
	cmd.AddCommand(newStateResetCmd(g))
	return cmd
}

// stateRow is one stream (or a backfill's or settle re-read's cursor) as
// syncd state shows it.
type stateRow struct {
	// Network is the stream's network; "" (and no column) for a config
	// with one network.
	Network     string    `json:"network,omitempty"`
	Stream      string    `json:"stream"`
	Enabled     bool      `json:"enabled"`
	Cursor      time.Time `json:"cursor,omitzero"`
	Behind      string    `json:"behind,omitempty"`
	StartsAt    string    `json:"starts_at,omitempty"` // without a cursor
	LastPassEnd time.Time `json:"last_pass_finished,omitzero"`
	LastRows    int64     `json:"last_pass_rows"`
	LastError   string    `json:"last_error,omitempty"`
	NextRun     time.Time `json:"next_run,omitzero"`
	// RunningSince is when the daemon's pass under way started (zero: none,
	// or the warehouse was read directly, with no daemon holding it).
	RunningSince time.Time `json:"running_since,omitzero"`
	Problem      string    `json:"problem,omitempty"`
	inFuture     bool
	network      string // the network's name, also for one network
}

// stateRows reads the state of every configured stream of the networks
// nets from the warehouse, or from the daemon when it holds a DuckDB
// warehouse.
func (a *app) stateRows(ctx context.Context, nets []*config.Network, now time.Time) ([]stateRow, error) {
	type key struct{ network, stream string }
	byKey := map[key]*stateRow{}
	var rows []*stateRow
	chosen := map[string]*config.Network{}
	for _, n := range nets {
		chosen[n.Name] = n
	}
	row := func(network, name string) *stateRow {
		if r, ok := byKey[key{network, name}]; ok {
			return r
		}
		r := &stateRow{Network: a.column(network), Stream: name, network: network}
		byKey[key{network, name}] = r
		rows = append(rows, r)
		return r
	}
	for _, n := range nets {
		for _, s := range n.Streams {
			row(n.Name, s.Name).Enabled = s.Enabled
		}
	}
	ro, err := warehouse.OpenReadOnly(ctx, a.cfg.Warehouse)
	locked := daemonHolds(err)
	switch {
	case locked != nil:
		sts, rerr := daemon.RemoteStatus(ctx, a.cfg.HTTP.Listen)
		if rerr != nil {
			return nil, a.askingDaemonFailed(locked, rerr)
		}
		for _, st := range sts {
			network := a.remoteNetwork(statusNetwork(st))
			if chosen[network] == nil {
				continue
			}
			r := row(network, st.Stream)
			r.Cursor, r.LastPassEnd, r.LastRows, r.LastError = st.Cursor, st.LastEnd, st.LastRows, st.LastError
			if st.Running {
				r.RunningSince = st.PassStarted
			}
			if !st.LastStart.IsZero() && st.Interval > 0 {
				r.NextRun = st.LastStart.Add(st.Interval)
			}
		}
	case err != nil:
		return nil, err
	default:
		defer ro.Close()
		for _, n := range nets {
			view := ro.ReadNetwork(n.Name)
			cursors, err := view.Cursors(ctx)
			if err != nil {
				return nil, fmt.Errorf("%s%w", a.label(n.Name), err)
			}
			for _, c := range cursors {
				row(n.Name, c.Stream).Cursor = c.Position.UTC()
			}
			runs, err := view.LastRuns(ctx)
			if err != nil {
				return nil, fmt.Errorf("%s%w", a.label(n.Name), err)
			}
			for _, run := range runs {
				r := row(n.Name, run.Stream)
				r.LastPassEnd, r.LastRows, r.LastError = run.FinishedAt, run.Rows, run.Error
			}
		}
	}
	// Behind is judged as the daemon judges it (pipeline.Behind), from the
	// planners alone (no request is made), also when the daemon answered:
	// a daemon older than this rule does not send it.
	planners := map[key]extract.Extractor{}
	for _, n := range nets {
		if src, err := a.plannerSource(n, models.Names(), zerolog.Nop()); err == nil {
			for _, ex := range src.extractors {
				planners[key{n.Name, ex.Stream()}] = ex
			}
		}
	}
	out := make([]stateRow, 0, len(rows))
	for _, r := range rows {
		s := chosen[r.network].Stream(r.Stream)
		switch {
		case !r.Cursor.IsZero():
			lag := now.Sub(r.Cursor)
			if ex := planners[key{r.network, r.Stream}]; ex != nil {
				lag = pipeline.Behind(ex, r.Cursor, now)
			}
			r.Behind = "on time"
			if lag > 0 {
				r.Behind = humanDuration(lag)
			}
		case s != nil:
			r.StartsAt = startsAt(s.Name, s.StartDate)
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
			fix := checkpoints.ResetCommand(r.Stream)
			if a.cfg.Several() {
				fix += " --network " + r.network
			}
			r.Problem = fmt.Sprintf("IN THE FUTURE (now %s): sync refuses this stream; fix: %s", now.Format(time.RFC3339), fix)
		}
		out = append(out, *r)
	}
	return out, nil
}

// statusNetwork is the network of a daemon's stream status ("" from a
// daemon older than networks).
func statusNetwork(st daemon.StreamStatus) string { return st.Network }

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
		return writeJSON(w, rows)
	}
	ts := func(t time.Time) string { return stamp(t, time.RFC3339) }
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	network := networkColumn(len(rows), func(i int) string { return rows[i].Network })
	fmt.Fprint(tw, network("network"))
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
		if !r.RunningSince.IsZero() {
			// A first pass under way would otherwise read as never run.
			next = "running since " + ts(r.RunningSince)
		}
		if !r.Enabled && !strings.Contains(r.Stream, "#") {
			next = "disabled"
		}
		fmt.Fprint(tw, network(r.Network))
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Stream, cursor, behind, last, next, or(r.Problem, "-"))
	}
	return tw.Flush()
}

// writeJSON writes v indented: what every --format json prints.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// stamp is t in UTC in layout; "-" for the zero time (never happened).
func stamp(t time.Time, layout string) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(layout)
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
	var networks []string
	var yes bool
	cmd := &cobra.Command{
		Use:   "reset --stream NAME [--network a,b] [--to DATE] [--yes]",
		Short: "Move a stream's checkpoint back (or forward) so the next sync starts there",
		Long: `Move a stream's checkpoint. With --to, the next sync starts at that date
(00:00 UTC); without it, the checkpoint is removed and the next sync starts
at the stream's start_date (the stream keeps its row in syncd state, as
"starts at ..."). No rows are deleted: re-synced rows are upserted.

It prints the checkpoint's old -> new position and, on a terminal, asks
before changing anything. Scripts (no terminal on stdin) must pass --yes.
Stop syncd run first: it holds the warehouse.

With several networks (networks: in the config) each network has its own
checkpoint: --network names whose to move (required then).`,
		Example: `  syncd state reset --stream conversions --to 2025-06-01
  syncd state reset --stream clicks --yes
  syncd state reset --stream conversions --network beta --yes`,
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
			in := cmd.InOrStdin()
			if !yes && !isTerminal(in) {
				return usagef("state reset moves where %s syncs from and stdin is not a terminal to confirm it: add --yes", stream)
			}
			a, err := loadLocalApp(g)
			if err != nil {
				return err
			}
			if !slices.Contains(models.Names(), stream) {
				return usagef("--stream %q: no such stream", stream)
			}
			if len(networks) == 0 && a.cfg.Several() {
				return usagef("--network is required: each of the networks %s has its own checkpoint of %s", strings.Join(a.cfg.NetworkNames(), ", "), stream)
			}
			nets, err := a.selectNetworks(networks)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			wh, err := warehouse.Open(ctx, a.cfg.Warehouse, a.command)
			if err != nil {
				return err
			}
			defer wh.Close()
			for _, n := range nets {
				if err := a.resetCursor(ctx, wh.ForNetwork(n.Name), n, stream, to, pos, yes, in, cmd.OutOrStdout()); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&stream, "stream", "", "stream whose checkpoint to move (required)")
	cmd.Flags().StringSliceVar(&networks, "network", nil, "networks whose checkpoint to move (comma-separated; required with several networks)")
	cmd.Flags().StringVar(&to, "to", "", "new checkpoint, YYYY-MM-DD (default: remove it)")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation (required without a terminal)")
	return cmd
}

// resetCursor moves network n's checkpoint of stream to pos (to "":
// removes it), after asking on in unless yes.
func (a *app) resetCursor(ctx context.Context, wh load.Warehouse, n *config.Network, stream, to string, pos time.Time, yes bool, in io.Reader, out io.Writer) error {
	s := n.Stream(stream)
	name := stream
	if a.cfg.Several() {
		name = "network " + n.Name + ": " + stream
	}
	old, found, err := wh.Cursor(ctx, stream)
	if err != nil {
		return fmt.Errorf("%s%w", a.label(n.Name), err)
	}
	oldText := "no checkpoint (starts at " + startsAt(s.Name, s.StartDate) + ")"
	if found && !old.Position.IsZero() {
		oldText = old.Position.UTC().Format(time.RFC3339)
	}
	newText := "no checkpoint (starts at " + startsAt(s.Name, s.StartDate) + ")"
	if to != "" {
		newText = pos.Format(time.RFC3339)
	}
	fmt.Fprintf(out, "%s: %s -> %s\n", name, oldText, newText)
	if !yes {
		ok, err := confirm(in, out, "Move the checkpoint? [y/N] ")
		if err != nil {
			return err
		}
		if !ok {
			return errors.New("not confirmed: the checkpoint is unchanged")
		}
	}
	if to == "" {
		if err := wh.DeleteCursor(ctx, stream); err != nil {
			return fmt.Errorf("%s%w", a.label(n.Name), err)
		}
		fmt.Fprintf(out, "%s: checkpoint removed; the next sync starts at %s\n", name, startsAt(s.Name, s.StartDate))
		return nil
	}
	if err := wh.SetCursor(ctx, checkpoints.Cursor{Stream: stream, Position: pos, UpdatedAt: time.Now().UTC()}); err != nil {
		return fmt.Errorf("%s%w", a.label(n.Name), err)
	}
	fmt.Fprintf(out, "%s: the next sync starts at %s\n", name, pos.Format(time.RFC3339))
	return nil
}

// startsAt says where a stream without a checkpoint starts.
func startsAt(stream string, startDate time.Time) string {
	switch {
	case !startDate.IsZero():
		return "start_date " + startDate.Format(time.DateOnly)
	case stream == "clicks":
		return "its default start (7 days back: Affise keeps clicks no longer)"
	}
	return "its default start (30 days back)"
}

// isTerminal reports whether r is a terminal a person can answer on.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// confirm asks question on out and reads one answer line from in: yes
// for "y" or "yes" in any case, no for anything else, an empty line or
// the end of input.
func confirm(in io.Reader, out io.Writer, question string) (bool, error) {
	fmt.Fprint(out, question)
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("reading the answer: %w", err)
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}
