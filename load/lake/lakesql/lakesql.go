// Package lakesql runs SQL over a Parquet lake in an in-memory DuckDB:
// every table is a view over its partitions' files, syncd's own state
// (_syncd_state, _syncd_runs, _syncd_meta) are tables filled from the
// lake's _syncd/ objects, and package warehousesql's views sit on top, so
// `syncd query`, the status page and the daemon's clients see the same
// names and columns as over a DuckDB warehouse.
//
// DuckDB reads local files only here (httpfs cannot be loaded), so a lake
// on S3 is read through a local mirror of its partition files, which
// Refresh brings up to date by each object's version (ETag).
package lakesql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	duckdbdriver "github.com/duckdb/duckdb-go/v2"

	"github.com/syncd/syncd/load/duckdb"
	"github.com/syncd/syncd/load/duckdb/sqlguard"
	"github.com/syncd/syncd/load/lake"
	"github.com/syncd/syncd/load/lake/bucket"
	"github.com/syncd/syncd/models"
	warehousesql "github.com/syncd/syncd/sql"
)

// Options configures Open.
type Options struct {
	// MemoryLimit is DuckDB's memory_limit, e.g. "1GB".
	MemoryLimit string
	// Sandboxed keeps SQL from reaching any file but the lake's (or its
	// mirror's): for a writer's process, whose ClientDB serves clients.
	// Without it, SQL runs with the user's rights (`syncd query`).
	Sandboxed bool
	// MirrorDir is where a lake that is not a local directory is
	// mirrored; required for such a lake.
	MirrorDir string
	// ReportingCurrency goes to _syncd_meta (key reporting_currency), for
	// the converted views.
	ReportingCurrency string
}

// DB is SQL over one lake. Query and the ClientDB pool are safe for
// concurrent use, also while Refresh runs: a refresh swaps views and
// state tables in one transaction.
type DB struct {
	lk        *lake.Sink
	root      string // the local directory holding the table files
	mirror    *mirror
	connector driver.Connector
	db        *sql.DB // refreshes and Query
	clients   *sql.DB // Sandboxed only: clients' SQL, see load.Warehouse
	reporting string
	refreshMu sync.Mutex
}

// Open opens SQL over the lake lk reads and refreshes it once. lk stays
// the caller's: Close does not close it.
func Open(ctx context.Context, lk *lake.Sink, o Options) (*DB, error) {
	d := &DB{lk: lk, reporting: o.ReportingCurrency}
	if dir, ok := lk.Bucket().(*bucket.Dir); ok {
		d.root = dir.Root()
	} else {
		if o.MirrorDir == "" {
			return nil, errors.New("lakesql: a lake on S3 needs a mirror directory")
		}
		d.root = o.MirrorDir
		d.mirror = &mirror{b: lk.Bucket(), dir: o.MirrorDir}
	}
	if err := os.MkdirAll(d.root, 0o700); err != nil {
		return nil, fmt.Errorf("lakesql: %w", err)
	}
	limit := o.MemoryLimit
	if limit == "" {
		limit = "1GB"
	}
	setup := []string{
		"SET GLOBAL TimeZone = 'UTC'",
		"SET GLOBAL memory_limit = '" + strings.ReplaceAll(limit, "'", "") + "'",
	}
	if o.Sandboxed {
		setup = append(setup,
			"SET GLOBAL allowed_directories = ['"+strings.ReplaceAll(d.root, "'", "''")+"']",
			"SET GLOBAL enable_external_access = false",
			"SET GLOBAL autoinstall_known_extensions = false",
			"SET GLOBAL autoload_known_extensions = false")
	}
	c, err := duckdbdriver.NewConnector("", nil)
	if err != nil {
		return nil, fmt.Errorf("lakesql: %w", err)
	}
	d.connector = c
	d.db = sql.OpenDB(c)
	for _, q := range setup {
		if _, err := d.db.ExecContext(ctx, q); err != nil {
			_ = d.db.Close()
			return nil, fmt.Errorf("lakesql: %s: %w", q, err)
		}
	}
	if err := d.Refresh(ctx); err != nil {
		_ = d.db.Close()
		return nil, err
	}
	if err := d.createViews(ctx); err != nil {
		_ = d.db.Close()
		return nil, err
	}
	if o.Sandboxed {
		if _, err := d.db.ExecContext(ctx, "SET GLOBAL lock_configuration = true"); err != nil {
			_ = d.db.Close()
			return nil, fmt.Errorf("lakesql: lock the configuration: %w", err)
		}
		d.clients = sql.OpenDB(unclosable{c})
	}
	return d, nil
}

