package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/syncd/syncd/models"
)

// Schema migrations.
//
// A warehouse says which schema it has in _syncd_meta (key schema_version)
// and which migrations brought it there in _syncd_migrations. Version 1 is
// the baseline every release before migrations wrote: _syncd_meta,
// _syncd_state and _syncd_runs as baselineDDL creates them, and each model
// table as its model's DDL created it on the stream's first load. Every
// later change to the shape of any table that may already exist, syncd's
// own or a stream's, ships as one Migration appended to migrations, with a
// test; nothing else alters an existing table (Tx refuses a table that
// differs from its model).
//
// Every writable Open runs upgrade: in one transaction it reads the version,
// creates what is missing of the baseline, runs each migration above the
// version in order, records each in _syncd_migrations, sets schema_version
// to the last one and commits. Any failure rolls all of it back, so a file
// is at one version or the next, never between. A new file takes the same
// path from the baseline: its model tables do not exist yet, so migrations
// that alter them do nothing, and every warehouse ends with the same
// history (versions 2..SchemaVersion()) whatever version it started at.
//
// A read-only open (`syncd query`, `syncd state`) cannot migrate, and does
// not read an older schema as is: with later migrations syncd's own readers
// (cursors, runs, views, reports) would meet tables of a shape they do not
// know and fail far from the cause. It is refused with one line saying that
// any writable command upgrades the file, which takes well under a second.
// A file newer than this build is refused by every open.

// Migration is one step from Version-1 to Version.
type Migration struct {
	Version int
	// Name says what Up changes, for the history table and error messages.
	Name string
	// Up makes the change. Its contract:
	//   - It runs inside Open's single transaction, after the migrations
	//     before it: it must not commit, roll back or use another
	//     connection, and an error from it undoes every migration of this
	//     Open.
	//   - Model tables are created lazily, on a stream's first load, from
	//     the current model (which already has the new shape): any table
	//     other than the baseline's _syncd_* tables may not exist, and Up
	//     must then leave it alone (check duckdb_tables(); use IF EXISTS /
	//     IF NOT EXISTS), so the same migration is harmless on a new file.
	//   - It changes exactly what Name says; data is rewritten only when
	//     that is the point of the migration, and its Name says so.
	Up func(ctx context.Context, tx *sql.Tx) error
}

// migrations is every schema change since the baseline, in order, versions
// 2, 3, ... without gaps. Append only: a migration that has shipped is
// never edited, reordered or removed, since warehouses have run it.
var migrations = []Migration{
	{Version: 2, Name: "record applied migrations in _syncd_migrations", Up: createMigrationHistory},
	{Version: 3, Name: "keep the hours whose conversions changed in _syncd_changed", Up: createChangedHours},
	{Version: 4, Name: "add stats_daily.currency ('' on the rows already held, whose money mixes currencies)", Up: addStatsCurrency},
	{Version: 5, Name: "add each pass's summary to _syncd_runs (rows read, inserted, updated, unchanged; retries; cursor before and after; NULL on the passes already recorded)", Up: addRunSummary},
	{Version: 6, Name: "rewrite raw to hold only what no typed column holds (each table's _raw view gives back the whole object)", Up: foldRaw},
	{Version: 7, Name: "add the typed columns raw held per row (conversions' ip, ua, ids, nested offer/partner/advertiser, ...), filled from raw, which then leaves them out", Up: addFoldedColumns},
	{Version: 8, Name: "add network (the Affise network a row came from, 'default' on the rows held) as every table's first column and first key column, and to _syncd_state's key, _syncd_runs and _syncd_changed's key", Up: addNetwork},
}

// baselineVersion is the schema every release before migrations wrote.
const baselineVersion = 1

// SchemaVersion is the schema version this build writes: its last
// migration's.
func SchemaVersion() int { return latestVersion(migrations) }

func latestVersion(list []Migration) int {
	if len(list) == 0 {
		return baselineVersion
	}
	return list[len(list)-1].Version
}

