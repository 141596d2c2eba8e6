// Package duckdb is the DuckDB sink: each load stages Arrow records in a
// temporary table, then de-duplicates, deletes and inserts into the target
// table and moves the stream's cursor in one DuckDB transaction.
package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	duckdbdriver "github.com/duckdb/duckdb-go/v2"
	"golang.org/x/sync/semaphore"

	"github.com/syncd/syncd/checkpoints"
	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/load/duckdb/defaults"
	"github.com/syncd/syncd/load/duckdb/sqlguard"
	"github.com/syncd/syncd/models"
	warehousesql "github.com/syncd/syncd/sql"
)

var (
	_ load.Sink         = (*Sink)(nil)
	_ load.Warehouse    = (*Sink)(nil)
	_ load.ReadOnly     = (*Sink)(nil)
	_ checkpoints.Store = (*Sink)(nil)
	_ checkpoints.Admin = (*Sink)(nil)
	_ load.Tx           = (*Tx)(nil)
)

// Errors callers may test with errors.Is.
var (
	ErrNotDuckDB = errors.New("not a DuckDB database")
	// ErrLocked is load.ErrLocked: callers above load/ test for that one,
	// without naming this package.
	ErrLocked       = load.ErrLocked
	ErrSchemaTooNew = errors.New("warehouse schema is newer than this syncd")
	// ErrSchemaOutdated: a read-only open of a warehouse that a writable
	// open would first migrate.
	ErrSchemaOutdated = errors.New("warehouse schema is older than this syncd")
	ErrReadOnly       = errors.New("warehouse is open read-only")
	ErrTableMismatch  = errors.New("table does not match its model")
	// ErrMigrationMissing: a table lacks columns its model has and nothing
	// else differs, the mark of a model change shipped without a migration.
	ErrMigrationMissing = errors.New("schema migration missing")
	ErrTxDone           = errors.New("transaction already committed or rolled back")
)

type options struct {
	owner       string
	memoryLimit string
	threads     int
	readOnly    bool
	sandboxed   bool
	onViewError func(view string, err error)
	migrations  []Migration
	reporting   string
}

// Option configures Open.
type Option func(*options)

// WithMemoryLimit sets DuckDB's memory_limit, e.g. "1GB" or "512MB"
// (default DefaultMemoryLimit; DuckDB's own default is 80% of RAM).
func WithMemoryLimit(limit string) Option { return func(o *options) { o.memoryLimit = limit } }

// WithThreads sets DuckDB's worker threads (default DefaultThreads; 0:
// DuckDB's, one per core).
func WithThreads(n int) Option { return func(o *options) { o.threads = n } }

// DefaultThreads is DuckDB's worker threads unless WithThreads says
// otherwise (see defaults.Threads for why one).
const DefaultThreads = defaults.Threads

// ReportingCurrency records c in _syncd_meta (key reporting_currency) at a
// writable open: the converted views (daily_revenue_rc) read it there, so a
// read-only open shows what the last writer was configured with.
func ReportingCurrency(c string) Option { return func(o *options) { o.reporting = c } }

// ReadOnly opens the file with access_mode=READ_ONLY (for `syncd query`):
// no DDL runs and every write fails with ErrReadOnly.
func ReadOnly() Option { return func(o *options) { o.readOnly = true } }

// Sandboxed opens the instance for serving clients' SQL (see ClientDB):
// SQL can reach no file or network (enable_external_access=false; DuckDB's
// own database, WAL and spill files are exempt) and, once Open has set
// everything up, no setting can be changed (lock_configuration). Loads are
// unaffected: they read Arrow from memory.
func Sandboxed() Option { return func(o *options) { o.sandboxed = true } }

// OnViewError receives errors of creating views after a commit, which do not
// fail the commit (the data and cursor are already durable).
func OnViewError(f func(view string, err error)) Option {
	return func(o *options) { o.onViewError = f }
}

// DefaultMemoryLimit is DuckDB's memory_limit unless WithMemoryLimit says
// otherwise (see defaults.MemoryLimit for why that much).
const DefaultMemoryLimit = defaults.MemoryLimit

