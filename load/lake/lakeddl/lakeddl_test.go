package lakeddl_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/load/duckdb"
	"github.com/syncd/syncd/load/lake"
	"github.com/syncd/syncd/load/lake/bucket"
	"github.com/syncd/syncd/load/lake/lakeddl"
	"github.com/syncd/syncd/models"
)

var update = flag.Bool("update", false, "rewrite testdata/*.sql from the current output")

// registry is every stream's table, stats_daily with its default slices:
// what a default config declares.
func registry(t *testing.T) []models.Model {
	t.Helper()
	var ms []models.Model
	for _, s := range models.Registry() {
		m, err := s.Model(s.Defaults.Slices)
		if err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		ms = append(ms, m)
	}
	return ms
}

// outputCases are the outputs under test: every engine over an s3:// and a
// local lake, but Athena, which reads S3 only.
type outputCase struct{ engine, kind, location string }

func outputCases() []outputCase {
	var out []outputCase
	for _, e := range lakeddl.Engines() {
		out = append(out, outputCase{e, "s3", "s3://example-bucket/affise-lake"})
		if e != "athena" {
			out = append(out, outputCase{e, "local", "/srv/affise-lake"})
		}
	}
	return out
}

// The whole output of each engine is reviewed once and then held still:
// a change shows as a diff of testdata/ (go test -update rewrites it).
func TestGolden(t *testing.T) {
	ms := registry(t)
	for _, c := range outputCases() {
		t.Run(c.engine+"_"+c.kind, func(t *testing.T) {
			got, err := lakeddl.Statements(c.engine, c.location, ms)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", c.engine+"_"+c.kind+".sql")
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to write it)", err)
			}
			if got != string(want) {
				t.Errorf("output differs from %s (go test -update rewrites it; review the diff):\n%s", path, got)
			}
		})
	}
}

// wantType is each engine's type for each Arrow type the models use,
// written out independently of the code under test. A model using a type
// missing here fails TestStructure, so a new type gets a reviewed mapping.
func wantType() map[string]map[string]string {
	return map[string]map[string]string{
		"utf8":                  {"trino": "varchar", "athena": "string", "spark": "STRING", "clickhouse": "String"},
		"int64":                 {"trino": "bigint", "athena": "bigint", "spark": "BIGINT", "clickhouse": "Int64"},
		"int32":                 {"trino": "integer", "athena": "int", "spark": "INT", "clickhouse": "Int32"},
		"float64":               {"trino": "double", "athena": "double", "spark": "DOUBLE", "clickhouse": "Float64"},
		"decimal(18, 4)":        {"trino": "decimal(18,4)", "athena": "decimal(18,4)", "spark": "DECIMAL(18,4)", "clickhouse": "Decimal(18, 4)"},
		"timestamp[us, tz=UTC]": {"trino": "timestamp(6)", "athena": "timestamp", "spark": "TIMESTAMP_NTZ", "clickhouse": "DateTime64(6, 'UTC')"},
		"date32":                {"trino": "date", "athena": "date", "spark": "DATE", "clickhouse": "Date32"},
		"bool":                  {"trino": "boolean", "athena": "boolean", "spark": "BOOLEAN", "clickhouse": "Bool"},
	}
}

// Every table, every column with its mapped type, the partition column
// where (and only where) the files are in date= directories, and no path
// outside the lake.
func TestStructure(t *testing.T) {
	ms := registry(t)
	for _, c := range outputCases() {
		t.Run(c.engine+"_"+c.kind, func(t *testing.T) {
			out, err := lakeddl.Statements(c.engine, c.location, ms)
			if err != nil {
				t.Fatal(err)
			}
			if c.engine == "clickhouse" && c.kind == "local" {
				// file()'s structure is a string literal: read it unescaped.
				out = strings.ReplaceAll(out, "''", "'")
			}
			creates := createStatements(t, out)
			var tables []string
			for _, m := range ms {
				tables = append(tables, m.Table())
				stmt, ok := creates[m.Table()]
				if !ok {
					t.Errorf("%s: no CREATE", m.Table())
					continue
				}
				checkColumns(t, c.engine, m, stmt)
				checkPartition(t, c.engine, m, stmt, out)
			}
			for name := range creates {
				if !slices.Contains(tables, name) {
					t.Errorf("CREATE of %s, which is no model's table", name)
				}
			}
			checkLocations(t, c.location, tables, out)
		})
	}
}