// checkMigrations refuses a list upgrade could not apply in order. The
// history table is created by version 2, so the list must start there.
func checkMigrations(list []Migration) error {
	for i, m := range list {
		if want := baselineVersion + 1 + i; m.Version != want {
			return fmt.Errorf("migration %d (%q) is at position %d: versions must run %d, %d, ... without gaps", m.Version, m.Name, i, baselineVersion+1, baselineVersion+2)
		}
		if m.Name == "" || m.Up == nil {
			return fmt.Errorf("migration %d has no name or no Up", m.Version)
		}
	}
	return nil
}

// baselineDDL creates what version 1 had of syncd's own tables. Frozen: a
// later shape of these tables comes from a migration, so that an old file
// and a new one end the same.
var baselineDDL = []string{
	`CREATE TABLE IF NOT EXISTS _syncd_state (
		stream VARCHAR PRIMARY KEY,
		position TIMESTAMP,
		meta VARCHAR,
		updated_at TIMESTAMP)`,
	`CREATE TABLE IF NOT EXISTS _syncd_runs (
		stream VARCHAR,
		kind VARCHAR,
		started_at TIMESTAMP,
		finished_at TIMESTAMP,
		rows BIGINT,
		requests BIGINT,
		error VARCHAR)`,
}

const createMetaSQL = `CREATE TABLE IF NOT EXISTS _syncd_meta (key VARCHAR PRIMARY KEY, value VARCHAR)`

