package sqlguard_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/load/duckdb"
	"github.com/syncd/syncd/load/duckdb/sqlguard"
)

// warehouse is a sandboxed warehouse, as `syncd run` opens it, with a table
// holding a secret-looking value and a scratch directory that no statement
// may write into.
type warehouse struct {
	sink    *duckdb.Sink
	guard   *sqlguard.Guard
	clients *sql.DB
	scratch string
	path    string
}

func openWarehouse(t testing.TB) *warehouse {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "w.duckdb")
	ctx := context.Background()
	sink, err := duckdb.Open(ctx, path, duckdb.Sandboxed(), duckdb.WithMemoryLimit("256MB"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sink.Close() })
	for _, q := range []string{
		`CREATE TABLE offers (id BIGINT, title VARCHAR, payout DECIMAL(18,4))`,
		`INSERT INTO offers VALUES (1, 'Alpha', 1.5), (2, 'Beta', 2.25)`,
		`CREATE SEQUENCE s`,
	} {
		if _, err := sink.DB().ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	clients, err := sink.ClientDB()
	if err != nil {
		t.Fatal(err)
	}
	scratch := filepath.Join(dir, "scratch")
	if err := os.Mkdir(scratch, 0o700); err != nil {
		t.Fatal(err)
	}
	return &warehouse{sink: sink, guard: sqlguard.New(clients), clients: clients, scratch: scratch, path: path}
}

// fingerprint is everything a statement could change that another one
// could see: the data, the catalog, every setting, the sequence, and the
// files next to the warehouse.
func (w *warehouse) fingerprint(t testing.TB) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{
		`SELECT count(*) || ':' || coalesce(sum(hash(id, title, payout)), 0) FROM offers`,
		`SELECT string_agg(table_name, ',' ORDER BY table_name) FROM duckdb_tables()`,
		`SELECT string_agg(view_name, ',' ORDER BY view_name) FROM duckdb_views() WHERE NOT internal`,
		`SELECT string_agg(sequence_name || '=' || coalesce(last_value, -1), ',') FROM duckdb_sequences()`,
		`SELECT string_agg(name || '=' || coalesce(value, ''), ',' ORDER BY name) FROM duckdb_settings()`,
		`SELECT string_agg(database_name, ',' ORDER BY database_name) FROM duckdb_databases()`,
	} {
		var s sql.NullString
		if err := w.sink.DB().QueryRow(q).Scan(&s); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		b.WriteString(s.String + "\n")
	}
	entries, err := os.ReadDir(w.scratch)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b.WriteString("file " + e.Name() + "\n")
	}
	return b.String()
}

func (w *warehouse) run(stmt string) (string, error) { return w.runFor(stmt, 30*time.Second) }

func (w *warehouse) runFor(stmt string, limit time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	var out strings.Builder
	err := w.guard.RunReadOnly(ctx, "", stmt, func(rows *sql.Rows) error {
		cols, err := rows.Columns()
		if err != nil {
			return err
		}
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				return err
			}
			out.WriteString("row\n")
		}
		return rows.Err()
	})
	return out.String(), err
}

// TestServesReadOnlyQueries: everything an analyst or a BI tool reads with
// runs, and sees the data.
func TestServesReadOnlyQueries(t *testing.T) {
	w := openWarehouse(t)
	for _, stmt := range []string{
		"SELECT * FROM offers",
		"select id, title from offers where payout > 1 order by id",
		"FROM offers",
		"FROM offers SELECT id WHERE id = 2",
		"TABLE offers",
		"VALUES (1), (2)",
		"WITH x AS (SELECT id FROM offers) SELECT count(*) FROM x",
		"WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r",
		"SHOW TABLES",
		"SHOW ALL TABLES",
		"DESCRIBE offers",
		"SUMMARIZE offers",
		"SELECT * FROM pragma_table_info('offers')",
		"SELECT table_name FROM information_schema.tables",
		"SELECT * FROM duckdb_tables()",
		"SELECT * FROM duckdb_columns() WHERE table_name = 'offers'",
		"SELECT * FROM range(3)",
		"SELECT * FROM generate_series(1, 3)",
		"SELECT unnest([1, 2, 3])",
		"SELECT id, sum(payout) OVER (ORDER BY id) FROM offers",
		"SELECT random() < 2, now() IS NOT NULL, current_setting('memory_limit')",
		"/* a comment */ SeLeCt 1 -- another",
		"SELECT 1;",
		"  \n\tSELECT 'DROP TABLE offers; COPY x TO ''/tmp/y''' AS harmless_text",
		"SELECT * FROM offers UNION ALL SELECT * FROM offers",
		"SELECT x.* FROM (SELECT * FROM offers) x",
		"SELECT (SELECT max(id) FROM offers)",
		"SELECT * FROM offers AS a JOIN offers AS b USING (id)",
	} {
		before := w.fingerprint(t)
		out, err := w.run(stmt)
		if err != nil {
			t.Errorf("%s: %v", stmt, err)
			continue
		}
		if out == "" && !strings.Contains(stmt, "SHOW") {
			t.Errorf("%s: no rows", stmt)
		}
		if after := w.fingerprint(t); after != before {
			t.Errorf("%s changed the warehouse:\n%s\nvs\n%s", stmt, before, after)
		}
	}
}

