package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/rs/zerolog"

	"github.com/syncd/syncd/checkpoints"
	"github.com/syncd/syncd/extract"
	"github.com/syncd/syncd/internal/affisesim"
	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/load/duckdb"
	"github.com/syncd/syncd/load/lake"
	"github.com/syncd/syncd/load/lake/bucket"
	"github.com/syncd/syncd/models"
)

const key = "pipeline-test-key-0123"

// fixture: the simulator over HTTP, a real client and DuckDB file.
type fixture struct {
	sim    *affisesim.Sim
	client *extract.Client
	sink   *duckdb.Sink
	now    time.Time
	url    string // the simulator's
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	now := time.Now().UTC()
	sim, err := affisesim.New(affisesim.Config{Key: key, Seed: 11, Conversions: 800, Days: 10, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	client, err := extract.NewClient(extract.ClientConfig{BaseURL: srv.URL, Key: key, Timezone: "Europe/Berlin",
		RequestsPerSecond: 500, Concurrency: 4, Timeout: 5 * time.Second, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	sink, err := duckdb.Open(context.Background(), filepath.Join(t.TempDir(), "wh.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Close() })
	return &fixture{sim: sim, client: client, sink: sink, now: now, url: srv.URL}
}

func (f *fixture) conversions(t *testing.T, o extract.Options) extract.Extractor {
	t.Helper()
	o.UpdateFilter = true
	ex, err := extract.NewExtractor("conversions", f.client, models.Conversions(), o)
	if err != nil {
		t.Fatal(err)
	}
	return ex
}

func (f *fixture) count(t *testing.T) int {
	t.Helper()
	var n int
	if err := f.sink.DB().QueryRow("SELECT count(*) FROM conversions").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (f *fixture) cursor(t *testing.T, stream string) (checkpoints.Cursor, bool) {
	t.Helper()
	c, ok, err := f.sink.Cursor(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	return c, ok
}

func TestSyncLoadsEverythingAndCursorNeverMovesBack(t *testing.T) {
	f := newFixture(t)
	ex := f.conversions(t, extract.Options{StartDate: f.now.AddDate(0, 0, -12), Lookback: 6 * time.Hour})
	opts := Options{Now: func() time.Time { return f.now }}
	res, err := Sync(context.Background(), ex, f.sink, opts)
	if err != nil {
		t.Fatal(err)
	}
	truth, _ := f.sim.Truth("conversions")
	if got := f.count(t); got != len(truth) || res.Rows < int64(len(truth)) {
		t.Fatalf("loaded %d rows (pass says %d), simulator has %d", got, res.Rows, len(truth))
	}
	first, ok := f.cursor(t, "conversions")
	if !ok || first.Position.After(f.now) || f.now.Sub(first.Position) > time.Hour {
		t.Fatalf("cursor %v after a pass at %v: want the start of the current hour", first.Position, f.now)
	}
	// A second pass re-reads the lookback: its windows end before the
	// stored cursor's hour, yet the cursor must stay.
	if _, err := Sync(context.Background(), ex, f.sink, opts); err != nil {
		t.Fatal(err)
	}
	second, _ := f.cursor(t, "conversions")
	if second.Position.Before(first.Position) {
		t.Fatalf("cursor moved back from %v to %v", first.Position, second.Position)
	}
	if got := f.count(t); got != len(truth) {
		t.Fatalf("second pass left %d rows, want %d", got, len(truth))
	}
	var runs int
	f.sink.DB().QueryRow("SELECT count(*) FROM _syncd_runs WHERE stream = 'conversions' AND coalesce(error, '') = ''").Scan(&runs)
	if runs != 2 {
		t.Fatalf("%d successful runs recorded, want 2", runs)
	}
}

func TestFailedPassLeavesDataAndCursorAndRecordsTheError(t *testing.T) {
	f := newFixture(t)
	ex := f.conversions(t, extract.Options{StartDate: f.now.AddDate(0, 0, -12)})
	opts := Options{Now: func() time.Time { return f.now }}
	if _, err := Sync(context.Background(), ex, f.sink, opts); err != nil {
		t.Fatal(err)
	}
	before, _ := f.cursor(t, "conversions")
	rows := f.count(t)
	f.sim.Churn(100)
	if err := f.sim.SetFaults(1, []string{"500"}); err != nil {
		t.Fatal(err)
	}
	_, err := Sync(context.Background(), ex, f.sink, opts)
	if err == nil || !strings.Contains(err.Error(), "conversions: window") || !strings.Contains(err.Error(), "HTTP 500") {
		t.Fatalf("err = %v, want the stream, window and HTTP 500", err)
	}
	after, _ := f.cursor(t, "conversions")
	if !after.Position.Equal(before.Position) || f.count(t) != rows {
		t.Fatalf("a failed pass moved the cursor (%v -> %v) or the rows (%d -> %d)", before.Position, after.Position, rows, f.count(t))
	}
	var msg string
	f.sink.DB().QueryRow("SELECT error FROM _syncd_runs WHERE error <> ''").Scan(&msg)
	if !strings.Contains(msg, "HTTP 500") || strings.Contains(msg, key) {
		t.Fatalf("recorded error %q", msg)
	}
}

func TestBackfillLeavesIncrementalCursorAndResumes(t *testing.T) {
	f := newFixture(t)
	ex := f.conversions(t, extract.Options{StartDate: f.now.AddDate(0, 0, -2)})
	incremental := checkpoints.Cursor{Stream: "conversions", Position: f.now.Add(-time.Hour).Truncate(time.Hour)}
	if err := f.sink.SetCursor(context.Background(), incremental); err != nil {
		t.Fatal(err)
	}
	from := f.now.AddDate(0, 0, -10).Truncate(24 * time.Hour)
	to := f.now.Truncate(24*time.Hour).AddDate(0, 0, 1)

	// Interrupt the backfill after three windows or more: its units of
	// 100 rows hold a window or two.
	ctx, cancel := context.WithCancel(context.Background())
	_, err := Backfill(ctx, ex, f.sink, from, to, Options{BackfillUnitRows: 100, Progress: func(p Progress) {
		if p.Done >= 3 {
			cancel()
		}
	}})
	if err == nil {
		t.Fatal("interrupted backfill reported success")
	}
	mid, ok := f.cursor(t, checkpoints.BackfillKey("conversions"))
	if !ok || !mid.Position.After(from) {
		t.Fatalf("backfill cursor %v %v: want progress past %v", mid.Position, ok, from)
	}
	partial := f.count(t)

	var windows int
	res, err := Backfill(context.Background(), ex, f.sink, from, to, Options{Progress: func(p Progress) { windows = p.Total }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Windows != windows || windows >= 12 {
		t.Fatalf("resumed backfill walked %d windows; want it to skip the 3 done", windows)
	}
	if _, ok := f.cursor(t, checkpoints.BackfillKey("conversions")); ok {
		t.Fatal("a finished backfill left its cursor")
	}
	if got, _ := f.cursor(t, "conversions"); !got.Position.Equal(incremental.Position) {
		t.Fatalf("backfill moved the incremental cursor to %v", got.Position)
	}
	truth, _ := f.sim.Truth("conversions")
	if got := f.count(t); got != len(truth) || partial >= got {
		t.Fatalf("after backfill %d rows (partial %d), simulator %d", got, partial, len(truth))
	}
}

// BenchmarkSyncConversions measures a first sync of conversions end to end
// (simulator over loopback HTTP -> decode -> Arrow -> DuckDB commit) and the
// Go heap it peaks at, which must stay bounded by the batch size.
// The api_latency_50ms case is closer to a real network, where fetching the
// next page while DuckDB commits the last is what pays.
func BenchmarkSyncConversions(b *testing.B) {
	b.Run("loopback", func(b *testing.B) { benchSync(b, 0, false) })
	b.Run("api_latency_50ms", func(b *testing.B) { benchSync(b, 50*time.Millisecond, false) })
	// The same rows by `syncd backfill`, which commits windows in units.
	b.Run("backfill_loopback", func(b *testing.B) { benchSync(b, 0, true) })
}

func benchSync(b *testing.B, latency time.Duration, backfill bool) {
	const n = 100_000
	now := time.Now().UTC()
	sim, err := affisesim.New(affisesim.Config{Key: key, Seed: 5, Conversions: n, Days: 30, Now: now, Latency: latency})
	if err != nil {
		b.Fatal(err)
	}
	defer sim.Close()
	srv := httptest.NewServer(sim)
	defer srv.Close()
	for i := 0; i < b.N; i++ {
		client, err := extract.NewClient(extract.ClientConfig{BaseURL: srv.URL, Key: key, Timezone: "UTC",
			RequestsPerSecond: 1000, Concurrency: 4, Timeout: 30 * time.Second})
		if err != nil {
			b.Fatal(err)
		}
		path := filepath.Join(b.TempDir(), "wh.duckdb")
		sink, err := duckdb.Open(context.Background(), path, benchSinkOpts...)
		if err != nil {
			b.Fatal(err)
		}
		ex, _ := extract.NewExtractor("conversions", client, models.Conversions(), extract.Options{StartDate: now.AddDate(0, 0, -31), UpdateFilter: true})
		var peak uint64
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			var ms runtime.MemStats
			for {
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse)
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		}()
		start := time.Now()
		var res Result
		if backfill {
			res, err = Backfill(context.Background(), ex, sink, now.AddDate(0, 0, -31).Truncate(time.Second), now.Truncate(time.Second), Options{})
		} else {
			res, err = Sync(context.Background(), ex, sink, Options{})
		}
		elapsed := time.Since(start)
		close(stop)
		<-done
		sink.Close()
		if err != nil || res.Rows != n {
			b.Fatalf("rows %d err %v", res.Rows, err)
		}
		b.ReportMetric(float64(n)/elapsed.Seconds(), "rows/s")
		b.ReportMetric(float64(res.Requests), "requests")
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
		if st, err := os.Stat(path); err == nil {
			// The file as a user keeps it: closed, checkpointed.
			b.ReportMetric(float64(st.Size())/n, "file-bytes/row")
		}
	}
}

var benchSinkOpts []duckdb.Option

// TestSyncWithNothingToLoadReportsTheStoredCursor: a clicks pass within the
// hour of the last one plans no window; its result must still carry the
// stored cursor (the "pass finished" line printed 0001-01-01 instead).
func TestSyncWithNothingToLoadReportsTheStoredCursor(t *testing.T) {
	f := newFixture(t)
	ex, err := extract.NewExtractor("clicks", f.client, models.Clicks(), extract.Options{})
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Now: func() time.Time { return f.now }}
	if _, err := Sync(context.Background(), ex, f.sink, opts); err != nil {
		t.Fatal(err)
	}
	stored, ok := f.cursor(t, "clicks")
	if !ok || stored.Position.IsZero() {
		t.Fatal("the first clicks pass stored no cursor")
	}
	res, err := Sync(context.Background(), ex, f.sink, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Windows != 0 {
		t.Fatalf("second pass in the same hour walked %d windows, want 0", res.Windows)
	}
	if !res.Cursor.Equal(stored.Position) {
		t.Fatalf("result cursor %v, want the stored %v", res.Cursor, stored.Position)
	}
}

// TestSyncRefusesACursorInTheFuture: a stored cursor ahead of now (a bad
// edit, a restored backup, a clock that jumped) would make every pass plan
// nothing and report success while the stream silently stops. The pass
// must fail instead, touching nothing, naming the stream, the cursor and
// the command that fixes it; after that command the stream syncs again.
func TestSyncRefusesACursorInTheFuture(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ex := f.conversions(t, extract.Options{StartDate: f.now.AddDate(0, 0, -12), Lookback: 6 * time.Hour})
	future := f.now.AddDate(0, 0, 30).Truncate(time.Hour)
	if err := f.sink.SetCursor(ctx, checkpoints.Cursor{Stream: "conversions", Position: future}); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	opts := Options{Now: func() time.Time { return f.now }, Log: zerolog.New(&log)}
	f.sim.ResetRequests()
	res, err := Sync(ctx, ex, f.sink, opts)
	var fe *checkpoints.FutureCursorError
	if !errors.As(err, &fe) || fe.Stream != "conversions" || !fe.Position.Equal(future) || !fe.Now.Equal(f.now) {
		t.Fatalf("err = %v, want a FutureCursorError of conversions at %v", err, future)
	}
	for _, want := range []string{"conversions", future.Format(time.RFC3339), "syncd state reset --stream conversions"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if res.Windows != 0 || res.Requests != 0 || f.sim.Requests().Total != 0 {
		t.Errorf("a refused pass walked %d windows, made %d requests (simulator saw %d)", res.Windows, res.Requests, f.sim.Requests().Total)
	}
	if !res.Cursor.Equal(future) {
		t.Errorf("result cursor %v, want the stored %v", res.Cursor, future)
	}
	if c, _ := f.cursor(t, "conversions"); !c.Position.Equal(future) {
		t.Errorf("a refused pass moved the cursor to %v", c.Position)
	}
	var recorded string
	f.sink.DB().QueryRow("SELECT error FROM _syncd_runs WHERE stream = 'conversions'").Scan(&recorded)
	if !strings.Contains(recorded, "syncd state reset --stream conversions") {
		t.Errorf("_syncd_runs error %q does not say how to fix it", recorded)
	}
	line := log.String()
	for _, want := range []string{`"level":"error"`, `"stream":"conversions"`, `"cursor":"` + future.Format(time.RFC3339), `"now":"` + f.now.Format(time.RFC3339), `"fix":"syncd state reset --stream conversions"`} {
		if !strings.Contains(line, want) {
			t.Errorf("log lacks %s:\n%s", want, line)
		}
	}

	// What state reset does: the next pass loads everything.
	if err := f.sink.DeleteCursor(ctx, "conversions"); err != nil {
		t.Fatal(err)
	}
	if _, err := Sync(ctx, ex, f.sink, opts); err != nil {
		t.Fatal(err)
	}
	truth, _ := f.sim.Truth("conversions")
	if got := f.count(t); got != len(truth) {
		t.Fatalf("after the reset %d rows, simulator %d", got, len(truth))
	}
}

// TestSyncAcceptsACursorSlightlyAhead: every pass stores at most its own
// clock reading, so after the clock is corrected back by a little a cursor
// may be a few minutes ahead; that is no reason to stop a stream.
func TestSyncAcceptsACursorSlightlyAhead(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ahead := f.now.Add(checkpoints.FutureTolerance - time.Minute)
	for _, name := range []string{"offers", "conversions"} {
		if err := f.sink.SetCursor(ctx, checkpoints.Cursor{Stream: name, Position: ahead}); err != nil {
			t.Fatal(err)
		}
	}
	offers, err := extract.NewExtractor("offers", f.client, models.Offers(), extract.Options{})
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Now: func() time.Time { return f.now }}
	for _, ex := range []extract.Extractor{offers, f.conversions(t, extract.Options{Lookback: 6 * time.Hour})} {
		if res, err := Sync(ctx, ex, f.sink, opts); err != nil || res.Windows == 0 {
			t.Errorf("%s with a cursor %s ahead: %d windows, %v", ex.Stream(), ahead.Sub(f.now), res.Windows, err)
		}
	}
}

// Rows are planned in UTC, but the days stats_daily replaces are the
// network's: a window over Berlin's 25-hour fall-back day owns the dates
// 2026-10-25 and 10-26, not the UTC dates its instants fall on.
func TestReplaceDaysAreTheNetworksDays(t *testing.T) {
	client, err := extract.NewClient(extract.ClientConfig{BaseURL: "http://affise.invalid", Key: key, Timezone: "Europe/Berlin"})
	if err != nil {
		t.Fatal(err)
	}
	slices := []string{"day", "offer"}
	m, err := models.StatsDaily(slices)
	if err != nil {
		t.Fatal(err)
	}
	stats, err := extract.NewExtractor("stats_daily", client, m, extract.Options{Slices: slices})
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 10, 24, 22, 0, 0, 0, time.UTC) // Berlin 10-25 00:00 CEST
	to := time.Date(2026, 10, 26, 23, 0, 0, 0, time.UTC)   // Berlin 10-27 00:00 CET
	ws := stats.PlanBackfill(from, to)
	if len(ws) != 1 || !ws[0].ReplaceDays {
		t.Fatalf("windows %+v", ws)
	}
	got := target(stats, ws[0])
	if got.Mode != models.ReplaceDays || got.From.Format(time.DateOnly) != "2026-10-25" || got.To.Format(time.DateOnly) != "2026-10-27" {
		t.Fatalf("replaces %s..%s (mode %v), want Berlin's 2026-10-25..2026-10-27", got.From, got.To, got.Mode)
	}
}

// recordingExtractor notes the windows the pipeline fetches, by From: it
// fetches several at once, so they start in any order.
type recordingExtractor struct {
	extract.Extractor
	mu      sync.Mutex
	fetched []extract.Window
}

func (r *recordingExtractor) Fetch(ctx context.Context, w extract.Window, emit func(arrow.RecordBatch) error) (int64, error) {
	r.mu.Lock()
	r.fetched = append(r.fetched, w)
	slices.SortStableFunc(r.fetched, func(a, b extract.Window) int { return a.From.Compare(b.From) })
	r.mu.Unlock()
	return r.Extractor.Fetch(ctx, w, emit)
}

// A pass by update time asks for conversions created from the first day
// the warehouse holds, however old, so their status changes land.
func TestSyncAsksFromTheFirstDayHeld(t *testing.T) {
	f := newFixture(t)
	opts := Options{Now: func() time.Time { return f.now }}
	ex := &recordingExtractor{Extractor: f.conversions(t, extract.Options{Lookback: 6 * time.Hour})}
	if _, err := Sync(context.Background(), ex, f.sink, opts); err != nil {
		t.Fatal(err)
	}
	first, found, err := f.sink.FirstDay(context.Background(), models.Conversions())
	if err != nil || !found {
		t.Fatalf("first day %v %v", found, err)
	}
	// The simulator's history reaches 10 days back, the pass's start 30:
	// what the warehouse holds starts within the pass.
	ex.fetched = nil
	if _, err := Sync(context.Background(), ex, f.sink, opts); err != nil {
		t.Fatal(err)
	}
	if len(ex.fetched) == 0 {
		t.Fatal("the second pass fetched nothing")
	}
	for _, w := range ex.fetched {
		if !w.CreatedFrom.Equal(first) {
			t.Errorf("window %v asks for conversions created from %v, want the first day held %v", w.From, w.CreatedFrom, first)
		}
	}
}

// changedConversions syncs conversions (12 days) and stats_daily by day,
// churns 400 conversions at the simulator and syncs conversions again: the
// changed hours are recorded, and the stats_daily extractor it returns has
// not re-read them yet.
func (f *fixture) changedConversions(t *testing.T, opts Options) (stats *recordingExtractor) {
	t.Helper()
	ctx := context.Background()
	conv := f.conversions(t, extract.Options{StartDate: f.now.AddDate(0, 0, -12), Lookback: 6 * time.Hour})
	m, err := models.StatsDaily([]string{"day"})
	if err != nil {
		t.Fatal(err)
	}
	statsEx, err := extract.NewExtractor("stats_daily", f.client, m, extract.Options{Slices: []string{"day"}, StartDate: f.now.AddDate(0, 0, -12), Lookback: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	stats = &recordingExtractor{Extractor: statsEx}
	for _, ex := range []extract.Extractor{conv, stats} {
		if _, err := Sync(ctx, ex, f.sink, opts); err != nil {
			t.Fatal(err)
		}
	}
	if changed, _ := f.sim.Churn(400); changed == 0 {
		t.Fatal("the churn changed no status")
	}
	if _, err := Sync(ctx, conv, f.sink, opts); err != nil {
		t.Fatal(err)
	}
	return stats
}

// Status changes of conversions of any age reach stats_daily: the
// conversions pass records the hours whose rows changed, the next stats
// pass re-reads the days holding them (beyond its lookback) and consumes
// them, and every day's totals then equal the conversions'.
func TestStatsRereadsTheDaysWhoseConversionsChanged(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	opts := Options{Now: func() time.Time { return f.now }}
	stats := f.changedConversions(t, opts)
	hours, err := f.sink.ChangedHours(ctx, models.ChangedConversions)
	if err != nil || len(hours) == 0 {
		t.Fatalf("changed hours after the churn: %v %v", hours, err)
	}
	oldest := hours[0]
	stats.fetched = nil
	if _, err := Sync(ctx, stats, f.sink, opts); err != nil {
		t.Fatal(err)
	}
	if len(stats.fetched) < 2 || !stats.fetched[0].From.Before(f.now.Add(-48*time.Hour)) || stats.fetched[0].From.After(oldest) {
		t.Errorf("the stats pass fetched %d windows from %v; want the day of %v re-read before its lookback", len(stats.fetched), stats.fetched[0].From, oldest)
	}
	left, err := f.sink.ChangedHours(ctx, models.ChangedConversions)
	if err != nil || len(left) != 0 {
		t.Errorf("changed hours left after the stats pass: %v %v", left, err)
	}
	// Every day: stats_daily's confirmed count equals the conversions'.
	rows, err := f.sink.DB().Query(`
		WITH c AS (SELECT CAST(timezone('Europe/Berlin', timezone('UTC', created_at)) AS DATE) AS day, count(*) FILTER (status = 'confirmed') AS n
			FROM conversions GROUP BY 1),
		s AS (SELECT day, sum(confirmed_count) AS n FROM stats_daily GROUP BY 1)
		SELECT c.day::VARCHAR, c.n, coalesce(s.n, -1) FROM c LEFT JOIN s USING (day) WHERE c.n <> coalesce(s.n, -1) ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var day string
		var c, s int64
		if err := rows.Scan(&day, &c, &s); err != nil {
			t.Fatal(err)
		}
		t.Errorf("%s: %d confirmed conversions, stats_daily says %d", day, c, s)
	}
}

// An affiliate key cannot select by update time: each pass also re-reads
// the next slice of the settle window by creation date, so after one cycle
// every status change of a conversion created within it has landed; the
// settle cursor moves a slice per pass and wraps.
func TestAffiliateSettleWindowIsReadInSlices(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	opts := Options{Now: func() time.Time { return f.now }}
	const settle = 9 * 24 * time.Hour
	inner, err := extract.NewExtractor("conversions", f.client, models.Conversions(),
		extract.Options{Lookback: 6 * time.Hour, SettleWindow: settle, StartDate: f.now.AddDate(0, 0, -12)})
	if err != nil {
		t.Fatal(err)
	}
	if inner.Settle() != settle {
		t.Fatalf("Settle() = %v, want %v", inner.Settle(), settle)
	}
	ex := &recordingExtractor{Extractor: inner}
	if _, err := Sync(ctx, ex, f.sink, opts); err != nil {
		t.Fatal(err)
	}
	if c, ok := f.cursor(t, checkpoints.SettleKey("conversions")); ok {
		t.Errorf("a first pass that covers the settle window moved its cursor to %v", c.Position)
	}
	if changed, _ := f.sim.Churn(300); changed == 0 {
		t.Fatal("the churn changed no status")
	}
	var positions []time.Time
	for range 5 { // 9 days in slices of 3: a cycle is 3 or 4 passes
		ex.fetched = nil
		if _, err := Sync(ctx, ex, f.sink, opts); err != nil {
			t.Fatal(err)
		}
		c, ok := f.cursor(t, checkpoints.SettleKey("conversions"))
		if !ok {
			t.Fatal("no settle cursor after a pass")
		}
		positions = append(positions, c.Position)
		if ex.fetched[0].From.After(f.now.Add(-24 * time.Hour)) {
			t.Errorf("pass %d re-read no settle slice first: its first window is %v", len(positions), ex.fetched[0].From)
		}
	}
	wraps := 0
	for i := 1; i < len(positions); i++ {
		switch d := positions[i].Sub(positions[i-1]); {
		case d < 0:
			wraps++
		case d == 0 || d > SettleSlice:
			t.Errorf("settle cursor moved %v from pass %d to %d, want a slice of at most %v", d, i, i+1, SettleSlice)
		}
	}
	if wraps != 1 {
		t.Errorf("settle cursor %v wrapped %d times in 5 passes, want once", positions, wraps)
	}
	// After a cycle, every conversion created within the window has its
	// status as the simulator has it.
	truth, _ := f.sim.Truth("conversions")
	want := map[string]string{}
	for _, raw := range truth {
		var r struct{ ID, Status string }
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatal(err)
		}
		want[r.ID] = r.Status
	}
	rows, err := f.sink.DB().Query(`SELECT id, status FROM conversions WHERE created_at >= ?`, f.now.Add(-settle+24*time.Hour).Format("2006-01-02 15:04:05"))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id, st string
		if err := rows.Scan(&id, &st); err != nil {
			t.Fatal(err)
		}
		n++
		if want[id] != st {
			t.Errorf("conversion %s: %s, the simulator says %s", id, st, want[id])
		}
	}
	if n == 0 {
		t.Fatal("no conversion within the settle window to check")
	}
}

// stats_daily is asked once per currency the warehouse's conversions use:
// every day's confirmed count and revenue per currency equal the
// conversions', and no row mixes currencies.
func TestStatsPerCurrency(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	opts := Options{Now: func() time.Time { return f.now }}
	conv := f.conversions(t, extract.Options{StartDate: f.now.AddDate(0, 0, -12), Lookback: 6 * time.Hour})
	m, err := models.StatsDaily([]string{"day", "offer"})
	if err != nil {
		t.Fatal(err)
	}
	stats, err := extract.NewExtractor("stats_daily", f.client, m, extract.Options{Slices: []string{"day", "offer"},
		StartDate: f.now.AddDate(0, 0, -12), Lookback: 24 * time.Hour, Currencies: f.sink.Currencies})
	if err != nil {
		t.Fatal(err)
	}
	for _, ex := range []extract.Extractor{conv, stats} {
		if _, err := Sync(ctx, ex, f.sink, opts); err != nil {
			t.Fatal(err)
		}
	}
	cs, err := f.sink.Currencies(ctx)
	if err != nil || len(cs) < 2 {
		t.Fatalf("currencies %v %v: the simulator should sell in several", cs, err)
	}
	var got []string
	rows, err := f.sink.DB().Query(`SELECT DISTINCT currency FROM stats_daily ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		got = append(got, c)
	}
	rows.Close()
	if strings.Join(got, ",") != strings.Join(cs, ",") {
		t.Errorf("stats_daily currencies %v, conversions' %v", got, cs)
	}
	diff, err := f.sink.DB().Query(`
		WITH c AS (SELECT CAST(timezone('Europe/Berlin', timezone('UTC', created_at)) AS DATE) AS day, currency,
				count(*) FILTER (status = 'confirmed') AS n, coalesce(sum(revenue) FILTER (status = 'confirmed'), 0) AS rev
			FROM conversions GROUP BY 1, 2),
		s AS (SELECT day, currency, sum(confirmed_count) AS n, sum(confirmed_charge) AS rev FROM stats_daily GROUP BY 1, 2)
		SELECT c.day::VARCHAR, c.currency, c.n, coalesce(s.n, -1), c.rev::VARCHAR, coalesce(s.rev, -1)::VARCHAR
		FROM c LEFT JOIN s USING (day, currency) WHERE c.n <> coalesce(s.n, -1) OR c.rev <> coalesce(s.rev, -1) ORDER BY 1, 2`)
	if err != nil {
		t.Fatal(err)
	}
	defer diff.Close()
	for diff.Next() {
		var day, cur, crev, srev string
		var cn, sn int64
		if err := diff.Scan(&day, &cur, &cn, &sn, &crev, &srev); err != nil {
			t.Fatal(err)
		}
		t.Errorf("%s %s: conversions say %d confirmed, %s revenue; stats_daily %d, %s", day, cur, cn, crev, sn, srev)
	}
}

// PlanSync plans, without a request, exactly the windows the next pass
// walks: the changed days it re-reads before the planner's own.
func TestPlanSyncIsThePassesPlan(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	opts := Options{Now: func() time.Time { return f.now }}
	stats := f.changedConversions(t, opts)
	stats.fetched = nil
	p, err := PlanSync(ctx, stats, f.sink, f.now)
	if err != nil {
		t.Fatal(err)
	}
	if len(stats.fetched) != 0 {
		t.Errorf("PlanSync fetched %d windows", len(stats.fetched))
	}
	cur, _ := f.cursor(t, "stats_daily")
	if p.Stream != "stats_daily" || !p.Cursor.Equal(cur.Position) || p.ChangedDays == 0 || p.Settle != 0 || len(p.Windows) <= p.ChangedDays {
		t.Errorf("plan %+v; want the stored cursor, changed-day windows before the planner's own", p)
	}
	if _, err := Sync(ctx, stats, f.sink, opts); err != nil {
		t.Fatal(err)
	}
	if len(stats.fetched) != len(p.Windows) {
		t.Fatalf("the pass walked %d windows, the plan said %d", len(stats.fetched), len(p.Windows))
	}
	for i, w := range stats.fetched {
		if !w.From.Equal(p.Windows[i].From) || !w.To.Equal(p.Windows[i].To) {
			t.Errorf("window %d: walked %v..%v, planned %v..%v", i, w.From, w.To, p.Windows[i].From, p.Windows[i].To)
		}
	}

	// A cursor in the future plans nothing and says so.
	if err := f.sink.SetCursor(ctx, checkpoints.Cursor{Stream: "stats_daily", Position: f.now.Add(48 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if p, err := PlanSync(ctx, stats, f.sink, f.now); err != nil || !p.InFuture || len(p.Windows) != 0 {
		t.Errorf("plan with a future cursor: %+v %v", p, err)
	}
}

// Behind is measured from where the cursor can be now: a daily stream at
// today's midnight (in its zone) and an hourly one at the last closed hour
// are on time, whatever the hour.
func TestBehindIsFromWhereTheCursorCanBe(t *testing.T) {
	f := newFixture(t)
	decl, err := models.Lookup("server_postbacks")
	if err != nil {
		t.Fatal(err)
	}
	m, err := decl.Model(nil)
	if err != nil {
		t.Fatal(err)
	}
	daily, err := extract.New(f.client, decl, m, extract.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hourly := f.conversions(t, extract.Options{Lookback: 6 * time.Hour})
	midnight := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	evening := midnight.Add(19*time.Hour + 30*time.Minute)
	for _, c := range []struct {
		name   string
		ex     extract.Extractor
		cursor time.Time
		want   time.Duration
	}{
		{"daily at today's midnight, 19:30", daily, midnight, 0},
		{"daily two days back", daily, midnight.AddDate(0, 0, -2), 48 * time.Hour},
		{"hourly at the last closed hour", hourly, midnight.Add(19 * time.Hour), 0},
		{"hourly five hours back", hourly, midnight.Add(14 * time.Hour), 5 * time.Hour},
		{"never synced", daily, time.Time{}, 0},
	} {
		if got := Behind(c.ex, c.cursor, evening); got != c.want {
			t.Errorf("%s: behind %s, want %s", c.name, got, c.want)
		}
	}
}

// TestPassSummary: a pass reports what it read, what its commits stored
// (inserted, updated, unchanged), its retries and its cursor before and
// after, and records the same in _syncd_runs. A first pass inserts
// everything; a second after churn updates the changed, inserts the new
// and counts the lookback it re-read as unchanged.
func TestPassSummary(t *testing.T) {
	f := newFixture(t)
	client, err := extract.NewClient(extract.ClientConfig{BaseURL: f.url, Key: key, Timezone: "Europe/Berlin",
		RequestsPerSecond: 500, Concurrency: 4, Timeout: 5 * time.Second, MaxRetries: 20}, extract.WithBackoff(time.Millisecond, 2*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ex, err := extract.NewExtractor("conversions", client, models.Conversions(),
		extract.Options{StartDate: f.now.AddDate(0, 0, -12), Lookback: 6 * time.Hour, UpdateFilter: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.sim.SetFaults(0.3, []string{"500"}); err != nil {
		t.Fatal(err)
	}
	var last Progress
	opts := Options{Now: func() time.Time { return f.now }, Progress: func(p Progress) { last = p }}
	first, err := Sync(context.Background(), ex, f.sink, opts)
	if err != nil {
		t.Fatal(err)
	}
	truth, _ := f.sim.Truth("conversions")
	n := int64(len(truth))
	if first.Committed != (load.Committed{Inserted: n}) || first.Rows != n || first.Read < n {
		t.Errorf("first pass: read %d, stored %+v, rows %d; want %d inserted", first.Read, first.Committed, first.Rows, n)
	}
	if first.Retries == 0 || first.Retries >= first.Requests {
		t.Errorf("first pass: %d retries of %d requests at a 30%% fault rate", first.Retries, first.Requests)
	}
	if !first.CursorBefore.IsZero() || first.Cursor.IsZero() {
		t.Errorf("first pass: cursor %v -> %v, want none -> a position", first.CursorBefore, first.Cursor)
	}
	if last.Done != first.Windows || last.Total != first.Planned || last.Read != first.Read || last.Requests != first.Requests {
		t.Errorf("last progress %+v, pass %+v", last, first)
	}

	if err := f.sim.SetFaults(0, nil); err != nil {
		t.Fatal(err)
	}
	changed, created := f.sim.Churn(20)
	second, err := Sync(context.Background(), ex, f.sink, opts)
	if err != nil {
		t.Fatal(err)
	}
	c := second.Committed
	if c.Inserted != int64(created) || c.Updated != int64(changed) || c.Unchanged == 0 || second.Retries != 0 {
		t.Errorf("second pass after %d changed and %d created: stored %+v, %d retries", changed, created, c, second.Retries)
	}
	if !second.CursorBefore.Equal(first.Cursor) {
		t.Errorf("second pass started from %v, the first ended at %v", second.CursorBefore, first.Cursor)
	}

	var got []string
	rows, err := f.sink.DB().Query(`SELECT rows, rows_read, rows_inserted, rows_updated, rows_unchanged, requests, retries,
		coalesce(strftime(cursor_before, '%Y-%m-%dT%H:%M:%S'), 'none'), strftime(cursor_after, '%Y-%m-%dT%H:%M:%S')
		FROM _syncd_runs WHERE stream = 'conversions' ORDER BY started_at, finished_at`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var r, rd, ins, upd, unch, req, ret int64
		var before, after string
		if err := rows.Scan(&r, &rd, &ins, &upd, &unch, &req, &ret, &before, &after); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d %d %d %d %d %d %d %s %s", r, rd, ins, upd, unch, req, ret, before, after))
	}
	ts := func(t time.Time) string {
		if t.IsZero() {
			return "none"
		}
		return t.UTC().Format("2006-01-02T15:04:05")
	}
	var want []string
	for _, p := range []Result{first, second} {
		want = append(want, fmt.Sprintf("%d %d %d %d %d %d %d %s %s", p.Rows, p.Read, p.Committed.Inserted, p.Committed.Updated,
			p.Committed.Unchanged, p.Requests, p.Retries, ts(p.CursorBefore), ts(p.Cursor)))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("_syncd_runs:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 850 * time.Millisecond: "850ms", 4240 * time.Millisecond: "4.2s",
		72 * time.Second: "1m12s", 72*time.Second + 400*time.Millisecond: "1m12s", 2*time.Hour + 5*time.Minute: "2h5m0s",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

// failingExtractor fails window fail after emitting all its rows; window
// fail waits until window fail+1 has started, which only a pipeline that
// fetches windows ahead does. It counts the rows it emits per window.
type failingExtractor struct {
	extract.Extractor
	windows []extract.Window
	fail    int
	started chan struct{} // closed when window fail+1 starts
	mu      sync.Mutex
	rows    map[int]int64
}

func (e *failingExtractor) Fetch(ctx context.Context, w extract.Window, emit func(arrow.RecordBatch) error) (int64, error) {
	i := slices.IndexFunc(e.windows, func(x extract.Window) bool { return x.From.Equal(w.From) })
	if i == e.fail+1 {
		close(e.started)
	}
	reqs, err := e.Extractor.Fetch(ctx, w, func(rec arrow.RecordBatch) error {
		e.mu.Lock()
		e.rows[i] += rec.NumRows()
		e.mu.Unlock()
		return emit(rec)
	})
	if i != e.fail || err != nil {
		return reqs, err
	}
	select {
	case <-e.started:
	case <-ctx.Done():
		return reqs, ctx.Err()
	case <-time.After(20 * time.Second):
		return reqs, errors.New("window after the failing one never started: windows are not fetched ahead")
	}
	return reqs, errors.New("injected failure")
}

// failingBackfill is a backfill of the fixture's last 9 days of
// conversions whose window number fail fails, in batches of 7 rows (so
// each window emits several records) from mem.
func failingBackfill(t *testing.T, f *fixture, mem memory.Allocator, fail int) (ex *failingExtractor, from, to time.Time) {
	t.Helper()
	client, err := extract.NewClient(extract.ClientConfig{BaseURL: f.url, Key: key, RequestsPerSecond: 500, Concurrency: 4, Timeout: 5 * time.Second, MaxRetries: -1},
		extract.WithAllocator(mem), extract.WithBatchRows(7))
	if err != nil {
		t.Fatal(err)
	}
	inner, err := extract.NewExtractor("conversions", client, models.Conversions(), extract.Options{})
	if err != nil {
		t.Fatal(err)
	}
	from = f.now.AddDate(0, 0, -9).Truncate(24 * time.Hour)
	to = f.now.Truncate(24 * time.Hour)
	return &failingExtractor{Extractor: inner, windows: inner.PlanBackfill(from, to), fail: fail, started: make(chan struct{}), rows: map[int]int64{}}, from, to
}

// Windows are fetched ahead, yet a failing window stops the pass after
// committing exactly the windows before it, in order, with their cursors;
// the windows fetched ahead commit nothing, and every record is released.
func TestWindowsAheadStopAtTheFailedWindow(t *testing.T) {
	f := newFixture(t)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ex, from, to := failingBackfill(t, f, mem, 4)
	if len(ex.windows) < 8 {
		t.Fatalf("%d windows, want 8 or more", len(ex.windows))
	}
	var done []int
	res, err := Backfill(context.Background(), ex, f.sink, from, to, Options{WindowsAhead: 3, BackfillUnitRows: -1, Progress: func(p Progress) {
		if p.Done > 0 && (len(done) == 0 || done[len(done)-1] != p.Done) {
			done = append(done, p.Done)
		}
	}})
	if err == nil || !strings.Contains(err.Error(), "injected failure") || !strings.Contains(err.Error(), "window "+describe(ex.windows[4])) {
		t.Fatalf("err %v, want the injected failure of window %s", err, describe(ex.windows[4]))
	}
	if !slices.Equal(done, []int{1, 2, 3, 4}) || res.Windows != 4 {
		t.Fatalf("committed windows %v (result %d), want 1..4 in order", done, res.Windows)
	}
	c, ok := f.cursor(t, checkpoints.BackfillKey("conversions"))
	if !ok || !c.Position.Equal(ex.windows[3].Advance) {
		t.Fatalf("backfill cursor %v %v, want the end of window 4 %v", c.Position, ok, ex.windows[3].Advance)
	}
	var before int64
	for i := range 4 {
		before += ex.rows[i]
	}
	if ex.rows[4] == 0 {
		t.Fatalf("rows per window %v: want the failing window fetched", ex.rows)
	}
	if got := f.count(t); int64(got) != before {
		t.Fatalf("%d rows loaded, want the %d of the 4 windows before the failing one", got, before)
	}
}

// A backfill commits its windows in units, each with the cursor of its
// last window; a window failing in the middle of a unit leaves the units
// before it committed and nothing of its own unit, not even the windows
// of it that loaded fine.
func TestBackfillUnitFailsWhole(t *testing.T) {
	f := newFixture(t)
	inner := f.conversions(t, extract.Options{})
	from := f.now.AddDate(0, 0, -9).Truncate(24 * time.Hour)
	to := f.now.Truncate(24 * time.Hour)
	windows := inner.PlanBackfill(from, to)
	if len(windows) < 8 {
		t.Fatalf("%d windows, want 8 or more", len(windows))
	}
	// Rows per window, fetched as the backfill will.
	rows := make([]int64, len(windows))
	for i, w := range windows {
		if _, err := inner.Fetch(context.Background(), w, func(rec arrow.RecordBatch) error {
			rows[i] += rec.NumRows()
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	// The first unit is windows 0-4 exactly; the second, 5 onwards, is not
	// full when window 7 fails.
	unitRows := rows[0] + rows[1] + rows[2] + rows[3] + rows[4]
	if rows[4] == 0 || rows[5]+rows[6]+rows[7] >= unitRows || rows[5]+rows[6] == 0 {
		t.Fatalf("rows per window %v do not make the units this test needs", rows)
	}
	ex := &failingExtractor{Extractor: inner, windows: windows, fail: 7, started: make(chan struct{}), rows: map[int]int64{}}
	var done []int
	res, err := Backfill(context.Background(), ex, f.sink, from, to, Options{BackfillUnitRows: unitRows, Progress: func(p Progress) {
		if len(done) == 0 || done[len(done)-1] != p.Done {
			done = append(done, p.Done)
		}
	}})
	if err == nil || !strings.Contains(err.Error(), "injected failure") {
		t.Fatalf("err %v, want the injected failure", err)
	}
	if !slices.Equal(done, []int{0, 5}) || res.Windows != 5 || res.Committed.Inserted != unitRows {
		t.Fatalf("committed windows %v (result %d, %+v), want one unit of 5 windows, %d rows", done, res.Windows, res.Committed, unitRows)
	}
	c, ok := f.cursor(t, checkpoints.BackfillKey("conversions"))
	if !ok || !c.Position.Equal(windows[4].Advance) {
		t.Fatalf("backfill cursor %v %v, want the end of the unit's last window %v", c.Position, ok, windows[4].Advance)
	}
	if got := f.count(t); int64(got) != unitRows {
		t.Fatalf("%d rows loaded, want the %d of the first unit", got, unitRows)
	}

	// Resumed, the backfill finishes in units and leaves no cursor.
	var commits []int
	res, err = Backfill(context.Background(), inner, f.sink, from, to, Options{BackfillUnitRows: unitRows, Progress: func(p Progress) {
		if len(commits) == 0 || commits[len(commits)-1] != p.Done {
			commits = append(commits, p.Done)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Windows != len(windows)-5 || len(commits) >= len(windows)-5 {
		t.Fatalf("resumed backfill committed %d windows in steps %v; want the %d left, grouped", res.Windows, commits, len(windows)-5)
	}
	if _, ok := f.cursor(t, checkpoints.BackfillKey("conversions")); ok {
		t.Fatal("a finished backfill left its cursor")
	}
	var total int64
	for _, n := range rows {
		total += n
	}
	if got := f.count(t); int64(got) != total {
		t.Fatalf("%d rows after the backfill, want %d", got, total)
	}
}

// A backfill unit that is full in the middle of a window commits there,
// with the cursor of its last whole window: a window failing after some
// of its batches committed leaves them loaded and the cursor before it,
// and the resumed backfill re-reads the window into exactly the source's
// rows, each once.
func TestBackfillUnitsCutInsideAWindow(t *testing.T) {
	f := newFixture(t)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	// Batches of 7 rows, units of 10: every window is cut into units.
	ex, from, to := failingBackfill(t, f, mem, 3)
	var commits int
	res, err := Backfill(context.Background(), ex, f.sink, from, to, Options{BackfillUnitRows: 10, Progress: func(p Progress) { commits++ }})
	if err == nil || !strings.Contains(err.Error(), "injected failure") {
		t.Fatalf("err %v, want the injected failure", err)
	}
	var before int64
	for i := range 3 {
		before += ex.rows[i]
	}
	if ex.rows[3] < 30 {
		t.Fatalf("rows per window %v: want the failing window to hold several units", ex.rows)
	}
	got := int64(f.count(t))
	if got <= before || got >= before+ex.rows[3] || res.Windows != 3 {
		t.Fatalf("%d rows loaded, %d windows; want the 3 windows before the failing one (%d rows) and part of it (%d rows)", got, res.Windows, before, ex.rows[3])
	}
	if commits <= 3 {
		t.Fatalf("%d progress reports: want commits inside windows", commits)
	}
	c, ok := f.cursor(t, checkpoints.BackfillKey("conversions"))
	if !ok || !c.Position.Equal(ex.windows[2].Advance) {
		t.Fatalf("backfill cursor %v %v, want the end of the last whole window %v", c.Position, ok, ex.windows[2].Advance)
	}

	res, err = Backfill(context.Background(), ex.Extractor, f.sink, from, to, Options{BackfillUnitRows: 10})
	if err != nil {
		t.Fatal(err)
	}
	if res.Committed.Unchanged == 0 {
		t.Fatalf("resumed backfill %+v: want the rows of the failed window it re-read found unchanged", res.Committed)
	}
	var rows, keys int
	if err := f.sink.DB().QueryRow("SELECT count(*), count(DISTINCT id) FROM conversions").Scan(&rows, &keys); err != nil {
		t.Fatal(err)
	}
	var want int64
	for _, w := range ex.windows {
		_, err := ex.Extractor.Fetch(context.Background(), w, func(rec arrow.RecordBatch) error {
			want += rec.NumRows()
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if int64(rows) != want || keys != rows {
		t.Fatalf("%d rows, %d keys after the resumed backfill; want the source's %d, each once", rows, keys, want)
	}
	if _, ok := f.cursor(t, checkpoints.BackfillKey("conversions")); ok {
		t.Fatal("a finished backfill left its cursor")
	}
}

// granularSink hands out the inner sink's Txs as ones that store rows in
// blocks of granule rows (load.Granular) and hold no backlog, and records
// the rows written to each Tx that committed.
type granularSink struct {
	load.Sink
	granule int64
	commits []int64
}

func (s *granularSink) Begin(ctx context.Context, t load.Target) (load.Tx, error) {
	tx, err := s.Sink.Begin(ctx, t)
	if err != nil {
		return nil, err
	}
	return &granularTx{Tx: tx, s: s}, nil
}

type granularTx struct {
	load.Tx
	s    *granularSink
	rows int64
}

func (tx *granularTx) Write(ctx context.Context, rec arrow.RecordBatch) error {
	tx.rows += rec.NumRows()
	return tx.Tx.Write(ctx, rec)
}

func (tx *granularTx) Granule() int64 { return tx.s.granule }
func (tx *granularTx) Backlog() int64 { return 0 }

func (tx *granularTx) Commit(ctx context.Context, c *checkpoints.Cursor) (load.Committed, error) {
	n, err := tx.Tx.Commit(ctx, c)
	if err == nil {
		tx.s.commits = append(tx.s.commits, tx.rows)
	}
	return n, err
}

// A unit whose Tx stores rows in blocks commits at the largest multiple of
// the block within its maximum, exactly: the record that crosses it is
// split there (batches of 7 rows, blocks of 25, units of up to 60 rows:
// every unit but the last holds 50 rows). A failure in the middle of a
// window keeps the cursor of the last whole window, and the resumed
// backfill gives exactly the source's rows, each once.
func TestGranularUnitsAreCutAtTheBlock(t *testing.T) {
	f := newFixture(t)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ex, from, to := failingBackfill(t, f, mem, 3)
	sink := &granularSink{Sink: f.sink, granule: 25}
	opts := Options{BackfillUnitRows: 10, BackfillUnitMaxRows: 60}
	_, err := Backfill(context.Background(), ex, sink, from, to, opts)
	if err == nil || !strings.Contains(err.Error(), "injected failure") {
		t.Fatalf("err %v, want the injected failure", err)
	}
	if len(sink.commits) < 3 {
		t.Fatalf("commits %v: want several units before the failing window", sink.commits)
	}
	for i, n := range sink.commits {
		if n != 50 {
			t.Fatalf("commit %d of %v holds %d rows, want 50 (two blocks)", i+1, sink.commits, n)
		}
	}
	if got := f.count(t); int64(got) != 50*int64(len(sink.commits)) {
		t.Fatalf("%d rows loaded after %d commits of 50", got, len(sink.commits))
	}
	// The cursor is the end of the last window wholly in the commits.
	committed, last, cum := int64(50*len(sink.commits)), -1, int64(0)
	for i := range 3 {
		if cum += ex.rows[i]; cum <= committed {
			last = i
		}
	}
	c, ok := f.cursor(t, checkpoints.BackfillKey("conversions"))
	if last < 0 && ok || last >= 0 && (!ok || !c.Position.Equal(ex.windows[last].Advance)) {
		t.Fatalf("backfill cursor %v %v after %d rows committed of windows of %v, want the end of window %d", c.Position, ok, committed, ex.rows, last+1)
	}

	sink.commits = nil
	res, err := Backfill(context.Background(), ex.Extractor, sink, from, to, opts)
	if err != nil {
		t.Fatal(err)
	}
	var written int64
	for i, n := range sink.commits {
		written += n
		if n != 50 && (i != len(sink.commits)-1 || n > 50) {
			t.Fatalf("resumed backfill's commit %d of %v holds %d rows, want 50 but for the last", i+1, sink.commits, n)
		}
	}
	if written != res.Read {
		t.Fatalf("the commits hold %d rows, the pass read %d", written, res.Read)
	}
	var rows, keys int
	if err := f.sink.DB().QueryRow("SELECT count(*), count(DISTINCT id) FROM conversions").Scan(&rows, &keys); err != nil {
		t.Fatal(err)
	}
	var want int64
	for _, w := range ex.windows {
		if _, err := ex.Extractor.Fetch(context.Background(), w, func(rec arrow.RecordBatch) error {
			want += rec.NumRows()
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if int64(rows) != want || keys != rows {
		t.Fatalf("%d rows, %d keys after the resumed backfill; want the source's %d, each once", rows, keys, want)
	}
	if _, ok := f.cursor(t, checkpoints.BackfillKey("conversions")); ok {
		t.Fatal("a finished backfill left its cursor")
	}
}

// A backfill into a Parquet lake groups its windows into units by rows in
// all, not by rows written: the lake stages written rows on disk and
// rewrites each partition a commit touches whole, so commits every
// BackfillUnitRows rows rewrote each day many times.
func TestLakeBackfillUnitsAreBig(t *testing.T) {
	f := newFixture(t)
	b, err := bucket.OpenDir(filepath.Join(t.TempDir(), "lake"))
	if err != nil {
		t.Fatal(err)
	}
	sink, err := lake.Open(context.Background(), b, "pipeline test")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	ex := f.conversions(t, extract.Options{})
	from := f.now.AddDate(0, 0, -9).Truncate(24 * time.Hour)
	to := f.now.Truncate(24 * time.Hour)
	commits := 0
	res, err := Backfill(context.Background(), ex, sink, from, to, Options{BackfillUnitRows: 100, BackfillUnitMaxRows: 1_000_000, Progress: func(p Progress) {
		if p.Done > 0 {
			commits++
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Read < 500 || res.Committed.Inserted != res.Read {
		t.Fatalf("backfill %+v: want the fixture's hundreds of rows, each inserted", res)
	}
	if commits != 1 {
		t.Fatalf("%d commits of %d rows in units of up to 1,000,000: want one", commits, res.Read)
	}
}
