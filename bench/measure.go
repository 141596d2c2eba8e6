package bench

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// budgetUse: a backfill against a server that allows R requests/s and
// answers each after 300 ms, syncd configured with the same R. Each round
// counts what the server saw over Window from its first request: requests
// other than 429 per second over R, and the 429s (each one syncd caused).
func (r *runner) budgetUse(ctx context.Context) {
	const what = "budget use"
	R := r.o.Rate
	// Enough conversions that the backfill outlasts Window at the full rate.
	n := int(float64(R)*r.o.Window.Seconds()*500) * 2
	r.logf("%s: simulator with %d conversions, --latency 300ms --rps %d", what, n, R)
	s, err := startSim(ctx, r.o.Sim, r.anchor, "--conversions", strconv.Itoa(n), "--days", strconv.Itoa(days),
		"--latency", "300ms", "--rps", strconv.Itoa(R))
	if err != nil {
		r.fail(what, err)
		return
	}
	defer s.Close()
	var use, tooMany Sample
	for round := range r.o.Rounds {
		dir, err := r.scratch("budget")
		if err == nil {
			var u, t float64
			u, t, err = r.budgetRound(ctx, s, dir, R)
			use, tooMany = append(use, u), append(tooMany, t)
			r.logf("%s round %d: %.0f%% of %d req/s, %.0f 429s", what, round+1, 100*u, R, t)
		}
		if err != nil {
			r.fail(what, err)
			return
		}
	}
	pct := make(Sample, len(use))
	for i, u := range use {
		pct[i] = 100 * u
	}
	r.row(fmt.Sprintf("budget use: requests/s of a backfill / R (R = %d req/s, 300 ms latency, concurrency 4), over %s", R, r.o.Window),
		pct.Spread("%.0f%%"), runs(len(use)), ">= 95%")
	r.row("429s caused in that time", tooMany.Spread("%.0f"), runs(len(use)), "0")
}

