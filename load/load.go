// Package load is the seam between the pipeline and a warehouse: the
// interfaces a sink implements, with their contracts. Each sink lives in a
// package of its own under load/ (load/duckdb today) and passes the
// conformance suite in load/sinktest, which holds it to every promise
// written here.
package load

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/syncd/syncd/checkpoints"
	"github.com/syncd/syncd/models"
)

// Target is what one transaction writes to.
type Target struct {
	Model models.Model
	// Mode is the stream's declared mode; models.Mode states what each
	// asks of a sink.
	Mode models.Mode
	// From, To bound the days a ReplaceDays load owns (UTC midnights).
	From, To time.Time
	// Changes, when set, names a set of changed hours the commit adds to,
	// in the same transaction as its rows: the UTC hour (of the model's
	// day column) of every row it inserts or changes. A row equal to the
	// one the table holds (in every column but _synced_at) need not be
	// added; a sink that cannot tell adds it.
	Changes string
	// Consumes, when set, names a set of changed hours the commit removes
	// from, in the same transaction as its rows: every hour in
	// [ConsumeFrom, ConsumeTo) (UTC instants).
	Consumes               string
	ConsumeFrom, ConsumeTo time.Time
}

// Sink is a warehouse's loading side. Every row it holds arrives through a
// Tx, and every move of a cursor a load makes rides on a Tx's Commit, so
// rows and the cursor that covers them become durable together or not at
// all. (Moving a cursor by hand is checkpoints.Admin's, apart from loads.)
//
// A Sink loads one network's part of a warehouse (models.NetworkColumn,
// config networks[].name): the Sink a warehouse opens as is
// models.DefaultNetwork's, and ForNetwork (Warehouse, ReadOnly) gives
// another's over the same storage. Every row a Tx writes must carry the
// Sink's network, or the Write fails; a ReplaceDays or ReplaceTable load
// replaces only that network's rows; and its cursors, runs (RecordRun,
// LastRuns), changed hours, FirstDay, Currencies and DailyMoney are its
// network's own, apart from every other network's. Sinks of different
// networks may be used concurrently, as one Sink may (below); a Tx of one
// network never sees or touches another's rows or cursors.
//
// A Sink is safe for concurrent use: Begin, RecordRun, the cursor reads
// and Txs on different tables, or replacing (ReplaceDays, ReplaceTable)
// for different networks on one table, may run at once from any
// goroutines, and each Tx sees only its own writes (the first Begin of a
// table not yet created may wait for another network's Tx to end). Two
// other Txs on one table are not independent: a sink may make the second
// Begin wait until the first ends (DuckDB does; the lake waits only
// within a network) or fail it. Close ends the sink; every Tx must have ended
// before it, and nothing may be called after it.
type Sink interface {
	// Store reads cursors as last committed, never a Tx's staged one.
	checkpoints.Store
	// Network is the network the Sink loads (a valid network name).
	Network() string
	// Begin opens a transaction writing to t, creating t.Model's table on
	// first use. A failed Begin leaves nothing to roll back.
	Begin(ctx context.Context, t Target) (Tx, error)
	// RecordRun appends r to the history of passes (_syncd_runs). It is a
	// log rather than data: it runs outside any Tx, so a failed pass still
	// records its row.
	RecordRun(ctx context.Context, r Run) error
	// FirstDay is the UTC day (midnight) of the oldest committed row of m's
	// table by its day column; found is false, with no error, for a table
	// never loaded, empty, or without a day column. A pass of conversions
	// by update time asks Affise for conversions created from there, so
	// status changes of every conversion the warehouse holds land.
	FirstDay(ctx context.Context, m models.Model) (day time.Time, found bool, err error)
	// ChangedHours lists the hours in the named set of changed hours
	// (Target.Changes), as last committed, in order: UTC hour starts.
	ChangedHours(ctx context.Context, set string) ([]time.Time, error)
	Close() error
}

// Tx is one atomic load of one table: the records staged by Write become
// visible together with a cursor at Commit, or never. It must be completed
// with a call to Commit or Rollback and must not be reused afterwards:
// Write and Commit then fail and change nothing. A Tx is not safe for
// concurrent use: one goroutine writes, commits or rolls it back.
//
// Of the rows written for one key in one Tx, exactly one is stored: the
// one with the latest version (the model's Version column); a row with
// a version beats one without; among equal versions, or rows without one
// (or a model without the column), the last written wins, across Writes
// as within one.
type Tx interface {
	// Write stages rec, whose columns must be the target model's by name,
	// order and type; nothing staged is visible to anyone before Commit.
	// The caller keeps its reference to rec and may release it as soon as
	// Write returns: a sink that holds on to it retains it, and releases
	// it by the time the Tx ends. A failed Write fails the Tx: whatever
	// was staged, Commit then fails too and nothing of it is ever visible.
	Write(ctx context.Context, rec arrow.RecordBatch) error
	// Commit makes the staged rows, placed as the target's Mode says, and
	// the cursor durable and visible together, and returns what it stored
	// (see Committed: one row per key, each counted once as inserted,
	// updated or unchanged). A nil cursor leaves every cursor as it is.
	// Otherwise cursor replaces the stored cursor of cursor.Stream, which
	// need not be the table's stream (a backfill keeps its own); a zero
	// UpdatedAt is stamped with the commit's time; a zero Position removes
	// the stored cursor instead (a finished backfill leaves none), and
	// removing a missing one is no error. A Commit of no records still
	// moves the cursor: a window with nothing in it is done too.
	//
	// If Commit returns an error, nothing of the Tx is visible and every
	// cursor is as it was, as after Rollback, and nothing is left behind
	// that stops the next Tx on the table. A process killed at any moment
	// leaves the Tx committed whole or not at all (before Commit was
	// called: not at all), with nothing that stops the next process.
	Commit(ctx context.Context, cursor *checkpoints.Cursor) (Committed, error)
	// Rollback discards what was staged. It may be repeated, returns nil
	// after a failed Write or Commit, and does nothing after a successful
	// Commit, so deferring it is safe.
	Rollback() error
}

