package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	duckdbdriver "github.com/duckdb/duckdb-go/v2"

	"github.com/syncd/syncd/checkpoints"
	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/models"
)

// seqColumn orders staged rows by the order they were written, so "the last
// written row wins" is exact across and within Writes.
const seqColumn = "_syncd_seq"

type txState int

const (
	txOpen txState = iota
	txCommitted
	txRolledBack
)

// Tx stages records in a TEMP table inside one DuckDB transaction on a
// dedicated connection. It is not safe for concurrent use.
type Tx struct {
	s      *Sink
	conn   *sql.Conn
	arrow  *duckdbdriver.Arrow
	target load.Target
	id     int64

	table   string   // target table, validated identifier
	columns []string // model columns, in schema order
	keys    []string
	// network is the Sink's: every row written must hold it in the
	// network column, at netIdx (-1: a model without one, which only the
	// default network may load, unscoped).
	network string
	netIdx  int
	day     string
	stage   string
	created bool   // the target table was created by this Tx
	staged  bool   // the staging table exists
	version string // the model's version column: latest wins on duplicate keys ("" when none)
	// original is the model's column of the object a row was decoded from
	// (with the typed columns, see models.Folds): when the model has one,
	// a staged row whose columns save _synced_at equal the stored row's is
	// unchanged ("" when none).
	original string

	insertSQL string // INSERT INTO stage ... SELECT ... FROM %s (view name)
	directSQL string // INSERT INTO the table ... SELECT ... FROM %s (view name)
	seq       int64
	// direct is the rows the direct path put in the table so far, their
	// keys in the temp table stage+"_direct" (batches 1..placed of the
	// directKeys recorded); directOff is set once the Tx stages.
	direct      int64
	directBytes int64 // their Arrow size
	directKeys  int
	placed      int
	directOff   bool
	// changedHours are the hours (µs, UTC) of the day column of the
	// direct rows, for the commit to record (noteChangedHours).
	changedHours map[int64]struct{}
	state        txState

	stageSchema *arrow.Schema // the model's fields plus seqColumn
	// naive are the columns of a time zone in the model's schema that
	// stageSchema holds as naive timestamps (the table's type).
	naive       []int
	pending     []arrow.RecordBatch // written, not yet in staging
	pendingRows int64
	unlock      func()

	// The Tx's Arrow views (feed.go), of whole rows and of keys, and how
	// many it registered.
	feeds              int
	rowsView, keysView txView
}

// Begin implements load.Sink.
func (s *Sink) Begin(ctx context.Context, t load.Target) (_ load.Tx, err error) {
	if s.readOnly {
		return nil, ErrReadOnly
	}
	if t.Model == nil {
		return nil, errors.New("duckdb: Begin without a model")
	}
	if err := s.checkNetwork(); err != nil {
		return nil, err
	}
	tx := &Tx{s: s, target: t, id: s.txSeq.Add(1), table: t.Model.Table(), keys: t.Model.Key(), day: t.Model.DayColumn(),
		version: t.Model.Version(), original: t.Model.Original(), network: s.network}
	if err := tx.validateTarget(); err != nil {
		return nil, err
	}
	tx.stage = fmt.Sprintf("_syncd_stage_%d", tx.id)

	// A Tx holds the whole table, every network's share of it, when it
	// upserts or creates the table. An upsert's new rows go straight into
	// the table in units of whole row groups (Granule) that fill the
	// memory_limit: two networks' such units side by side ran out of the
	// default 96MB at COMMIT ("failed to pin block", a backfill of 300,000
	// conversions per network). Replacing loads (stats_daily, the
	// snapshots) run side by side: one network's stats_daily pass, which
	// holds its Tx while it pages at that network's rate, no longer holds
	// up another's (two networks at 10 requests/s: 36.5-36.9 s -> 32.2-32.5 s).
	whole := t.Mode == models.Upsert
	if !whole {
		if whole, err = s.tableMissing(ctx, tx.table); err != nil {
			return nil, fmt.Errorf("duckdb: %s: %w", tx.table, err)
		}
	}
	if tx.unlock, err = s.lockTable(ctx, s.network, tx.table, whole); err != nil {
		return nil, fmt.Errorf("duckdb: %s: waiting for another load of the table: %w", tx.table, err)
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		tx.unlock()
		return nil, fmt.Errorf("duckdb: %s: %w", tx.table, err)
	}
	tx.conn = conn
	err = conn.Raw(func(dc any) error {
		c, ok := dc.(driver.Conn)
		if !ok {
			return fmt.Errorf("unexpected driver connection %T", dc)
		}
		a, err := duckdbdriver.NewArrowFromConn(c)
		tx.arrow = a
		return err
	})
	if err != nil {
		_ = conn.Close()
		tx.unlock()
		return nil, fmt.Errorf("duckdb: %s: arrow: %w", tx.table, err)
	}
	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		_ = conn.Close()
		tx.unlock()
		return nil, fmt.Errorf("duckdb: %s: begin: %w", tx.table, err)
	}
	if err := tx.prepare(ctx); err != nil {
		tx.abort()
		return nil, fmt.Errorf("duckdb: %s: %w", tx.table, err)
	}
	return tx, nil
}

