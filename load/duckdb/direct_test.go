package duckdb

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/syncd/syncd/checkpoints"
	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/models"
)

// TestDirectPathMatchesStaged loads the same Txs into a sink that may take
// the direct path and one that always stages, and wants the same counts,
// rows, changed hours and cursor from both, and the direct path taken
// exactly where it is safe: all keys new and distinct.
func TestDirectPathMatchesStaged(t *testing.T) {
	steps := []struct {
		name   string
		recs   func() []arrow.RecordBatch
		direct bool
	}{
		{"new table", func() []arrow.RecordBatch { return conversionBatches(t, 0, 1000, 300) }, true},
		{"new keys", func() []arrow.RecordBatch { return conversionBatches(t, 1000, 1000, 300) }, true},
		{"some held", func() []arrow.RecordBatch { return conversionBatches(t, 1500, 1000, 300) }, false},
		{"repeated key", func() []arrow.RecordBatch {
			return append(conversionBatches(t, 3000, 100, 100), conversionBatches(t, 3050, 100, 100)...)
		}, false},
		{"all held, equal", func() []arrow.RecordBatch { return conversionBatches(t, 2000, 100, 100) }, false},
		{"new again", func() []arrow.RecordBatch { return conversionBatches(t, 5000, 50, 50) }, true},
		// Batches of directRows go in at Write; a later one that repeats
		// a key of theirs, or one the table held, moves them to staging.
		{"direct at write", func() []arrow.RecordBatch { return conversionBatches(t, 10000, 12000, 6000) }, true},
		{"direct, then a repeated key", func() []arrow.RecordBatch {
			return append(conversionBatches(t, 30000, 12000, 6000), conversionBatches(t, 41000, 2000, 2000)...)
		}, false},
		{"direct, then a held key", func() []arrow.RecordBatch {
			return append(conversionBatches(t, 50000, 6000, 6000), conversionBatches(t, 0, 10, 10)...)
		}, false},
	}
	direct, _ := openTest(t)
	staged, _ := openTest(t)
	staged.noDirect = true
	tgt := load.Target{Model: models.Conversions(), Mode: models.Upsert, Changes: "conversions"}
	for i, st := range steps {
		var got [2]load.Committed
		for j, s := range []*Sink{direct, staged} {
			var seen []string
			s.testHook = func(_ context.Context, step string) { seen = append(seen, step) }
			tx, err := s.Begin(bg, tgt)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range st.recs() {
				if err := tx.Write(bg, r); err != nil {
					t.Fatal(err)
				}
				r.Release()
			}
			cur := &checkpoints.Cursor{Stream: "conversions", Position: time.Date(2025, 2, i+1, 0, 0, 0, 0, time.UTC)}
			if got[j], err = tx.Commit(bg, cur); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			s.testHook = nil
			if tookDirect := !slices.Contains(seen, "flush"); j == 0 && tookDirect != st.direct {
				t.Errorf("%s: direct path taken %v, want %v (steps %v)", st.name, tookDirect, st.direct, seen)
			}
		}
		if got[0] != got[1] {
			t.Errorf("%s: direct path committed %+v, staged %+v", st.name, got[0], got[1])
		}
		for _, q := range []string{
			`SELECT count(*), count(DISTINCT id), sum(hash(c)) FROM conversions c`,
			`SELECT count(*), md5(string_agg(CAST(h AS VARCHAR), '|' ORDER BY hour)) FROM _syncd_changed h`,
			`SELECT stream, position FROM _syncd_state ORDER BY stream`,
		} {
			a, b := queryStrings(t, direct, q), queryStrings(t, staged, q)
			if fmt.Sprint(a) != fmt.Sprint(b) {
				t.Fatalf("%s: %s:\ndirect %v\nstaged %v", st.name, q, a, b)
			}
		}
	}
	eq(t, queryStrings(t, direct, `SELECT count(*) FROM conversions`), []string{"33700"})
}

