package main

import (
	"fmt"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	warehousesql "github.com/syncd/syncd/sql"
)

// reportRange is the day filter every report carries, one line: `syncd
// report --from/--to` replaces it (TestReportsTakeARange holds them to it).
var reportRange = regexp.MustCompile(`(?m)^WHERE day >= current_date - (\d+)$`)

func newReportCmd(g *globals) *cobra.Command {
	var fromFlag, toFlag, format string
	var networks []string
	var list bool
	cmd := &cobra.Command{
		Use:   "report NAME [--from DATE] [--to DATE] [--network NAME] [--format table|csv|json] | report --list",
		Short: "Run one of syncd's ready-made reports over the warehouse",
		Long: `Run a report embedded in syncd (the SQL of sql/reports/, so it runs from any
directory and in the Docker image). Each covers the last 14 or 30 days
unless --from/--to (UTC days, both inclusive) say otherwise. Money is per
currency, as in every view. --list names the reports and what each shows.
While ` + "`syncd run`" + ` holds a DuckDB warehouse, the report goes to the daemon.

Reports group by network first (the network column: the name from the
config's networks:, "default" for a config with api: alone), then by
currency. --network NAME reports on that network's rows only.`,
		Example: `  syncd report --list
  syncd report daily_summary
  syncd report top_offers --from 2025-06-01 --to 2025-06-30 --format csv
  syncd report daily_summary --network beta`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if list {
				reports, err := warehousesql.Reports()
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
				for _, r := range reports {
					fmt.Fprintf(tw, "%s\t%s\n", r.Name, reportSummary(r.SQL))
				}
				return tw.Flush()
			}
			if len(args) != 1 {
				return usagef("name a report (syncd report --list shows them)")
			}
			if format != "table" && format != "csv" && format != "json" {
				return usagef("--format %q: use table, csv or json", format)
			}
			query, err := warehousesql.Report(args[0])
			if err != nil {
				return usagef("%v", err)
			}
			if fromFlag != "" || toFlag != "" {
				if query, err = withRange(query, fromFlag, toFlag); err != nil {
					return err
				}
			}
			a, err := loadLocalApp(g)
			if err != nil {
				return err
			}
			network, err := a.oneNetwork(networks)
			if err != nil {
				return err
			}
			return a.readQuery(cmd.Context(), network, query, format, cmd.OutOrStdout())
		},
	}
	cmd.Flags().BoolVar(&list, "list", false, "list the reports")
	cmd.Flags().StringVar(&fromFlag, "from", "", "first day, YYYY-MM-DD (default: the report's own, 14 or 30 days back)")
	cmd.Flags().StringVar(&toFlag, "to", "", "last day, YYYY-MM-DD (default: today)")
	cmd.Flags().StringSliceVar(&networks, "network", nil, "only this network's rows (a name from the config's networks:; default: every network's)")
	cmd.Flags().StringVar(&format, "format", "table", "output format: table, csv or json")
	return cmd
}

// withRange replaces a report's day filter with [from, to] (both
// inclusive; either may be "").
func withRange(query, from, to string) (string, error) {
	var conds []string
	for _, f := range []struct{ name, v, op string }{{"from", from, ">="}, {"to", to, "<="}} {
		if f.v == "" {
			continue
		}
		d, err := parseDateFlag(f.name, f.v)
		if err != nil {
			return "", err
		}
		conds = append(conds, fmt.Sprintf("day %s DATE '%s'", f.op, d.Format(time.DateOnly)))
	}
	if from == "" {
		conds = append([]string{"day >= current_date - ${1}"}, conds...)
	}
	if !reportRange.MatchString(query) {
		return "", fmt.Errorf("report: this report has no day filter to replace (a syncd bug)")
	}
	return reportRange.ReplaceAllString(query, "WHERE "+strings.Join(conds, " AND ")), nil
}

// reportSummary is the first sentence of a report's leading comment.
func reportSummary(sql string) string {
	var words []string
	for _, line := range strings.Split(sql, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "--")
		if !ok {
			break
		}
		words = append(words, strings.Fields(rest)...)
	}
	text := strings.Join(words, " ")
	if i := strings.Index(text, ". "); i > 0 {
		text = text[:i]
	}
	return strings.TrimSuffix(strings.TrimSuffix(text, "."), ",")
}