// unclosable keeps the clients' pool from closing the DuckDB instance.
type unclosable struct{ driver.Connector }

// Query implements load.Querier.
func (d *DB) Query(ctx context.Context, stmt string, read func(*sql.Rows) error) error {
	rows, err := d.db.QueryContext(ctx, stmt)
	if err != nil {
		return err
	}
	defer rows.Close()
	return read(rows)
}

// QueryNetwork is Query seeing network's rows only: every table (the
// lake's tables, _syncd_state, _syncd_runs) and view is shadowed by a
// temporary view of network's rows on a connection of its own
// (sqlguard.QueryNetwork), which is dropped afterwards.
func (d *DB) QueryNetwork(ctx context.Context, network, stmt string, read func(*sql.Rows) error) error {
	return sqlguard.QueryNetwork(ctx, d.db, network, stmt, read)
}

// ClientDB is the pool for clients' SQL (see load.Warehouse); only a
// Sandboxed DB has one. The DB owns it.
func (d *DB) ClientDB() (*sql.DB, error) {
	if d.clients == nil {
		return nil, errors.New("lakesql: not opened sandboxed; it must not run clients' SQL")
	}
	return d.clients, nil
}

// Close closes the DuckDB instance.
func (d *DB) Close() error {
	if d.clients != nil {
		_ = d.clients.Close()
	}
	return d.db.Close()
}

