package duckdb

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/syncd/syncd/checkpoints"
	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/models"
)

// conversionBatches builds n rows of the conversions model in records of
// per rows; ids start at first.
func conversionBatches(b testing.TB, first, n, per int) []arrow.RecordBatch {
	m := models.Conversions()
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	statuses := []string{"confirmed", "pending", "declined", "hold"}
	var recs []arrow.RecordBatch
	for start := 0; start < n; start += per {
		rows := make([]row, 0, per)
		for i := start; i < min(start+per, n); i++ {
			id := first + i
			rows = append(rows, row{
				"id": fmt.Sprintf("5f%022x", id), "status": statuses[id%4], "offer_id": id % 500, "partner_id": id % 300,
				"advertiser_id": "adv1", "goal": "1", "currency": "USD", "revenue": "12.5", "payouts": "7.25", "earnings": "5.25",
				"country": "US", "city": "New York", "os": "Android", "device": "mobile", "browser": "Chrome",
				"clickid": fmt.Sprintf("c%020d", id), "sub1": "s1", "sub2": "s2",
				"created_at": base.Add(time.Duration(id) * time.Second), "click_time": base, "updated_at": base.Add(time.Duration(id) * time.Second),
				"payment_status": "paid", "raw": `{"id":"x","status":"confirmed","revenue":12.5,"payouts":7.25,"sub1":"s1"}`, "_synced_at": base,
			})
		}
		recs = append(recs, mkRecord(b, m.Schema(), rows))
	}
	return recs
}

// BenchmarkUpsert: 100k-row commits of conversions (10 records of 10k) into a
// table holding 200k rows, half of each batch updating existing ids.
func BenchmarkUpsert(b *testing.B) {
	b.Run("threads=default", func(b *testing.B) { benchUpsert(b) })
	b.Run("threads=1", func(b *testing.B) { benchUpsert(b, WithThreads(1)) })
}

func benchUpsert(b *testing.B, opts ...Option) {
	path := filepath.Join(b.TempDir(), "bench.duckdb")
	s, err := Open(bg, path, opts...)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	up := load.Target{Model: models.Conversions(), Mode: models.Upsert}
	commit := func(recs []arrow.RecordBatch) int64 {
		tx, err := s.Begin(bg, up)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range recs {
			if err := tx.Write(bg, r); err != nil {
				b.Fatal(err)
			}
		}
		n, err := tx.Commit(bg, &checkpoints.Cursor{Stream: "conversions", Position: time.Now()})
		if err != nil {
			b.Fatal(err)
		}
		return n.Changed()
	}
	commit(conversionBatches(b, 0, 200_000, 50_000))
	const rows = 100_000
	batches := [][]arrow.RecordBatch{
		conversionBatches(b, 150_000, rows, 10_000),
		conversionBatches(b, 250_000, rows, 10_000),
	}
	b.ResetTimer()
	start := time.Now()
	var total int64
	for i := 0; b.Loop(); i++ {
		total += commit(batches[i%2])
	}
	b.ReportMetric(float64(total)/time.Since(start).Seconds(), "rows/s")
}

// BenchmarkWindowCommits: a first sync's commits as the pipeline makes
// them: 30 windows of 3,300 new conversions each, one commit per window,
// into a table that starts empty, recording changed hours. It logs where
// a commit's time goes, step by step.
func BenchmarkWindowCommits(b *testing.B) {
	const windows, per = 30, 3_300
	batches := make([][]arrow.RecordBatch, windows)
	for i := range batches {
		batches[i] = conversionBatches(b, i*per, per, 500)
	}
	steps := map[string]time.Duration{}
	for b.Loop() {
		b.StopTimer()
		s, err := Open(bg, filepath.Join(b.TempDir(), "bench.duckdb"))
		if err != nil {
			b.Fatal(err)
		}
		var last string
		var at time.Time
		s.testHook = func(_ context.Context, step string) {
			now := time.Now()
			if last != "" {
				steps[last] += now.Sub(at)
			}
			last, at = step, now
		}
		b.StartTimer()
		for i, recs := range batches {
			tx, err := s.Begin(bg, load.Target{Model: models.Conversions(), Mode: models.Upsert, Changes: "conversions"})
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range recs {
				if err := tx.Write(bg, r); err != nil {
					b.Fatal(err)
				}
			}
			last = ""
			if _, err := tx.Commit(bg, &checkpoints.Cursor{Stream: "conversions", Position: time.Unix(int64(i), 0)}); err != nil {
				b.Fatal(err)
			}
			if last != "" {
				steps[last] += time.Since(at)
			}
		}
		c0 := time.Now()
		s.Close()
		steps["close"] += time.Since(c0)
	}
	b.ReportMetric(float64(windows*per*b.N)/b.Elapsed().Seconds(), "rows/s")
	for k, v := range steps {
		b.Logf("%-12s %v", k, v/time.Duration(b.N))
	}
}
