package bench

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// WriteTable prints the report's table as Markdown.
func (rep *Report) WriteTable(w io.Writer) {
	fmt.Fprintln(w, "| what | median (min..max) | runs | goal |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, r := range rep.Rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", cell(r.What), cell(r.Figure), r.Runs, cell(r.Goal))
	}
}

// WriteMarkdown is results.md: the table, then the machine it ran on.
func (rep *Report) WriteMarkdown(w io.Writer) {
	m := rep.Machine
	fmt.Fprintf(w, "# syncd bench results\n\nWritten by `make bench` (bench/, go run ./bench/cmd/syncd-bench) on %s.\n\n", m.Date.Format(time.RFC3339))
	rep.WriteTable(w)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "## Machine")
	fmt.Fprintln(w)
	for _, kv := range [][2]string{
		{"CPU", m.CPU}, {"cores", fmt.Sprint(m.Cores)}, {"RAM", m.RAM}, {"load average at the start", m.Workers},
		{"Go", m.Go}, {"DuckDB", m.DuckDB}, {"syncd", m.Syncd}, {"commit", m.Commit}, {"date", m.Date.Format(time.RFC3339)},
	} {
		fmt.Fprintf(w, "- %s: %s\n", kv[0], kv[1])
	}
	if len(rep.Notes) > 0 {
		fmt.Fprintln(w, "\n## Notes")
		fmt.Fprintln(w)
		for _, n := range rep.Notes {
			fmt.Fprintf(w, "- %s\n", n)
		}
	}
}

func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
