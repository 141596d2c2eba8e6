// Command syncd-bench is make bench: it measures bin/syncd against
// bin/affise-sim (package bench), prints one table and writes it with the
// machine's description to bench/results.md.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"

	"github.com/syncd/syncd/bench"
)

func main() {
	o := bench.Defaults()
	out := "bench/results.md"
	rss := ""
	flag.StringVar(&o.Syncd, "syncd", o.Syncd, "syncd binary to measure")
	flag.StringVar(&o.Sim, "sim", o.Sim, "affise-sim binary")
	flag.StringVar(&out, "out", out, "results file (Markdown); empty: none")
	flag.IntVar(&o.Rounds, "rounds", o.Rounds, "rounds of each interleaved measurement")
	flag.DurationVar(&o.Budget, "budget", o.Budget, "time the whole run may take; the largest RSS backfill is stopped at it")
	flag.IntVar(&o.Rate, "rate", o.Rate, "R: requests/s the server allows and syncd is configured with, in the budget-use runs")
	flag.DurationVar(&o.Window, "window", o.Window, "how long each budget-use run is measured")
	flag.IntVar(&o.ThroughputRows, "rows", o.ThroughputRows, "conversions of the rows/s comparison")
	flag.StringVar(&rss, "rss-rows", "", "comma-separated conversions of the peak-RSS backfills (default 1000000,5000000)")
	flag.StringVar(&o.Dir, "dir", "", "scratch directory (default: a new temporary one)")
	parts := flag.String("parts", "", "comma-separated parts to run: budget, rows, idle, rss (default all)")
	flag.Parse()
	if rss != "" {
		o.RSSRows = nil
		for _, f := range strings.Split(rss, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 {
				fmt.Fprintf(os.Stderr, "syncd-bench: --rss-rows %q: want counts like 1000000,5000000\n", rss)
				os.Exit(2)
			}
			o.RSSRows = append(o.RSSRows, n)
		}
	}
	if *parts != "" {
		o.Parts = strings.Split(*parts, ",")
	}
	o.Log = os.Stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := bench.Run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "syncd-bench:", err)
		os.Exit(1)
	}
	fmt.Println()
	rep.WriteTable(os.Stdout)
	if out != "" {
		var b bytes.Buffer
		rep.WriteMarkdown(&b)
		if err := os.WriteFile(out, b.Bytes(), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "syncd-bench:", err)
			os.Exit(1)
		}
		fmt.Fprintln(os.Stderr, "wrote", out)
	}
}
