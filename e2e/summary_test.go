package e2e

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// passSummary is one stream of `syncd sync --format json`.
type passSummary struct {
	Stream        string  `json:"stream"`
	OK            bool    `json:"ok"`
	RowsRead      int64   `json:"rows_read"`
	RowsInserted  int64   `json:"rows_inserted"`
	RowsUpdated   int64   `json:"rows_updated"`
	RowsUnchanged int64   `json:"rows_unchanged"`
	Requests      int64   `json:"requests"`
	Retries       int64   `json:"retries"`
	Duration      string  `json:"duration"`
	CursorBefore  *string `json:"cursor_before"`
	CursorAfter   *string `json:"cursor_after"`
}

func syncSummary(t *testing.T, e *env) passSummary {
	t.Helper()
	r := e.mustSync(t, "--stream", "conversions", "--format", "json")
	var out []passSummary
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out) != 1 || out[0].Stream != "conversions" {
		t.Fatalf("syncd sync --format json: %v\n%s", err, r.stdout)
	}
	// Not a terminal: the log is JSON lines, with no progress line drawn
	// into it, and durations print as durations.
	if strings.ContainsAny(r.stderr, "\r\x1b") {
		t.Errorf("progress control characters in a log that is not a terminal:\n%q", tail(r.stderr, 2000))
	}
	var finished map[string]any
	for _, l := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["message"] == "pass finished" && m["stream"] == "conversions" {
			finished = m
		}
	}
	if finished == nil {
		t.Fatalf("no pass finished line:\n%s", tail(r.stderr, 4000))
	}
	for k, want := range map[string]int64{"rows_read": out[0].RowsRead, "rows_inserted": out[0].RowsInserted,
		"rows_updated": out[0].RowsUpdated, "rows_unchanged": out[0].RowsUnchanged, "requests": out[0].Requests, "retries": out[0].Retries} {
		if got, ok := finished[k].(float64); !ok || int64(got) != want {
			t.Errorf("log line %s = %v, the summary says %d", k, finished[k], want)
		}
	}
	if d, ok := finished["duration"].(string); !ok || !regexp.MustCompile(`^[0-9.]+(ms|s)$|^([0-9]+h)?([0-9]+m)?[0-9]+s$`).MatchString(d) {
		t.Errorf("log line duration %v: want a duration such as 1m12s", finished["duration"])
	}
	return out[0]
}

// TestSyncSummaryCountsWhatChanged: a first sync inserts every conversion;
// after churn, the next inserts the new ones, updates the changed ones and
// counts the lookback it re-read as unchanged, never as "0 rows". The
// summary on stdout, the log line and _syncd_runs say the same, over a
// DuckDB file and over the lake (on disk and on S3).
func TestSyncSummaryCountsWhatChanged(t *testing.T) {
	for _, where := range []struct {
		name string
		env  func(*testing.T, *sim) *env
	}{
		{"duckdb", func(t *testing.T, s *sim) *env { return newEnv(t, s, "") }},
		{"lake", newLakeEnv},
		{"s3", newS3LakeEnv},
	} {
		t.Run(where.name, func(t *testing.T) {
			s := startSim(t, smallSimArgs...)
			e := where.env(t, s)
			first := syncSummary(t, e)
			n := int64(len(s.truth(t, "conversions")))
			if !first.OK || first.RowsInserted != n || first.RowsUpdated != 0 || first.RowsRead < n || first.CursorBefore != nil || first.CursorAfter == nil {
				t.Errorf("first sync of %d conversions: %+v", n, first)
			}

			var churn struct{ Changed, Created int }
			s.control(t, "POST", "/_sim/churn?n=60", nil, &churn)
			if churn.Changed == 0 || churn.Created == 0 {
				t.Fatalf("churn changed nothing: %+v", churn)
			}
			second := syncSummary(t, e)
			if second.RowsInserted != int64(churn.Created) || second.RowsUpdated != int64(churn.Changed) || second.RowsUnchanged == 0 ||
				second.RowsRead < second.RowsInserted+second.RowsUpdated+second.RowsUnchanged {
				t.Errorf("second sync after %d changed and %d created: %+v", churn.Changed, churn.Created, second)
			}
			if second.CursorBefore == nil || first.CursorAfter == nil || *second.CursorBefore != *first.CursorAfter {
				t.Errorf("second sync started at %v, the first ended at %v", second.CursorBefore, first.CursorAfter)
			}

			rows, r := e.queryCSV(t, `SELECT rows, rows_read, rows_inserted, rows_updated, rows_unchanged, requests, retries,
				cursor_before IS NULL, cursor_after IS NOT NULL FROM _syncd_runs WHERE stream = 'conversions' ORDER BY started_at`)
			if rows == nil {
				t.Fatalf("syncd query _syncd_runs: exit %d\n%s", r.code, r.stderr)
			}
			var want [][]string
			for i, p := range []passSummary{first, second} {
				f := func(n int64) string { return strconv.FormatInt(n, 10) }
				want = append(want, []string{f(p.RowsInserted + p.RowsUpdated), f(p.RowsRead), f(p.RowsInserted), f(p.RowsUpdated),
					f(p.RowsUnchanged), f(p.Requests), f(p.Retries), strconv.FormatBool(i == 0), "true"})
			}
			if got, w := join(rows), join(want); got != w {
				t.Errorf("_syncd_runs:\n%s\nwant:\n%s", got, w)
			}
		})
	}
}

