package lake

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/load/duckdb"
	"github.com/syncd/syncd/load/lake/bucket"
	"github.com/syncd/syncd/models"
)

// BenchmarkUpsertDay upserts batches of conversions, a third of them
// into each of three days, over a lake already holding them: every commit
// merges three whole partitions. It reports rows/s, Parquet bytes per row
// and the peak Go heap seen while committing.
func BenchmarkUpsertDay(b *testing.B) {
	const rows = 100_000
	s, err := openDir(b, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]int, rows)
	for i := range ids {
		ids[i] = i
	}
	rec := realistic(b, ids)
	defer rec.Release()
	commit := func() {
		if err := upsert(b, s, rec, nil); err != nil {
			b.Fatal(err)
		}
	}
	commit()
	var peak atomic.Uint64
	stop := make(chan struct{})
	go func() {
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
		}
	}()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		commit()
	}
	el := time.Since(start)
	b.StopTimer()
	close(stop)
	parts, _ := partitions(context.Background(), s.b, "conversions", models.DefaultNetwork)
	var size int64
	for _, p := range parts {
		fi, err := os.Stat(filepath.Join(s.b.(*bucket.Dir).Root(), fileKey("conversions", p)))
		if err != nil {
			b.Fatal(err)
		}
		size += fi.Size()
	}
	b.ReportMetric(float64(rows*b.N)/el.Seconds(), "rows/s")
	b.ReportMetric(float64(size)/rows, "B/row")
	b.ReportMetric(float64(peak.Load())/(1<<20), "peakheapMiB")
}

// realistic builds conversions shaped like the API's replies (the
// conformance suite's object), with the values that vary in production
// varying, spread over three days: bytes per row mean something.
func realistic(tb testing.TB, ids []int) arrow.RecordBatch { return realisticDays(tb, ids, 3) }

// realisticDays is realistic spread over the given number of days.
func realisticDays(tb testing.TB, ids []int, days int) arrow.RecordBatch {
	tb.Helper()
	rng := rand.New(rand.NewPCG(1, uint64(ids[0])))
	statuses := []string{"confirmed", "pending", "declined", "hold"}
	b := models.Conversions().NewBuilder(memory.DefaultAllocator, models.DefaultNetwork, time.UTC, time.Date(2025, 2, 1, 6, 0, 0, 0, time.UTC))
	defer b.Release()
	for _, i := range ids {
		id := fmt.Sprintf("%024x", uint64(i)*0x9E3779B97F4A7C15) // the same id for the same i, whatever the batch
		created := time.Date(2025, 1, 1+i%days, 0, 0, 0, 0, time.UTC).Add(time.Duration(rng.IntN(86400)) * time.Second)
		obj := fmt.Sprintf(`{"id":%[1]q,"action_id":"a-%[1]s","status":%[2]q,"conversion_id":%[1]q,
		"currency":"USD","offer":{"id":%[3]d,"title":"Offer %[3]d CPL DOI IT","offer_id":"5f58ad83134ed08c008b4569"},
		"offer_id":%[3]d,"goal":"1","ip":"109.52.%[4]d.%[5]d","country":"IT","country_name":"Italy","city":"Roma",
		"browser":"Samsung Browser 12.0","os":"Android 10.0","device":"mobile",
		"sub1":"%[6]x","sub2":"s2","sub3":"","sub4":"","sub5":"sohel","sub6":"","sub7":"","sub8":"",
		"custom_field_1":"","comment":"","created_at":%[7]q,"click_time":%[7]q,
		"updated_at":%[7]q,"clickid":"%[8]x",
		"partner":{"id":%[9]d,"title":"p%[9]d@gmail.com","manager_id":"5f9008bfafd0ba5d88c4dee8"},
		"supplier_id":"5f059c53d346519b154f20d4","partner_id":%[9]d,"goal_value":"1","sum":0,
		"revenue":%[10]d.5,"payouts":%[11]d,"earnings":"1.5","advertiser":{"id":"5f059c53d346519b154f20d4","title":"Admolly"},
		"payment_type":"fixed","payment_status":"pending","is_paid":"3"}`,
			id, statuses[rng.IntN(len(statuses))], 1+rng.IntN(300), rng.IntN(256), rng.IntN(256), rng.Uint32(),
			created.Format(time.DateTime), rng.Uint64(), 1+rng.IntN(500), rng.IntN(20), rng.IntN(15))
		if err := b.Append(json.RawMessage(obj)); err != nil {
			tb.Fatal(err)
		}
	}
	return b.NewRecord()
}