func (tx *Tx) validateTarget() error {
	m := tx.target.Model
	if err := checkIdent("table", tx.table); err != nil {
		return err
	}
	if strings.HasPrefix(tx.table, "_syncd_") {
		return fmt.Errorf("duckdb: table name %q is reserved", tx.table)
	}
	sch := m.Schema()
	if sch == nil || sch.NumFields() == 0 {
		return fmt.Errorf("duckdb: %s: model has no columns", tx.table)
	}
	for _, f := range sch.Fields() {
		if err := checkIdent("column", f.Name); err != nil {
			return fmt.Errorf("%w (table %s)", err, tx.table)
		}
		if f.Name == seqColumn {
			return fmt.Errorf("duckdb: %s: column name %s is reserved", tx.table, seqColumn)
		}
		tx.columns = append(tx.columns, f.Name)
	}
	for _, k := range tx.keys {
		if !slices.Contains(tx.columns, k) {
			return fmt.Errorf("duckdb: %s: key column %q is not in the model's schema", tx.table, k)
		}
	}
	tx.netIdx = slices.Index(tx.columns, models.NetworkColumn)
	if tx.netIdx < 0 && tx.network != models.DefaultNetwork {
		return fmt.Errorf("duckdb: %s: the model has no %s column, so only network %s can load it (not %s)",
			tx.table, models.NetworkColumn, models.DefaultNetwork, tx.network)
	}
	for _, c := range [][2]string{{"version", tx.version}, {"original", tx.original}} {
		if c[1] != "" && !slices.Contains(tx.columns, c[1]) {
			return fmt.Errorf("duckdb: %s: %s column %q is not in the model's schema", tx.table, c[0], c[1])
		}
	}
	switch tx.target.Mode {
	case models.Upsert:
		if len(tx.keys) == 0 {
			return fmt.Errorf("duckdb: %s: upsert needs a model with a key", tx.table)
		}
	case models.ReplaceDays:
		if tx.day == "" || !slices.Contains(tx.columns, tx.day) {
			return fmt.Errorf("duckdb: %s: replace-days needs a day column in the model (have %q)", tx.table, tx.day)
		}
		if tx.target.From.IsZero() || tx.target.To.IsZero() || !tx.target.From.Before(tx.target.To) {
			return fmt.Errorf("duckdb: %s: replace-days window [%s, %s) is empty", tx.table,
				tx.target.From.Format("2006-01-02"), tx.target.To.Format("2006-01-02"))
		}
	case models.ReplaceTable:
	default:
		return fmt.Errorf("duckdb: %s: unknown load mode %d", tx.table, tx.target.Mode)
	}
	return nil
}