func join(rows [][]string) string {
	var b strings.Builder
	for _, r := range rows {
		b.WriteString(strings.Join(r, ",") + "\n")
	}
	return b.String()
}

// TestSyncOnATerminal runs `syncd sync` on a pseudo-terminal, as a person
// does: stderr shows the progress line (windows, rows, requests, the time
// left) redrawn in place, and stdout ends with the summary table.
func TestSyncOnATerminal(t *testing.T) {
	s := startSim(t, smallSimArgs...)
	e := newEnv(t, s, "")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	p := e.startOnTerminal(t, ctx, 200, "sync", "--stream", "clicks,conversions")
	if err := p.wait(); err != nil {
		t.Fatalf("syncd sync on a terminal: %v\n%s", err, tail(p.out.String(), 4000))
	}
	got := p.out.String()
	for _, want := range []*regexp.Regexp{
		// Redrawn in place: a carriage return, erase-line, then the line.
		regexp.MustCompile(`\r\x1b\[Kclicks: window [0-9]+/[0-9]+, [0-9,]+ rows, [0-9,]+ requests, ETA [0-9hms.]+`),
		regexp.MustCompile(`conversions: window [0-9]+/[0-9]+, [0-9,]+ rows`),
		// The summary table on stdout.
		regexp.MustCompile(`STREAM +WINDOWS +READ +INSERTED +UPDATED +UNCHANGED +REQUESTS +RETRIES +DURATION +CURSOR +RESULT`),
		regexp.MustCompile(`clicks +[0-9]+/[0-9]+ +[0-9,]+ +[0-9,]+ +0 +0 +[0-9,]+ +0 +[0-9.]+m?s +none -> [0-9-]+ [0-9:]+Z +ok`),
		regexp.MustCompile(`conversions +[0-9]+/[0-9]+ +[0-9,]+ +[0-9,]+ .* ok`),
	} {
		if !want.MatchString(got) {
			t.Errorf("terminal output lacks %s:\n%q", want, tail(got, 3000))
		}
	}
	// The progress line is erased after its last drawing, before the table.
	i := strings.Index(got, "STREAM")
	if i < 0 || strings.LastIndex(got[:i], "\r\x1b[K") < strings.LastIndex(got[:i], "window ") {
		t.Errorf("the progress line is not erased before the summary:\n%q", tail(got, 3000))
	}
}

// TestRunOnATerminal: `syncd run` on a pseudo-terminal draws its passes'
// progress on one stderr line, with the log's "pass finished" lines
// above it, and stops cleanly on SIGINT.
func TestRunOnATerminal(t *testing.T) {
	s := startSim(t, smallSimArgs...)
	y, _ := daemonYAML(t)
	e := newEnv(t, s, y)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	p := e.startOnTerminal(t, ctx, 400, "run")
	cmd, out := p.cmd, &p.out
	// Every stream's first pass (a catch-up of several windows) finished.
	deadline := time.Now().Add(3 * time.Minute)
	for strings.Count(out.String(), "pass finished") < len(daemonStreams) {
		if time.Now().After(deadline) {
			t.Fatalf("no pass finished on the terminal:\n%q", tail(out.String(), 3000))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := p.wait(); err != nil {
		t.Errorf("syncd run after SIGINT: %v", err)
	}
	got := out.String()
	if !regexp.MustCompile(`\r\x1b\[K[^\r\n]*clicks: window [0-9]+/[0-9]+, [0-9,]+ rows, [0-9,]+ requests`).MatchString(got) {
		t.Errorf("no progress line for clicks on the terminal:\n%q", tail(got, 3000))
	}
	if !regexp.MustCompile(`pass finished.*rows_unchanged=`).MatchString(got) {
		t.Errorf("no pass summary in the log on the terminal:\n%q", tail(got, 3000))
	}
}
