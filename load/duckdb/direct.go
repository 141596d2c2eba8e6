package duckdb

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/syncd/syncd/checkpoints"
	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/models"
)

// The direct path: an upsert whose rows are all new keys (a first sync, a
// backfill into empty days) needs none of staging, de-duplication, the
// unchanged-row test or the DELETE: its rows go from Arrow straight into
// the table, inside the Tx's transaction, as they come (directRows at a
// time), so a Tx of many batches holds none of them in Go and commits
// only the cursor. Each batch goes in only when that provably gives what
// the staged path would: no key repeats within it, and the table (which
// by then holds the Tx's earlier direct rows too) holds none of its keys.
// The first batch that fails this turns the Tx staged for good: its
// direct rows move from the table back into staging (directKeys names
// them), ahead of every row written after them, and the commit stages as
// always, so the winner rule and the counts hold across the switch.

// directRows is how many rows Write gathers before it inserts them
// straight into the table: five of the pipeline's batches
// (extract.DefaultBatchRows). Each insert is a few statements, so pages
// and batches are not sent one by one.
const directRows = 5_000

// directCandidate says whether the Tx may take the direct path, before
// any query: an upsert on one string or integer key (within the network)
// with nothing staged.
func (tx *Tx) directCandidate() bool {
	if tx.s.noDirect || tx.directOff || tx.target.Mode != models.Upsert || tx.soleKey() == "" || tx.staged {
		return false
	}
	if tx.target.Changes != "" && tx.day != "" && tx.dayIndex() < 0 {
		return false
	}
	k := tx.stageSchema.Field(slices.Index(tx.columns, tx.soleKey())).Type.ID()
	return k == arrow.STRING || k == arrow.INT64 || k == arrow.INT32
}

// dayIndex is the day column's index when its hours can be read in Go (a
// timestamp in microseconds), else -1.
func (tx *Tx) dayIndex() int {
	i := slices.Index(tx.columns, tx.day)
	if i < 0 {
		return -1
	}
	if ts, ok := tx.stageSchema.Field(i).Type.(*arrow.TimestampType); !ok || ts.Unit != arrow.Microsecond {
		return -1
	}
	return i
}

// pendingKeysDistinct says whether no key repeats among the pending rows
// (all of one network: Write checked).
func (tx *Tx) pendingKeysDistinct() bool {
	ki := slices.Index(tx.columns, tx.soleKey())
	seen := make(map[any]struct{}, tx.pendingRows)
	for _, r := range tx.pending {
		for i := range int(r.NumRows()) {
			var k any
			switch a := r.Column(ki).(type) {
			case *array.String:
				k = a.Value(i) // the records outlive the map
			case *array.Int64:
				k = a.Value(i)
			case *array.Int32:
				k = a.Value(i)
			default:
				return false
			}
			if _, dup := seen[k]; dup {
				return false
			}
			seen[k] = struct{}{}
		}
	}
	return true
}

// insertDirect inserts the pending rows straight into the table when
// the direct path holds for them (placed), with their changed hours and
// their keys in directKeys. When it does not, it turns the Tx staged
// (undoDirect) and leaves the pending rows for staging.
func (tx *Tx) insertDirect(ctx context.Context) (placed bool, _ error) {
	if !tx.directCandidate() || len(tx.pending) == 0 {
		return false, nil
	}
	if err := tx.step(ctx, "direct-check"); err != nil {
		return false, err
	}
	if !tx.pendingKeysDistinct() {
		return false, tx.undoDirect(ctx)
	}
	t := "main." + quoteIdent(tx.table)
	k := quoteIdent(tx.soleKey())
	keys := quoteIdent(tx.stage + "_direct")
	if tx.directKeys == 0 {
		if _, err := tx.conn.ExecContext(ctx, fmt.Sprintf("CREATE TEMP TABLE %s AS SELECT %s AS k, 0 AS b FROM main.%s LIMIT 0",
			keys, k, quoteIdent(tx.table))); err != nil {
			return false, fmt.Errorf("direct-check: %w", err)
		}
	}
	tx.directKeys++
	view, done, err := tx.feedKeys(tx.pending)
	if err != nil {
		return false, fmt.Errorf("direct-check: %w", err)
	}
	// A view of the key alone: a projection DuckDB pushed down to a view
	// of whole rows read their first column, the network, as the key.
	_, err = tx.conn.ExecContext(ctx, fmt.Sprintf("INSERT INTO %s SELECT k, %d FROM %s",
		keys, tx.directKeys, view))
	done()
	if err != nil {
		return false, fmt.Errorf("direct-check: %w", err)
	}
	if !tx.created || tx.direct > 0 {
		var held int64
		err = tx.conn.QueryRowContext(ctx, fmt.Sprintf("SELECT count(*) FROM %s WHERE %s AND %s IN (SELECT k FROM %s WHERE b = %d)",
			t, tx.inNetwork(""), k, keys, tx.directKeys)).Scan(&held)
		if err != nil {
			return false, fmt.Errorf("direct-check: %w", err)
		}
		if held > 0 {
			return false, tx.undoDirect(ctx)
		}
	}
	if tx.target.Changes != "" && tx.day != "" {
		tx.noteChangedHours()
	}
	if err := tx.step(ctx, "insert"); err != nil {
		return false, err
	}
	view, done, err = tx.feed(tx.pending)
	if err != nil {
		return false, fmt.Errorf("insert: %w", err)
	}
	res, err := tx.exec(ctx, "insert", fmt.Sprintf(tx.directSQL, view))
	done()
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("insert: %w", err)
	}
	tx.direct += n
	for _, r := range tx.pending {
		tx.directBytes += recordBytes(r)
	}
	tx.placed = tx.directKeys
	tx.releasePending()
	return true, nil
}

