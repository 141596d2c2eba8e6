package lake

import (
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/models"
)

// BenchmarkUpsertDay upserts batches of conversions, a third of them
// into each of three days, over a lake already holding them: every commit
// merges three whole partitions. It reports rows/s, Parquet bytes per row
// and the peak Go heap seen while committing.
func BenchmarkUpsertDay(b *testing.B) {
	const rows = 100_000
	s, err := Open(b.Context(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]int, rows)
	for i := range ids {
		ids[i] = i
	}
	rec := conversions(b, "pending", ids)
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
	parts, _ := s.l.partitions("conversions")
	var size int64
	for _, p := range parts {
		fi, err := os.Stat(s.l.file("conversions", p))
		if err != nil {
			b.Fatal(err)
		}
		size += fi.Size()
	}
	b.ReportMetric(float64(rows*b.N)/el.Seconds(), "rows/s")
	b.ReportMetric(float64(size)/rows, "B/row")
	b.ReportMetric(float64(peak.Load())/(1<<20), "peakheapMiB")
}
