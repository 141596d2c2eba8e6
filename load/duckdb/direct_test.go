package duckdb

import (
	"context"
	"fmt"
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

// TestBacklog: rows placed in the table are no backlog until their size
// passes half the memory_limit; rows waiting in memory always are.
func TestBacklog(t *testing.T) {
	one := conversionBatches(t, 0, 6000, 6000)[0]
	size := recordBytes(one)
	one.Release()
	for _, c := range []struct {
		limit string
		want  []int64 // after each Write
	}{
		{DefaultMemoryLimit, []int64{0, 0, 1000}},
		// Half of it is one and a half Writes of 6,000 rows.
		{fmt.Sprintf("%dB", 3*size), []int64{0, 12000, 13000}},
	} {
		s, _ := openTest(t)
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
				t.Errorf("memory_limit %s, write %d: backlog %d, want %d", c.limit, i+1, got, c.want[i])
			}
		}
		if _, err := tx.Commit(bg, nil); err != nil {
			t.Fatal(err)
		}
	}
}