// allocatorFlush is DuckDB's allocator_flush_threshold and
// allocator_bulk_deallocation_flush_threshold: memory its allocator keeps
// for reuse after a task or a big free (a dropped staging table, a
// checkpoint's buffers), beyond which it returns it to the OS, with a
// background thread doing so. DuckDB's defaults (128MB, 512MB) showed as
// resident memory that no query used between commits.
const allocatorFlush = "32MB"

// checkpointThreshold is DuckDB's checkpoint_threshold: the WAL size at
// which a commit checkpoints (DuckDB's default 16MB). A backfill unit of
// new rows (some 37,000 conversions, half the memory_limit) logs more
// than 16MB, so every unit's commit checkpointed: COMMIT was 44% of a 200k
// backfill's CPU profile. At 64MB about every other unit does: a 200k
// backfill took 6.2-6.4 s instead of 7.7-7.8 s, a 1M one 47 s instead of
// 63 s, peak RSS unchanged (261 and 263 MB); 32MB was no faster and 128MB
// or 256MB slower (6.7-7.2 s), their checkpoints holding more at once.
// A crash replays at most that much WAL on the next open.
const checkpointThreshold = "64MB"

var memoryLimitRe = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB|%)$`)

// Sink is a DuckDB warehouse file as one network sees it (load.Sink): the
// Sink Open returns is models.DefaultNetwork's, ForNetwork another's over
// the same instance. It is safe for concurrent use; each Tx uses a
// connection of its own.
type Sink struct {
	*core
	network string
	// scoped is set on a view from ForNetwork or ReadNetwork: its Query
	// sees only network's rows (`syncd query --network`), where the Sink
	// Open returned sees every network's.
	scoped bool
}

// core is what every network's Sink of one file shares.
type core struct {
	db       *sql.DB
	clients  *sql.DB // over the same instance; nil unless sandboxed
	path     string
	readOnly bool
	opts     options

	viewsMu sync.Mutex
	txSeq   atomic.Int64

	// One Tx per network and table at a time: two transactions deleting
	// the same rows would make the later commit fail with a DuckDB
	// write-write conflict. Networks' Txs on one table touch different
	// rows (every key starts with network), so they may run side by side,
	// each holding a share of the table; a Tx that creates the table (two
	// would fail the later with a catalog conflict) or upserts (Begin
	// says why) holds all of it until it ends.
	locksMu sync.Mutex
	locks   map[string]chan struct{}       // by network + "/" + table
	tables  map[string]*semaphore.Weighted // by table

	// ownerFile is the owner file this Sink wrote ("" when none).
	ownerFile string
	closeOnce sync.Once
	closeErr  error

	// testHook, when set, runs before each step of a commit (tests only).
	testHook func(ctx context.Context, step string)
	// noDirect, when set, makes every commit stage its rows (tests only:
	// the direct path is held to the staged one's results).
	noDirect bool
}

// Open opens (creating when missing) the DuckDB file at path, migrates its
// schema to this build's (see migrations.go; read-only: refuses an older
// one) and makes sure syncd's own tables and the views exist.
func Open(ctx context.Context, path string, opts ...Option) (*Sink, error) {
	o := options{memoryLimit: DefaultMemoryLimit, threads: DefaultThreads, migrations: migrations}
	for _, f := range opts {
		f(&o)
	}
	if path == "" || strings.Contains(path, "?") || strings.HasPrefix(path, ":memory:") {
		return nil, fmt.Errorf("duckdb: bad warehouse path %q", path)
	}
	if !memoryLimitRe.MatchString(o.memoryLimit) {
		return nil, fmt.Errorf("duckdb: bad memory limit %q (want e.g. 1GB or 512MB)", o.memoryLimit)
	}
	if o.threads < 0 {
		return nil, fmt.Errorf("duckdb: bad thread count %d", o.threads)
	}

	if o.readOnly {
		st, err := os.Stat(path)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("duckdb: warehouse %s does not exist (run `syncd sync` first)", path)
			}
			return nil, fmt.Errorf("duckdb: %w", err)
		}
		if st.IsDir() {
			return nil, fmt.Errorf("duckdb: %s is a directory, %w", path, ErrNotDuckDB)
		}
	} else {
		if dir := filepath.Dir(path); dir != "" {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("duckdb: create warehouse directory: %w", err)
			}
		}
		if st, err := os.Stat(path); err == nil && st.IsDir() {
			return nil, fmt.Errorf("duckdb: %s is a directory, %w", path, ErrNotDuckDB)
		}
	}

	q := url.Values{}
	q.Set("memory_limit", o.memoryLimit)
	q.Set("allocator_flush_threshold", allocatorFlush)
	q.Set("checkpoint_threshold", checkpointThreshold)
	q.Set("allocator_bulk_deallocation_flush_threshold", allocatorFlush)
	q.Set("allocator_background_threads", "true")
	if o.threads > 0 {
		q.Set("threads", strconv.Itoa(o.threads))
	}
	if o.readOnly {
		q.Set("access_mode", "READ_ONLY")
	} else {
		// Inserts from Arrow are 1.5x faster; nothing relies on the order
		// of rows in a table.
		q.Set("preserve_insertion_order", "false")
	}
	if o.sandboxed {
		q.Set("enable_external_access", "false")
	}
	debugSettings(q)
	_, walErr := os.Stat(path + ".wal")
	connector, err := duckdbdriver.NewConnector(path+"?"+q.Encode(), utcSession)
	if err != nil {
		return nil, openError(path, err)
	}
	s := &Sink{core: &core{db: sql.OpenDB(connector), path: path, readOnly: o.readOnly, opts: o}, network: models.DefaultNetwork}
	if err := s.init(ctx); err != nil {
		_ = s.db.Close()
		return nil, err
	}
	if walErr == nil && !o.readOnly {
		// A process that died (kill -9, power loss) left its WAL: DuckDB
		// replays it into memory at open and keeps it there until a
		// checkpoint, up to checkpoint_threshold (64MB) of the 96MB
		// memory_limit. A resumed backfill then ran out of memory in its
		// first commit; checkpointing now writes those rows to the file
		// (42MB of WAL: 44.6MB in memory after the open, 6.3MB after this).
		if _, err := s.db.ExecContext(ctx, "CHECKPOINT"); err != nil {
			_ = s.db.Close()
			return nil, fmt.Errorf("duckdb: %s: checkpoint the log a stopped process left: %w", path, err)
		}
	}
	if o.sandboxed {
		if _, err := s.db.ExecContext(ctx, "SET lock_configuration = true"); err != nil {
			_ = s.db.Close()
			return nil, fmt.Errorf("duckdb: lock the configuration: %w", err)
		}
		// Its own pool, so no connection a client used is ever handed to
		// the loader; not closing the connector, which s.db owns.
		s.clients = sql.OpenDB(unclosable{connector})
	}
	if !o.readOnly {
		restrictPerms(path)
		if o.owner != "" {
			s.ownerFile = writeOwnerFile(path, o.owner)
		}
		s.startMemTrace()
	}
	return s, nil
}

// utcSession runs on every new connection. Stored times are naive UTC
// TIMESTAMPs: every cast between TIMESTAMP and TIMESTAMPTZ, and
// current_date, must use UTC. It is set globally once, so connections opened
// after a sandboxed instance locks its configuration need not (and could
// not) set it again.
func utcSession(ex driver.ExecerContext) error {
	ctx := context.Background()
	if q, ok := ex.(driver.QueryerContext); ok {
		rows, err := q.QueryContext(ctx, "SELECT current_setting('TimeZone')", nil)
		if err != nil {
			return err
		}
		v := make([]driver.Value, 1)
		err = rows.Next(v)
		_ = rows.Close()
		if err == nil && v[0] == "UTC" {
			return nil
		}
	}
	_, err := ex.ExecContext(ctx, "SET GLOBAL TimeZone = 'UTC'", nil)
	return err
}

// unclosable keeps a second sql.DB from closing the DuckDB instance.
type unclosable struct{ driver.Connector }

// tableShares is how many Txs may hold shares of one table at once: more
// than any config has networks; a Tx holding the whole table takes all.
const tableShares = 1 << 20

// lockTable waits (until ctx ends) for network's Tx slot on table, then
// for a share of the table, or the whole of it.
func (s *core) lockTable(ctx context.Context, network, table string, whole bool) (unlock func(), err error) {
	s.locksMu.Lock()
	if s.locks == nil {
		s.locks, s.tables = map[string]chan struct{}{}, map[string]*semaphore.Weighted{}
	}
	slot := s.locks[network+"/"+table]
	if slot == nil {
		slot = make(chan struct{}, 1)
		s.locks[network+"/"+table] = slot
	}
	shares := s.tables[table]
	if shares == nil {
		shares = semaphore.NewWeighted(tableShares)
		s.tables[table] = shares
	}
	s.locksMu.Unlock()
	select {
	case slot <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	n := int64(1)
	if whole {
		n = tableShares
	}
	if err := shares.Acquire(ctx, n); err != nil {
		<-slot
		return nil, err
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			shares.Release(n)
			<-slot
		})
	}, nil
}

// tableMissing reports whether table is yet to be created (as committed:
// a Tx creating it may be under way).
func (s *core) tableMissing(ctx context.Context, table string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM duckdb_tables()
		WHERE database_name = current_database() AND schema_name = 'main' AND table_name = ?`, table).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("look for the table: %w", err)
	}
	return n == 0, nil
}

