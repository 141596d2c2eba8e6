package duckdb

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// A Tx hands its records to DuckDB through one Arrow view for its whole
// life (and one more of their keys alone, for the direct path's check), refilled before each statement that reads it, rather than a view
// per statement: DuckDB's duckdb_arrow_scan leaks what it registers (the
// exported schema it never releases, and more, about 0.8 KB a column),
// some 50 KB a view of conversions, two views per 5,000 rows. A backfill
// of 5M conversions grew by 100 MB of it. Reading the one view again leaks
// a few KB a statement.

// feeder is the array.RecordReader behind a Tx's view: each scan of the
// view reads the records load put in, and then ends, until the next load.
// Next hands each record over once, so a statement reads every record it
// was loaded with exactly once.
type feeder struct {
	schema *arrow.Schema
	recs   []arrow.RecordBatch
	cur    arrow.RecordBatch
}

// load makes recs (retained) what the next scan reads, after dropping
// whatever an earlier statement left unread.
func (f *feeder) load(recs []arrow.RecordBatch) {
	f.drain()
	for _, r := range recs {
		r.Retain()
	}
	f.recs = append(f.recs[:0], recs...)
}

// drain releases the records not read.
func (f *feeder) drain() {
	if f.cur != nil {
		f.cur.Release()
		f.cur = nil
	}
	for _, r := range f.recs {
		r.Release()
	}
	f.recs = f.recs[:0]
}

func (f *feeder) Schema() *arrow.Schema { return f.schema }

func (f *feeder) Next() bool {
	if f.cur != nil {
		f.cur.Release()
		f.cur = nil
	}
	if len(f.recs) == 0 {
		return false
	}
	f.cur = f.recs[0]
	f.recs = f.recs[1:]
	return true
}

func (f *feeder) RecordBatch() arrow.RecordBatch { return f.cur }

// Record is RecordBatch (array.RecordReader's deprecated name).
func (f *feeder) Record() arrow.RecordBatch { return f.cur }

func (f *feeder) Err() error { return nil }

// Retain and Release do nothing: the Tx owns the feeder and drains it.
func (f *feeder) Retain()  {}
func (f *feeder) Release() {}

// txView is one of a Tx's Arrow views: its feeder, quoted name and the
// release of its stream, once registered.
type txView struct {
	feeder  *feeder
	name    string
	release func()
}

// feed puts recs into the Tx's view of whole rows, registering it on
// first use, and returns the view's quoted name for one statement to
// read; done drops what that statement left unread.
func (tx *Tx) feed(recs []arrow.RecordBatch) (view string, done func(), err error) {
	return tx.feedInto(&tx.rowsView, "", tx.stageSchema, recs)
}

// feedKeys is feed for a view of the records' key column alone, named k:
// DuckDB's Arrow scan converts every column of a view whatever the query
// reads, and the direct path's key check needs only the key (converting
// whole rows a second time for it was a tenth of the inserts' cost).
func (tx *Tx) feedKeys(recs []arrow.RecordBatch) (view string, done func(), err error) {
	ki := slices.Index(tx.columns, tx.soleKey())
	schema := arrow.NewSchema([]arrow.Field{{Name: "k", Type: tx.stageSchema.Field(ki).Type}}, nil)
	keys := make([]arrow.RecordBatch, len(recs))
	for i, r := range recs {
		keys[i] = array.NewRecordBatch(schema, []arrow.Array{r.Column(ki)}, r.NumRows())
	}
	view, done, err = tx.feedInto(&tx.keysView, "_keys", schema, keys)
	for _, r := range keys {
		r.Release() // the feeder retains what it holds
	}
	return view, done, err
}

func (tx *Tx) feedInto(v *txView, suffix string, schema *arrow.Schema, recs []arrow.RecordBatch) (string, func(), error) {
	if v.feeder == nil {
		f := &feeder{schema: schema}
		name := fmt.Sprintf("_syncd_arrow_%d%s", tx.id, suffix)
		release, err := tx.arrow.RegisterView(f, name)
		if err != nil {
			return "", nil, fmt.Errorf("register the Arrow view: %w", err)
		}
		*v = txView{feeder: f, name: quoteIdent(name), release: release}
		tx.feeds++
	}
	v.feeder.load(recs)
	return v.name, v.feeder.drain, nil
}

// dropFeed drops the Tx's views, if any, inside its transaction: before
// the commit, so no view reaches the catalog. The streams go after them.
func (tx *Tx) dropFeed(ctx context.Context) error {
	var errs []error
	for _, v := range []*txView{&tx.rowsView, &tx.keysView} {
		if v.feeder == nil {
			continue
		}
		if _, err := tx.conn.ExecContext(ctx, "DROP VIEW IF EXISTS "+v.name); err != nil {
			errs = append(errs, fmt.Errorf("drop the Arrow view: %w", err))
		}
	}
	tx.releaseFeed()
	return errors.Join(errs...)
}

// releaseFeed frees the feeders' records and their streams.
func (tx *Tx) releaseFeed() {
	for _, v := range []*txView{&tx.rowsView, &tx.keysView} {
		if v.feeder == nil {
			continue
		}
		v.feeder.drain()
		v.release()
		*v = txView{}
	}
}