// attacks are statements a hostile client sends. Every statement type
// DuckDB has appears at least once, then the tricks: spellings, comments,
// case, several statements, CTEs wrapping writes, side-effecting and file
// functions hidden in subqueries, strings and set operations.
func attacks(scratch, warehouse string) []string {
	out := func(name string) string { return "'" + filepath.Join(scratch, name) + "'" }
	return []string{
		// One of each statement type.
		"INSERT INTO offers VALUES (9, 'x', 1)",
		"INSERT OR REPLACE INTO offers VALUES (1, 'x', 1)",
		"UPDATE offers SET title = 'x'",
		"DELETE FROM offers",
		"DELETE FROM offers RETURNING *",
		"TRUNCATE offers",
		"MERGE INTO offers USING (SELECT 1 AS id) s ON s.id = offers.id WHEN MATCHED THEN DELETE",
		"EXPLAIN SELECT 1",
		"EXPLAIN ANALYZE SELECT 1",
		"EXPLAIN ANALYZE DELETE FROM offers",
		"EXPLAIN ANALYSE COPY (SELECT * FROM offers) TO " + out("leak.csv"),
		"EXPLAIN ANALYSE COPY (SELECT 1) TO '" + warehouse + "'",
		"explain analyse set memory_limit='10MB'",
		"EXPLAIN (ANALYZE) SELECT 1",
		"/**/EXPLAIN/**/ANALYSE/**/DELETE FROM offers",
		"PREPARE p AS SELECT 1",
		"EXECUTE p",
		"DEALLOCATE p",
		"CREATE TABLE x (a INT)",
		"CREATE TEMP TABLE x AS SELECT * FROM offers",
		"CREATE OR REPLACE VIEW offers_v AS SELECT 1",
		"CREATE MACRO m(a) AS a + 1",
		"CREATE FUNCTION f(a) AS a",
		"CREATE SEQUENCE s2",
		"CREATE TYPE mood AS ENUM ('a')",
		"CREATE INDEX i ON offers (id)",
		"CREATE SECRET (TYPE s3, KEY_ID 'k', SECRET 's')",
		"CREATE SCHEMA x",
		"ALTER TABLE offers ADD COLUMN x INT",
		"ALTER TABLE offers RENAME TO o2",
		"DROP TABLE offers",
		"DROP SEQUENCE s",
		"COMMENT ON TABLE offers IS 'x'",
		"BEGIN",
		"BEGIN TRANSACTION",
		"COMMIT",
		"ROLLBACK",
		"ABORT",
		"COPY offers TO " + out("x.csv"),
		"COPY offers TO " + out("x.parquet") + " (FORMAT parquet)",
		"COPY offers FROM '/etc/passwd'",
		"COPY FROM DATABASE w TO m",
		"ANALYZE",
		"ANALYZE offers",
		"SET VARIABLE v = 1",
		"SET memory_limit = '10MB'",
		"SET GLOBAL threads = 1",
		"SET SESSION TimeZone = 'Asia/Tokyo'",
		"SET enable_external_access = true",
		"SET lock_configuration = false",
		"RESET memory_limit",
		"RESET ALL",
		"USE memory",
		"EXPORT DATABASE " + out("export"),
		"IMPORT DATABASE " + out("export"),
		"PRAGMA table_info('offers')",
		"PRAGMA memory_limit = '10MB'",
		"PRAGMA enable_profiling",
		"PRAGMA show_tables",
		"VACUUM",
		"VACUUM ANALYZE offers",
		"CHECKPOINT",
		"FORCE CHECKPOINT",
		"CALL checkpoint()",
		"CALL force_checkpoint()",
		"CALL pragma_table_info('offers')",
		"CALL enable_logging()",
		"LOAD httpfs",
		"INSTALL httpfs",
		"FORCE INSTALL httpfs",
		"UPDATE EXTENSIONS",
		"ATTACH ':memory:' AS m",
		"ATTACH " + out("other.duckdb") + " AS o",
		"DETACH w",
		"DETACH DATABASE IF EXISTS m",
		"PIVOT offers ON title USING sum(payout)",
		// Several statements, comment and case tricks.
		"SELECT 1; DROP TABLE offers",
		"SELECT 1; SELECT 2",
		"SELECT 1 /* ; */; DELETE FROM offers",
		"SELECT 1 --\n; DELETE FROM offers",
		"SELECT 1\x00; DELETE FROM offers",
		"DeLeTe FrOm offers",
		"/* SELECT */ DELETE FROM offers",
		"-- SELECT\nDELETE FROM offers",
		"(DELETE FROM offers)",
		// CTEs wrapping writes.
		"WITH x AS (DELETE FROM offers RETURNING *) SELECT * FROM x",
		"WITH x AS (SELECT 1) DELETE FROM offers",
		"WITH x AS (SELECT 1 AS id) INSERT INTO offers SELECT id, 'x', 1 FROM x",
		"WITH x AS (UPDATE offers SET title = 'x' RETURNING *) SELECT 1",
		// Side effects through SELECT.
		"SELECT * FROM checkpoint()",
		"SELECT * FROM force_checkpoint()",
		"SELECT (SELECT count(*) FROM checkpoint())",
		"SELECT * FROM offers, LATERAL (SELECT * FROM force_checkpoint())",
		"SELECT 1 UNION ALL SELECT * FROM checkpoint()",
		"WITH c AS (SELECT * FROM checkpoint()) SELECT 1",
		"SELECT * FROM \"CHECKPOINT\"()",
		"SELECT * FROM main.checkpoint()",
		"SELECT * FROM query('SELECT * FROM force_checkpoint()')",
		"SELECT * FROM query('SELECT 1')",
		"SELECT * FROM query_table('offers')",
		"SELECT * FROM json_execute_serialized_sql(json_serialize_sql('SELECT 1'))",
		"SELECT * FROM arrow_scan(0, 0, 0)",
		"SELECT * FROM enable_logging()",
		"SELECT * FROM enable_profiling()",
		"SELECT * FROM truncate_duckdb_logs()",
		"SELECT nextval('s')",
		"SELECT setseed(0.5)",
		"SELECT write_log('x')",
		"SELECT id, NEXTVAL('s') FROM offers",
		"SELECT * FROM duckdb_secrets()",
		// Files and the network.
		"SELECT * FROM read_csv('/etc/passwd')",
		"SELECT * FROM read_csv_auto('/etc/passwd')",
		"SELECT * FROM read_text('/proc/self/environ')",
		"SELECT * FROM read_blob('/proc/self/environ')",
		"SELECT * FROM read_json('/etc/passwd')",
		"SELECT * FROM read_parquet('/tmp/x.parquet')",
		"SELECT * FROM read_parquet('" + warehouse + "')",
		"SELECT * FROM parquet_metadata('/tmp/x.parquet')",
		"SELECT * FROM sniff_csv('/etc/passwd')",
		"SELECT * FROM glob('/*')",
		"SELECT * FROM glob('" + scratch + "/*')",
		"SELECT * FROM read_duckdb('" + warehouse + "')",
		"FROM '/etc/passwd'",
		"SELECT * FROM '/etc/passwd'",
		"SELECT * FROM 'http://127.0.0.1:1/x.csv'",
		"SELECT * FROM read_csv('http://127.0.0.1:1/x.csv')",
		"SELECT * FROM offers WHERE id IN (SELECT 1 FROM read_text('/etc/passwd'))",
		"SELECT (SELECT content FROM read_text('/proc/self/environ'))",
	}
}