func (r *runner) budgetRound(ctx context.Context, s *sim, dir string, R int) (use, tooMany float64, err error) {
	run, err := newSyncdRun(r.o.Syncd, dir, s, "duckdb", apiSettings{RequestsPerSecond: R, Concurrency: 4, PageSize: 500})
	if err != nil {
		return 0, 0, err
	}
	if err := s.ResetRequests(ctx); err != nil {
		return 0, 0, err
	}
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := run.backfill(ctx, stop, r.from, r.to)
		done <- err
	}()
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		if werr := <-done; err == nil {
			err = werr
		}
	}()
	var first requests
	var t0 time.Time
	for {
		q, err := s.Requests(ctx)
		if err != nil {
			return 0, 0, err
		}
		if q.Total > 0 {
			first, t0 = q, time.Now()
			break
		}
		select {
		case err := <-done:
			done <- err
			return 0, 0, fmt.Errorf("backfill ended before its first request: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	select {
	case <-time.After(r.o.Window):
	case err := <-done:
		done <- err
	}
	last, err := s.Requests(ctx)
	if err != nil {
		return 0, 0, err
	}
	el := time.Since(t0).Seconds()
	ok := func(q requests) int { return q.Total - q.ByCode["429"] }
	return float64(ok(last)-ok(first)) / el / float64(R), float64(last.ByCode["429"]), nil
}

// throughput: rounds of a backfill into DuckDB, DuckDB's read_json over
// the same pages, and a backfill into a Parquet lake, from a local
// simulator without latency.
func (r *runner) throughput(ctx context.Context) {
	const what = "rows/s"
	n := r.o.ThroughputRows
	r.logf("%s: simulator with %d conversions, no latency", what, n)
	s, err := startSim(ctx, r.o.Sim, r.anchor, "--conversions", strconv.Itoa(n), "--days", strconv.Itoa(days))
	if err != nil {
		r.fail(what, err)
		return
	}
	defer s.Close()
	pages := filepath.Join(r.o.Dir, "pages")
	saved, err := savePages(ctx, s, pages, r.from, r.to, 500)
	if err != nil {
		r.fail("saving the simulator's pages", err)
		return
	}
	defer os.RemoveAll(pages)
	r.logf("%s: saved %d conversions' pages", what, saved)

	api := apiSettings{RequestsPerSecond: 1000, Concurrency: 4, PageSize: 500}
	var duckRate, jsonRate, lakeRate, duckBytes, lakeBytes, jsonBytes, ratio, lakeRatio Sample
	// CPU seconds per 100k rows, and read_json's over syncd's: the wall
	// times of a busy machine swing threefold, CPU time much less.
	var duckCPU, jsonCPU, lakeCPU, cpuRatio Sample
	per100k := func(cpu time.Duration, rows int64) float64 { return cpu.Seconds() * 100_000 / float64(rows) }
	var shape tableShape
	for round := range r.o.Rounds {
		// syncd into DuckDB.
		dir, err := r.scratch("duck")
		if err != nil {
			r.fail(what, err)
			return
		}
		run, err := newSyncdRun(r.o.Syncd, dir, s, "duckdb", api)
		if err != nil {
			r.fail(what, err)
			return
		}
		res, err := run.backfill(ctx, nil, r.from, r.to)
		if err != nil {
			r.fail("rows/s, syncd backfill into DuckDB", err)
			return
		}
		rows, err := loggedRows(res.Stderr)
		if err != nil || rows != saved {
			r.fail("rows/s, syncd backfill into DuckDB", fmt.Errorf("loaded %d rows, the pages hold %d (%v)", rows, saved, err))
			return
		}
		duckRate = append(duckRate, float64(rows)/res.Wall.Seconds())
		duckCPU = append(duckCPU, per100k(res.CPU, rows))
		size, _ := run.wh.size()
		duckBytes = append(duckBytes, float64(size)/float64(rows))
		if shape.DDL == "" {
			if shape, err = shapeOf(ctx, run.wh.Path, "conversions"); err != nil {
				r.fail(what, err)
				return
			}
		}
		r.logf("round %d: syncd -> DuckDB %.0f rows/s, %.2f CPU s/100k rows, %.0f bytes/row", round+1, duckRate[len(duckRate)-1], duckCPU[len(duckCPU)-1], duckBytes[len(duckBytes)-1])

		// DuckDB's read_json over the same pages.
		jdir, err := r.scratch("readjson")
		if err != nil {
			r.fail(what, err)
			return
		}
		db := filepath.Join(jdir, "json.duckdb")
		jrows, el, jcpu, err := readJSONLoad(ctx, db, filepath.Join(pages, "*.json"), shape)
		if err != nil || jrows != saved {
			r.fail("rows/s, DuckDB read_json", fmt.Errorf("loaded %d rows of %d: %v", jrows, saved, err))
			return
		}
		jsonRate = append(jsonRate, float64(jrows)/el.Seconds())
		st, _ := os.Stat(db)
		jsonBytes = append(jsonBytes, float64(st.Size())/float64(jrows))
		ratio = append(ratio, duckRate[len(duckRate)-1]/jsonRate[len(jsonRate)-1])
		jsonCPU = append(jsonCPU, per100k(jcpu, jrows))
		cpuRatio = append(cpuRatio, jsonCPU[len(jsonCPU)-1]/duckCPU[len(duckCPU)-1])
		r.logf("round %d: read_json %.0f rows/s, %.2f CPU s/100k rows", round+1, jsonRate[len(jsonRate)-1], jsonCPU[len(jsonCPU)-1])

		// syncd into a Parquet lake.
		ldir, err := r.scratch("lake")
		if err != nil {
			r.fail(what, err)
			return
		}
		lrun, err := newSyncdRun(r.o.Syncd, ldir, s, "parquet", api)
		if err != nil {
			r.fail(what, err)
			return
		}
		lres, err := lrun.backfill(ctx, nil, r.from, r.to)
		if err != nil {
			r.fail("rows/s, syncd backfill into a Parquet lake", err)
			return
		}
		lrows, err := loggedRows(lres.Stderr)
		if err != nil || lrows != saved {
			r.fail("rows/s, syncd backfill into a Parquet lake", fmt.Errorf("loaded %d rows of %d (%v)", lrows, saved, err))
			return
		}
		lakeRate = append(lakeRate, float64(lrows)/lres.Wall.Seconds())
		lakeCPU = append(lakeCPU, per100k(lres.CPU, lrows))
		lsize, _ := lrun.wh.size()
		lakeBytes = append(lakeBytes, float64(lsize)/float64(lrows))
		lakeRatio = append(lakeRatio, lakeRate[len(lakeRate)-1]/duckRate[len(duckRate)-1])
		r.logf("round %d: syncd -> lake %.0f rows/s", round+1, lakeRate[len(lakeRate)-1])
		_ = os.RemoveAll(dir)
		_ = os.RemoveAll(jdir)
		_ = os.RemoveAll(ldir)
	}
	k := fmt.Sprintf("%dk", n/1000)
	runsN := runs(len(duckRate))
	r.row(fmt.Sprintf("rows/s, `syncd backfill` of %s conversions into DuckDB, local simulator (wall time of the process)", k), duckRate.Spread("%.0f"), runsN, "")
	r.row("rows/s, DuckDB `read_json` + `unnest` of the same saved pages into the same typed table (open to close)", jsonRate.Spread("%.0f"), runsN, "")
	r.row("syncd / read_json", ratio.Spread("%.2fx"), runsN, ">= 1.0x")
	r.row("CPU seconds per 100k rows, `syncd backfill` into DuckDB (user + system time of the process, all threads)", duckCPU.Spread("%.2f"), runsN, "")
	r.row("CPU seconds per 100k rows, DuckDB `read_json` (user + system time of the bench process around it)", jsonCPU.Spread("%.2f"), runsN, "")
	r.row("syncd / read_json by CPU time (read_json's CPU seconds / syncd's)", cpuRatio.Spread("%.2fx"), runsN, ">= 1.0x")
	r.row(fmt.Sprintf("rows/s, `syncd backfill` of %s conversions into a local Parquet lake", k), lakeRate.Spread("%.0f"), runsN, "")
	r.row("lake / DuckDB rows/s", lakeRatio.Spread("%.2fx"), runsN, "")
	r.row("CPU seconds per 100k rows, `syncd backfill` into a Parquet lake", lakeCPU.Spread("%.2f"), runsN, "")
	r.row(fmt.Sprintf("bytes per conversion, DuckDB file (%s)", k), duckBytes.Spread("%.0f"), runsN, "<= 400")
	r.row(fmt.Sprintf("bytes per conversion, Parquet lake (%s)", k), lakeBytes.Spread("%.0f"), runsN, "")
	r.row("bytes per conversion, read_json's table (reference)", jsonBytes.Spread("%.0f"), runsN, "")
}

// endpoints name the simulator's endpoints by stream.
var endpoints = map[string]string{
	"/3.0/stats/conversions":        "conversions",
	"/3.0/stats/clicks":             "clicks",
	"/3.0/stats/serverpostbacks":    "server_postbacks",
	"/3.0/stats/affiliatepostbacks": "affiliate_postbacks",
	"/3.0/stats/custom":             "stats_daily",
	"/3.0/offers":                   "offers",
	"/3.0/admin/partners":           "partners",
	"/3.0/admin/advertisers":        "advertisers",
	"/3.0/admin/currency":           "currency_rates",
}

// idleSync: the requests of a `syncd sync` of every default stream right
// after one, by endpoint: a first sync, then Rounds syncs in a row.
func (r *runner) idleSync(ctx context.Context) {
	const what = "idle sync"
	anchor := time.Now().UTC().Truncate(time.Hour)
	s, err := startSim(ctx, r.o.Sim, anchor)
	if err != nil {
		r.fail(what, err)
		return
	}
	defer s.Close()
	// One first sync; then each round is a sync right after the last.
	dir, err := r.scratch("idle")
	if err != nil {
		r.fail(what, err)
		return
	}
	run, err := newSyncdRun(r.o.Syncd, dir, s, "duckdb", apiSettings{RequestsPerSecond: 1000, Concurrency: 4, PageSize: 500})
	if err != nil {
		r.fail(what, err)
		return
	}
	if _, err := run.run(ctx, nil, "sync"); err != nil {
		r.fail(what, err)
		return
	}
	per := map[string]Sample{}
	total := Sample{}
	for round := range r.o.Rounds {
		if err := s.ResetRequests(ctx); err != nil {
			r.fail(what, err)
			return
		}
		if _, err := run.run(ctx, nil, "sync"); err != nil {
			r.fail(what, err)
			return
		}
		q, err := s.Requests(ctx)
		if err != nil {
			r.fail(what, err)
			return
		}
		for ep, name := range endpoints {
			per[name] = append(per[name], float64(q.ByEndpoint[ep]))
		}
		total = append(total, float64(q.Total))
		r.logf("%s round %d: %d requests %v", what, round+1, q.Total, q.ByEndpoint)
	}
	_ = os.RemoveAll(dir)
	names := make([]string, 0, len(per))
	for n := range per {
		names = append(names, n)
	}
	slices.Sort(names)
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %s", n, per[n].Spread("%.0f")))
	}
	r.row("requests of an idle `syncd sync` (right after one), all default streams", total.Spread("%.0f")+": "+strings.Join(parts, ", "), runs(len(total)), "")
}

