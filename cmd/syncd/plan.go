package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/syncd/syncd/checkpoints"
	"github.com/syncd/syncd/config"
	"github.com/syncd/syncd/daemon"
	"github.com/syncd/syncd/extract"
	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/load/lake"
	"github.com/syncd/syncd/load/warehouse"
	"github.com/syncd/syncd/models"
	"github.com/syncd/syncd/pipeline"
)

func newPlanCmd(g *globals) *cobra.Command {
	var streams, networks []string
	var format, clock string
	cmd := &cobra.Command{
		Use:   "plan [--stream a,b] [--network a,b] [--format table|json]",
		Short: "Show what the next sync pass of each stream would do, without calling the API",
		Long: `Show what the next incremental pass of each enabled stream (or those given
with --stream) would do, planned exactly as ` + "`syncd sync`" + ` plans it now, from the
stored checkpoints, but without a single request to Affise:

  cursor    where the pass starts (the stored checkpoint; without one, the
            stream's start_date)
  windows   how many windows the pass walks, each committed with the
            checkpoint it reaches, and the range they cover (first from,
            last to, UTC). It includes the re-read windows a pass adds:
            days whose conversions changed status (stats_daily) and the
            next slice of the settle window (conversions under an
            affiliate key)
  requests  an ESTIMATE, a floor: one request per window, per currency for
            streams asked for one currency at a time (stats_daily; the
            currencies are those of the conversions held). A window with
            more rows than api.page_size takes one request per page more;
            the notes show what the stream's last pass took, for scale.

The currencies come from the warehouse, never from the API. While ` + "`syncd run`" + `
holds a DuckDB warehouse, the plan comes from the daemon (GET /api/plan on
http.listen). A stream whose checkpoint is in the future plans nothing:
sync refuses it until the checkpoint is moved (see syncd state).

With several networks (networks: in the config) each network's streams are
planned from its own checkpoints, with a network column first; --network
plans only those networks.`,
		Example: `  syncd plan
  syncd plan --stream conversions
  syncd plan --network beta
  syncd plan --format json | jq '.[] | {stream, windows, estimated_requests}'`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "table" && format != "json" {
				return usagef("--format %q: use table or json", format)
			}
			now, err := clockFlag(clock)
			if err != nil {
				return err
			}
			a, err := loadLocalApp(g)
			if err != nil {
				return err
			}
			nets, err := a.selectNetworks(networks)
			if err != nil {
				return err
			}
			names, err := a.selectStreams(nets, streams, true)
			if err != nil {
				return err
			}
			rows, err := a.planRows(cmd.Context(), nets, names, now().UTC())
			if err != nil {
				return err
			}
			return printPlan(cmd.OutOrStdout(), rows, format)
		},
	}
	cmd.Flags().StringSliceVar(&streams, "stream", nil, "streams to plan (comma-separated; default: every enabled stream)")
	cmd.Flags().StringSliceVar(&networks, "network", nil, networkFlag)
	cmd.Flags().StringVar(&format, "format", "table", "output: table or json")
	cmd.Flags().StringVar(&clock, "clock", "", "plan as if the clock read this instant (RFC3339)")
	_ = cmd.Flags().MarkHidden("clock")
	return cmd
}

// planRow is one stream's next pass as syncd plan shows it.
type planRow struct {
	// Network is the stream's network; "" (and no column) for a config
	// with one network.
	Network string `json:"network,omitempty"`
	Stream  string `json:"stream"`
	// Cursor is the stored checkpoint; zero when the stream never ran.
	Cursor   time.Time `json:"cursor,omitzero"`
	StartsAt string    `json:"starts_at,omitempty"`
	// Windows counts every window, SettleWindows and ChangedDayWindows
	// the re-read ones among them; From and To bound them all.
	Windows           int       `json:"windows"`
	SettleWindows     int       `json:"settle_windows,omitempty"`
	ChangedDayWindows int       `json:"changed_day_windows,omitempty"`
	From              time.Time `json:"from,omitzero"`
	To                time.Time `json:"to,omitzero"`
	// CursorAfter is where the checkpoint stands once the pass succeeds.
	CursorAfter time.Time `json:"cursor_after,omitzero"`
	// Currencies: each window is asked once per currency (nil for streams
	// that are not).
	Currencies []string `json:"currencies,omitempty"`
	// EstimatedRequests is a floor: one per window (per currency); pages
	// beyond the first add one each.
	EstimatedRequests int64 `json:"estimated_requests"`
	// LastPassRequests is what the stream's latest sync pass made, for
	// scale: a window with many pages costs more than the floor.
	LastPassRequests int64  `json:"last_pass_requests,omitempty"`
	Problem          string `json:"problem,omitempty"`
	Error            string `json:"error,omitempty"`
}

// planReader is what planning reads: the pass's planning inputs and the
// currencies held (a load.ReadOnly or a load.Warehouse).
type planReader interface {
	pipeline.PlanReader
	Currencies(ctx context.Context) ([]string, error)
	LastRuns(ctx context.Context) ([]load.LastRun, error)
}