// createMigrationHistory is version 2: the history that makes a warehouse
// say how it got to its version, and comments that point whoever browses
// the file to where migrations are declared.
func createMigrationHistory(ctx context.Context, tx *sql.Tx) error {
	for _, q := range []string{
		`CREATE TABLE IF NOT EXISTS _syncd_migrations (
			version INTEGER PRIMARY KEY,
			name VARCHAR NOT NULL,
			applied_at TIMESTAMP NOT NULL)`,
		`COMMENT ON TABLE _syncd_migrations IS 'schema migrations applied to this warehouse (UTC); declared in syncd''s load/duckdb/migrations.go'`,
		`COMMENT ON TABLE _syncd_meta IS 'schema_version: the warehouse''s schema; a writable syncd open migrates an older one in place'`,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// upgrade brings a writable warehouse to the newest schema of list, all in
// one transaction.
func (s *Sink) upgrade(ctx context.Context, list []Migration) (err error) {
	if err := checkMigrations(list); err != nil {
		return fmt.Errorf("duckdb: %w", err)
	}
	latest := latestVersion(list)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("duckdb: %s: begin: %w", s.path, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if _, err := tx.ExecContext(ctx, createMetaSQL); err != nil {
		return fmt.Errorf("duckdb: create syncd tables in %s: %w", s.path, err)
	}
	from, found, err := s.readVersion(ctx, tx)
	if err != nil {
		return err
	}
	if from > latest {
		return tooNewError(s.path, from, latest)
	}
	for _, ddl := range baselineDDL {
		if _, err := tx.ExecContext(ctx, ddl); err != nil {
			return fmt.Errorf("duckdb: create syncd tables in %s: %w", s.path, err)
		}
	}
	if !found {
		from = baselineVersion
	}
	now := tsArg(time.Now())
	for _, m := range list {
		if m.Version <= from {
			continue
		}
		if err := m.Up(ctx, tx); err != nil {
			return &migrationError{path: s.path, from: from, to: latest, m: m, err: err}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO _syncd_migrations (version, name, applied_at) VALUES (?, ?, CAST(? AS TIMESTAMP))`,
			m.Version, m.Name, now); err != nil {
			return &migrationError{path: s.path, from: from, to: latest, m: m, err: fmt.Errorf("record it in _syncd_migrations: %w", err)}
		}
	}
	if !found || from != latest {
		if _, err := tx.ExecContext(ctx, `INSERT INTO _syncd_meta VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
			strconv.Itoa(latest)); err != nil {
			return fmt.Errorf("duckdb: %s: set schema version %d: %w", s.path, latest, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("duckdb: %s: commit schema version %d: %w", s.path, latest, err)
	}
	return nil
}

// checkReadable lets a read-only open proceed only on the schema this
// build reads (see the doc at the top of this file). A file with no
// schema_version is not a syncd warehouse (or an empty one) and is read as
// is, as before migrations.
func (s *Sink) checkReadable(ctx context.Context, latest int) error {
	v, found, err := s.readVersion(ctx, s.db)
	switch {
	case err != nil:
		return err
	case !found:
		return nil
	case v > latest:
		return tooNewError(s.path, v, latest)
	case v < latest:
		return &versionError{kind: ErrSchemaOutdated, msg: fmt.Sprintf(
			"duckdb: warehouse %s has schema version %d; this syncd reads version %d: run `syncd sync` (or any writable command) once to upgrade it",
			s.path, v, latest)}
	}
	return nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// readVersion reads schema_version; found is false for a file syncd has
// not set one in.
func (s *Sink) readVersion(ctx context.Context, q querier) (v int, found bool, err error) {
	var n int
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main' AND table_name = '_syncd_meta'`).Scan(&n); err != nil {
		return 0, false, fmt.Errorf("duckdb: %w", err)
	}
	if n == 0 {
		return 0, false, nil
	}
	var val string
	err = q.QueryRowContext(ctx, `SELECT value FROM _syncd_meta WHERE key = 'schema_version'`).Scan(&val)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("duckdb: %s: read schema version: %w", s.path, err)
	}
	v, err = strconv.Atoi(val)
	if err != nil || v < baselineVersion {
		return 0, false, fmt.Errorf("duckdb: %s: bad schema version %q in _syncd_meta", s.path, val)
	}
	return v, true, nil
}

func tooNewError(path string, v, latest int) error {
	return &versionError{kind: ErrSchemaTooNew, msg: fmt.Sprintf(
		"duckdb: warehouse %s has schema version %d; this syncd supports up to %d: upgrade syncd", path, v, latest)}
}

// versionError is a schema version this build will not open: its message
// is the whole advice, and errors.Is matches its kind.
type versionError struct {
	kind error
	msg  string
}

func (e *versionError) Error() string { return e.msg }
func (e *versionError) Unwrap() error { return e.kind }

// migrationError names the migration that failed, in one line whatever
// the database's message looked like.
type migrationError struct {
	path     string
	from, to int
	m        Migration
	err      error
}

func (e *migrationError) Error() string {
	return fmt.Sprintf("duckdb: upgrading warehouse %s from schema version %d to %d failed in migration %d (%s), so nothing was changed: %s",
		e.path, e.from, e.to, e.m.Version, e.m.Name, strings.Join(strings.Fields(e.err.Error()), " "))
}

func (e *migrationError) Unwrap() error { return e.err }

// createChangedHours is version 3: the sets of changed hours (load.Target
// Changes and Consumes) a load records with its rows, so stats_daily
// re-reads the days whose conversions changed, however old.
func createChangedHours(ctx context.Context, tx *sql.Tx) error {
	for _, q := range []string{
		`CREATE TABLE IF NOT EXISTS _syncd_changed (
			set_name VARCHAR NOT NULL,
			hour TIMESTAMP NOT NULL,
			PRIMARY KEY (set_name, hour))`,
		`COMMENT ON TABLE _syncd_changed IS 'hours (UTC, of created_at) whose conversions changed since stats_daily last re-read their days'`,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// addStatsCurrency is version 4: stats_daily is asked per currency and
// keyed by it. The rows already held were asked for all currencies at
// once; they keep that meaning under currency ” until their days are
// re-read (the lookback, a changed conversion, or a backfill).
func addStatsCurrency(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `ALTER TABLE IF EXISTS stats_daily ADD COLUMN IF NOT EXISTS currency VARCHAR DEFAULT ''`)
	return err
}

// addRunSummary is version 5: a pass's row says what it read and what its
// commits stored, not only the rows that changed (a backfill of rows
// already held recorded 0 rows), its retries and its cursor's move
// (load.Run). Passes recorded before have NULL there: not known.
func addRunSummary(ctx context.Context, tx *sql.Tx) error {
	for _, q := range []string{
		`ALTER TABLE _syncd_runs ADD COLUMN IF NOT EXISTS rows_read BIGINT`,
		`ALTER TABLE _syncd_runs ADD COLUMN IF NOT EXISTS rows_inserted BIGINT`,
		`ALTER TABLE _syncd_runs ADD COLUMN IF NOT EXISTS rows_updated BIGINT`,
		`ALTER TABLE _syncd_runs ADD COLUMN IF NOT EXISTS rows_unchanged BIGINT`,
		`ALTER TABLE _syncd_runs ADD COLUMN IF NOT EXISTS retries BIGINT`,
		`ALTER TABLE _syncd_runs ADD COLUMN IF NOT EXISTS cursor_before TIMESTAMP`,
		`ALTER TABLE _syncd_runs ADD COLUMN IF NOT EXISTS cursor_after TIMESTAMP`,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return commentRunsColumns(ctx, tx)
}

// commentRunsColumns says what version 5's columns of _syncd_runs count;
// version 8's copy of the table loses the comments and puts them back.
func commentRunsColumns(ctx context.Context, tx *sql.Tx) error {
	for _, q := range []string{
		`COMMENT ON COLUMN _syncd_runs.rows IS 'rows the pass added or changed (rows_inserted + rows_updated)'`,
		`COMMENT ON COLUMN _syncd_runs.rows_read IS 'rows fetched from the Affise API'`,
		`COMMENT ON COLUMN _syncd_runs.rows_unchanged IS 'rows fetched that the warehouse already held as they were'`,
		`COMMENT ON COLUMN _syncd_runs.retries IS 'requests retried (attempts beyond a page''s first); requests counts every attempt'`,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// foldRaw is version 6: raw keeps only the members no typed column gives
// back (models.Folds), as rows loaded since are written, and the
// <table>_raw views rebuild the whole object. Each member is left out of
// the stored raw when its text, as DuckDB reads it, is the column's value
// written back (the same test the views' rebuilding relies on). DuckDB
// rewrites the rest of the object as it reads it: numbers as their value
// (1.50 as 1.5, 1e3 as 1000.0), escapes as the characters they stand for.
// A number that a double could not carry exactly (16 or more digits, or an
// exponent) or a \uD8xx escape, which DuckDB refuses, leaves the row's raw
// whole, which the views give back as it is.
func foldRaw(ctx context.Context, tx *sql.Tx) error {
	for _, d := range models.Registry() {
		m, err := d.Model(d.Defaults.Slices)
		if err != nil {
			return err
		}
		have, err := tableColumns(ctx, tx, m.Table())
		if err != nil {
			return err
		}
		if !slices.Contains(have, m.Original()) {
			continue // a table not created yet: nothing to fold
		}
		// The columns the table has: a column a later migration adds is
		// folded by that migration.
		var folds []models.Fold
		for _, f := range models.Folds(m) {
			if slices.Contains(have, f.Column) {
				folds = append(folds, f)
			}
		}
		if len(folds) == 0 {
			continue
		}
		if _, err := tx.ExecContext(ctx, foldRawSQL(m.Table(), m.Original(), folds)); err != nil {
			return fmt.Errorf("%s: %w", m.Table(), err)
		}
	}
	return nil
}

// foldRawSQL is the UPDATE that folds table's raw column. raw is parsed
// once per row (json_extract of every folded member at once): a parse per
// member and test ran DuckDB out of a 1 GB memory_limit on 1,500 clicks.
func foldRawSQL(table, raw string, folds []models.Fold) string {
	r := quoteIdent(raw)
	paths := make([]string, len(folds))
	drops := make([]string, len(folds))
	for i, f := range folds {
		paths[i] = "'$." + f.Column + "'"
		c := quoteIdent(f.Column)
		v := fmt.Sprintf("m[%d]", i+1)
		typ := "json_type(" + v + ")"
		text := "(" + v + " ->> '$')"
		var same string
		switch f.Kind {
		case models.FoldString:
			same = fmt.Sprintf("%s = 'VARCHAR' AND %s = %s", typ, text, c)
		case models.FoldInt:
			same = fmt.Sprintf("%s IN ('BIGINT', 'UBIGINT') AND %s = CAST(%s AS VARCHAR)", typ, text, c)
		case models.FoldDecimal:
			same = fmt.Sprintf("%s IN ('BIGINT', 'UBIGINT', 'DOUBLE') AND TRY_CAST(%s AS DECIMAL(38,10)) = %s", typ, text, c)
		case models.FoldTime:
			same = fmt.Sprintf("%s = 'VARCHAR' AND %s = strftime(%s, '%%Y-%%m-%%d %%H:%%M:%%S')", typ, text, c)
		case models.FoldJSON:
			same = fmt.Sprintf("%s <> 'NULL' AND CAST(%s AS VARCHAR) = %s", typ, v, c)
		}
		drops[i] = fmt.Sprintf(`CASE WHEN %s THEN '"%s":null' END`, same, f.Column)
	}
	return fmt.Sprintf(`UPDATE %[1]s SET %[2]s = f.folded FROM (
		SELECT rid, coalesce(TRY(CAST(json_merge_patch(%[2]s, patch) AS VARCHAR)), %[2]s) AS folded FROM (
			SELECT rid, %[2]s, '{' || concat_ws(',', %[3]s) || '}' AS patch FROM (
				SELECT rowid AS rid, *, json_extract(%[2]s, [%[4]s]) AS m FROM %[1]s
				WHERE NOT regexp_matches(%[2]s, '[:,\[]-?[0-9.]{16,}|[:,\[]-?[0-9.]+[eE]|\\u[dD]')))
		WHERE patch <> '{}') f
		WHERE %[1]s.rowid = f.rid`,
		quoteIdent(table), r, strings.Join(drops, ", "), strings.Join(paths, ", "))
}

// addFoldedColumns is version 7: the folded columns (models.Folds) a
// table lacks are added, filled from each row's raw as DuckDB reads it
// (json columns: the member's JSON text as DuckDB writes it; a value the
// column's type cannot hold: NULL), and raw then leaves out what they give
// back (as foldRaw does). A time column is left NULL on the rows held: its
// zone is the account's, which the file does not record; the member stays
// in raw. A raw with a \uD8xx escape, which DuckDB refuses, is left as is.
//
// The table is copied, not altered: DuckDB refuses, in one transaction,
// an ALTER of a table an earlier step (foldRaw) updated.
func addFoldedColumns(ctx context.Context, tx *sql.Tx) error {
	for _, d := range models.Registry() {
		m, err := d.Model(d.Defaults.Slices)
		if err != nil {
			return err
		}
		have, err := tableColumns(ctx, tx, m.Table())
		if err != nil {
			return err
		}
		if !slices.Contains(have, m.Original()) {
			continue // not created yet: Begin creates it whole
		}
		var add []models.Fold
		for _, f := range models.Folds(m) {
			if !slices.Contains(have, f.Column) {
				add = append(add, f)
			}
		}
		if len(add) == 0 {
			continue
		}
		qs, err := addFoldedSQL(m, have, add)
		if err != nil {
			return fmt.Errorf("%s: %w", m.Table(), err)
		}
		for _, q := range qs {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("%s: %w", m.Table(), err)
			}
		}
	}
	return nil
}

// addFoldedSQL is the statements that copy table m (whose columns are
// have) into one of m's columns, add's filled from raw (parsed once per
// row), swap the copy in and fold add.
func addFoldedSQL(m models.Model, have []string, add []models.Fold) ([]string, error) {
	tmp := m.Table() + "__syncd_v7"
	// The copy has version 7's shape: the model's columns but network,
	// which version 8 adds.
	var fields []arrow.Field
	for _, f := range m.Schema().Fields() {
		if f.Name != models.NetworkColumn || slices.Contains(have, f.Name) {
			fields = append(fields, f)
		}
	}
	create, err := createTableOf(m, tmp, fields)
	if err != nil {
		return nil, err
	}
	types := map[string]string{}
	for _, f := range m.Schema().Fields() {
		typ, err := ColumnType(f.Type)
		if err != nil {
			return nil, err
		}
		types[f.Name] = typ
	}
	for _, c := range have {
		if _, ok := types[c]; !ok {
			return nil, fmt.Errorf("column %s is not one of this build's: copy or drop it first", c)
		}
	}
	fill := map[string]string{}
	paths := make([]string, len(add))
	for i, f := range add {
		paths[i] = "'$." + f.Column + "'"
		v := fmt.Sprintf("m[%d]", i+1)
		typ := "json_type(" + v + ")"
		text := "(" + v + " ->> '$')"
		switch f.Kind {
		case models.FoldString:
			fill[f.Column] = fmt.Sprintf("CASE WHEN %s IN ('VARCHAR', 'BIGINT', 'UBIGINT', 'DOUBLE', 'BOOLEAN') THEN %s END", typ, text)
		case models.FoldInt, models.FoldDecimal:
			fill[f.Column] = fmt.Sprintf("CASE WHEN %s IN ('VARCHAR', 'BIGINT', 'UBIGINT', 'DOUBLE') THEN TRY_CAST(%s AS %s) END", typ, text, types[f.Column])
		case models.FoldJSON:
			fill[f.Column] = fmt.Sprintf("CASE WHEN %s <> 'NULL' THEN CAST(%s AS VARCHAR) END", typ, v)
		}
	}
	var sel []string
	for _, f := range fields {
		c := quoteIdent(f.Name)
		switch {
		case slices.Contains(have, f.Name):
			sel = append(sel, c)
		case fill[f.Name] != "":
			sel = append(sel, fill[f.Name]+" AS "+c)
		default:
			sel = append(sel, fmt.Sprintf("CAST(NULL AS %s) AS %s", types[f.Name], c))
		}
	}
	t, r := quoteIdent(m.Table()), quoteIdent(m.Original())
	return []string{
		create,
		// A raw DuckDB cannot read (a \uD8xx escape) gets no list: NULLs.
		fmt.Sprintf(`INSERT INTO %s SELECT %s FROM (
			SELECT *, CASE WHEN NOT regexp_matches(%s, '\\u[dD]') THEN json_extract(%[3]s, [%s]) END AS m FROM %s)`,
			quoteIdent(tmp), strings.Join(sel, ", "), r, strings.Join(paths, ", "), t),
		"DROP TABLE " + t,
		fmt.Sprintf("ALTER TABLE %s RENAME TO %s", quoteIdent(tmp), t),
		foldRawSQL(m.Table(), m.Original(), add),
	}, nil
}

// tableColumns are the column names of table main.table; none when there
// is no such table.
func tableColumns(ctx context.Context, tx *sql.Tx, table string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT column_name FROM duckdb_columns()
		WHERE database_name = current_database() AND schema_name = 'main' AND table_name = ?`, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var have []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		have = append(have, c)
	}
	return have, rows.Err()
}

// addNetwork is version 8: one warehouse holds several Affise networks'
// rows, told apart by a network column (models.NetworkColumn), first in
// every table and first in every key, so that offer 1 of one network never
// overwrites offer 1 of another. The rows held came from the one network
// syncd synced until then, named models.DefaultNetwork. Cursors are
// per network and stream, and each pass and set of changed hours says its
// network.
//
// Tables are copied, not altered: DuckDB adds a column only last, and
// refuses, in one transaction, an ALTER of a table an earlier migration
// updated. A stream table keeps its columns (those of the configuration
// it was made for: stats_daily's slices), types and NOT NULLs, behind
// network; the defaults an ALTER gave (stats_daily.currency) go, as a
// table created now has none.
func addNetwork(ctx context.Context, tx *sql.Tx) error {
	seen := map[string]bool{}
	for _, d := range models.Registry() {
		m, err := d.Model(d.Defaults.Slices)
		if err != nil {
			return err
		}
		if seen[m.Table()] {
			continue
		}
		seen[m.Table()] = true
		if err := addNetworkTo(ctx, tx, m.Table()); err != nil {
			return fmt.Errorf("%s: %w", m.Table(), err)
		}
	}
	for _, q := range []string{
		`CREATE TABLE _syncd_state__syncd_v8 (
			network VARCHAR NOT NULL,
			stream VARCHAR NOT NULL,
			position TIMESTAMP,
			meta VARCHAR,
			updated_at TIMESTAMP,
			PRIMARY KEY (network, stream))`,
		`INSERT INTO _syncd_state__syncd_v8 SELECT 'default', stream, position, meta, updated_at FROM _syncd_state`,
		`DROP TABLE _syncd_state`,
		`ALTER TABLE _syncd_state__syncd_v8 RENAME TO _syncd_state`,

		`CREATE TABLE _syncd_changed__syncd_v8 (
			network VARCHAR NOT NULL,
			set_name VARCHAR NOT NULL,
			hour TIMESTAMP NOT NULL,
			PRIMARY KEY (network, set_name, hour))`,
		`INSERT INTO _syncd_changed__syncd_v8 SELECT 'default', set_name, hour FROM _syncd_changed`,
		`DROP TABLE _syncd_changed`,
		`ALTER TABLE _syncd_changed__syncd_v8 RENAME TO _syncd_changed`,
		`COMMENT ON TABLE _syncd_changed IS 'hours (UTC, of created_at) whose conversions changed since stats_daily last re-read their days, per network'`,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	if err := addNetworkTo(ctx, tx, "_syncd_runs"); err != nil {
		return fmt.Errorf("_syncd_runs: %w", err)
	}
	// The copy lost version 5's comments.
	return commentRunsColumns(ctx, tx)
}

// addNetworkTo copies table, when it exists without a network column,
// into one with network first ('default' on every row), and swaps the
// copy in.
func addNetworkTo(ctx context.Context, tx *sql.Tx, table string) error {
	rows, err := tx.QueryContext(ctx, `SELECT column_name, data_type, is_nullable FROM duckdb_columns()
		WHERE database_name = current_database() AND schema_name = 'main' AND table_name = ?
		ORDER BY column_index`, table)
	if err != nil {
		return err
	}
	var cols []string
	for rows.Next() {
		var name, typ string
		var nullable bool
		if err := rows.Scan(&name, &typ, &nullable); err != nil {
			rows.Close()
			return err
		}
		if name == models.NetworkColumn {
			rows.Close()
			return nil // a table created at this version
		}
		col := quoteIdent(name) + " " + typ
		if !nullable {
			col += " NOT NULL"
		}
		cols = append(cols, col)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(cols) == 0 {
		return nil // not created yet: Begin creates it whole
	}
	t, tmp := quoteIdent(table), quoteIdent(table+"__syncd_v8")
	for _, q := range []string{
		fmt.Sprintf("CREATE TABLE %s (%s VARCHAR NOT NULL, %s)", tmp, quoteIdent(models.NetworkColumn), strings.Join(cols, ", ")),
		fmt.Sprintf("INSERT INTO %s SELECT '%s', * FROM %s", tmp, models.DefaultNetwork, t),
		"DROP TABLE " + t,
		fmt.Sprintf("ALTER TABLE %s RENAME TO %s", tmp, t),
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}