// createStatements maps each table to the statement creating it: the
// script's statements are separated by blank lines, and comments are
// dropped.
func createStatements(t *testing.T, out string) map[string]string {
	t.Helper()
	nameRe := regexp.MustCompile("^CREATE (?:OR REPLACE |EXTERNAL )?(?:VIEW|TABLE)(?: IF NOT EXISTS)? .*[\"`]([a-z_0-9]+)[\"`](?: AS| \\()$")
	creates := map[string]string{}
	for _, chunk := range strings.Split(out, "\n\n") {
		var lines []string
		for _, l := range strings.Split(chunk, "\n") {
			if !strings.HasPrefix(l, "--") {
				lines = append(lines, l)
			}
		}
		if len(lines) == 0 || !strings.HasPrefix(lines[0], "CREATE ") ||
			strings.HasPrefix(lines[0], "CREATE SCHEMA") || strings.HasPrefix(lines[0], "CREATE DATABASE") {
			continue
		}
		m := nameRe.FindStringSubmatch(lines[0])
		if m == nil {
			t.Errorf("cannot tell the table of %q", lines[0])
			continue
		}
		if _, dup := creates[m[1]]; dup {
			t.Errorf("%s created twice", m[1])
		}
		creates[m[1]] = strings.Join(lines, "\n")
	}
	return creates
}

func quoted(engine, name string) string {
	if engine == "duckdb" || engine == "trino" {
		return `"` + name + `"`
	}
	return "`" + name + "`"
}

func checkColumns(t *testing.T, engine string, m models.Model, stmt string) {
	t.Helper()
	types := wantType()
	for _, f := range m.Schema().Fields() {
		if f.Name == models.NetworkColumn && len(partitionColumns(engine, m)) > 0 {
			continue // a partition column there: checkPartition
		}
		if engine == "duckdb" {
			// Types are the files' own: TestDuckDBViewsMatchWarehouse.
			if !regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(quoted(engine, f.Name)) + `,?$`).MatchString(stmt) {
				t.Errorf("%s: column %s not selected", m.Table(), f.Name)
			}
			continue
		}
		ty, ok := types[f.Type.String()][engine]
		if !ok {
			t.Fatalf("%s.%s: no expected %s type for Arrow %s", m.Table(), f.Name, engine, f.Type)
		}
		if engine == "clickhouse" && f.Nullable {
			ty = "Nullable(" + ty + ")"
		}
		re := regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(quoted(engine, f.Name)+" "+ty) + `,?$`)
		if !re.MatchString(stmt) {
			t.Errorf("%s: no column line %s %s in\n%s", m.Table(), quoted(engine, f.Name), ty, stmt)
		}
	}
}

// partitionColumns are the partition columns engine declares for m:
// network for every table, then date (or partition_date where the table
// has its own date column) for the tables in date= directories; Spark
// reads the tables with their own date column unpartitioned; DuckDB and
// ClickHouse never add a column.
func partitionColumns(engine string, m models.Model) []string {
	day := m.DayColumn() != ""
	own := len(m.Schema().FieldIndices("date")) > 0
	switch {
	case engine == "duckdb" || engine == "clickhouse" || (engine == "spark" && own && day):
		return nil
	case !day:
		return []string{"network"}
	case own:
		return []string{"network", "partition_date"}
	}
	return []string{"network", "date"}
}