// restrictPerms makes the database file (and its WAL, when present) private.
// DuckDB creates them with the process umask; the 0700 directory Open creates
// already keeps others out.
func restrictPerms(path string) {
	for _, p := range []string{path, path + ".wal"} {
		if st, err := os.Stat(p); err == nil && st.Mode().Perm()&0o077 != 0 {
			_ = os.Chmod(p, 0o600)
		}
	}
}

func openError(path string, err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "not a valid DuckDB database file"):
		return fmt.Errorf("duckdb: %s is %w", path, ErrNotDuckDB)
	case strings.Contains(msg, "Could not set lock") || strings.Contains(msg, "Conflicting lock"):
		return lockError(path, msg)
	case strings.Contains(msg, "different configuration"):
		return fmt.Errorf("duckdb: %s is already open in this process with other settings (read-only vs read-write): %w", path, err)
	}
	return fmt.Errorf("duckdb: open %s: %w", path, err)
}

func (s *Sink) init(ctx context.Context) error {
	if s.readOnly {
		return s.checkReadable(ctx, latestVersion(s.opts.migrations))
	}
	if err := s.upgradeWithMemory(ctx); err != nil {
		return err
	}
	if c := s.opts.reporting; c != "" {
		if _, err := s.db.ExecContext(ctx, `INSERT INTO _syncd_meta VALUES ('reporting_currency', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, c); err != nil {
			return fmt.Errorf("duckdb: record the reporting currency: %w", err)
		}
	}
	return s.EnsureViews(ctx)
}

// upgradeMemoryLimit is the least memory_limit a schema upgrade runs
// with: it rewrites tables in one transaction, and at 128MB migration 7
// ran out of memory on the v1 fixture. A smaller configured limit is
// raised to it for the upgrade only.
const upgradeMemoryLimit = 256 << 20

// upgradeWithMemory runs the upgrade (see migrations.go) with at least
// upgradeMemoryLimit.
func (s *Sink) upgradeWithMemory(ctx context.Context) error {
	if n, ok := limitBytes(s.opts.memoryLimit); !ok || n >= upgradeMemoryLimit {
		return s.upgrade(ctx, s.opts.migrations)
	}
	set := func(v string) error {
		if _, err := s.db.ExecContext(ctx, "SET memory_limit = '"+v+"'"); err != nil {
			return fmt.Errorf("duckdb: memory_limit %s for the schema upgrade: %w", v, err)
		}
		return nil
	}
	if err := set(strconv.Itoa(upgradeMemoryLimit>>20) + "MiB"); err != nil {
		return err
	}
	if err := s.upgrade(ctx, s.opts.migrations); err != nil {
		return err
	}
	return set(s.opts.memoryLimit)
}

// limitBytes is a memory_limit (memoryLimitRe) in bytes; not ok for a
// share of RAM (%).
func limitBytes(limit string) (float64, bool) {
	m := memoryLimitRe.FindStringSubmatch(limit)
	if m == nil || m[2] == "%" {
		return 0, false
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(limit, m[2])), 64)
	if err != nil {
		return 0, false
	}
	unit := map[string]float64{"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}[m[2]]
	return n * unit, true
}

// DB is the underlying database, for tests that seed or inspect a
// warehouse with SQL. syncd itself reads through load.Reader and
// load.Querier, so nothing above load/ depends on its tables' layout.
func (s *Sink) DB() *sql.DB { return s.db }

// Path is the database file.
func (s *Sink) Path() string { return s.path }

// Query implements load.Querier. It runs on the loads' pool: a
// read-only sink has no other, and a writable one is sandboxed. On a view
// from ForNetwork or ReadNetwork, stmt sees only the network's rows (see
// sqlguard.ScopeToNetwork), on a connection dropped afterwards, so the
// scoping reaches no other query; the Sink Open returned sees every
// network's.
func (s *Sink) Query(ctx context.Context, stmt string, read func(*sql.Rows) error) error {
	if s.scoped {
		return s.queryScoped(ctx, stmt, read)
	}
	rows, err := s.db.QueryContext(ctx, stmt)
	if err != nil {
		return err
	}
	defer rows.Close()
	return read(rows)
}

func (s *Sink) queryScoped(ctx context.Context, stmt string, read func(*sql.Rows) error) error {
	if err := s.checkNetwork(); err != nil {
		return err
	}
	if err := sqlguard.QueryNetwork(ctx, s.db, s.network, stmt, read); err != nil {
		return fmt.Errorf("duckdb: %w", err)
	}
	return nil
}

// ClientDB is a pool over the same DuckDB instance for running clients' SQL
// through package sqlguard: its connections are never shared with loads.
// Only a Sandboxed sink has one; the caller must not close it (Close does).
func (s *Sink) ClientDB() (*sql.DB, error) {
	if s.clients == nil {
		return nil, errors.New("duckdb: the warehouse was not opened sandboxed; it must not run clients' SQL")
	}
	return s.clients, nil
}

// Close closes the database, whichever network's view it is called on;
// later calls return what the first did. Open transactions must be
// finished first.
func (s *Sink) Close() error {
	s.closeOnce.Do(func() {
		// The owner file goes first: once the lock is released another
		// process may write its own.
		if s.ownerFile != "" {
			_ = os.Remove(s.ownerFile)
		}
		if s.clients != nil {
			_ = s.clients.Close()
		}
		s.closeErr = s.db.Close()
	})
	return s.closeErr
}

// EnsureViews (re)creates every view of package warehousesql whose tables
// and columns exist, and drops those whose requirements are no longer met
// (so no view is left that fails when queried). It never fails on a view
// merely waiting for a table.
func (s *Sink) EnsureViews(ctx context.Context) error {
	if s.readOnly {
		return nil
	}
	s.viewsMu.Lock()
	defer s.viewsMu.Unlock()
	cols, err := s.tableColumns(ctx)
	if err != nil {
		return err
	}
	views, err := warehousesql.Views()
	if err != nil {
		return fmt.Errorf("duckdb: views: %w", err)
	}
	var errs []error
	for _, v := range views {
		ok := true
		for _, r := range v.Requires {
			have, found := cols[r.Table]
			if !found {
				ok = false
				break
			}
			for _, c := range r.Columns {
				if !have[c] {
					ok = false
					break
				}
			}
		}
		var err error
		if ok {
			_, err = s.db.ExecContext(ctx, v.SQL)
		} else {
			_, err = s.db.ExecContext(ctx, "DROP VIEW IF EXISTS "+quoteIdent(v.Name))
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("duckdb: view %s: %w", v.Name, err))
		}
	}
	errs = append(errs, s.ensureRawViews(ctx, cols))
	return errors.Join(errs...)
}

// ensureRawViews (re)creates each stream table's <table>_raw view (see
// RawView) where the table has the columns it reads, and drops it where
// not.
func (s *Sink) ensureRawViews(ctx context.Context, cols map[string]map[string]bool) error {
	var errs []error
	for _, d := range models.Registry() {
		m, err := d.Model(d.Defaults.Slices)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		name, q, ok := RawView(m)
		if !ok {
			continue
		}
		have := cols[m.Table()]
		for _, f := range append(models.Folds(m), models.Fold{Column: m.Original()}) {
			ok = ok && have[f.Column]
		}
		if !ok {
			q = "DROP VIEW IF EXISTS " + quoteIdent(name)
		}
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			errs = append(errs, fmt.Errorf("duckdb: view %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// tableColumns lists the base tables of schema main and their columns.
func (s *Sink) tableColumns(ctx context.Context) (map[string]map[string]bool, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT c.table_name, c.column_name
		FROM duckdb_columns() c
		JOIN duckdb_tables() t USING (database_name, schema_name, table_name)
		WHERE c.database_name = current_database() AND c.schema_name = 'main' AND NOT t.temporary`)
	if err != nil {
		return nil, fmt.Errorf("duckdb: list tables: %w", err)
	}
	defer rows.Close()
	out := map[string]map[string]bool{}
	for rows.Next() {
		var t, c string
		if err := rows.Scan(&t, &c); err != nil {
			return nil, err
		}
		if out[t] == nil {
			out[t] = map[string]bool{}
		}
		out[t][c] = true
	}
	return out, rows.Err()
}

// Cursor implements checkpoints.Store.
func (s *Sink) Cursor(ctx context.Context, stream string) (checkpoints.Cursor, bool, error) {
	c := checkpoints.Cursor{Stream: stream}
	var pos, upd sql.NullTime
	var meta sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT position, meta, updated_at FROM _syncd_state WHERE network = ? AND stream = ?`, s.network, stream).Scan(&pos, &meta, &upd)
	if errors.Is(err, sql.ErrNoRows) {
		return c, false, nil
	}
	if err != nil {
		return c, false, fmt.Errorf("duckdb: read cursor %s: %w", stream, err)
	}
	c.Position, c.UpdatedAt = utc(pos), utc(upd)
	c.SetStoredMeta(meta.String)
	return c, true, nil
}

// Cursors implements checkpoints.Store.
func (s *Sink) Cursors(ctx context.Context) ([]checkpoints.Cursor, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT stream, position, meta, updated_at FROM _syncd_state WHERE network = ? ORDER BY stream`, s.network)
	if err != nil {
		return nil, fmt.Errorf("duckdb: read cursors: %w", err)
	}
	defer rows.Close()
	var out []checkpoints.Cursor
	for rows.Next() {
		var c checkpoints.Cursor
		var pos, upd sql.NullTime
		var meta sql.NullString
		if err := rows.Scan(&c.Stream, &pos, &meta, &upd); err != nil {
			return nil, fmt.Errorf("duckdb: read cursors: %w", err)
		}
		c.Position, c.UpdatedAt = utc(pos), utc(upd)
		c.SetStoredMeta(meta.String)
		out = append(out, c)
	}
	return out, rows.Err()
}

