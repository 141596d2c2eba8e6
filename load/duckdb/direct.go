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
// the table. It is taken only when that provably gives what the staged
// path would: every row of the Tx is still in memory (nothing was flushed
// to staging), no key repeats among them (so de-duplication keeps them
// all), and the table holds none of their keys (so all are inserted, none
// updated or unchanged). Otherwise, having looked, the commit stages as
// always.

// directCandidate says whether the Tx may take the direct path, before
// any query: an upsert on one string or integer key (within the network)
// whose rows are all pending.
func (tx *Tx) directCandidate() bool {
	if tx.s.noDirect || tx.target.Mode != models.Upsert || tx.soleKey() == "" || tx.views > 0 || len(tx.pending) == 0 {
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

// viewOfPending registers the pending records as a fresh Arrow view (each
// can be read once) and returns its quoted name and release.
func (tx *Tx) viewOfPending() (string, func(), error) {
	reader, err := array.NewRecordReader(tx.stageSchema, tx.pending)
	if err != nil {
		return "", nil, err
	}
	tx.views++
	view := fmt.Sprintf("_syncd_arrow_%d_%d", tx.id, tx.views)
	release, err := tx.arrow.RegisterView(reader, view)
	if err != nil {
		reader.Release()
		return "", nil, err
	}
	q := quoteIdent(view)
	return q, func() {
		_, _ = tx.conn.ExecContext(context.Background(), "DROP VIEW IF EXISTS "+q)
		release()
		reader.Release()
	}, nil
}

// commitDirect commits by the direct path when it applies (done), or
// returns with nothing changed so the staged path runs.
func (tx *Tx) commitDirect(ctx context.Context, cursor *checkpoints.Cursor) (_ load.Committed, done bool, _ error) {
	var none load.Committed
	if err := tx.step(ctx, "direct-check"); err != nil {
		return none, false, err
	}
	if !tx.pendingKeysDistinct() {
		return none, false, nil
	}
	t := "main." + quoteIdent(tx.table)
	k := quoteIdent(tx.soleKey())
	if !tx.created {
		view, release, err := tx.viewOfPending()
		if err != nil {
			return none, false, fmt.Errorf("direct-check: %w", err)
		}
		var held int64
		// The key through the whole row (struct_extract of the view's
		// row): duckdb_arrow_scan hands DuckDB every column whatever
		// the query reads, and DuckDB, having pushed a projection of the
		// key alone down, then reads the stream's first column as the
		// key (the network column, not the id).
		err = tx.conn.QueryRowContext(ctx, fmt.Sprintf("SELECT count(*) FROM %s WHERE %s AND %s IN (SELECT struct_extract(p, '%s') FROM %s p)",
			t, tx.inNetwork(""), k, tx.soleKey(), view)).Scan(&held)
		release()
		if err != nil {
			return none, false, fmt.Errorf("direct-check: %w", err)
		}
		if held > 0 {
			return none, false, nil
		}
	}
	if set := tx.target.Changes; set != "" && tx.day != "" {
		if q := tx.changedHoursSQL(); q != "" {
			if _, err := tx.exec(ctx, "changes", q, tx.network, set); err != nil {
				return none, true, err
			}
		}
	}
	if err := tx.consume(ctx); err != nil {
		return none, true, err
	}
	if err := tx.step(ctx, "insert"); err != nil {
		return none, true, err
	}
	view, release, err := tx.viewOfPending()
	if err != nil {
		return none, true, fmt.Errorf("insert: %w", err)
	}
	res, err := tx.exec(ctx, "insert", fmt.Sprintf(tx.directSQL, view))
	release()
	if err != nil {
		return none, true, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return none, true, fmt.Errorf("insert: %w", err)
	}
	tx.releasePending()
	if err := tx.moveCursorAndCommit(ctx, cursor); err != nil {
		return none, true, err
	}
	return load.Committed{Inserted: n}, true, nil
}

// changedHoursSQL inserts the distinct UTC hours of the pending rows' day
// column into a network's set of changed hours (the network and the set
// name its parameters), as
// the staged path's INSERT does from staging; "" when no row has a day.
func (tx *Tx) changedHoursSQL() string {
	di := tx.dayIndex()
	hours := map[int64]struct{}{}
	for _, r := range tx.pending {
		a := r.Column(di).(*array.Timestamp)
		for i := range a.Len() {
			if a.IsValid(i) {
				us := int64(a.Value(i))
				h := us - ((us%3_600_000_000)+3_600_000_000)%3_600_000_000
				hours[h] = struct{}{}
			}
		}
	}
	if len(hours) == 0 {
		return ""
	}
	keys := make([]int64, 0, len(hours))
	for h := range hours {
		keys = append(keys, h)
	}
	slices.Sort(keys)
	vals := make([]string, len(keys))
	for i, h := range keys {
		vals[i] = "(TIMESTAMP '" + time.UnixMicro(h).UTC().Format("2006-01-02 15:04:05") + "')"
	}
	return "INSERT INTO _syncd_changed (network, set_name, hour) SELECT ?, ?, h FROM (VALUES " + strings.Join(vals, ", ") + ") v(h) ON CONFLICT DO NOTHING"
}