// checkPartition: Trino, Athena and Spark declare partitionColumns, and
// make them known by syncing (Trino), projecting (Athena; Trino for the
// tables with a date column of their own) or recovering them (Spark).
func checkPartition(t *testing.T, engine string, m models.Model, stmt, out string) {
	t.Helper()
	day := m.DayColumn() != ""
	own := len(m.Schema().FieldIndices("date")) > 0
	parts := partitionColumns(engine, m)
	declared := map[string]string{
		"trino": `(?m)^  "%s" varchar(,| WITH \()?$`,
		"spark": "(?m)^  `%s` STRING,?$",
	}
	for _, name := range []string{"network", "date", "partition_date"} {
		want := slices.Contains(parts, name)
		var has bool
		switch engine {
		case "trino", "spark":
			has = regexp.MustCompile(fmt.Sprintf(declared[engine], name)).MatchString(stmt)
		case "athena":
			has = regexp.MustCompile("(?m)^PARTITIONED BY \\(.*`" + name + "` string.*\\)$").MatchString(stmt)
		default:
			continue
		}
		if name == "network" && engine == "spark" && len(parts) == 0 {
			continue // read unpartitioned: network is a column of the files
		}
		if name == "date" && own && engine != "athena" {
			// The table's own date column is a column line too.
			continue
		}
		if has != want {
			t.Errorf("%s: partition column %s declared: %v, want %v", m.Table(), name, has, want)
		}
	}
	if engine == "athena" {
		var q []string
		for _, p := range parts {
			q = append(q, "`"+p+"` string")
		}
		if want := "PARTITIONED BY (" + strings.Join(q, ", ") + ")"; !strings.Contains(stmt, want) {
			t.Errorf("%s: no %s in\n%s", m.Table(), want, stmt)
		}
	}
	if !own && strings.Contains(stmt, "partition_date") {
		t.Errorf("%s: partition_date without a column named date", m.Table())
	}
	// What makes the partitions known, for partitioned tables only.
	sync := fmt.Sprintf("table_name => '%s'", m.Table())
	msck := "MSCK REPAIR TABLE `affise`.`" + m.Table() + "`;"
	projected := engine == "athena" || engine == "trino" && own && day
	if got, want := strings.Contains(out, sync), engine == "trino" && !projected; got != want {
		t.Errorf("%s: sync_partition_metadata: %v, want %v", m.Table(), got, want)
	}
	if got, want := strings.Contains(out, msck), engine == "spark" && len(parts) > 0; got != want {
		t.Errorf("%s: MSCK REPAIR: %v, want %v", m.Table(), got, want)
	}
	if engine == "spark" && day && own && !strings.Contains(stmt, "'recursiveFileLookup' = 'true'") {
		t.Errorf("%s: unpartitioned over date= directories without recursiveFileLookup", m.Table())
	}
	if got := strings.Contains(stmt, "projection"); got != projected {
		t.Errorf("%s: partition projection: %v, want %v", m.Table(), got, projected)
	}
	if projected && !strings.Contains(stmt, "'default'") {
		t.Errorf("%s: the projected networks do not list default", m.Table())
	}
}

// checkLocations: every path in a string literal is a table's directory
// under the lake, or a glob or template below it.
func checkLocations(t *testing.T, location string, tables []string, out string) {
	t.Helper()
	var code []string
	for _, l := range strings.Split(out, "\n") {
		if !strings.HasPrefix(l, "--") {
			code = append(code, l)
		}
	}
	seen := map[string]bool{}
	for _, m := range regexp.MustCompile(`'((?:[^']|'')*)'`).FindAllStringSubmatch(strings.Join(code, "\n"), -1) {
		s := strings.TrimPrefix(m[1], "file://")
		if !strings.HasPrefix(s, "/") && !strings.Contains(s, "://") {
			continue
		}
		rest, ok := strings.CutPrefix(s, location+"/")
		table, _, _ := strings.Cut(rest, "/")
		if !ok || !slices.Contains(tables, table) {
			t.Errorf("location %q is not a table's under %s", m[1], location)
			continue
		}
		seen[table] = true
	}
	for _, table := range tables {
		if !seen[table] {
			t.Errorf("%s: no location", table)
		}
	}
}

func TestErrors(t *testing.T) {
	ms := []models.Model{models.Conversions()}
	for _, c := range []struct{ engine, location, want string }{
		{"postgres", "/srv/lake", "duckdb, trino, athena, spark, clickhouse"},
		{"", "/srv/lake", "unknown engine"},
		{"duckdb", "lake", "relative"},
		{"duckdb", "./lake", "relative"},
		{"duckdb", "", "no location"},
		{"duckdb", "/", "root directory"},
		{"trino", "s3://", "no bucket"},
		{"trino", "s3:///prefix", "no bucket"},
		{"trino", "s3://b//p", "path segment"},
		{"trino", "s3://b/../p", "path segment"},
		{"trino", "gs://bucket/lake", "only local directories and s3://"},
		{"spark", "/srv/it's", "not allowed"},
		{"spark", "/srv/lake*", "not allowed"},
		{"spark", "/srv/${x}", "not allowed"},
		{"spark", "/srv/a\nb", "not allowed"},
		{"athena", "/srv/lake", "s3://"},
	} {
		_, err := lakeddl.Statements(c.engine, c.location, ms)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Statements(%q, %q) = %v, want an error saying %q", c.engine, c.location, err, c.want)
		}
	}
}