// planRows plans the streams names[network] of each network of nets
// locally, or asks the daemon that holds the DuckDB warehouse.
func (a *app) planRows(ctx context.Context, nets []*config.Network, names map[string][]string, now time.Time) ([]planRow, error) {
	ro, err := warehouse.OpenReadOnly(ctx, a.cfg.Warehouse)
	locked := daemonHolds(err)
	switch {
	case locked != nil:
		return a.remotePlan(ctx, nets, names, locked)
	case errors.Is(err, load.ErrNoWarehouse) || errors.Is(err, lake.ErrNoLake):
		// Nothing synced yet: every stream plans from its start.
		return a.planLocal(ctx, nets, names, func(string) planReader { return emptyWarehouse{} }, now)
	case err != nil:
		return nil, err
	}
	defer ro.Close()
	return a.planLocal(ctx, nets, names, func(n string) planReader { return ro.ReadNetwork(n) }, now)
}

func (a *app) planLocal(ctx context.Context, nets []*config.Network, names map[string][]string, view func(network string) planReader, now time.Time) ([]planRow, error) {
	var rows []planRow
	for _, n := range nets {
		if len(names[n.Name]) == 0 {
			continue
		}
		src, err := a.plannerSource(n, names[n.Name], a.log)
		if err != nil {
			return nil, err
		}
		r := view(n.Name)
		for _, ex := range src.extractors {
			row, err := a.planStream(ctx, n, ex, r, now)
			if err != nil {
				return nil, fmt.Errorf("%s%w", a.label(n.Name), err)
			}
			rows = append(rows, row)
		}
	}
	return rows, nil
}

func (a *app) remotePlan(ctx context.Context, nets []*config.Network, names map[string][]string, locked *load.LockError) ([]planRow, error) {
	type key struct{ network, stream string }
	want := map[key]bool{}
	for _, n := range nets {
		for _, s := range names[n.Name] {
			want[key{n.Name, s}] = true
		}
	}
	entries, err := daemon.RemotePlan(ctx, a.cfg.HTTP.Listen, "")
	if err != nil {
		return nil, a.askingDaemonFailed(locked, err)
	}
	var rows []planRow
	for _, e := range entries {
		k := key{a.remoteNetwork(planEntryNetwork(e)), e.Stream}
		if !want[k] {
			continue
		}
		r := planRow{Stream: e.Stream, Error: e.Error}
		if e.Error == "" {
			if err := json.Unmarshal(e.Plan, &r); err != nil {
				return nil, fmt.Errorf("%sthe daemon's plan of %s: %w", a.label(k.network), e.Stream, err)
			}
		}
		r.Network = a.column(k.network)
		rows = append(rows, r)
		delete(want, k)
	}
	for _, n := range nets {
		for _, s := range names[n.Name] {
			if want[key{n.Name, s}] {
				rows = append(rows, planRow{Network: a.column(n.Name), Stream: s, Error: "the running daemon does not run this stream (its config differs, or it was started before the stream was enabled)"})
			}
		}
	}
	return rows, nil
}

// planEntryNetwork is the network of a daemon's plan entry ("" from a
// daemon older than networks).
func planEntryNetwork(e daemon.PlanEntry) string { return e.Network }

// remoteNetwork is the network a daemon's answer names; "" (a daemon
// older than networks) is the config's first network.
func (a *app) remoteNetwork(network string) string {
	if network == "" {
		return a.cfg.Networks[0].Name
	}
	return network
}

// plannerSource builds network n's extractors of names for planning only:
// their client never sends a request, so a config without the API key or
// address (as syncd state allows) still plans. The planners' warnings
// (clicks near Affise's retention) go to log.
func (a *app) plannerSource(n *config.Network, names []string, log zerolog.Logger) (*source, error) {
	b := *a
	b.log = log
	net := *n
	if net.API.Key == "" {
		net.API.Key = "unused-by-plan"
	}
	if net.API.BaseURL == "" {
		net.API.BaseURL = "http://api.invalid"
	}
	return b.newSource(&net, names, nil)
}