// prepare creates the target table when missing, checks its columns against
// the model and creates the staging table. Runs inside the transaction.
func (tx *Tx) prepare(ctx context.Context) error {
	cols, types, err := tx.existingColumns(ctx)
	if err != nil {
		return err
	}
	if cols == nil {
		ddl, err := createTable(tx.target.Model)
		if err != nil {
			return err
		}
		if _, err := tx.conn.ExecContext(ctx, ddl); err != nil {
			return fmt.Errorf("create table: %w", err)
		}
		tx.created = true
		if cols, types, err = tx.existingColumns(ctx); err != nil {
			return err
		}
		if cols == nil {
			return fmt.Errorf("model DDL did not create table %s", tx.table)
		}
	}
	if err := tx.checkColumns(cols); err != nil {
		return err
	}

	// Where DuckDB's reading of Arrow differs from the table: timestamp[us,
	// UTC] arrives as TIMESTAMPTZ and the tables hold naive UTC TIMESTAMPs.
	// Write hands those columns over as naive timestamp[us] (the same
	// microseconds since the epoch), which DuckDB reads as TIMESTAMP as
	// they are: a timezone('UTC', ...) in the SELECT went through ICU's
	// calendar for every value (2-3% of a backfill's CPU).
	typeOf := map[string]string{}
	for i, c := range cols {
		typeOf[c] = types[i]
	}
	fields := slices.Clone(tx.target.Model.Schema().Fields())
	sel := make([]string, 0, len(tx.columns)+1)
	tx.naive = tx.naive[:0]
	for i, f := range fields {
		if ts, ok := f.Type.(*arrow.TimestampType); ok && ts.TimeZone != "" && typeOf[f.Name] != "TIMESTAMP WITH TIME ZONE" {
			fields[i].Type = &arrow.TimestampType{Unit: ts.Unit}
			tx.naive = append(tx.naive, i)
		}
		sel = append(sel, quoteIdent(f.Name))
	}
	sel = append(sel, seqColumn)
	tx.stageSchema = arrow.NewSchema(append(fields,
		arrow.Field{Name: seqColumn, Type: arrow.PrimitiveTypes.Int64}), nil)
	tx.insertSQL = fmt.Sprintf("INSERT INTO %s (%s, %s) SELECT %s FROM %%s",
		quoteIdent(tx.stage), quoteList(tx.columns), seqColumn, strings.Join(sel, ", "))
	tx.directSQL = fmt.Sprintf("INSERT INTO main.%s (%s) SELECT %s FROM %%s",
		quoteIdent(tx.table), quoteList(tx.columns), strings.Join(sel[:len(sel)-1], ", "))
	return nil
}

func (tx *Tx) existingColumns(ctx context.Context) (cols, types []string, err error) {
	rows, err := tx.conn.QueryContext(ctx, `
		SELECT column_name, data_type FROM duckdb_columns()
		WHERE database_name = current_database() AND schema_name = 'main' AND table_name = ?
		ORDER BY column_index`, tx.table)
	if err != nil {
		return nil, nil, fmt.Errorf("read columns: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c, t string
		if err := rows.Scan(&c, &t); err != nil {
			return nil, nil, err
		}
		cols, types = append(cols, c), append(types, t)
	}
	return cols, types, rows.Err()
}

func (tx *Tx) checkColumns(have []string) error {
	var missing, extra []string
	for _, c := range tx.columns {
		if !slices.Contains(have, c) {
			missing = append(missing, c)
		}
	}
	for _, c := range have {
		if !slices.Contains(tx.columns, c) {
			extra = append(extra, c)
		}
	}
	if len(missing) == 0 && len(extra) == 0 {
		return nil
	}
	// Same key and no column the model lacks: the table holds the model's
	// rows, only without columns added since it was created, which is what
	// a migration is for. A table made for another configuration (other
	// stats_daily slices) differs in its key columns.
	if len(extra) == 0 && !slices.ContainsFunc(missing, func(c string) bool { return slices.Contains(tx.keys, c) }) {
		return fmt.Errorf("%w: table %s lacks columns %s of this syncd's model at schema version %d: the change that added them shipped no migration in load/duckdb/migrations.go (a syncd bug; please report it), or they were dropped by hand",
			ErrMigrationMissing, tx.table, strings.Join(missing, ", "), latestVersion(tx.s.opts.migrations))
	}
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, "missing columns "+strings.Join(missing, ", "))
	}
	if len(extra) > 0 {
		parts = append(parts, "unexpected columns "+strings.Join(extra, ", "))
	}
	return fmt.Errorf("%w: %s (table %s was created for another configuration, e.g. other stats_daily slices; drop or rename it to rebuild it)",
		ErrTableMismatch, strings.Join(parts, "; "), tx.table)
}