// TestRefusesAttacks: nothing a hostile client sends changes the warehouse,
// a setting or a file, and each refusal says so in one line.
func TestRefusesAttacks(t *testing.T) {
	w := openWarehouse(t)
	before := w.fingerprint(t)
	for _, stmt := range attacks(w.scratch, w.path) {
		_, err := w.run(stmt)
		switch {
		case err == nil:
			t.Errorf("accepted: %q", stmt)
		case strings.Contains(err.Error(), "\n") && errors.Is(err, sqlguard.ErrRejected):
			t.Errorf("%q: the refusal spans lines: %v", stmt, err)
		case !errors.Is(err, sqlguard.ErrRejected) && !errors.Is(err, sqlguard.ErrSyntax):
			// Only DuckDB's parser may refuse before the guard does
			// (a CTE around DELETE is not even valid SQL).
			t.Errorf("%q: refused by something other than the guard: %v", stmt, err)
		}
		if after := w.fingerprint(t); after != before {
			t.Fatalf("%q changed the warehouse:\n%s\nvs\n%s", stmt, before, after)
		}
	}
	if _, err := os.Stat(filepath.Join(w.scratch, "leak.csv")); err == nil {
		t.Error("leak.csv was written")
	}
}

// TestSandboxHoldsWithoutTheGuard: the third wall stands on its own. On the
// clients' pool, bypassing the checks, DuckDB itself refuses files and
// setting changes.
func TestSandboxHoldsWithoutTheGuard(t *testing.T) {
	w := openWarehouse(t)
	ctx := context.Background()
	for _, stmt := range []string{
		"SELECT * FROM read_text('/proc/self/environ')",
		"SELECT * FROM read_csv('/etc/passwd')",
		"SELECT * FROM glob('/*')",
		"COPY offers TO '" + filepath.Join(w.scratch, "x.csv") + "'",
		"SET memory_limit = '10MB'",
		"SET enable_external_access = true",
		"SET lock_configuration = false",
		"LOAD httpfs",
	} {
		if _, err := w.clients.ExecContext(ctx, stmt); err == nil {
			t.Errorf("the sandbox let %q through", stmt)
		}
	}
	// Loads, which read Arrow from memory and write the database file, go on.
	if _, err := w.sink.DB().ExecContext(ctx, "INSERT INTO offers VALUES (3, 'Gamma', 3)"); err != nil {
		t.Fatal(err)
	}
	out, err := w.run("SELECT * FROM offers WHERE id = 3")
	if err != nil || out != "row\n" {
		t.Fatalf("%q %v", out, err)
	}
}