// planStream plans ex's next pass from r at now.
func (a *app) planStream(ctx context.Context, n *config.Network, ex extract.Extractor, r planReader, now time.Time) (planRow, error) {
	p, err := pipeline.PlanSync(ctx, ex, r, now)
	if err != nil {
		return planRow{}, err
	}
	row := planRow{Network: a.column(n.Name), Stream: p.Stream, Cursor: p.Cursor, Windows: len(p.Windows), SettleWindows: p.Settle, ChangedDayWindows: p.ChangedDays}
	if p.InFuture {
		fix := checkpoints.ResetCommand(p.Stream)
		if a.cfg.Several() {
			fix += " --network " + n.Name
		}
		row.Problem = fmt.Sprintf("cursor in the future (now %s): sync refuses this stream; fix: %s", now.Format(time.RFC3339), fix)
		return row, nil
	}
	row.CursorAfter = p.Cursor
	for _, w := range p.Windows {
		if w.Snapshot {
			continue
		}
		if row.From.IsZero() || w.From.Before(row.From) {
			row.From = w.From
		}
		if w.To.After(row.To) {
			row.To = w.To
		}
		if w.Advance.After(row.CursorAfter) {
			row.CursorAfter = w.Advance
		}
	}
	if p.Cursor.IsZero() {
		switch s := n.Stream(p.Stream); {
		case s != nil && !s.StartDate.IsZero():
			row.StartsAt = "start_date " + s.StartDate.Format(time.DateOnly)
		case !row.From.IsZero():
			row.StartsAt = "its default start " + row.From.Format(time.DateOnly)
		default:
			row.StartsAt = "a full snapshot"
		}
	}
	perWindow := int64(1)
	if decl, err := models.Lookup(p.Stream); err == nil && decl.PerCurrency {
		cs, err := r.Currencies(ctx)
		if err != nil {
			return planRow{}, fmt.Errorf("%s: listing the currencies held: %w", p.Stream, err)
		}
		row.Currencies = cs
		perWindow = int64(max(len(cs), 1))
	}
	row.EstimatedRequests = int64(len(p.Windows)) * perWindow
	runs, err := r.LastRuns(ctx)
	if err != nil {
		return planRow{}, fmt.Errorf("%s: reading the last passes: %w", p.Stream, err)
	}
	for _, run := range runs {
		if run.Stream == p.Stream {
			row.LastPassRequests = run.Requests
		}
	}
	return row, nil
}

// emptyWarehouse plans for a warehouse not created yet: no cursors, no
// rows, no currencies.
type emptyWarehouse struct{}

func (emptyWarehouse) Cursor(context.Context, string) (checkpoints.Cursor, bool, error) {
	return checkpoints.Cursor{}, false, nil
}
func (emptyWarehouse) Cursors(context.Context) ([]checkpoints.Cursor, error) { return nil, nil }
func (emptyWarehouse) FirstDay(context.Context, models.Model) (time.Time, bool, error) {
	return time.Time{}, false, nil
}
func (emptyWarehouse) ChangedHours(context.Context, string) ([]time.Time, error) { return nil, nil }
func (emptyWarehouse) Currencies(context.Context) ([]string, error)              { return nil, nil }
func (emptyWarehouse) LastRuns(context.Context) ([]load.LastRun, error)          { return nil, nil }

func printPlan(w io.Writer, rows []planRow, format string) error {
	if format == "json" {
		return writeJSON(w, rows)
	}
	ts := func(t time.Time) string { return stamp(t, "2006-01-02T15:04Z") }
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	network := networkColumn(len(rows), func(i int) string { return rows[i].Network })
	fmt.Fprint(tw, network("network"))
	fmt.Fprintln(tw, "stream\tcursor\twindows\tfrom\tto\trequests (est.)\tnotes")
	var total int64
	for _, r := range rows {
		cursor := ts(r.Cursor)
		if r.Cursor.IsZero() && r.StartsAt != "" {
			cursor = "starts at " + r.StartsAt
		}
		var notes []string
		switch {
		case r.Error != "":
			notes = append(notes, "cannot plan: "+oneLine(r.Error, 100))
		case r.Problem != "":
			notes = append(notes, r.Problem)
		case r.Windows == 0:
			notes = append(notes, "nothing to do yet (the next window has not closed)")
		}
		if r.SettleWindows > 0 {
			notes = append(notes, fmt.Sprintf("%d settle re-read", r.SettleWindows))
		}
		if r.ChangedDayWindows > 0 {
			notes = append(notes, fmt.Sprintf("%d changed-day re-read", r.ChangedDayWindows))
		}
		if len(r.Currencies) > 0 {
			notes = append(notes, fmt.Sprintf("%d currencies (%s) each", len(r.Currencies), oneLine(strings.Join(r.Currencies, ","), 40)))
		}
		if !r.CursorAfter.IsZero() && !r.CursorAfter.Equal(r.Cursor) {
			notes = append(notes, "cursor -> "+ts(r.CursorAfter))
		}
		if r.LastPassRequests > 0 {
			notes = append(notes, fmt.Sprintf("last pass took %d %s", r.LastPassRequests, plural(r.LastPassRequests, "request")))
		}
		req := "-"
		if r.Error == "" {
			req = fmt.Sprintf(">= %d", r.EstimatedRequests)
			total += r.EstimatedRequests
		}
		fmt.Fprint(tw, network(r.Network))
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", r.Stream, cursor, r.Windows, ts(r.From), ts(r.To), req, or(strings.Join(notes, "; "), "-"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\nestimated requests: at least %d in all (one per window and currency; each page beyond a window's first adds one). No API call was made.\n", total)
	return err
}

// networkColumn is the first cell of a table's row: "" when no row names
// a network (a config with one network), else the network and a tab.
func networkColumn(n int, network func(i int) string) func(string) string {
	for i := range n {
		if network(i) != "" {
			return func(v string) string { return v + "\t" }
		}
	}
	return func(string) string { return "" }
}

func plural(n int64, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