// Write implements load.Tx. The record's columns must be the model's, by
// name and order. A failed Write rolls the transaction back.
func (tx *Tx) Write(ctx context.Context, rec arrow.RecordBatch) error {
	if tx.state != txOpen {
		return fmt.Errorf("duckdb: %s: write: %w", tx.table, ErrTxDone)
	}
	if rec == nil || rec.NumRows() == 0 {
		return nil
	}
	if err := tx.write(ctx, rec); err != nil {
		tx.abort()
		return fmt.Errorf("duckdb: %s: write: %w", tx.table, err)
	}
	return nil
}

func (tx *Tx) write(ctx context.Context, rec arrow.RecordBatch) error {
	fields := tx.target.Model.Schema().Fields()
	if int(rec.NumCols()) != len(tx.columns) {
		return fmt.Errorf("record has %d columns, the model %d", rec.NumCols(), len(tx.columns))
	}
	for i, f := range rec.Schema().Fields() {
		if f.Name != fields[i].Name || !arrow.TypeEqual(f.Type, fields[i].Type) {
			return fmt.Errorf("record column %d is %s %s, the model's is %s %s", i, f.Name, f.Type, fields[i].Name, fields[i].Type)
		}
	}
	if err := tx.checkNetworkColumn(rec); err != nil {
		return err
	}
	if k := tx.soleKey(); k != "" {
		i := slices.Index(tx.columns, k)
		if nulls := rec.Column(i).NullN(); nulls > 0 {
			return fmt.Errorf("%d rows have a NULL %s (the key)", nulls, k)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	// The record plus the write sequence column, kept until a flush.
	n := rec.NumRows()
	b := array.NewInt64Builder(memory.DefaultAllocator)
	b.Reserve(int(n))
	for i := range n {
		b.UnsafeAppend(tx.seq + i)
	}
	seqArr := b.NewArray()
	b.Release()
	defer seqArr.Release()
	tx.seq += n
	cols := append(slices.Clone(rec.Columns()), seqArr)
	for _, i := range tx.naive {
		cols[i] = retype(cols[i], tx.stageSchema.Field(i).Type)
		defer cols[i].Release()
	}
	tx.pending = append(tx.pending, array.NewRecordBatch(tx.stageSchema, cols, n))
	tx.pendingRows += n
	if tx.pendingRows >= directRows {
		if placed, err := tx.insertDirect(ctx); err != nil || placed {
			return err
		}
	}
	if tx.pendingRows >= flushRows {
		return tx.flush(ctx)
	}
	return nil
}

// retype is a new reference to a's buffers as type t, which must have
// a's layout (a timestamp without its time zone): no copy.
func retype(a arrow.Array, t arrow.DataType) arrow.Array {
	d := a.Data()
	nd := array.NewData(t, d.Len(), d.Buffers(), d.Children(), d.NullN(), d.Offset())
	defer nd.Release()
	return array.MakeFromData(nd)
}

// checkNetworkColumn refuses a record holding a row of any network but
// the Tx's (or none): a load through one network's Sink writes only that
// network's rows, and replaces and matches keys only among them.
func (tx *Tx) checkNetworkColumn(rec arrow.RecordBatch) error {
	if tx.netIdx < 0 {
		return nil
	}
	return load.CheckNetwork(rec.Column(tx.netIdx), tx.network)
}

// soleKey is the one key column that tells apart the rows of the Tx's
// network ("" when the key has more, or none): a plain IN on it, within
// the network, is a hash semi-join where matching the whole key is not.
func (tx *Tx) soleKey() string {
	k := tx.keys
	if tx.netIdx >= 0 && len(k) > 0 && k[0] == models.NetworkColumn {
		k = k[1:]
	}
	if len(k) != 1 || k[0] == models.NetworkColumn {
		return ""
	}
	return k[0]
}

// inNetwork is the condition (alias: a table's alias or name, "" for
// none) that keeps the Tx's network's rows; TRUE for a model without a
// network column. The name was checked by models.ValidNetworkName, so it
// needs no escaping.
func (tx *Tx) inNetwork(alias string) string {
	if tx.netIdx < 0 {
		return "TRUE"
	}
	col := quoteIdent(models.NetworkColumn)
	if alias != "" {
		col = alias + "." + col
	}
	return col + " = '" + tx.network + "'"
}

// flushRows is how many rows Write gathers before one INSERT into staging:
// each statement costs milliseconds, so 500-row pages are not sent one by
// one. A backfill unit (pipeline.DefaultBackfillUnitRows) holds less than
// that, 11,000 rows at most, so it stays in memory for the direct path; more would wait, with its
// strings, on the Go heap.
const flushRows = 15_000

// flush inserts the pending records into staging through the Tx's Arrow
// view (feed).
func (tx *Tx) flush(ctx context.Context) error {
	if len(tx.pending) == 0 {
		return nil
	}
	defer tx.releasePending()
	if err := tx.ensureStage(ctx); err != nil {
		return err
	}
	view, done, err := tx.feed(tx.pending)
	if err != nil {
		return err
	}
	defer done()
	_, err = tx.conn.ExecContext(ctx, fmt.Sprintf(tx.insertSQL, view))
	return err
}

// ensureStage creates the staging table, the target's columns plus the
// write sequence, on first need: a Tx that takes the direct path never
// stages anything.
func (tx *Tx) ensureStage(ctx context.Context) error {
	if tx.staged {
		return nil
	}
	if _, err := tx.conn.ExecContext(ctx, fmt.Sprintf(
		"CREATE TEMP TABLE %s AS SELECT *, CAST(0 AS BIGINT) AS %s FROM main.%s LIMIT 0",
		quoteIdent(tx.stage), seqColumn, quoteIdent(tx.table))); err != nil {
		return fmt.Errorf("create staging table: %w", err)
	}
	tx.staged = true
	return nil
}

func (tx *Tx) releasePending() {
	for _, r := range tx.pending {
		r.Release()
	}
	tx.pending, tx.pendingRows = nil, 0
}

// Commit implements load.Tx: de-duplicate the staged rows on the model's key
// (the latest version wins, then the last written), replace what the mode
// says, move the cursor and commit, all in one DuckDB transaction. On any
// error the transaction is rolled back and nothing changes.
func (tx *Tx) Commit(ctx context.Context, cursor *checkpoints.Cursor) (load.Committed, error) {
	if tx.state != txOpen {
		return load.Committed{}, fmt.Errorf("duckdb: %s: commit: %w", tx.table, ErrTxDone)
	}
	n, err := tx.commit(ctx, cursor)
	if err != nil {
		tx.abort()
		return load.Committed{}, fmt.Errorf("duckdb: %s: commit: %w", tx.table, err)
	}
	tx.state = txCommitted
	_ = tx.conn.Close()
	tx.unlock()
	if tx.created {
		if err := tx.s.EnsureViews(context.WithoutCancel(ctx)); err != nil && tx.s.opts.onViewError != nil {
			tx.s.opts.onViewError(tx.table, err)
		}
	}
	return n, nil
}

func (tx *Tx) step(ctx context.Context, name string) error {
	if h := tx.s.testHook; h != nil {
		h(ctx, name)
	}
	return ctx.Err()
}

func (tx *Tx) commit(ctx context.Context, cursor *checkpoints.Cursor) (load.Committed, error) {
	var none load.Committed
	t := "main." + quoteIdent(tx.table)
	stage := quoteIdent(tx.stage)
	if out, done, err := tx.commitDirect(ctx, cursor); err != nil || done {
		return out, err
	}
	if err := tx.step(ctx, "flush"); err != nil {
		return none, err
	}
	if err := tx.flush(ctx); err != nil {
		return none, fmt.Errorf("flush: %w", err)
	}
	if err := tx.ensureStage(ctx); err != nil {
		return none, fmt.Errorf("flush: %w", err)
	}
	exec := func(step, q string, args ...any) (sql.Result, error) { return tx.exec(ctx, step, q, args...) }
	count := func(step, q string, args ...any) ([]int64, error) {
		if err := tx.step(ctx, step); err != nil {
			return nil, err
		}
		var a, b sql.NullInt64
		if err := tx.conn.QueryRowContext(ctx, q, args...).Scan(&a, &b); err != nil {
			return nil, fmt.Errorf("%s: %w", step, err)
		}
		return []int64{a.Int64, b.Int64}, nil
	}
	// Of load.Committed's counts, held is the winners whose key the table
	// held before the commit, equal those held with an equal row; keys is,
	// for an Upsert that drops unchanged rows, the keys staged before.
	var held, equal, keys int64

	switch tx.target.Mode {
	case models.Upsert:
		if tx.original != "" {
			// A key whose winning row is what the table already holds
			// changes nothing: leave that row (and its _synced_at) alone,
			// so a pass re-reading its lookback writes only what changed.
			// Those keys are the unchanged ones: the insert below stores
			// one row per key left, so the keys staged before the drop
			// less the rows inserted are them.
			before, err := count("count-keys", fmt.Sprintf("SELECT count(*), 0 FROM (SELECT DISTINCT %s FROM %s)", quoteList(tx.keys), stage))
			if err != nil {
				return none, err
			}
			if _, err := exec("unchanged", tx.dropUnchangedSQL(t)); err != nil {
				return none, err
			}
			keys = before[0]
		}
		var del sql.Result
		var err error
		if sk := tx.soleKey(); sk != "" {
			// A plain IN is a hash semi-join; Write refused NULL keys
			// and rows of other networks.
			k := quoteIdent(sk)
			del, err = exec("delete", fmt.Sprintf("DELETE FROM %s WHERE %s AND %s IN (SELECT %s FROM %s)", t, tx.inNetwork(""), k, k, stage))
		} else {
			del, err = exec("delete", fmt.Sprintf("DELETE FROM %s WHERE EXISTS (SELECT 1 FROM %s s WHERE %s)",
				t, stage, tx.keyConds("s", t)))
		}
		if err != nil {
			return none, err
		}
		// The table holds one row per key: each row deleted is a key held.
		updated, err := del.RowsAffected()
		if err != nil {
			return none, err
		}
		held += updated
	case models.ReplaceDays:
		day := fmt.Sprintf("CAST(%s AS DATE)", quoteIdent(tx.day))
		from, to := tx.target.From.UTC().Format("2006-01-02"), tx.target.To.UTC().Format("2006-01-02")
		var outside int64
		if err := tx.step(ctx, "check-window"); err != nil {
			return none, err
		}
		if err := tx.conn.QueryRowContext(ctx, fmt.Sprintf(
			"SELECT count(*) FROM %s WHERE %s IS NULL OR %s < CAST(? AS DATE) OR %s >= CAST(? AS DATE)", stage, day, day, day),
			from, to).Scan(&outside); err != nil {
			return none, fmt.Errorf("check-window: %w", err)
		}
		if outside > 0 {
			return none, fmt.Errorf("%d staged rows have a %s outside the replaced days [%s, %s)", outside, tx.day, from, to)
		}
		c, err := tx.countHeld(count, t)
		if err != nil {
			return none, err
		}
		held, equal = c[0], c[1]
		if _, err := exec("delete", fmt.Sprintf("DELETE FROM %s WHERE %s AND %s >= CAST(? AS DATE) AND %s < CAST(? AS DATE)", t, tx.inNetwork(""), day, day), from, to); err != nil {
			return none, err
		}
	case models.ReplaceTable:
		c, err := tx.countHeld(count, t)
		if err != nil {
			return none, err
		}
		held, equal = c[0], c[1]
		if _, err := exec("delete", "DELETE FROM "+t+" WHERE "+tx.inNetwork("")); err != nil {
			return none, err
		}
	}

	if set := tx.target.Changes; set != "" && tx.day != "" {
		// The stage holds only new or changed rows by now (unchanged ones
		// were dropped above); several rows of a key only repeat an hour.
		if _, err := exec("changes", fmt.Sprintf(`INSERT INTO _syncd_changed (network, set_name, hour)
			SELECT DISTINCT ?, ?, date_trunc('hour', CAST(%[1]s AS TIMESTAMP))
			FROM %[2]s WHERE %[1]s IS NOT NULL ON CONFLICT DO NOTHING`, quoteIdent(tx.day), stage), tx.network, set); err != nil {
			return none, err
		}
	}
	if err := tx.consume(ctx); err != nil {
		return none, err
	}

	cols := quoteList(tx.columns)
	ins := fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s", t, cols, cols, stage)
	if len(tx.keys) > 0 {
		ins += fmt.Sprintf(" QUALIFY row_number() OVER (PARTITION BY %s ORDER BY %s) = 1", quoteList(tx.keys), tx.winnerOrder())
	}
	res, err := exec("insert", ins)
	if err != nil {
		return none, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return none, err
	}
	var out load.Committed
	if tx.target.Mode == models.Upsert {
		// The unchanged rows left the stage before the insert; held is
		// the keys the delete found, all of them changed.
		if tx.original != "" {
			equal = keys - n
		}
		out = load.Committed{Inserted: n - held, Updated: held, Unchanged: equal}
	} else {
		out = load.Committed{Inserted: n - held, Updated: held - equal, Unchanged: equal}
	}

	if _, err := exec("drop-stage", "DROP TABLE "+stage); err != nil {
		return none, err
	}
	if err := tx.dropDirectKeys(ctx); err != nil {
		return none, err
	}
	if err := tx.moveCursorAndCommit(ctx, cursor); err != nil {
		return none, err
	}
	return out, nil
}

// exec runs one step of a commit: the test hook's step name, and errors
// named after it.
func (tx *Tx) exec(ctx context.Context, step, q string, args ...any) (sql.Result, error) {
	if err := tx.step(ctx, step); err != nil {
		return nil, err
	}
	r, err := tx.conn.ExecContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", step, err)
	}
	return r, nil
}

// consume removes the hours the target consumes from its set of changed
// hours (load.Target.Consumes), in the commit's transaction.
func (tx *Tx) consume(ctx context.Context) error {
	set := tx.target.Consumes
	if set == "" {
		return nil
	}
	_, err := tx.exec(ctx, "consume", `DELETE FROM _syncd_changed WHERE network = ? AND set_name = ? AND hour >= ? AND hour < ?`,
		tx.network, set, tsArg(tx.target.ConsumeFrom), tsArg(tx.target.ConsumeTo))
	return err
}

// moveCursorAndCommit ends a commit: the cursor, when there is one, then
// COMMIT of everything the transaction did.
func (tx *Tx) moveCursorAndCommit(ctx context.Context, cursor *checkpoints.Cursor) error {
	if err := tx.dropFeed(ctx); err != nil {
		return err
	}
	if cursor != nil {
		q, args, err := cursorSQL(tx.network, *cursor)
		if err != nil {
			return fmt.Errorf("cursor: %w", err)
		}
		if _, err := tx.exec(ctx, "cursor", q, args...); err != nil {
			return err
		}
	}
	_, err := tx.exec(ctx, "commit", "COMMIT")
	return err
}

// keyConds matches a row of a to the row of b with its key.
func (tx *Tx) keyConds(a, b string) string {
	conds := make([]string, len(tx.keys))
	for i, k := range tx.keys {
		conds[i] = fmt.Sprintf("%[2]s.%[1]s IS NOT DISTINCT FROM %[3]s.%[1]s", quoteIdent(k), a, b)
	}
	return strings.Join(conds, " AND ")
}

// winnersSQL selects each key's winning staged row (its
// unchangedColumns).
//
// Only keys table t holds are ranked: every caller joins the winners
// with t on the key, and ranking the whole stage (wide rows, a window
// over all of them) ran DuckDB out of a 256MB memory_limit on a backfill
// window of 166k new conversions, which need no ranking at all.
func (tx *Tx) winnersSQL(t string) string {
	cols := quoteList(tx.unchangedColumns())
	return fmt.Sprintf("SELECT %s FROM %s s WHERE EXISTS (SELECT 1 FROM %s h WHERE %s) QUALIFY row_number() OVER (PARTITION BY %s ORDER BY %s) = 1",
		cols, quoteIdent(tx.stage), t, tx.keyConds("s", "h"), quoteList(tx.keys), tx.winnerOrder())
}

// dropUnchangedSQL deletes from the stage every row of the keys whose
// winner equals the row table t holds.
func (tx *Tx) dropUnchangedSQL(t string) string {
	stage, same := quoteIdent(tx.stage), tx.sameRow("w", "t")
	if sk := tx.soleKey(); sk != "" {
		// Staged rows are all of the Tx's network (Write checked).
		k := quoteIdent(sk)
		return fmt.Sprintf(`DELETE FROM %[1]s WHERE %[2]s IN (SELECT w.%[2]s FROM (%[3]s) w JOIN %[4]s t ON %[6]s AND t.%[2]s = w.%[2]s AND %[5]s)`,
			stage, k, tx.winnersSQL(t), t, same, tx.inNetwork("t"))
	}
	keys := make([]string, len(tx.keys))
	for i, k := range tx.keys {
		keys[i] = "w." + quoteIdent(k)
	}
	return fmt.Sprintf(`DELETE FROM %[1]s USING (SELECT %[2]s FROM (%[3]s) w JOIN %[4]s t ON %[5]s AND %[6]s) u WHERE %[7]s`,
		stage, strings.Join(keys, ", "), tx.winnersSQL(t), t, tx.keyConds("w", "t"), same, tx.keyConds(stage, "u"))
}

// countHeld counts, before a replace deletes anything, the staged winners
// whose key table t holds, and of them those held with an equal row.
func (tx *Tx) countHeld(count func(step, q string, args ...any) ([]int64, error), t string) ([]int64, error) {
	if len(tx.keys) == 0 {
		return []int64{0, 0}, nil // no key: every row is new
	}
	if tx.original == "" {
		return count("count-held", fmt.Sprintf(`SELECT count(*), 0 FROM (SELECT DISTINCT %s FROM %s) w JOIN %s t ON %s`,
			quoteList(tx.keys), quoteIdent(tx.stage), t, tx.keyConds("w", "t")))
	}
	eq := tx.sameRow("w", "t")
	return count("count-held", fmt.Sprintf(`SELECT count(*), count(*) FILTER (WHERE %s) FROM (%s) w JOIN %s t ON %s`,
		eq, tx.winnersSQL(t), t, tx.keyConds("w", "t")))
}

// Rollback implements load.Tx. It is idempotent and a no-op after Commit.
func (tx *Tx) Rollback() error {
	if tx.state != txOpen {
		return nil
	}
	tx.abort()
	return nil
}

// abort rolls the DuckDB transaction back and returns the connection to the
// pool, or discards it when the rollback fails.
func (tx *Tx) abort() {
	if tx.state != txOpen {
		return
	}
	tx.state = txRolledBack
	tx.releasePending()
	if _, err := tx.conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		// The connection's state is unknown: never hand it out again.
		_ = tx.conn.Raw(func(any) error { return driver.ErrBadConn })
	}
	// The rollback dropped the view (created in the transaction).
	tx.releaseFeed()
	_ = tx.conn.Close()
	tx.unlock()
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = quoteIdent(n)
	}
	return strings.Join(q, ", ")
}

// sameRow says a row of a equals the row of b: in every one of the
// unchangedColumns.
func (tx *Tx) sameRow(a, b string) string {
	same := tx.unchangedColumns()
	conds := make([]string, len(same))
	for i, c := range same {
		conds[i] = fmt.Sprintf("%[2]s.%[1]s IS NOT DISTINCT FROM %[3]s.%[1]s", quoteIdent(c), a, b)
	}
	return strings.Join(conds, " AND ")
}

// unchangedColumns are the columns whose equality makes a staged row the
// stored one: all but _synced_at, which says when a row last changed. raw
// alone cannot tell: it holds only what no typed column holds
// (models.Folds).
func (tx *Tx) unchangedColumns() []string {
	var out []string
	for _, c := range tx.columns {
		if c != models.SyncedAtColumn {
			out = append(out, c)
		}
	}
	return out
}

// winnerOrder ranks a key's staged rows: the latest version wins, then
// the last written.
func (tx *Tx) winnerOrder() string {
	order := seqColumn + " DESC"
	if tx.version != "" {
		order = quoteIdent(tx.version) + " DESC NULLS LAST, " + order
	}
	return order
}