// TestQueryTimeBound: a query that would run for hours ends when its
// context does.
func TestQueryTimeBound(t *testing.T) {
	w := openWarehouse(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := w.guard.RunReadOnly(ctx, "", "SELECT count(*) FROM range(1000000) a, range(1000000) b", func(rows *sql.Rows) error {
		for rows.Next() {
		}
		return rows.Err()
	})
	if err == nil {
		t.Fatal("a trillion-row join finished")
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Fatalf("interrupted only after %s", took)
	}
	// The pool is fine afterwards.
	if out, err := w.run("SELECT 1"); err != nil || out != "row\n" {
		t.Fatalf("after the timeout: %q %v", out, err)
	}
}

// FuzzRunReadOnly: whatever the text, the guard never panics and nothing it
// runs changes the warehouse, a setting or a file.
func FuzzRunReadOnly(f *testing.F) {
	w := openWarehouse(f)
	for _, s := range attacks(w.scratch, w.path) {
		f.Add(s)
	}
	f.Add("SELECT * FROM offers")
	f.Add("WITH x AS (SELECT 1) SELECT * FROM x")
	before := w.fingerprint(f)
	f.Fuzz(func(t *testing.T, stmt string) {
		// Short: the fuzzer's own deadline must not catch a worker inside
		// a mutated range(1e12).
		_, _ = w.runFor(stmt, time.Second)
		if after := w.fingerprint(t); after != before {
			t.Fatalf("%q changed the warehouse:\n%s\nvs\n%s", stmt, before, after)
		}
	})
}

// BenchmarkGuard: what the checks cost per statement, side by side with the
// same statement run on the clients' pool directly.
func BenchmarkGuard(b *testing.B) {
	w := openWarehouse(b)
	const stmt = "SELECT id, title FROM offers WHERE payout > 1 ORDER BY id"
	drain := func(rows *sql.Rows) error {
		for rows.Next() {
		}
		return rows.Err()
	}
	ctx := context.Background()
	b.Run("guarded", func(b *testing.B) {
		for b.Loop() {
			if err := w.guard.RunReadOnly(ctx, "", stmt, drain); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("direct", func(b *testing.B) {
		for b.Loop() {
			rows, err := w.clients.QueryContext(ctx, stmt)
			if err != nil {
				b.Fatal(err)
			}
			if err := drain(rows); err != nil {
				b.Fatal(err)
			}
			rows.Close()
		}
	})
}
