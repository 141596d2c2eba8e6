package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/syncd/syncd/config"
	"github.com/syncd/syncd/extract"
	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/load/warehouse"
	"github.com/syncd/syncd/verify"
)

func newVerifyCmd(g *globals) *cobra.Command {
	var fromFlag, toFlag, format string
	var networks []string
	var repair bool
	var days int
	cmd := &cobra.Command{
		Use:   "verify [--days N | --from DATE] [--to DATE] [--network a,b] [--repair]",
		Short: "Check the warehouse against Affise's own numbers, per day and currency",
		Long: `Compare, for every day (of api.timezone's calendar, as Affise counts it) and
currency, the warehouse's conversions per status (confirmed, pending,
declined, hold, and their total: count, revenue and payouts) with Affise's
own /3.0/stats/custom (slice[]=day, filter[currency][]), and the clicks of
the last 6 full days (Affise keeps clicks about 7) with its raw traffic. It
prints a line per day and currency, and exits 0 when all agree, 1 otherwise.

--repair re-syncs exactly the days that differ (a backfill of conversions and
stats_daily over them), then verifies again.

With several networks (networks: in the config) each network's rows are
compared with its own Affise, in its own calendar, with a network column
first (--format json: one document per network); --network verifies only
those networks.

Cost: one request per currency and window of up to 31 days, plus one for
the clicks. not_found
conversions count in the total only, as Affise counts them.`,
		Example: `  syncd verify
  syncd verify --days 7 --format json
  syncd verify --from 2025-05-01 --to 2025-05-31
  syncd verify --from 2025-05-01 --repair
  syncd verify --network beta`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "table" && format != "json" {
				return usagef("--format %q: use table or json", format)
			}
			a, err := loadApp(g)
			if err != nil {
				return err
			}
			if days < 1 || days > 3660 {
				return usagef("--days %d: give 1 to 3660", days)
			}
			nets, err := a.selectNetworks(networks)
			if err != nil {
				return err
			}
			// The days are each network's own: its calendar's today.
			span := func(n *config.Network) (from, to time.Time, err error) {
				today := a.today(n)
				from, to = today.AddDate(0, 0, -(days-1)), today
				if fromFlag != "" {
					if from, err = parseDateFlag("from", fromFlag); err != nil {
						return from, to, err
					}
				}
				if toFlag != "" {
					if to, err = parseDateFlag("to", toFlag); err != nil {
						return from, to, err
					}
				}
				if to.After(today) {
					to = today
				}
				if from.After(to) {
					return from, to, usagef("--from %s is after --to %s", from.Format(time.DateOnly), to.Format(time.DateOnly))
				}
				return from, to, nil
			}
			for _, n := range nets {
				if _, _, err := span(n); err != nil {
					return err
				}
			}
			ctx := cmd.Context()
			check := func(n *config.Network, q load.Querier, r load.Reader, client *extract.Client) (verify.Report, error) {
				from, to, _ := span(n)
				cfg, err := a.verifyConfig(ctx, n, r, from, to.AddDate(0, 0, 1))
				if err != nil {
					return verify.Report{}, fmt.Errorf("%s%w", a.label(n.Name), err)
				}
				rep, err := verify.Run(ctx, q, client, cfg)
				if err != nil {
					return rep, fmt.Errorf("%s%s", a.label(n.Name), a.redact(err.Error()))
				}
				return rep, nil
			}
			out := cmd.OutOrStdout()
			var reps []netReport
			if !repair {
				ro, err := warehouse.OpenReadOnly(ctx, a.cfg.Warehouse)
				if err != nil {
					return err
				}
				defer ro.Close()
				for _, n := range nets {
					src, err := a.newSource(n, nil, nil)
					if err != nil {
						return err
					}
					// The network's view: its cursors, and its rows only.
					view := ro.ReadNetwork(n.Name)
					rep, err := check(n, view, view, src.client)
					if err != nil {
						return err
					}
					reps = append(reps, netReport{a.column(n.Name), rep})
				}
				return printVerify(out, reps, format)
			}
			srcs, wh, err := a.startLoad(ctx, nets, []string{"conversions", "stats_daily"}, false, nil)
			if err != nil {
				return err
			}
			defer wh.Close()
			for _, src := range srcs {
				n := src.network
				rep, err := check(n, src.sink, src.sink, src.client)
				if err != nil {
					return err
				}
				if bad := rep.MismatchedDays(); len(bad) > 0 {
					fmt.Fprintf(cmd.ErrOrStderr(), "%srepairing %d day(s): %s\n", a.label(n.Name), len(bad), joinDays(bad))
					for _, d := range bad {
						if err := a.backfill(ctx, []*source{src}, d, d); err != nil {
							return err
						}
					}
					if rep, err = check(n, src.sink, src.sink, src.client); err != nil {
						return err
					}
				}
				reps = append(reps, netReport{a.column(n.Name), rep})
			}
			return printVerify(out, reps, format)
		},
	}
	cmd.Flags().IntVar(&days, "days", 30, "compare the last N days, today included (without --from)")
	cmd.Flags().StringVar(&fromFlag, "from", "", "first day to compare, YYYY-MM-DD (default: see --days)")
	cmd.Flags().StringVar(&toFlag, "to", "", "last day to compare, YYYY-MM-DD (default: today)")
	cmd.Flags().StringSliceVar(&networks, "network", nil, networkFlag)
	cmd.Flags().BoolVar(&repair, "repair", false, "re-sync the days that differ, then verify again")
	cmd.Flags().StringVar(&format, "format", "table", "output: table or json")
	return cmd
}