// A trailing slash and redundant path elements name the same lake.
func TestLocationNormalised(t *testing.T) {
	ms := []models.Model{models.Offers()}
	for in, want := range map[string]string{
		"/srv/lake/":          "'/srv/lake/offers/network=*/*.parquet'",
		"/srv/./x/../lake":    "'/srv/lake/offers/network=*/*.parquet'",
		"s3://bucket/lake///": "'s3://bucket/lake/offers/network=*/*.parquet'",
		"s3://bucket":         "'s3://bucket/offers/network=*/*.parquet'",
	} {
		out, err := lakeddl.Statements("duckdb", in, ms)
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("Statements(duckdb, %q) = %v, want it to read %s:\n%s", in, err, want, out)
		}
	}
}

// The DuckDB script, run in a real DuckDB over a lake the lake sink wrote,
// gives each table exactly the columns, types and rows that the DuckDB
// warehouse holds after the same loads: a query written for one runs on
// the other.
func TestDuckDBViewsMatchWarehouse(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	lakeDir := filepath.Join(dir, "lake")
	whPath := filepath.Join(dir, "warehouse.duckdb")

	stats, err := models.ByName("stats_daily", []string{"day", "offer", "country"})
	if err != nil {
		t.Fatal(err)
	}
	loads := []struct {
		m      models.Model
		target load.Target
		objs   []string
	}{
		{models.Conversions(), load.Target{Mode: models.Upsert}, conversions(7)},
		{models.Offers(), load.Target{Mode: models.ReplaceTable}, []string{
			`{"id":1,"offer_id":"5bdffa7339f65625008b0001","title":"One","advertiser":"5bc9d7c16d73e41c008b4567","status":"active","privacy":"public","payments":[{"currency":"usd"}],"created_at":"2018-11-05 11:08:19"}`,
			`{"id":2,"offer_id":"5bdffa7339f65625008b0002","title":"Two","advertiser":{"id":"5bc9d7c16d73e41c008b4568"},"status":"stopped","privacy":"private","payments":[],"created_at":null}`,
		}},
		// A column named date, like the partition directories' key.
		{models.ServerPostbacks(), load.Target{Mode: models.Upsert}, []string{
			`{"_id":{"$id":"6e0b1a"},"date":{"sec":1735725600,"usec":35000},"track":{"click_id":"k1","offer":{"id":"934"},"partner":{"id":"610"},"conversion_id":"c1"}}`,
			`{"_id":{"$id":"6e0b1b"},"date":{"sec":1735819200,"usec":0},"track":{"click_id":"k2","offer_id":"935","partner_id":"611"}}`,
		}},
		// A DATE day column.
		{stats, load.Target{Mode: models.ReplaceDays, From: day(t, "2025-01-01"), To: day(t, "2025-01-03")}, []string{
			`{"slice":{"year":2025,"month":1,"day":1,"offer":{"id":71},"country":"IT"},"traffic":{"raw":"10","uniq":"9"},"actions":{"total":{"revenue":12.5,"charge":13,"earning":0.5,"count":2}}}`,
			`{"slice":{"year":2025,"month":1,"day":2,"offer":{"id":72},"country":{"code":"DE"}},"traffic":{"raw":4,"uniq":4},"actions":{}}`,
		}},
	}

	lb, err := bucket.OpenDir(lakeDir)
	if err != nil {
		t.Fatal(err)
	}
	lk, err := lake.Open(ctx, lb, "syncd test")
	if err != nil {
		t.Fatal(err)
	}
	wh, err := duckdb.Open(ctx, whPath)
	if err != nil {
		t.Fatal(err)
	}
	var ms []models.Model
	for _, l := range loads {
		ms = append(ms, l.m)
		rec := build(t, l.m, l.objs)
		for _, s := range []load.Sink{lk, wh} {
			tg := l.target
			tg.Model = l.m
			commit(ctx, t, s, tg, rec)
		}
		rec.Release()
	}
	for _, s := range []load.Sink{lk, wh} {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}

	script, err := lakeddl.Statements("duckdb", lakeDir, ms)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // ATTACH is per connection
	if _, err := db.ExecContext(ctx, script); err != nil {
		t.Fatalf("the script fails: %v\n%s", err, script)
	}
	if _, err := db.ExecContext(ctx, fmt.Sprintf("ATTACH '%s' AS wh (READ_ONLY)", whPath)); err != nil {
		t.Fatal(err)
	}
	for _, l := range loads {
		table := l.m.Table()
		lakeCols := columns(ctx, t, db, "memory", table)
		whCols := columns(ctx, t, db, "wh", table)
		if len(whCols) != l.m.Schema().NumFields() {
			t.Fatalf("%s: the warehouse has columns %v", table, whCols)
		}
		if !slices.Equal(lakeCols, whCols) {
			t.Errorf("%s: view columns\n  %v\nwarehouse columns\n  %v", table, lakeCols, whCols)
		}
		var nLake, nWh, onlyLake, onlyWh int
		q := func(query string, n *int) {
			if err := db.QueryRowContext(ctx, query).Scan(n); err != nil {
				t.Fatalf("%s: %v", query, err)
			}
		}
		q(`SELECT count(*) FROM memory.main."`+table+`"`, &nLake)
		q(`SELECT count(*) FROM wh.main."`+table+`"`, &nWh)
		q(`SELECT count(*) FROM (FROM memory.main."`+table+`" EXCEPT ALL FROM wh.main."`+table+`")`, &onlyLake)
		q(`SELECT count(*) FROM (FROM wh.main."`+table+`" EXCEPT ALL FROM memory.main."`+table+`")`, &onlyWh)
		if nLake != len(l.objs) || nWh != len(l.objs) || onlyLake != 0 || onlyWh != 0 {
			t.Errorf("%s: %d rows through the view, %d in the warehouse (want %d); %d only in the lake, %d only in the warehouse",
				table, nLake, nWh, len(l.objs), onlyLake, onlyWh)
		}
	}
}