// Backlogger is a Tx that can tell how much of what it was written weighs
// on memory until Commit: Backlog is the rows held in memory or staged for
// the commit to sort through, short of those already placed in the
// table's transaction (a sink that inserts new keys as they come places
// them, and Commit then costs next to nothing more for them) and of those
// waiting on disk for a commit that streams them (a lake's). A caller
// that groups many writes into one Tx (a backfill's commit units) may
// size its units by it.
type Backlogger interface {
	Backlog() int64
}

// Granular is a Tx whose table stores rows in blocks of Granule rows, of
// which a Commit writes whole ones once but a part one twice (logged, then
// rewritten when the store compacts): a DuckDB row group. A caller that
// groups many writes into one Tx (a backfill's commit units) may cut its
// units at a multiple of Granule, splitting a record at the cut. Granule
// is 0 when the Tx has no such preference, and may change to 0 as the Tx
// goes on (it stages its rows after all); it never changes to another
// size. Like every Tx method, it is not safe concurrently with the others.
type Granular interface {
	Granule() int64
}

// Committed is what one Commit stored: every row it stored (one per key
// of the Tx's rows, after Tx's de-duplication) is counted once, judged
// against what the table held just before the Commit:
//
//   - Inserted: the table held no row of the key (a model without a key:
//     every row).
//   - Unchanged: the table held the key with an equal row: equal in every
//     column but _synced_at (raw alone cannot tell, since it holds only
//     what no typed column holds). Only a model with an Original column
//     has unchanged rows.
//     A sink may leave such a row as it is (see Target.Changes) or
//     rewrite it; either way it counts here, not as updated.
//   - Updated: the table held the key with a different row.
//
// The same holds in every Mode: a ReplaceDays or ReplaceTable load that
// writes back the rows it replaces counts them unchanged, not inserted.
// Rows a replace removes without writing them back are not counted. A
// failed Commit stored nothing and returns a zero Committed.
type Committed struct {
	Inserted, Updated, Unchanged int64
}

// Rows is every row the Commit stored: inserted, updated or unchanged.
func (c Committed) Rows() int64 { return c.Inserted + c.Updated + c.Unchanged }

// Changed is the rows the Commit added or changed: inserted or updated.
func (c Committed) Changed() int64 { return c.Inserted + c.Updated }

// Add sums two Commits' counts.
func (c Committed) Add(o Committed) Committed {
	return Committed{Inserted: c.Inserted + o.Inserted, Updated: c.Updated + o.Updated, Unchanged: c.Unchanged + o.Unchanged}
}

// Run is one pass of one stream, as recorded in _syncd_runs.
type Run struct {
	// Network is the pass's network. RecordRun stamps its Sink's network
	// whatever it holds; LastRuns fills it.
	Network    string
	Stream     string
	Kind       string // sync | backfill
	StartedAt  time.Time
	FinishedAt time.Time
	// Rows is the rows the pass added or changed (Committed.Changed), as
	// _syncd_runs.rows has always counted them.
	Rows int64
	// RowsRead is the rows fetched from the API (before de-duplication).
	RowsRead int64
	// Inserted, Updated, Unchanged sum the pass's commits (Committed).
	Inserted, Updated, Unchanged int64
	// Requests is the HTTP attempts the pass made, retries included;
	// Retries is the attempts beyond the first of each page.
	Requests, Retries int64
	// CursorBefore, CursorAfter are the stream's cursor when the pass
	// started and when it ended (zero: none).
	CursorBefore, CursorAfter time.Time
	Error                     string
}

// CheckNetwork holds every row of col (a record's models.NetworkColumn) to
// network, as Sink's contract asks of a Tx's Write: a load through one
// network's Sink writes only that network's rows. The error names the
// first row of another network (or NULL, or a column not of strings).
func CheckNetwork(col arrow.Array, network string) error {
	a, ok := col.(*array.String)
	if !ok {
		return fmt.Errorf("column %s is %s, not a string", models.NetworkColumn, col.DataType())
	}
	for i := range a.Len() {
		if a.IsNull(i) || a.Value(i) != network {
			got := "NULL"
			if a.IsValid(i) {
				got = fmt.Sprintf("%q", a.Value(i))
			}
			return fmt.Errorf("row %d has %s %s, but this load is network %s's (a row is written through its own network's Sink)",
				i, models.NetworkColumn, got, network)
		}
	}
	return nil
}