// SetCursor implements checkpoints.Admin.
func (s *Sink) SetCursor(ctx context.Context, c checkpoints.Cursor) error {
	if s.readOnly {
		return ErrReadOnly
	}
	if err := s.checkNetwork(); err != nil {
		return err
	}
	q, args, err := cursorSQL(s.network, c)
	if err != nil {
		return fmt.Errorf("duckdb: set cursor: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("duckdb: set cursor %s: %w", c.Stream, err)
	}
	return nil
}

// DeleteCursor implements checkpoints.Admin.
func (s *Sink) DeleteCursor(ctx context.Context, stream string) error {
	if s.readOnly {
		return ErrReadOnly
	}
	if _, err := s.db.ExecContext(ctx, deleteCursorSQL, s.network, stream); err != nil {
		return fmt.Errorf("duckdb: delete cursor %s: %w", stream, err)
	}
	return nil
}

// RecordRun implements load.Sink.
func (s *Sink) RecordRun(ctx context.Context, r load.Run) error {
	if s.readOnly {
		return ErrReadOnly
	}
	if err := s.checkNetwork(); err != nil {
		return err
	}
	var errMsg any
	if r.Error != "" {
		errMsg = r.Error
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO _syncd_runs (network, stream, kind, started_at, finished_at, rows, requests, error,
			rows_read, rows_inserted, rows_updated, rows_unchanged, retries, cursor_before, cursor_after)
		VALUES (?, ?, ?, CAST(? AS TIMESTAMP), CAST(? AS TIMESTAMP), ?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS TIMESTAMP), CAST(? AS TIMESTAMP))`,
		s.network, r.Stream, r.Kind, tsArg(r.StartedAt), tsArg(r.FinishedAt), r.Rows, r.Requests, errMsg,
		r.RowsRead, r.Inserted, r.Updated, r.Unchanged, r.Retries, tsArg(r.CursorBefore), tsArg(r.CursorAfter))
	if err != nil {
		return fmt.Errorf("duckdb: record run of %s: %w", r.Stream, err)
	}
	return nil
}

const upsertCursorSQL = `INSERT INTO _syncd_state (network, stream, position, meta, updated_at)
	VALUES (?, ?, CAST(? AS TIMESTAMP), ?, CAST(? AS TIMESTAMP))
	ON CONFLICT (network, stream) DO UPDATE SET position = excluded.position, meta = excluded.meta, updated_at = excluded.updated_at`

const deleteCursorSQL = `DELETE FROM _syncd_state WHERE network = ? AND stream = ?`

// cursorSQL is the statement that stores network's c: an upsert, or for a zero
// Position (no cursor at all) a delete. Backfill bounds and Meta share the
// meta column (see checkpoints.Cursor.StoredMeta).
func cursorSQL(network string, c checkpoints.Cursor) (string, []any, error) {
	if c.Position.IsZero() {
		return deleteCursorSQL, []any{network, c.Stream}, nil
	}
	meta, err := c.StoredMeta()
	if err != nil {
		return "", nil, err
	}
	upd := c.UpdatedAt
	if upd.IsZero() {
		upd = time.Now()
	}
	return upsertCursorSQL, []any{network, c.Stream, tsArg(c.Position), meta, tsArg(upd)}, nil
}

// tsArg renders t as a naive UTC timestamp literal for CAST(? AS TIMESTAMP),
// independent of the session time zone (the driver binds time.Time as
// TIMESTAMPTZ). The zero time is NULL.
func tsArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format("2006-01-02 15:04:05.999999")
}

func utc(t sql.NullTime) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// checkIdent accepts only plain identifiers from models.
func checkIdent(kind, s string) error {
	if !identRe.MatchString(s) {
		return fmt.Errorf("duckdb: bad %s name %q", kind, s)
	}
	return nil
}

// Network is the network this Sink loads.
func (s *Sink) Network() string { return s.network }

// ForNetwork is the warehouse as network sees it (load.Warehouse): a Sink
// over the same instance, pools and table locks whose loads, cursors,
// runs, changed hours and reads are network's, and whose Query sees only
// network's rows. A name models.ValidNetworkName refuses makes every
// write of the view fail.
func (s *Sink) ForNetwork(network string) load.Warehouse { return s.view(network) }

// ReadNetwork is ForNetwork for a warehouse opened to read (load.ReadOnly).
func (s *Sink) ReadNetwork(network string) load.ReadOnly { return s.view(network) }

func (s *Sink) view(network string) *Sink {
	return &Sink{core: s.core, network: network, scoped: true}
}

// checkNetwork refuses a view of a name that is no network's: the name is
// written into the warehouse's keys, so it must be one a config can hold.
func (s *Sink) checkNetwork() error {
	if !models.ValidNetworkName(s.network) {
		return fmt.Errorf("duckdb: bad network name %q: use 1-40 of a-z, 0-9, _ and -, not starting with _ or -", s.network)
	}
	return nil
}