// undoDirect turns the Tx staged: its direct rows (keys the table did not
// hold before the Tx) move from the table into staging, each with a write
// sequence below every row written after it (its key is unique among
// them, so their own order does not matter).
func (tx *Tx) undoDirect(ctx context.Context) error {
	tx.directOff = true
	// The staged commit records the changed hours of every staged row,
	// these included.
	tx.changedHours = nil
	if tx.direct == 0 {
		return nil
	}
	if err := tx.step(ctx, "undo-direct"); err != nil {
		return err
	}
	if err := tx.ensureStage(ctx); err != nil {
		return err
	}
	t := "main." + quoteIdent(tx.table)
	k := quoteIdent(tx.soleKey())
	keys := quoteIdent(tx.stage + "_direct")
	cols := quoteList(tx.columns)
	mine := fmt.Sprintf("%s AND %s IN (SELECT k FROM %s WHERE b <= %d)", tx.inNetwork(""), k, keys, tx.placed)
	if _, err := tx.exec(ctx, "undo-direct", fmt.Sprintf("INSERT INTO %s (%s, %s) SELECT %s, -1 FROM %s WHERE %s",
		quoteIdent(tx.stage), cols, seqColumn, cols, t, mine)); err != nil {
		return err
	}
	res, err := tx.exec(ctx, "undo-direct", fmt.Sprintf("DELETE FROM %s WHERE %s", t, mine))
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n != tx.direct {
		return fmt.Errorf("undo-direct: moved %d rows of %d back to staging (%v)", n, tx.direct, err)
	}
	tx.direct = 0
	return nil
}

// commitDirect commits by the direct path when it applies (done): the
// pending rows go in as Write's did, and the commit moves the cursor. Or
// it returns with the Tx turned staged (or never direct) so the staged
// path runs.
func (tx *Tx) commitDirect(ctx context.Context, cursor *checkpoints.Cursor) (_ load.Committed, done bool, _ error) {
	var none load.Committed
	if !tx.directCandidate() || (len(tx.pending) == 0 && tx.direct == 0) {
		return none, false, nil
	}
	if _, err := tx.insertDirect(ctx); err != nil {
		return none, true, err
	}
	if !tx.directCandidate() {
		return none, false, nil
	}
	if err := tx.recordChangedHours(ctx); err != nil {
		return none, true, err
	}
	if err := tx.consume(ctx); err != nil {
		return none, true, err
	}
	if err := tx.dropDirectKeys(ctx); err != nil {
		return none, true, err
	}
	if err := tx.moveCursorAndCommit(ctx, cursor); err != nil {
		return none, true, err
	}
	return load.Committed{Inserted: tx.direct}, true, nil
}

// dropDirectKeys drops the temp table of direct keys, if any, before the
// commit: the connection goes back to the pool with its temp tables.
func (tx *Tx) dropDirectKeys(ctx context.Context) error {
	if tx.directKeys == 0 {
		return nil
	}
	_, err := tx.exec(ctx, "drop-stage", "DROP TABLE "+quoteIdent(tx.stage+"_direct"))
	return err
}

