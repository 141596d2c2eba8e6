// Package bench measures syncd as a user runs it: the real bin/syncd
// against bin/affise-sim, each figure taken several times in interleaved
// rounds so every contender sees the same machine, and printed as one
// table (make bench; see Run). It holds no micro-benchmarks: those live
// beside the packages they measure.
package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Options says what to run and how big.
type Options struct {
	Syncd, Sim string // the binaries measured
	Dir        string // scratch space; removed piece by piece as runs end
	Rounds     int
	// Budget bounds the whole run: the 5M backfill is stopped where it
	// would overrun it, and reported as stopped.
	Budget time.Duration
	// Rate is R, the server's and syncd's requests per second in the
	// budget-use runs; Window is how long each of them is measured.
	Rate   int
	Window time.Duration
	// ThroughputRows is the size of the rows/s comparison; RSSRows the
	// sizes whose peak RSS is measured (the largest one run only).
	ThroughputRows int
	RSSRows        []int
	// Parts names the parts to run (budget, rows, idle, rss); empty: all.
	Parts []string
	Log   io.Writer
}

// Defaults fit make bench's 15 minutes on 2 cores.
func Defaults() Options {
	return Options{Syncd: "bin/syncd", Sim: "bin/affise-sim", Rounds: 3, Budget: 14 * time.Minute,
		Rate: 10, Window: 15 * time.Second, ThroughputRows: 200_000, RSSRows: []int{1_000_000, 5_000_000}}
}

const days = 30

// Report is what a run measured.
type Report struct {
	Machine machine
	Rows    []Row
	Notes   []string
}

// Row is one line of the table.
type Row struct {
	What, Figure, Runs, Goal string
}

type runner struct {
	o        Options
	deadline time.Time
	anchor   time.Time // end of every simulated history: today's UTC midnight
	from, to time.Time // the backfilled days, inclusive
	rep      Report
}

// Run measures everything and returns the report; a part that fails is
// reported in its row and the rest still runs.
func Run(ctx context.Context, o Options) (*Report, error) {
	for _, p := range o.Parts {
		if !slices.Contains([]string{"budget", "rows", "idle", "rss"}, p) {
			return nil, fmt.Errorf("bench: unknown part %q (want budget, rows, idle or rss)", p)
		}
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	for _, b := range []string{o.Syncd, o.Sim} {
		if _, err := os.Stat(b); err != nil {
			return nil, fmt.Errorf("bench: %s is missing (run make build first): %w", b, err)
		}
	}
	if o.Dir == "" {
		d, err := os.MkdirTemp("", "syncd-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		o.Dir = d
	}
	var err error
	for _, b := range []*string{&o.Syncd, &o.Sim} {
		if *b, err = filepath.Abs(*b); err != nil {
			return nil, err
		}
	}
	r := &runner{o: o, deadline: time.Now().Add(o.Budget), anchor: time.Now().UTC().Truncate(24 * time.Hour)}
	r.from, r.to = r.anchor.AddDate(0, 0, -days-1), r.anchor.AddDate(0, 0, -1)
	r.rep.Machine = describeMachine(ctx, o.Syncd)

	for _, p := range []struct {
		name string
		run  func(context.Context)
	}{{"budget", r.budgetUse}, {"rows", r.throughput}, {"idle", r.idleSync}, {"rss", r.peakRSS}} {
		if len(o.Parts) == 0 || slices.Contains(o.Parts, p.name) {
			p.run(ctx)
		}
	}
	r.rep.Machine.Date = time.Now().UTC()
	return &r.rep, nil
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.o.Log, "%s  "+format+"\n", append([]any{time.Now().Format(time.TimeOnly)}, args...)...)
}

func (r *runner) row(what, figure, runs, goal string) {
	r.rep.Rows = append(r.rep.Rows, Row{What: what, Figure: figure, Runs: runs, Goal: goal})
}

func (r *runner) fail(what string, err error) {
	r.logf("%s: %v", what, err)
	r.row(what, "failed: "+strings.SplitN(err.Error(), "\n", 2)[0], "", "")
}

// scratch is a new empty directory for one run.
func (r *runner) scratch(name string) (string, error) {
	d := filepath.Join(r.o.Dir, name)
	if err := os.RemoveAll(d); err != nil {
		return "", err
	}
	return d, os.MkdirAll(d, 0o700)
}

func mb(b float64) float64 { return b / (1 << 20) }

func runs(n int) string { return fmt.Sprintf("%d", n) }
