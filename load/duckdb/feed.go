package duckdb

import (
	"context"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
)

// A Tx hands its records to DuckDB through one Arrow view for its whole
// life, refilled before each statement that reads it, rather than a view
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

// feed puts recs into the Tx's view, registering it on first use, and
// returns the view's quoted name for one statement to read; done drops
// what that statement left unread.
func (tx *Tx) feed(recs []arrow.RecordBatch) (view string, done func(), err error) {
	if tx.feeder == nil {
		f := &feeder{schema: tx.stageSchema}
		name := fmt.Sprintf("_syncd_arrow_%d", tx.id)
		release, err := tx.arrow.RegisterView(f, name)
		if err != nil {
			return "", nil, fmt.Errorf("register the Arrow view: %w", err)
		}
		tx.feeder, tx.feedView, tx.feedRelease = f, quoteIdent(name), release
		tx.feeds++
	}
	tx.feeder.load(recs)
	return tx.feedView, tx.feeder.drain, nil
}

// dropFeed drops the Tx's view, if any, inside its transaction: before
// the commit, so the view never reaches the catalog. The stream goes
// after it.
func (tx *Tx) dropFeed(ctx context.Context) error {
	if tx.feeder == nil {
		return nil
	}
	_, err := tx.conn.ExecContext(ctx, "DROP VIEW IF EXISTS "+tx.feedView)
	tx.releaseFeed()
	if err != nil {
		return fmt.Errorf("drop the Arrow view: %w", err)
	}
	return nil
}

// releaseFeed frees the feeder's records and its stream.
func (tx *Tx) releaseFeed() {
	if tx.feeder == nil {
		return
	}
	tx.feeder.drain()
	tx.feedRelease()
	tx.feeder, tx.feedRelease = nil, nil
}
