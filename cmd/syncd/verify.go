package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/load/warehouse"
	"github.com/syncd/syncd/verify"
)

func newVerifyCmd(g *globals) *cobra.Command {
	var fromFlag, toFlag, format string
	var repair bool
	var days int
	cmd := &cobra.Command{
		Use:   "verify [--days N | --from DATE] [--to DATE] [--repair]",
		Short: "Check the warehouse against Affise's own numbers, per day and currency",
		Long: `Compare, for every day (of api.timezone's calendar, as Affise counts it) and
currency, the warehouse's conversions per status (confirmed, pending,
declined, hold, and their total: count, revenue and payouts) with Affise's
own /3.0/stats/custom (slice[]=day, filter[currency][]), and the clicks of
the last 6 full days (Affise keeps clicks about 7) with its raw traffic. It
prints a line per day and currency, and exits 0 when all agree, 1 otherwise.

--repair re-syncs exactly the days that differ (a backfill of conversions and
stats_daily over them), then verifies again.

Cost: one request per currency and window of up to 31 days, plus one for
the clicks. not_found
conversions count in the total only, as Affise counts them.`,
		Example: `  syncd verify
  syncd verify --days 7 --format json
  syncd verify --from 2025-05-01 --to 2025-05-31
  syncd verify --from 2025-05-01 --repair`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "table" && format != "json" {
				return usagef("--format %q: use table or json", format)
			}
			a, err := loadApp(g)
			if err != nil {
				return err
			}
			today := a.today()
			if days < 1 || days > 3660 {
				return usagef("--days %d: give 1 to 3660", days)
			}
			from, to := today.AddDate(0, 0, -(days-1)), today
			if fromFlag != "" {
				if from, err = parseDateFlag("from", fromFlag); err != nil {
					return err
				}
			}
			if toFlag != "" {
				if to, err = parseDateFlag("to", toFlag); err != nil {
					return err
				}
			}
			if to.After(today) {
				to = today
			}
			if from.After(to) {
				return usagef("--from %s is after --to %s", from.Format(time.DateOnly), to.Format(time.DateOnly))
			}
			ctx := cmd.Context()
			src, err := a.newSource(nil, nil)
			if err != nil {
				return err
			}
			check := func(q load.Querier, r load.Reader) (verify.Report, error) {
				cfg, err := a.verifyConfig(ctx, r, from, to.AddDate(0, 0, 1))
				if err != nil {
					return verify.Report{}, err
				}
				return verify.Run(ctx, q, src.client, cfg)
			}
			out := cmd.OutOrStdout()
			if !repair {
				ro, err := warehouse.OpenReadOnly(ctx, a.cfg.Warehouse)
				if err != nil {
					return err
				}
				defer ro.Close()
				rep, err := check(ro, ro)
				if err != nil {
					return fmt.Errorf("%s", a.redact(err.Error()))
				}
				return printVerify(out, rep, format)
			}
			repairSrc, wh, err := a.startLoad(ctx, []string{"conversions", "stats_daily"}, false)
			if err != nil {
				return err
			}
			defer wh.Close()
			rep, err := check(wh, wh)
			if err != nil {
				return fmt.Errorf("%s", a.redact(err.Error()))
			}
			days := rep.MismatchedDays()
			if len(days) == 0 {
				return printVerify(out, rep, format)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "repairing %d day(s): %s\n", len(days), joinDays(days))
			for _, d := range days {
				if err := a.backfill(ctx, repairSrc, wh, d, d); err != nil {
					return err
				}
			}
			if rep, err = check(wh, wh); err != nil {
				return fmt.Errorf("%s", a.redact(err.Error()))
			}
			return printVerify(out, rep, format)
		},
	}
	cmd.Flags().IntVar(&days, "days", 30, "compare the last N days, today included (without --from)")
	cmd.Flags().StringVar(&fromFlag, "from", "", "first day to compare, YYYY-MM-DD (default: see --days)")
	cmd.Flags().StringVar(&toFlag, "to", "", "last day to compare, YYYY-MM-DD (default: today)")
	cmd.Flags().BoolVar(&repair, "repair", false, "re-sync the days that differ, then verify again")
	cmd.Flags().StringVar(&format, "format", "table", "output: table or json")
	return cmd
}

// verifyConfig is a verification of the days [from, to): the currencies
// of the conversions held, and the clicks of the days Affise still keeps
// clicks of (6 full days) that the clicks cursor has passed.
func (a *app) verifyConfig(ctx context.Context, r load.Reader, from, to time.Time) (verify.Config, error) {
	loc := a.cfg.API.Location
	cs, err := r.Currencies(ctx)
	if err != nil {
		return verify.Config{}, err
	}
	cfg := verify.Config{Loc: loc, From: from, To: to, Currencies: cs}
	if s := a.cfg.Stream("clicks"); s == nil || !s.Enabled {
		return cfg, nil
	}
	cur, ok, err := r.Cursor(ctx, "clicks")
	if err != nil || !ok {
		return cfg, err
	}
	c := cur.Position.In(loc)
	synced := time.Date(c.Year(), c.Month(), c.Day(), 0, 0, 0, 0, time.UTC) // days before the cursor's are whole
	cfg.ClicksFrom, cfg.ClicksTo = from, to
	if kept := a.today().AddDate(0, 0, -6); kept.After(from) {
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

func printVerify(w io.Writer, rep verify.Report, format string) error {
	bad := rep.Mismatched()
	if format == "json" {
		type row struct {
			Day      string   `json:"day"`
			Currency string   `json:"currency"`
			Agrees   bool     `json:"agrees"`
			Diffs    []string `json:"diffs,omitempty"`
		}
		doc := struct {
			From       string   `json:"from"`
			To         string   `json:"to"`
			Currencies []string `json:"currencies"`
			Requests   int64    `json:"requests"`
			Rows       []row    `json:"rows"`
		}{From: rep.From.Format(time.DateOnly), To: rep.To.AddDate(0, 0, -1).Format(time.DateOnly), Currencies: rep.Currencies, Requests: rep.Requests}
		for _, r := range rep.Rows {
			doc.Rows = append(doc.Rows, row{Day: r.Day, Currency: r.Currency, Agrees: len(r.Diffs) == 0, Diffs: r.Diffs})
		}
		if err := writeJSON(w, doc); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "day\tcurrency\tconversions\trevenue\tresult")
		for _, r := range rep.Rows {
			res := "ok"
			if len(r.Diffs) > 0 {
				res = "DIFF " + strings.Join(r.Diffs, "; ")
			}
			if r.Currency == verify.ClicksCurrency {
				fmt.Fprintf(tw, "%s\t(clicks)\t%d\t-\t%s\n", r.Day, r.Warehouse.Clicks, res)
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%.2f\t%s\n", r.Day, r.Currency, r.Warehouse.Count["total"], r.Warehouse.Revenue["total"], res)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(w, "%d of %d day-currency rows agree with Affise (%s..%s, %d requests)\n", len(rep.Rows)-len(bad), len(rep.Rows),
			rep.From.Format(time.DateOnly), rep.To.AddDate(0, 0, -1).Format(time.DateOnly), rep.Requests)
	}
	if len(bad) > 0 {
		return verifyMismatch{rows: len(bad), days: len(rep.MismatchedDays())}
	}
	return nil
}