// netReport is one network's verification; network "" for a config with
// one network (no network column).
type netReport struct {
	network string
	verify.Report
}

// verifyConfig is a verification of network n's days [from, to): the
// currencies of its conversions held, and the clicks of the days Affise
// still keeps clicks of (6 full days) that its clicks cursor has passed.
func (a *app) verifyConfig(ctx context.Context, n *config.Network, r load.Reader, from, to time.Time) (verify.Config, error) {
	loc := n.API.Location
	cs, err := r.Currencies(ctx)
	if err != nil {
		return verify.Config{}, err
	}
	cfg := verify.Config{Loc: loc, From: from, To: to, Currencies: cs}
	if s := n.Stream("clicks"); s == nil || !s.Enabled {
		return cfg, nil
	}
	cur, ok, err := r.Cursor(ctx, "clicks")
	if err != nil || !ok {
		return cfg, err
	}
	c := cur.Position.In(loc)
	synced := time.Date(c.Year(), c.Month(), c.Day(), 0, 0, 0, 0, time.UTC) // days before the cursor's are whole
	cfg.ClicksFrom, cfg.ClicksTo = from, to
	if kept := a.today(n).AddDate(0, 0, -6); kept.After(from) {
		cfg.ClicksFrom = kept
	}
	if synced.Before(to) {
		cfg.ClicksTo = synced
	}
	return cfg, nil
}

func joinDays(days []time.Time) string {
	s := make([]string, len(days))
	for i, d := range days {
		s[i] = d.Format(time.DateOnly)
	}
	return strings.Join(s, ", ")
}

// verifyMismatch is a verification that found differences: exit code 1,
// with the table already printed.
type verifyMismatch struct{ rows, days int }

func (e verifyMismatch) Error() string {
	return fmt.Sprintf("verify: %d day-currency row(s) on %d day(s) differ from Affise; `syncd verify --repair` re-syncs them", e.rows, e.days)
}

func printVerify(w io.Writer, reps []netReport, format string) error {
	badRows, badDays := 0, 0
	for _, rep := range reps {
		badRows += len(rep.Mismatched())
		badDays += len(rep.MismatchedDays())
	}
	several := len(reps) > 0 && reps[0].network != ""
	if format == "json" {
		type row struct {
			Day      string   `json:"day"`
			Currency string   `json:"currency"`
			Agrees   bool     `json:"agrees"`
			Diffs    []string `json:"diffs,omitempty"`
		}
		type doc struct {
			Network    string   `json:"network,omitempty"`
			From       string   `json:"from"`
			To         string   `json:"to"`
			Currencies []string `json:"currencies"`
			Requests   int64    `json:"requests"`
			Rows       []row    `json:"rows"`
		}
		var docs []doc
		for _, rep := range reps {
			d := doc{Network: rep.network, From: rep.From.Format(time.DateOnly), To: rep.To.AddDate(0, 0, -1).Format(time.DateOnly), Currencies: rep.Currencies, Requests: rep.Requests}
			for _, r := range rep.Rows {
				d.Rows = append(d.Rows, row{Day: r.Day, Currency: r.Currency, Agrees: len(r.Diffs) == 0, Diffs: r.Diffs})
			}
			docs = append(docs, d)
		}
		var v any = docs
		if !several && len(docs) == 1 {
			v = docs[0] // one network: one document, as it always was
		}
		if err := writeJSON(w, v); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		network := networkColumn(len(reps), func(i int) string { return reps[i].network })
		fmt.Fprint(tw, network("network"))
		fmt.Fprintln(tw, "day\tcurrency\tconversions\trevenue\tresult")
		for _, rep := range reps {
			for _, r := range rep.Rows {
				res := "ok"
				if len(r.Diffs) > 0 {
					res = "DIFF " + strings.Join(r.Diffs, "; ")
				}
				fmt.Fprint(tw, network(rep.network))
				if r.Currency == verify.ClicksCurrency {
					fmt.Fprintf(tw, "%s\t(clicks)\t%d\t-\t%s\n", r.Day, r.Warehouse.Clicks, res)
					continue
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%.2f\t%s\n", r.Day, r.Currency, r.Warehouse.Count["total"], r.Warehouse.Revenue["total"], res)
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, rep := range reps {
			label := ""
			if rep.network != "" {
				label = "network " + rep.network + ": "
			}
			fmt.Fprintf(w, "%s%d of %d day-currency rows agree with Affise (%s..%s, %d requests)\n", label, len(rep.Rows)-len(rep.Mismatched()), len(rep.Rows),
				rep.From.Format(time.DateOnly), rep.To.AddDate(0, 0, -1).Format(time.DateOnly), rep.Requests)
		}
	}
	if badRows > 0 {
		return verifyMismatch{rows: badRows, days: badDays}
	}
	return nil
}