// BenchmarkLakeVsDuckDB loads the same conversions, 20 windows of 10,000
// rows (the pipeline's batch) each in a Tx of its own, as a backfill
// does, into a new local lake and a new DuckDB warehouse, rounds
// interleaved so both see the same machine, and prints rows/s and bytes
// per row of each: medians with min and max. make bench runs it.
func BenchmarkLakeVsDuckDB(b *testing.B) {
	const batches, batch, rounds = 20, 10_000, 5
	recs := make([]arrow.RecordBatch, batches)
	for i := range recs {
		ids := make([]int, batch)
		for j := range ids {
			ids[j] = i*batch + j
		}
		recs[i] = realistic(b, ids)
		defer recs[i].Release()
	}
	ctx := context.Background()
	loadAll := func(s load.Sink) time.Duration {
		start := time.Now()
		for _, rec := range recs {
			tx, err := s.Begin(ctx, load.Target{Model: models.Conversions(), Mode: models.Upsert})
			if err != nil {
				b.Fatal(err)
			}
			if err := tx.Write(ctx, rec); err != nil {
				b.Fatal(err)
			}
			if _, err := tx.Commit(ctx, nil); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start)
	}
	const rows = batches * batch
	var lakeRate, duckRate, lakeBytes, duckBytes []float64
	for range b.N * rounds {
		dir := b.TempDir()
		ls, err := openDir(b, dir)
		if err != nil {
			b.Fatal(err)
		}
		lakeRate = append(lakeRate, rows/loadAll(ls).Seconds())
		lakeBytes = append(lakeBytes, float64(treeSize(b, filepath.Join(dir, "conversions")))/rows)
		_ = ls.Close()

		dbPath := filepath.Join(b.TempDir(), "w.duckdb")
		ds, err := duckdb.Open(ctx, dbPath)
		if err != nil {
			b.Fatal(err)
		}
		duckRate = append(duckRate, rows/loadAll(ds).Seconds())
		if err := ds.Close(); err != nil {
			b.Fatal(err)
		}
		duckBytes = append(duckBytes, float64(treeSize(b, dbPath))/rows)
	}
	fmt.Printf("\nLoad of %d conversions in %d windows, %d rounds: median (min..max)\n", rows, batches, len(lakeRate))
	fmt.Printf("%-22s %-30s %-30s %s\n", "", "Parquet lake (local)", "DuckDB", "lake / DuckDB")
	fmt.Printf("%-22s %-30s %-30s %.2fx\n", "rows/s", spread(lakeRate, "%.0f"), spread(duckRate, "%.0f"), median(lakeRate)/median(duckRate))
	fmt.Printf("%-22s %-30s %-30s %.2fx\n", "bytes per conversion", spread(lakeBytes, "%.0f"), spread(duckBytes, "%.0f"), median(lakeBytes)/median(duckBytes))
	b.ReportMetric(median(lakeRate), "lake-rows/s")
	b.ReportMetric(median(duckRate), "duckdb-rows/s")
}

func treeSize(tb testing.TB, root string) int64 {
	var n int64
	err := filepath.Walk(root, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func spread(xs []float64, f string) string {
	return fmt.Sprintf(f+" ("+f+".."+f+")", median(xs), slices.Min(xs), slices.Max(xs))
}

// BenchmarkLakeDayOf1M measures the memory a commit needs on a big
// partition: a child process loads one day of 1,000,000 conversions in
// commits of 100,000, each merging with everything stored, then upserts
// 100,000 changed ones into it. It prints the child's peak RSS.
func BenchmarkLakeDayOf1M(b *testing.B) {
	for range b.N {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestLakeDayOf1MChild$", "-test.v")
		cmd.Env = append(os.Environ(), "LAKE_DAY_CHILD="+b.TempDir())
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("child: %v\n%s", err, out)
		}
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		fmt.Printf("\nOne day of 1,000,000 conversions in the lake, commits of 100,000: peak RSS %d MiB\n", ru.Maxrss/1024)
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, "lake-day:") {
				fmt.Println(strings.TrimSpace(l[strings.Index(l, "lake-day:"):]))
			}
		}
		b.ReportMetric(float64(ru.Maxrss)/1024, "peakRSS-MiB")
	}
}

// TestLakeDayOf1MChild is BenchmarkLakeDayOf1M's child; it runs only
// there.
func TestLakeDayOf1MChild(t *testing.T) {
	dir := os.Getenv("LAKE_DAY_CHILD")
	if dir == "" {
		t.Skip("the child of BenchmarkLakeDayOf1M")
	}
	const total, batch = 1_000_000, 100_000
	s, err := openDir(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	// As the pipeline writes: records of 10,000 rows, a Tx per window.
	commit := func(ids []int) {
		tx, err := s.Begin(t.Context(), load.Target{Model: models.Conversions(), Mode: models.Upsert})
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		for from := 0; from < len(ids); from += 10_000 {
			rec := realisticDays(t, ids[from:min(from+10_000, len(ids))], 1)
			err := tx.Write(t.Context(), rec)
			rec.Release()
			if err != nil {
				t.Fatal(err)
			}
		}
		if _, err := tx.Commit(t.Context(), nil); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	for from := 0; from < total; from += batch {
		ids := make([]int, batch)
		for j := range ids {
			ids[j] = from + j
		}
		commit(ids)
	}
	t.Logf("lake-day: %d rows in %v", total, time.Since(start).Round(time.Millisecond))
	ids := make([]int, batch)
	for j := range ids {
		ids[j] = j * (total / batch)
	}
	start = time.Now()
	commit(ids)
	t.Logf("lake-day: an upsert of %d rows into the 1M-row day took %v; the day's file is %d MiB",
		batch, time.Since(start).Round(time.Millisecond), treeSize(t, filepath.Join(dir, "conversions"))>>20)
}