// Refresh makes the SQL see the lake as committed now: the mirror (for a
// lake on S3) is brought up to date, a table that gained its first file
// becomes a view over its files, and the state tables are reloaded. Data
// a view already reads needs no refresh on a local lake: each query
// lists the files anew.
func (d *DB) Refresh(ctx context.Context) error {
	d.refreshMu.Lock()
	defer d.refreshMu.Unlock()
	if d.mirror != nil {
		if err := d.mirror.sync(ctx, tableNames()); err != nil {
			return fmt.Errorf("lakesql: mirror %s: %w", d.lk.Bucket(), err)
		}
	}
	cursors, err := d.lk.AllCursors(ctx)
	if err != nil {
		return err
	}
	runs, err := d.lk.Runs(ctx)
	if err != nil {
		return err
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("lakesql: refresh: %w", err)
	}
	defer tx.Rollback()
	ms, err := registryModels()
	if err != nil {
		return err
	}
	for _, m := range ms {
		q, err := d.tableView(m)
		if err != nil {
			return fmt.Errorf("lakesql: view of %s: %w", m.Table(), err)
		}
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("lakesql: view of %s: %w", m.Table(), err)
		}
	}
	for _, q := range []string{
		// network first, as in every table of the warehouse.
		`CREATE TABLE IF NOT EXISTS _syncd_state (network VARCHAR, stream VARCHAR, position TIMESTAMP, meta VARCHAR, updated_at TIMESTAMP)`,
		// The columns of a DuckDB warehouse's _syncd_runs.
		`CREATE TABLE IF NOT EXISTS _syncd_runs (network VARCHAR, stream VARCHAR, kind VARCHAR, started_at TIMESTAMP, finished_at TIMESTAMP, rows BIGINT, requests BIGINT, error VARCHAR,
			rows_read BIGINT, rows_inserted BIGINT, rows_updated BIGINT, rows_unchanged BIGINT, retries BIGINT, cursor_before TIMESTAMP, cursor_after TIMESTAMP)`,
		`CREATE TABLE IF NOT EXISTS _syncd_meta (key VARCHAR, value VARCHAR)`,
		`DELETE FROM _syncd_state`, `DELETE FROM _syncd_runs`, `DELETE FROM _syncd_meta`,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("lakesql: refresh: %w", err)
		}
	}
	for _, c := range cursors {
		meta, _ := c.StoredMeta()
		if _, err := tx.ExecContext(ctx, `INSERT INTO _syncd_state VALUES (?, ?, ?, nullif(?, ''), ?)`,
			c.Network, c.Stream, naive(c.Position), meta, naive(c.UpdatedAt)); err != nil {
			return fmt.Errorf("lakesql: refresh: %w", err)
		}
	}
	for _, r := range runs {
		var before, after any
		if r.CursorBefore != nil {
			before = naive(*r.CursorBefore)
		}
		if r.CursorAfter != nil {
			after = naive(*r.CursorAfter)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO _syncd_runs VALUES (?, ?, ?, ?, ?, ?, ?, nullif(?, ''), ?, ?, ?, ?, ?, ?, ?)`,
			r.Network, r.Stream, r.Kind, naive(r.StartedAt), naive(r.FinishedAt), r.Rows, r.Requests, r.Error,
			orNull(r.RowsRead), orNull(r.Inserted), orNull(r.Updated), orNull(r.Unchanged), orNull(r.Retries), before, after); err != nil {
			return fmt.Errorf("lakesql: refresh: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO _syncd_meta VALUES ('kind', 'parquet'), ('lake', ?), ('schema_version', ?)`,
		d.lk.Bucket().String(), fmt.Sprint(lake.SchemaVersion)); err != nil {
		return fmt.Errorf("lakesql: refresh: %w", err)
	}
	if d.reporting != "" {
		if _, err := tx.ExecContext(ctx, `INSERT INTO _syncd_meta VALUES ('reporting_currency', ?)`, d.reporting); err != nil {
			return fmt.Errorf("lakesql: refresh: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("lakesql: refresh: %w", err)
	}
	return nil
}

// naive is t as the naive UTC TIMESTAMP syncd stores.
// orNull is *n, or NULL for a count a pass did not record.
func orNull(n *int64) any {
	if n == nil {
		return nil
	}
	return *n
}

func naive(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return time.Date(u.Year(), u.Month(), u.Day(), u.Hour(), u.Minute(), u.Second(), u.Nanosecond(), time.UTC)
}

// createViews creates warehousesql's views and each table's _raw view over
// the table views.
func (d *DB) createViews(ctx context.Context) error {
	views, err := warehousesql.Views()
	if err != nil {
		return fmt.Errorf("lakesql: views: %w", err)
	}
	for _, v := range views {
		if _, err := d.db.ExecContext(ctx, v.SQL); err != nil {
			return fmt.Errorf("lakesql: view %s: %w", v.Name, err)
		}
	}
	// <table>_raw gives back each row's whole object, from a file written
	// with raw folded (models.Folds) or from an older one whose raw is
	// whole, alike: the lake's files are never rewritten for it.
	ms, err := registryModels()
	if err != nil {
		return err
	}
	for _, m := range ms {
		if name, q, ok := duckdb.RawView(m); ok {
			if _, err := d.db.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("lakesql: view %s: %w", name, err)
			}
		}
	}
	return nil
}

// registryModels are every stream's table with its default slices: the
// columns a table without files yet is shown with.
func registryModels() ([]models.Model, error) {
	var out []models.Model
	for _, d := range models.Registry() {
		m, err := d.Model(d.Defaults.Slices)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func tableNames() []string { return models.Names() }

// tableView is the CREATE VIEW of m's table: its files of every network,
// read as they are (they hold the DuckDB warehouse's column types, the
// network column first; union_by_name reads files written under other
// stats_daily slices side by side), or no rows of m's columns while the
// table has no file yet (DuckDB refuses a glob that matches nothing).
func (d *DB) tableView(m models.Model) (string, error) {
	glob := filepath.Join(d.root, filepath.FromSlash(lake.TableGlob(m)))
	matches, err := filepath.Glob(glob)
	if err != nil {
		return "", err
	}
	q := "CREATE OR REPLACE VIEW " + quote(m.Table()) + " AS SELECT "
	if len(matches) > 0 {
		return q + "* FROM read_parquet('" + strings.ReplaceAll(glob, "'", "''") + "', hive_partitioning = false, union_by_name = true)", nil
	}
	var cols []string
	for _, f := range m.Schema().Fields() {
		typ, err := duckdb.ColumnType(f.Type)
		if err != nil {
			return "", err
		}
		cols = append(cols, "CAST(NULL AS "+typ+") AS "+quote(f.Name))
	}
	return q + strings.Join(cols, ", ") + " WHERE false", nil
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