// conversions are n conversions over three days, some fields null.
func conversions(n int) []string {
	var out []string
	for i := range n {
		upd := "null"
		if i%2 == 0 {
			upd = fmt.Sprintf(`"2025-01-0%d 12:00:00"`, 1+i%3)
		}
		out = append(out, fmt.Sprintf(`{"id":"c%d","status":"confirmed","currency":"USD","offer_id":71,"partner":{"id":12},
			"revenue":4.5,"payouts":3,"earnings":"1.5","country":"IT","sub1":"s%d",
			"created_at":"2025-01-0%d 10:00:0%d","click_time":null,"updated_at":%s}`, i, i, 1+i%3, i, upd))
	}
	return out
}

func build(t *testing.T, m models.Model, objs []string) arrow.RecordBatch {
	t.Helper()
	b := m.NewBuilder(memory.DefaultAllocator, models.DefaultNetwork, time.UTC, time.Date(2025, 2, 1, 6, 0, 0, 0, time.UTC))
	defer b.Release()
	for _, o := range objs {
		if err := b.Append(json.RawMessage(o)); err != nil {
			t.Fatalf("%s: %v", m.Table(), err)
		}
	}
	return b.NewRecord()
}

func commit(ctx context.Context, t *testing.T, s load.Sink, tg load.Target, rec arrow.RecordBatch) {
	t.Helper()
	tx, err := s.Begin(ctx, tg)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if err := tx.Write(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Commit(ctx, nil); err != nil {
		t.Fatal(err)
	}
}

// columns lists a table's or view's columns as "name TYPE", in order.
func columns(ctx context.Context, t *testing.T, db *sql.DB, catalog, table string) []string {
	t.Helper()
	rows, err := db.QueryContext(ctx, `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_catalog = ? AND table_schema = 'main' AND table_name = ? ORDER BY ordinal_position`, catalog, table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			t.Fatal(err)
		}
		out = append(out, name+" "+typ)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func day(t *testing.T, s string) time.Time {
	t.Helper()
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