// TestBacklog: rows placed in the table are no backlog (with more than
// one DuckDB thread, until their size passes half the memory_limit); rows
// waiting in memory always are.
func TestBacklog(t *testing.T) {
	one := conversionBatches(t, 0, 6000, 6000)[0]
	size := recordBytes(one)
	one.Release()
	small := fmt.Sprintf("%dB", 3*size) // half of it is one and a half Writes of 6,000 rows
	for _, c := range []struct {
		threads int
		limit   string
		want    []int64 // after each Write
	}{
		{1, DefaultMemoryLimit, []int64{0, 0, 1000}},
		{1, small, []int64{0, 0, 1000}},
		{2, DefaultMemoryLimit, []int64{0, 0, 1000}},
		{2, small, []int64{0, 12000, 13000}},
	} {
		s, _ := openTest(t, WithThreads(c.threads))
		s.opts.memoryLimit = c.limit // what the budget reads; DuckDB keeps its own
		tx, err := s.Begin(bg, load.Target{Model: models.Conversions(), Mode: models.Upsert})
		if err != nil {
			t.Fatal(err)
		}
		for i, recs := range [][]arrow.RecordBatch{conversionBatches(t, 0, 6000, 6000), conversionBatches(t, 6000, 6000, 6000), conversionBatches(t, 12000, 1000, 1000)} {
			if err := tx.Write(bg, recs[0]); err != nil {
				t.Fatal(err)
			}
			recs[0].Release()
			if got := tx.(load.Backlogger).Backlog(); got != c.want[i] {
				t.Errorf("%d threads, memory_limit %s, write %d: backlog %d, want %d", c.threads, c.limit, i+1, got, c.want[i])
			}
		}
		if _, err := tx.Commit(bg, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// TestGranule: a Tx placing new rows straight into the table with one
// DuckDB thread asks for units of whole row groups; one that stages (a
// repeated key, a replaced day, more threads) asks for nothing.
func TestGranule(t *testing.T) {
	granule := func(tx load.Tx) int64 { return tx.(load.Granular).Granule() }
	s, _ := openTest(t)
	tx, err := s.Begin(bg, load.Target{Model: models.Conversions(), Mode: models.Upsert})
	if err != nil {
		t.Fatal(err)
	}
	if g := granule(tx); g != rowGroupRows {
		t.Errorf("new Tx: granule %d, want %d", g, rowGroupRows)
	}
	for _, recs := range [][]arrow.RecordBatch{conversionBatches(t, 0, 6000, 6000), conversionBatches(t, 0, 10, 10)} {
		if err := tx.Write(bg, recs[0]); err != nil {
			t.Fatal(err)
		}
		recs[0].Release()
	}
	if _, err := tx.(*Tx).insertDirect(bg); err != nil {
		t.Fatal(err)
	}
	if g := granule(tx); g != 0 {
		t.Errorf("Tx with a repeated key: granule %d, want 0", g)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}

	day := load.Target{Model: models.Conversions(), Mode: models.ReplaceDays, From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)}
	two, _ := openTest(t, WithThreads(2))
	for _, c := range []struct {
		name string
		s    *Sink
		t    load.Target
	}{{"replaced days", s, day}, {"two threads", two, load.Target{Model: models.Conversions(), Mode: models.Upsert}}} {
		tx, err := c.s.Begin(bg, c.t)
		if err != nil {
			t.Fatal(err)
		}
		if g := granule(tx); g != 0 {
			t.Errorf("%s: granule %d, want 0", c.name, g)
		}
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestWholeRowGroupsSkipTheWAL holds the premise of Granule: a Tx that
// appends a whole row group of new rows to a table commits without
// logging them (DuckDB merges the row group it wrote as it filled), where
// a smaller one logs every row to the WAL, to be compressed again by a
// checkpoint.
func TestWholeRowGroupsSkipTheWAL(t *testing.T) {
	s, path := openTest(t)
	if _, err := s.DB().Exec("SET checkpoint_threshold = '10GB'"); err != nil {
		t.Fatal(err)
	}
	wal := func() int64 {
		st, err := os.Stat(path + ".wal")
		if err != nil {
			return 0
		}
		return st.Size()
	}
	commit := func(first, rows int) int64 {
		before := wal()
		tx, err := s.Begin(bg, load.Target{Model: models.Conversions(), Mode: models.Upsert})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range conversionBatches(t, first, rows, 5000) {
			if err := tx.Write(bg, r); err != nil {
				t.Fatal(err)
			}
			r.Release()
		}
		if _, err := tx.Commit(bg, nil); err != nil {
			t.Fatal(err)
		}
		return wal() - before
	}
	commit(0, 100) // the table is not empty: an empty one takes any size whole
	part := commit(100, 20_000)
	whole := commit(20_100, rowGroupRows)
	t.Logf("WAL growth: %d bytes for 20,000 rows, %d for %d", part, whole, rowGroupRows)
	if part < 2<<20 || whole > part/10 {
		t.Fatalf("the WAL grew %d bytes for 20,000 rows and %d for a row group of %d; want megabytes, then next to nothing", part, whole, rowGroupRows)
	}
	eq(t, queryStrings(t, s, `SELECT count(*), count(DISTINCT id) FROM conversions`), []string{fmt.Sprintf("%d|%d", 20_100+rowGroupRows, 20_100+rowGroupRows)})
}
