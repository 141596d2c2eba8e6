package lake

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
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
		tx, err := s.Begin(b.Context(), load.Target{Model: models.Conversions(), Mode: models.Upsert})
		if err != nil {
			b.Fatal(err)
		}
		defer tx.Rollback()
		if err := tx.Write(b.Context(), rec); err != nil {
			b.Fatal(err)
		}
		if _, err := tx.Commit(b.Context(), nil); err != nil {
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
	parts, _ := partitions(context.Background(), s.b, "conversions")
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
func realistic(tb testing.TB, ids []int) arrow.RecordBatch {
	tb.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	statuses := []string{"confirmed", "pending", "declined", "hold"}
	b := models.Conversions().NewBuilder(memory.DefaultAllocator, time.UTC, time.Date(2025, 2, 1, 6, 0, 0, 0, time.UTC))
	defer b.Release()
	for _, i := range ids {
		id := fmt.Sprintf("%024x", rng.Uint64()<<32|uint64(i))
		created := time.Date(2025, 1, 1+i%3, 0, 0, 0, 0, time.UTC).Add(time.Duration(rng.IntN(86400)) * time.Second)
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

// TestMeasureBytesPerRow loads the same realistic rows into a lake and a
// DuckDB warehouse and logs bytes per row of each. Run with
// LAKE_MEASURE=1 go test -run MeasureBytes -v ./load/lake/.
func TestMeasureBytesPerRow(t *testing.T) {
	if os.Getenv("LAKE_MEASURE") == "" {
		t.Skip("a measurement: set LAKE_MEASURE=1")
	}
	const rows = 200_000
	ids := make([]int, rows)
	for i := range ids {
		ids[i] = i
	}
	rec := realistic(t, ids)
	defer rec.Release()
	ctx := t.Context()
	tg := load.Target{Model: models.Conversions(), Mode: models.Upsert}
	loadInto := func(s load.Sink) time.Duration {
		start := time.Now()
		tx, err := s.Begin(ctx, tg)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if err := tx.Write(ctx, rec); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Commit(ctx, nil); err != nil {
			t.Fatal(err)
		}
		return time.Since(start)
	}

	dir := t.TempDir()
	ls, err := openDir(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	el := loadInto(ls)
	var lakeBytes int64
	_ = filepath.Walk(filepath.Join(dir, "conversions"), func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			lakeBytes += fi.Size()
		}
		return err
	})
	t.Logf("lake:   %d rows in %v (%.0f rows/s), %d bytes, %.1f B/row", rows, el, rows/el.Seconds(), lakeBytes, float64(lakeBytes)/rows)

	dbPath := filepath.Join(t.TempDir(), "w.duckdb")
	ds, err := duckdb.Open(context.Background(), dbPath, duckdb.WithThreads(2))
	if err != nil {
		t.Fatal(err)
	}
	el = loadInto(ds)
	if err := ds.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("duckdb: %d rows in %v (%.0f rows/s), %d bytes, %.1f B/row (whole file, empty tables included)", rows, el, rows/el.Seconds(), fi.Size(), float64(fi.Size())/rows)
}
