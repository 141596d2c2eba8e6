package pgserver

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/syncd/syncd/load/duckdb"
	"github.com/syncd/syncd/load/duckdb/sqlguard"
)

// testWarehouse is a sandboxed DuckDB warehouse as `syncd run` opens it,
// with a table and a view shaped like syncd's.
func testWarehouse(t testing.TB) (*duckdb.Sink, *sqlguard.Guard) {
	t.Helper()
	ctx := context.Background()
	sink, err := duckdb.Open(ctx, filepath.Join(t.TempDir(), "w.duckdb"), duckdb.Sandboxed(), duckdb.WithMemoryLimit("256MB"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sink.Close() })
	for _, q := range []string{
		`CREATE TABLE conversions (id VARCHAR NOT NULL, status VARCHAR, revenue DECIMAL(18,4), payout DECIMAL(18,4),
			created_at TIMESTAMP, offer_id BIGINT, country VARCHAR, raw JSON, _synced_at TIMESTAMP)`,
		`INSERT INTO conversions VALUES
			('c1', 'confirmed', 10.5, 7.25, '2025-06-01 10:00:00', 1, 'DE', '{"id":"c1"}', now()),
			('c2', 'pending', 3.0, 1.5, '2025-06-01 12:30:00', 2, 'FR', '{"id":"c2"}', now()),
			('c3', 'confirmed', 4.0, 2.0, '2025-06-02 08:00:00', 1, 'DE', '{"id":"c3"}', now())`,
		`CREATE VIEW daily_revenue AS SELECT CAST(created_at AS DATE) AS day, sum(revenue) AS revenue,
			sum(payout) AS payouts, count(*) AS conversions FROM conversions GROUP BY 1`,
		// A Parquet lake's tables are views over its files.
		`CREATE VIEW clicks AS SELECT 'k1' AS id, TIMESTAMP '2025-06-01 09:00:00' AS created_at`,
	} {
		if _, err := sink.DB().ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	clients, err := sink.ClientDB()
	if err != nil {
		t.Fatal(err)
	}
	return sink, sqlguard.New(clients)
}

func testRewriter() *rewriter {
	settings := map[string]string{"server_version_num": "150000", "search_path": "main"}
	return newRewriter(newRelations("syncd", []string{"conversions", "clicks"}), "syncd", "PostgreSQL 15.0 (syncd test)", 42, func(n string) (string, bool) {
		v, ok := settings[n]
		return v, ok
	})
}

// rows runs stmt through the guard and returns its rows as text.
func rows(t *testing.T, g *sqlguard.Guard, stmt string) ([][]string, error) {
	t.Helper()
	var out [][]string
	err := g.RunReadOnly(context.Background(), "", stmt, func(rs *sql.Rows) error {
		cols, _ := rs.Columns()
		for rs.Next() {
			vals := make([]sql.NullString, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rs.Scan(ptrs...); err != nil {
				return err
			}
			row := make([]string, len(cols))
			for i, v := range vals {
				row[i] = v.String
				if !v.Valid {
					row[i] = "NULL"
				}
			}
			out = append(out, row)
		}
		return rs.Err()
	})
	return out, err
}

// TestPsqlCatalogQueries: every query psql 15 sends for \dt, \dv, \d and
// \d conversions runs on DuckDB once rewritten, and answers what psql
// shows.
func TestPsqlCatalogQueries(t *testing.T) {
	_, g := testWarehouse(t)
	r := testRewriter()
	oid, err := rows(t, g, r.rewrite("SELECT oid FROM pg_catalog.pg_class WHERE relname = 'conversions'"))
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("testdata/psql15/*.sql")
	if len(files) == 0 {
		t.Fatal("no queries")
	}
	got := map[string][][]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		q := strings.ReplaceAll(string(b), "'16384'", "'"+oid[0][0]+"'")
		out, err := rows(t, g, r.rewrite(q))
		if err != nil {
			t.Errorf("%s: %v\n%s", f, err, r.rewrite(q))
			continue
		}
		got[filepath.Base(f)] = out
	}
	has := func(file string, row ...string) {
		t.Helper()
		for _, r := range got[file] {
			if strings.Join(r[:min(len(r), len(row))], "|") == strings.Join(row, "|") {
				return
			}
		}
		t.Errorf("%s: no row %q in %q", file, row, got[file])
	}
	has("dt.sql", "main", "conversions", "table", "syncd")
	has("dt.sql", "main", "clicks", "table", "syncd")
	has("dv.sql", "main", "daily_revenue", "view", "syncd")
	has("d.sql", "main", "daily_revenue", "view", "syncd")
	has("d-lookup.sql", oid[0][0], "main", "conversions")
	has("d-table.sql", "0", "r")
	has("d-columns.sql", "id", "text", "NULL", "true")
	has("d-columns.sql", "revenue", "numeric(18,4)", "NULL", "false")
	has("d-columns.sql", "created_at", "timestamp without time zone")
	for _, f := range []string{"dt.sql", "dv.sql"} {
		for _, r := range got[f] {
			if r[1] == "daily_revenue" && f == "dt.sql" || r[1] == "conversions" && f == "dv.sql" {
				t.Errorf("%s lists %s", f, r[1])
			}
		}
	}
}

// TestDriverCatalogQueries: the catalog idioms of BI tools and drivers
// (Grafana's table and column pickers, JDBC's getTables, SQLAlchemy's
// reflection) run and find the warehouse's tables.
func TestDriverCatalogQueries(t *testing.T) {
	_, g := testWarehouse(t)
	r := testRewriter()
	for _, c := range []struct{ q, want string }{
		// Grafana: the server's version, TimescaleDB's absence, schemas,
		// tables on the search path, a table's columns.
		{"SELECT current_setting('server_version_num')::int/100 AS version", "1500"},
		{"SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'", ""},
		{"SELECT schema_name FROM information_schema.schemata WHERE schema_name NOT IN ('information_schema', 'pg_catalog') ORDER BY 1", "main"},
		{`SELECT quote_ident(table_name) AS "table" FROM information_schema.tables
			WHERE quote_ident(table_schema) IN (SELECT CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END
			FROM generate_series(array_lower(string_to_array(current_setting('search_path'), ','), 1),
				array_upper(string_to_array(current_setting('search_path'), ','), 1)) AS i,
				string_to_array(current_setting('search_path'), ',') s)
			AND table_name = 'conversions'`, "conversions"},
		{`SELECT quote_ident(column_name) AS "column", data_type FROM information_schema.columns
			WHERE CASE WHEN array_length(parse_ident('main.conversions'), 1) = 2
				THEN quote_ident(table_schema) = (parse_ident('main.conversions'))[1] AND quote_ident(table_name) = (parse_ident('main.conversions'))[2]
				ELSE false END AND column_name = 'revenue'`, "revenue|DECIMAL(18,4)"},
		{"SELECT quote_ident('Mixed Case')", `"Mixed Case"`},
		// JDBC's getTables: pg_class and pg_namespace, a regclass literal.
		{`SELECT n.nspname, c.relname, CASE c.relkind WHEN 'r' THEN 'TABLE' WHEN 'v' THEN 'VIEW' END, d.description
			FROM pg_catalog.pg_namespace n, pg_catalog.pg_class c
			LEFT JOIN pg_catalog.pg_description d ON (c.oid = d.objoid AND d.objsubid = 0 AND d.classoid = 'pg_class'::regclass)
			WHERE c.relnamespace = n.oid AND c.relname LIKE 'daily%' ORDER BY 1, 2`, "main|daily_revenue|VIEW|NULL"},
		// SQLAlchemy: columns with their types and defaults.
		{`SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull, t.typname
			FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
			WHERE a.attrelid = (SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
				WHERE c.relname = 'conversions' AND n.nspname = 'main') AND a.attnum = 3`, "revenue|numeric(18,4)|false|numeric"},
		{"SELECT rolname FROM pg_roles", "syncd"},
		{"SELECT usename FROM pg_catalog.pg_user", "syncd"},
		{"SELECT datname FROM pg_database", "w"},
		{"SELECT 'conversions'::regclass::oid = (SELECT oid FROM pg_class WHERE relname = 'conversions'), 'pg_class'::regclass::oid", "true|1259"},
		{"SELECT pg_get_viewdef('daily_revenue'::regclass, true)", "SELECT CAST(created_at AS \"DATE\") AS \"day\", sum(revenue) AS revenue, sum(payout) AS payouts, count_star() AS conversions FROM conversions GROUP BY 1"},
		{"SELECT pg_get_function_sqlbody(1), pg_database_size('x'), CAST(array_remove([1, 2, NULL, 1], 1) AS VARCHAR)", "NULL|NULL|[2, NULL]"},
		{"SELECT typname FROM pg_type WHERE oid = 1184", "timestamptz"},
		{"SELECT 'Conversions' ~* 'conv', 'abc' ~ 'b', 'abc' !~ '^b'", "true|true|true"},
		{"SELECT pg_catalog.pg_get_userbyid(10), pg_backend_pid()", "syncd|42"},
	} {
		out, err := rows(t, g, r.rewrite(c.q))
		if err != nil {
			t.Errorf("%s: %v\n%s", c.q, err, r.rewrite(c.q))
			continue
		}
		var lines []string
		for _, row := range out {
			lines = append(lines, strings.Join(row, "|"))
		}
		if got := strings.Join(lines, "\n"); got != c.want {
			t.Errorf("%s:\n got  %q\n want %q", c.q, got, c.want)
		}
	}
}

// TestRewriteLeavesQueriesAlone: statements without PostgreSQL idioms
// reach DuckDB as written, whatever their strings and comments hold.
func TestRewriteLeavesQueriesAlone(t *testing.T) {
	r := testRewriter()
	for _, q := range []string{
		"SELECT * FROM conversions WHERE status = 'confirmed' ORDER BY created_at DESC LIMIT 10",
		"SELECT day, revenue FROM daily_revenue -- version()\nWHERE day > DATE '2025-01-01'",
		`SELECT '{0}' AS braces, 'pg_class' AS name, "user" FROM t`,
		"FROM conversions SELECT id",
		"SELECT $1, $$dollar 'quoted'$$, E'\\n'",
		"/* COLLATE pg_catalog.default */ SELECT 1",
	} {
		if got := r.rewrite(q); got != q {
			t.Errorf("rewrote %q\n into   %q", q, got)
		}
	}
}

// TestOIDsSurviveReplacement: a view the loader re-creates after a commit
// keeps its oid, so psql's \d, which finds a relation by name and then
// describes it by oid, never loses it in between.
func TestOIDsSurviveReplacement(t *testing.T) {
	sink, g := testWarehouse(t)
	r := testRewriter()
	lookup := r.rewrite("SELECT oid FROM pg_catalog.pg_class WHERE relname = 'daily_revenue'")
	before, err := rows(t, g, lookup)
	if err != nil || len(before) != 1 {
		t.Fatalf("%v %v", before, err)
	}
	if _, err := sink.DB().Exec("CREATE OR REPLACE VIEW daily_revenue AS SELECT CAST(created_at AS DATE) AS day, sum(revenue) AS revenue FROM conversions GROUP BY 1"); err != nil {
		t.Fatal(err)
	}
	after, err := rows(t, g, lookup)
	if err != nil || len(after) != 1 || after[0][0] != before[0][0] {
		t.Fatalf("oid %v, then %v (%v)", before, after, err)
	}
	cols, err := rows(t, g, r.rewrite("SELECT attname FROM pg_catalog.pg_attribute WHERE attrelid = '"+after[0][0]+"' AND attnum > 0 ORDER BY attnum"))
	if err != nil || len(cols) != 2 || cols[1][0] != "revenue" {
		t.Fatalf("columns by the oid: %v %v", cols, err)
	}
}