// peakRSS: backfills of RSSRows conversions with syncd's default memory
// settings, each a child process whose high-water RSS wait4 reports. The
// largest size runs once and is stopped where it would overrun the budget.
func (r *runner) peakRSS(ctx context.Context) {
	for i, n := range r.o.RSSRows {
		last := i == len(r.o.RSSRows)-1
		what := fmt.Sprintf("peak RSS, `syncd backfill` of %dM conversions, default config", n/1_000_000)
		if n < 1_000_000 {
			what = fmt.Sprintf("peak RSS, `syncd backfill` of %dk conversions, default config", n/1000)
		}
		if time.Until(r.deadline) < 30*time.Second {
			r.row(what, "skipped: over the time budget", "0", "<= 300 MB")
			continue
		}
		s, err := startSim(ctx, r.o.Sim, r.anchor, "--conversions", strconv.Itoa(n), "--days", strconv.Itoa(days))
		if err != nil {
			r.fail(what, err)
			continue
		}
		rounds := r.o.Rounds
		if last {
			rounds = 1
		}
		var rss, rate, bytes Sample
		var notes []string
		for round := range rounds {
			left := time.Until(r.deadline)
			if left < 30*time.Second {
				notes = append(notes, fmt.Sprintf("%d more skipped: over the time budget", rounds-round))
				break
			}
			dir, err := r.scratch("rss")
			if err != nil {
				r.fail(what, err)
				break
			}
			run, err := newSyncdRun(r.o.Syncd, dir, s, "duckdb", apiSettings{RequestsPerSecond: 1000, Concurrency: 4, PageSize: 500})
			if err != nil {
				r.fail(what, err)
				break
			}
			stop := make(chan struct{})
			timer := time.AfterFunc(left-20*time.Second, func() { close(stop) })
			res, err := run.backfill(ctx, stop, r.from, r.to)
			stopped := !timer.Stop()
			if err != nil {
				r.fail(what, err)
				break
			}
			rss = append(rss, mb(float64(res.PeakRSS)))
			rows, cerr := countRows(ctx, run.wh.Path)
			note := ""
			if stopped {
				note = fmt.Sprintf("stopped at the time budget after %s, %d rows loaded", res.Wall.Round(time.Second), rows)
				notes = append(notes, note)
			} else if cerr == nil && rows > 0 {
				rate = append(rate, float64(rows)/res.Wall.Seconds())
				size, _ := run.wh.size()
				bytes = append(bytes, float64(size)/float64(rows))
			}
			r.logf("%s round %d: %.0f MB in %s (%d rows) %s", what, round+1, rss[len(rss)-1], res.Wall.Round(time.Second), rows, note)
			_ = os.RemoveAll(dir)
		}
		s.Close()
		if len(rss) == 0 {
			r.row(what, strings.Join(notes, "; "), "0", "<= 300 MB")
			continue
		}
		fig := rss.Spread("%.0f MB")
		if len(rate) > 0 {
			fig += fmt.Sprintf("; %s rows/s, %s bytes/row", rate.Spread("%.0f"), bytes.Spread("%.0f"))
		}
		if len(notes) > 0 {
			fig += "; " + strings.Join(notes, "; ")
		}
		r.row(what, fig, runs(len(rss)), "<= 300 MB")
	}
}

// countRows counts the conversions a warehouse holds (after its syncd
// exited).
func countRows(ctx context.Context, path string) (int64, error) {
	db, err := sql.Open("duckdb", path+"?access_mode=READ_ONLY")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int64
	err = db.QueryRowContext(ctx, "SELECT count(*) FROM conversions").Scan(&n)
	return n, err
}