// Backlog implements load.Backlogger: the rows written that wait in Go or
// in staging for the commit; direct rows are already in place. DuckDB
// keeps a transaction's new rows uncompressed until a row group of them
// is full, then compresses and writes it to the file (Granule). With one
// DuckDB thread it spills the part row group to its temp directory when
// the memory_limit is reached (a 1M backfill in units of 491,520 rows:
// 86MB in memory and up to 98MB spilled, no error). With more threads a
// Tx of 50,000 conversions ran out of 96MB: there, once the direct rows'
// Arrow size passes half the memory_limit, every row written counts, so a
// caller sizing its units by the backlog commits.
func (tx *Tx) Backlog() int64 {
	if tx.staged || tx.directOff || tx.s.noDirect {
		return tx.seq
	}
	if tx.s.opts.threads != 1 && tx.directBytes > tx.directBudget() {
		return tx.seq
	}
	return tx.pendingRows
}

// rowGroupRows is DuckDB's row group size (DEFAULT_ROW_GROUP_SIZE).
const rowGroupRows = 122_880

// Granule implements load.Granular: a row group while the Tx places new
// rows straight into the table with one DuckDB thread. A transaction that
// appends at least a row group to a table merges the row groups it wrote
// as they filled into it at COMMIT, with nothing logged; a smaller one
// logs every row to the WAL and the next checkpoint compresses it again,
// and a part row group left in the middle of the table is rewritten with
// its neighbours by later checkpoints (DuckDB's vacuum). Units of whole
// row groups made a 1M backfill 57 s -> 31 s and wrote 0.56 GB to disk
// instead of 3.6 GB. 0 otherwise: staged rows go in at COMMIT, and more
// threads run out of memory in such units (Backlog).
func (tx *Tx) Granule() int64 {
	if tx.s.opts.threads != 1 || !tx.directCandidate() {
		return 0
	}
	return rowGroupRows
}

// directBudget is the Arrow bytes of direct rows a Tx holds before its
// Backlog counts them: half the memory_limit (of the default one for a
// share of RAM, which says nothing of the machine in bytes).
func (tx *Tx) directBudget() int64 {
	n, ok := limitBytes(tx.s.opts.memoryLimit)
	if !ok {
		n, _ = limitBytes(DefaultMemoryLimit)
	}
	return int64(n / 2)
}

// recordBytes is the size of a record's Arrow buffers.
func recordBytes(r arrow.RecordBatch) int64 {
	var n int64
	for _, c := range r.Columns() {
		for _, b := range c.Data().Buffers() {
			if b != nil {
				n += int64(b.Len())
			}
		}
	}
	return n
}

// noteChangedHours adds the distinct UTC hours of the pending rows' day
// column to the Tx's changed hours, which the commit records in one
// statement (recordChangedHours): an INSERT per batch into
// _syncd_changed, whose key DuckDB checks in an index, cost 8-18 ms each.
func (tx *Tx) noteChangedHours() {
	di := tx.dayIndex()
	if tx.changedHours == nil {
		tx.changedHours = map[int64]struct{}{}
	}
	for _, r := range tx.pending {
		a := r.Column(di).(*array.Timestamp)
		for i := range a.Len() {
			if a.IsValid(i) {
				us := int64(a.Value(i))
				h := us - ((us%3_600_000_000)+3_600_000_000)%3_600_000_000
				tx.changedHours[h] = struct{}{}
			}
		}
	}
}

// recordChangedHours inserts the changed hours noted into the network's
// set (load.Target.Changes), as the staged path's INSERT does from
// staging.
func (tx *Tx) recordChangedHours(ctx context.Context) error {
	set := tx.target.Changes
	if set == "" || len(tx.changedHours) == 0 {
		return nil
	}
	keys := make([]int64, 0, len(tx.changedHours))
	for h := range tx.changedHours {
		keys = append(keys, h)
	}
	slices.Sort(keys)
	vals := make([]string, len(keys))
	for i, h := range keys {
		vals[i] = "(TIMESTAMP '" + time.UnixMicro(h).UTC().Format("2006-01-02 15:04:05") + "')"
	}
	_, err := tx.exec(ctx, "changes", "INSERT INTO _syncd_changed (network, set_name, hour) SELECT ?, ?, h FROM (VALUES "+
		strings.Join(vals, ", ")+") v(h) ON CONFLICT DO NOTHING", tx.network, set)
	return err
}
