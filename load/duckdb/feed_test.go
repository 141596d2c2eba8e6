package duckdb

import (
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/syncd/syncd/checkpoints"
	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/models"
)

// The feeder hands each record loaded to one scan, once, ends that scan,
// and releases what a scan left unread before the next load: nothing is
// read twice or leaks.
func TestFeederReadsEachLoadOnce(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	sch := arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Int64}}, nil)
	rec := func(vs ...int64) arrow.RecordBatch {
		b := array.NewInt64Builder(mem)
		defer b.Release()
		b.AppendValues(vs, nil)
		a := b.NewArray()
		defer a.Release()
		return array.NewRecordBatch(sch, []arrow.Array{a}, int64(len(vs)))
	}
	scan := func(f *feeder) (got []int64) {
		for f.Next() {
			got = append(got, f.RecordBatch().Column(0).(*array.Int64).Int64Values()...)
		}
		return got
	}
	f := &feeder{schema: sch}
	r1, r2, r3 := rec(1, 2), rec(3), rec(4, 5)
	f.load([]arrow.RecordBatch{r1, r2})
	r1.Release()
	r2.Release()
	if got := scan(f); len(got) != 3 || got[0] != 1 || got[2] != 3 {
		t.Fatalf("first scan read %v, want [1 2 3]", got)
	}
	if got := scan(f); len(got) != 0 {
		t.Fatalf("a second scan of the same load read %v, want nothing", got)
	}
	// A scan that stops early: the next load starts afresh.
	f.load([]arrow.RecordBatch{r3, r3})
	if !f.Next() {
		t.Fatal("no record after a load")
	}
	f.load([]arrow.RecordBatch{r3})
	r3.Release()
	if got := scan(f); len(got) != 2 || got[0] != 4 {
		t.Fatalf("after a reload read %v, want [4 5]", got)
	}
	f.drain()
}

// A Tx registers one Arrow view however many statements read it, and no
// view outlives the Tx: dropped before a commit (it would else be
// committed to the catalog, over a stream that is gone) and by a
// rollback.
func TestTxOneArrowView(t *testing.T) {
	s, _ := openTest(t)
	tgt := load.Target{Model: models.Conversions(), Mode: models.Upsert, Changes: "conversions"}
	views := func() int {
		var n int
		if err := s.db.QueryRowContext(bg, `SELECT count(*) FROM duckdb_views() WHERE view_name LIKE '_syncd_arrow%'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for i, commit := range []bool{true, false} {
		tx, err := s.Begin(bg, tgt)
		if err != nil {
			t.Fatal(err)
		}
		// Four direct inserts (directRows each), two statements each.
		for _, r := range conversionBatches(t, i*100_000, 4*directRows, directRows) {
			if err := tx.Write(bg, r); err != nil {
				t.Fatal(err)
			}
			r.Release()
		}
		dtx := tx.(*Tx)
		if dtx.feeds != 2 || dtx.direct != 4*directRows {
			t.Fatalf("Tx registered %d Arrow views for %d rows put in directly; want 2 (rows and keys) for %d", dtx.feeds, dtx.direct, 4*directRows)
		}
		if commit {
			cur := &checkpoints.Cursor{Stream: "conversions", Position: time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)}
			if _, err := tx.Commit(bg, cur); err != nil {
				t.Fatal(err)
			}
		} else if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		if n := views(); n != 0 {
			t.Fatalf("%d Arrow views left after the Tx (commit %v)", n, commit)
		}
	}
	var n int64
	if err := s.db.QueryRowContext(bg, "SELECT count(*) FROM conversions").Scan(&n); err != nil || n != 4*directRows {
		t.Fatalf("table holds %d rows (%v), want %d", n, err, 4*directRows)
	}
}
