package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/syncd/syncd/internal/fixtures"
	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/models"
)

// withMigrations replaces the declared migrations, so tests can run lists
// that fail or go further than this build.
func withMigrations(list []Migration) Option {
	return func(o *options) { o.migrations = list }
}

// fixtureV1 is the v1 warehouse (internal/fixtures) in a temporary
// directory.
func fixtureV1(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "wh", "affise.duckdb")
	fixtures.WarehouseV1(t, path)
	return path
}

// rawQuery runs q on the file opened read-only by the driver alone, so no
// Open (and no migration) is involved in looking.
func rawQuery(t testing.TB, path, q string) []string {
	t.Helper()
	db, err := sql.Open("duckdb", path+"?access_mode=READ_ONLY")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	return queryDB(t, db, q)
}

var fixtureTables = []string{"conversions", "clicks", "server_postbacks", "affiliate_postbacks", "stats_daily", "offers", "partners", "advertisers", "_syncd_state", "_syncd_runs"}

// snapshot is every fixture table's row count and content checksum, the
// cursors and the views (but the <table>_raw views Open adds): what no
// migration so far may change.
func snapshot(t testing.TB, path string) []string {
	t.Helper()
	var qs []string
	for _, table := range fixtureTables {
		// Columns a migration added are left out, so the rows compare
		// with the fixture's; TestUpgradeV1Fixture checks their values.
		// raw is rewritten by migration 5: TestUpgradeV1Fixture compares
		// the whole objects its views give back with the fixture's raw.
		var skip []string
		if added := addedColumns[table]; len(added) > 0 && hasColumn(t, path, table, added[0]) {
			skip = append(skip, added...)
		}
		if hasColumn(t, path, table, "raw") {
			skip = append(skip, "raw")
		}
		if hasColumn(t, path, table, models.NetworkColumn) {
			skip = append(skip, models.NetworkColumn) // migration 8
		}
		src := table
		if len(skip) > 0 {
			src = fmt.Sprintf("(SELECT * EXCLUDE (%s) FROM %s)", strings.Join(skip, ", "), table)
		}
		qs = append(qs, fmt.Sprintf(`SELECT '%[1]s', count(*), coalesce(sum(hash(t)), 0) FROM %[2]s t`, table, src))
	}
	out := rawQuery(t, path, strings.Join(qs, " UNION ALL ")+" ORDER BY 1")
	out = append(out, rawQuery(t, path, `SELECT stream, position, meta, updated_at FROM _syncd_state ORDER BY stream`)...)
	return append(out, rawQuery(t, path, `SELECT string_agg(view_name, ',' ORDER BY view_name) FROM duckdb_views() WHERE NOT internal AND NOT suffix(view_name, '_raw')`)...)
}

// addedColumns are the columns migrations added to the fixture's tables.
var addedColumns = map[string][]string{
	"stats_daily": {"currency"},
	// migration 7
	"conversions": {"conversion_id", "cbid", "ip", "ua", "country_name", "isp_code", "device_type",
		"goal_value", "payment_type", "is_paid", "fraud_risk_level", "decline_reason", "supplier_id",
		"referrer", "ref_id", "comment", "city_id", "landing_id", "prelanding_id", "sum",
		"custom_field_1", "custom_field_2", "custom_field_3", "custom_field_4", "custom_field_5",
		"custom_field_6", "custom_field_7", "offer", "partner", "advertiser", "fraud_type"},
	"clicks": {"click_id", "cbid", "ua", "country_name", "city", "region_name", "isp_code",
		"device", "device_fullname", "device_model", "os_version", "os_fullname", "browser_version",
		"browser_fullname", "connection_type", "referrer", "idfa", "smart_id", "ref_id", "os_id",
		"user_id", "ext1", "ext2", "ext3", "unid", "supplier_manager_id", "city_id", "region_id", "isp",
		"offer", "partner", "landing", "prelanding"},
	"server_postbacks":    {"get", "post", "server", "response", "_get", "_post", "track"},
	"affiliate_postbacks": {"job_id"},
	"_syncd_runs":         {"rows_read", "rows_inserted", "rows_updated", "rows_unchanged", "retries", "cursor_before", "cursor_after"},
}

func hasColumn(t testing.TB, path, table, column string) bool {
	t.Helper()
	return rawQuery(t, path, fmt.Sprintf(`SELECT count(*) FROM duckdb_columns() WHERE table_name = '%s' AND column_name = '%s'`, table, column))[0] == "1"
}

func version(t testing.TB, path string) string {
	t.Helper()
	return strings.Join(rawQuery(t, path, `SELECT value FROM _syncd_meta WHERE key = 'schema_version'`), ",")
}

func history(t testing.TB, path string) []string {
	t.Helper()
	return rawQuery(t, path, `SELECT version, name, applied_at IS NOT NULL FROM _syncd_migrations ORDER BY version`)
}

func hasTable(t testing.TB, path, table string) bool {
	t.Helper()
	return rawQuery(t, path, fmt.Sprintf(`SELECT count(*) FROM duckdb_tables() WHERE table_name = '%s'`, table))[0] == "1"
}

func realHistory() []string {
	var out []string
	for _, m := range migrations {
		out = append(out, fmt.Sprintf("%d|%s|true", m.Version, m.Name))
	}
	return out
}

func oneLine(t testing.TB, err error) {
	t.Helper()
	if err == nil || strings.Contains(err.Error(), "\n") {
		t.Fatalf("want an error of one line, got %q", err)
	}
}

func TestMigrationsAreDeclaredInOrder(t *testing.T) {
	if err := checkMigrations(migrations); err != nil {
		t.Fatal(err)
	}
	if migrations[0].Version != 2 || SchemaVersion() != migrations[len(migrations)-1].Version {
		t.Fatalf("migrations start at %d, SchemaVersion() %d", migrations[0].Version, SchemaVersion())
	}
	up := func(context.Context, *sql.Tx) error { return nil }
	for name, list := range map[string][]Migration{
		"gap":        {migrations[0], {Version: 4, Name: "x", Up: up}},
		"reordered":  {{Version: 3, Name: "x", Up: up}, migrations[0]},
		"duplicate":  {migrations[0], migrations[0]},
		"no history": {{Version: 3, Name: "x", Up: up}},
		"no Up":      {migrations[0], {Version: 3, Name: "x"}},
	} {
		if err := checkMigrations(list); err == nil {
			t.Errorf("%s: accepted", name)
		}
		if _, err := Open(bg, filepath.Join(t.TempDir(), "x.duckdb"), withMigrations(list)); err == nil {
			t.Errorf("%s: Open accepted the list", name)
		}
	}
}

// TestNewWarehouseStartsAtLatest: a new file is at this build's version at
// once, with the same history an upgraded one has.
func TestNewWarehouseStartsAtLatest(t *testing.T) {
	s, path := openTest(t)
	eq(t, queryStrings(t, s, `SELECT value FROM _syncd_meta WHERE key = 'schema_version'`), []string{fmt.Sprint(SchemaVersion())})
	eq(t, queryStrings(t, s, `SELECT version, name, applied_at IS NOT NULL FROM _syncd_migrations ORDER BY version`), realHistory())
	eq(t, queryStrings(t, s, `SELECT count(*) FROM duckdb_tables() WHERE table_name IN ('_syncd_state', '_syncd_runs')`), []string{"2"})
	s.Close()
	ro, err := Open(bg, path, ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	ro.Close()
}

// TestUpgradeV1Fixture: the file the release before migrations wrote
// opens, migrates to the latest version, keeps every row, cursor and view,
// and every stream's table matches this build's model (so a model change
// without its migration fails here).
func TestUpgradeV1Fixture(t *testing.T) {
	path := fixtureV1(t)
	eq(t, []string{version(t, path)}, []string{"1"})
	if hasTable(t, path, "_syncd_migrations") {
		t.Fatal("the v1 fixture already has _syncd_migrations")
	}
	before := snapshot(t, path)
	objects := fixtureObjects(t, path, "")

	s, err := Open(bg, path)
	if err != nil {
		t.Fatal(err)
	}
	for _, stream := range models.Names() {
		m, err := models.ByName(stream, []string{"day", "offer", "partner", "country"})
		if err != nil {
			t.Fatal(err)
		}
		mode := models.Upsert
		if stream == "stats_daily" {
			mode = models.ReplaceTable
		}
		tx, err := s.Begin(bg, load.Target{Model: m, Mode: mode})
		if err != nil {
			t.Errorf("%s: %v", stream, err)
			continue
		}
		_ = tx.Rollback()
	}
	s.Close()

	eq(t, []string{version(t, path)}, []string{fmt.Sprint(SchemaVersion())})
	eq(t, history(t, path), realHistory())
	eq(t, snapshot(t, path), before)
	// Migration 8: network is every table's first column, NOT NULL,
	// 'default' on every row held, and in the cursors' key; the stream
	// tables' columns are in the model's order.
	for _, table := range append(fixtureTables, "_syncd_changed") {
		eq(t, rawQuery(t, path, `SELECT column_name, is_nullable FROM duckdb_columns() WHERE table_name = '`+table+`' ORDER BY column_index LIMIT 1`),
			[]string{"network|false"})
		if got := rawQuery(t, path, `SELECT DISTINCT network FROM `+table); len(got) > 0 {
			eq(t, got, []string{models.DefaultNetwork})
		}
	}
	conv := models.Conversions()
	var want []string
	for _, f := range conv.Schema().Fields() {
		want = append(want, f.Name)
	}
	eq(t, rawQuery(t, path, `SELECT column_name FROM duckdb_columns() WHERE table_name = 'conversions' ORDER BY column_index`), want)
	eq(t, rawQuery(t, path, `SELECT CAST(constraint_column_names AS VARCHAR) FROM duckdb_constraints() WHERE table_name = '_syncd_state' AND constraint_type = 'PRIMARY KEY'`),
		[]string{"[network, stream]"})
	// The rows held before per-currency stats keep their mixed meaning.
	eq(t, rawQuery(t, path, `SELECT DISTINCT currency FROM stats_daily`), []string{""})
	// Passes recorded before their summary have none: NULL, not 0.
	eq(t, rawQuery(t, path, `SELECT count(*) FILTER (WHERE rows_read IS NULL AND rows_inserted IS NULL AND rows_updated IS NULL
		AND rows_unchanged IS NULL AND retries IS NULL AND cursor_before IS NULL AND cursor_after IS NULL), count(*) FROM _syncd_runs`), []string{"8|8"})
	// The columns migration 7 added hold what raw held (the fixture's
	// conversions have every one of these members), and raw no longer does.
	eq(t, rawQuery(t, path, `SELECT count(*) FILTER (WHERE ua IS NOT NULL AND ip IS NOT NULL AND city_id IS NOT NULL
		AND json_extract_string(offer, '$.title') IS NOT NULL AND (partner ->> 'email') IS NOT NULL AND advertiser IS NOT NULL
		AND raw NOT LIKE '%"ua"%' AND raw NOT LIKE '%"offer"%'), count(*) FROM conversions`), []string{"300|300"})
	eq(t, rawQuery(t, path, `SELECT count(*) FILTER (WHERE ua IS NOT NULL AND region_id IS NOT NULL AND (landing ->> 'url') IS NOT NULL
		AND (partner ->> 'email') IS NOT NULL AND raw NOT LIKE '%"ua"%' AND raw NOT LIKE '%"offer"%'), count(*) FROM clicks`), []string{"1500|1500"})
	// raw now holds what no typed column holds, and each <table>_raw view
	// gives back every row's object as the fixture held it, member for
	// member (numbers by value).
	after := fixtureObjects(t, path, "_raw")
	for table, rows := range objects {
		if len(after[table]) != len(rows) {
			t.Errorf("%s_raw: %d rows, the fixture %d", table, len(after[table]), len(rows))
		}
		var was, is int
		for k, obj := range rows {
			if !jsonEqual(t, []byte(after[table][k]), []byte(obj)) {
				t.Errorf("%s %s: rebuilt %s\nthe fixture's %s", table, k, after[table][k], obj)
			}
			was += len(obj)
		}
		is, _ = strconv.Atoi(rawQuery(t, path, "SELECT sum(strlen(raw)) FROM "+table)[0])
		if is >= was {
			t.Errorf("%s: raw holds %d bytes after the upgrade, %d before", table, is, was)
		}
		t.Logf("%s: raw %d -> %d bytes", table, was, is)
	}
}

// fixtureObjects maps each folded table's rows (by key) to raw as read from
// the table plus suffix (the table, or its _raw view).
func fixtureObjects(t testing.TB, path, suffix string) map[string]map[string]string {
	t.Helper()
	db, err := sql.Open("duckdb", path+"?access_mode=READ_ONLY")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string]map[string]string{}
	for _, d := range models.Registry() {
		m, err := d.Model(d.Defaults.Slices)
		if err != nil {
			t.Fatal(err)
		}
		if len(models.Folds(m)) == 0 || !hasTable(t, path, m.Table()) {
			continue
		}
		rows, err := db.Query(fmt.Sprintf("SELECT CAST(%s AS VARCHAR), raw FROM %s", quoteIdent(m.Key()[len(m.Key())-1]), quoteIdent(m.Table()+suffix)))
		if err != nil {
			t.Fatal(err)
		}
		out[m.Table()] = map[string]string{}
		for rows.Next() {
			var k, raw string
			if err := rows.Scan(&k, &raw); err != nil {
				t.Fatal(err)
			}
			out[m.Table()][k] = raw
		}
		rows.Close()
	}
	return out
}

// TestReadOnlyOpenOfOlderWarehouseIsRefused: `syncd query` and `syncd
// state` do not read an older schema as is; the line says how to upgrade,
// and the file stays as it was.
func TestReadOnlyOpenOfOlderWarehouseIsRefused(t *testing.T) {
	path := fixtureV1(t)
	_, err := Open(bg, path, ReadOnly())
	if !errors.Is(err, ErrSchemaOutdated) {
		t.Fatalf("want ErrSchemaOutdated, got %v", err)
	}
	oneLine(t, err)
	want := fmt.Sprintf("warehouse %s has schema version 1; this syncd reads version %d: run `syncd sync` (or any writable command) once to upgrade it", path, SchemaVersion())
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("got %q, want it to contain %q", err, want)
	}
	eq(t, []string{version(t, path)}, []string{"1"})

	s, err := Open(bg, path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	ro, err := Open(bg, path, ReadOnly())
	if err != nil {
		t.Fatalf("read-only open after the upgrade: %v", err)
	}
	ro.Close()
}

// TestMigrationsRunInOrderOnce: pending migrations run in version order,
// each is recorded, and a second open runs none and rewrites no history.
func TestMigrationsRunInOrderOnce(t *testing.T) {
	path := fixtureV1(t)
	var ran []int
	step := func(v int, q string) Migration {
		return Migration{Version: v, Name: fmt.Sprintf("step %d", v), Up: func(ctx context.Context, tx *sql.Tx) error {
			ran = append(ran, v)
			_, err := tx.ExecContext(ctx, q)
			return err
		}}
	}
	n := SchemaVersion() // the test's steps come after this build's
	list := append(slices.Clone(migrations),
		step(n+1, fmt.Sprintf(`CREATE TABLE _test_steps AS SELECT %d AS v`, n+1)),
		step(n+2, `INSERT INTO _test_steps SELECT max(v) + 1 FROM _test_steps`), // fails unless n+1 ran first
		step(n+3, `ALTER TABLE IF EXISTS never_created ADD COLUMN IF NOT EXISTS x VARCHAR`))
	s, err := Open(bg, path, withMigrations(list))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if fmt.Sprint(ran) != fmt.Sprint([]int{n + 1, n + 2, n + 3}) {
		t.Fatalf("ran %v", ran)
	}
	last := fmt.Sprint(n + 3)
	eq(t, []string{version(t, path)}, []string{last})
	eq(t, rawQuery(t, path, `SELECT v FROM _test_steps ORDER BY v`), []string{fmt.Sprint(n + 1), fmt.Sprint(n + 2)})
	wantHistory := realHistory()
	for v := n + 1; v <= n+3; v++ {
		wantHistory = append(wantHistory, fmt.Sprintf("%d|step %d|true", v, v))
	}
	eq(t, history(t, path), wantHistory)
	applied := rawQuery(t, path, `SELECT version, applied_at FROM _syncd_migrations ORDER BY version`)

	ran = nil
	s, err = Open(bg, path, withMigrations(list))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if len(ran) != 0 {
		t.Fatalf("second open ran %v", ran)
	}
	eq(t, rawQuery(t, path, `SELECT version, applied_at FROM _syncd_migrations ORDER BY version`), applied)

	// This build (version SchemaVersion()) now meets a newer warehouse.
	for _, opts := range [][]Option{nil, {ReadOnly()}} {
		_, err := Open(bg, path, opts...)
		if !errors.Is(err, ErrSchemaTooNew) {
			t.Fatalf("want ErrSchemaTooNew, got %v", err)
		}
		oneLine(t, err)
		want := fmt.Sprintf("warehouse %s has schema version %s; this syncd supports up to %d: upgrade syncd", path, last, SchemaVersion())
		if !strings.HasSuffix(err.Error(), want) {
			t.Fatalf("got %q, want it to end in %q", err, want)
		}
	}
	eq(t, []string{version(t, path)}, []string{last})
}

// TestFailingMigrationChangesNothing: one transaction for all of them: a
// migration that fails after others succeeded leaves the file exactly at
// its old version, and Open says which one failed in one line.
func TestFailingMigrationChangesNothing(t *testing.T) {
	path := fixtureV1(t)
	before := snapshot(t, path)
	boom := errors.New("Catalog Error: boom\n\nLINE 1: ALTER TABLE ...\n        ^")
	next := SchemaVersion() + 1
	list := append(slices.Clone(migrations),
		Migration{Version: next, Name: "add conversions.note", Up: func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `ALTER TABLE IF EXISTS conversions ADD COLUMN IF NOT EXISTS note VARCHAR`)
			return err
		}},
		Migration{Version: next + 1, Name: "rewrite statuses", Up: func(ctx context.Context, tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `UPDATE conversions SET status = 'gone'`); err != nil {
				return err
			}
			return boom
		}})
	_, err := Open(bg, path, withMigrations(list))
	if !errors.Is(err, boom) {
		t.Fatalf("want the migration's error, got %v", err)
	}
	oneLine(t, err)
	for _, want := range []string{path, fmt.Sprintf("from schema version 1 to %d", next+1), fmt.Sprintf("migration %d (rewrite statuses)", next+1), "nothing was changed", "boom LINE 1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
	t.Log(err)

	eq(t, []string{version(t, path)}, []string{"1"})
	if hasTable(t, path, "_syncd_migrations") {
		t.Error("_syncd_migrations survived the rollback")
	}
	eq(t, rawQuery(t, path, `SELECT count(*) FROM duckdb_columns() WHERE table_name = 'conversions' AND column_name = 'note'`), []string{"0"})
	eq(t, snapshot(t, path), before)

	// The same file upgrades once the migration is fixed.
	s, err := Open(bg, path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	eq(t, history(t, path), realHistory())
}

// TestMissingMigrationIsNamed: a table lacking columns its model has, with
// the same key and nothing extra, is a model change shipped without a
// migration, and the error says so; other differences stay
// ErrTableMismatch (see TestTableColumnMismatch).
func TestMissingMigrationIsNamed(t *testing.T) {
	path := fixtureV1(t)
	s, err := Open(bg, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// As if this build's conversions model had gained city and os without
	// a migration adding them to existing tables.
	if _, err := s.DB().ExecContext(bg, `ALTER TABLE conversions DROP COLUMN city; ALTER TABLE conversions DROP COLUMN os`); err != nil {
		t.Fatal(err)
	}
	_, err = s.Begin(bg, load.Target{Model: models.Conversions(), Mode: models.Upsert})
	if !errors.Is(err, ErrMigrationMissing) || errors.Is(err, ErrTableMismatch) {
		t.Fatalf("want ErrMigrationMissing only, got %v", err)
	}
	oneLine(t, err)
	for _, want := range []string{"conversions", "city, os", "migration", "load/duckdb/migrations.go"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
	t.Log(err)

	// stats_daily with a slice more in the config: the key differs, so the
	// table was made for another configuration.
	_, err = s.Begin(bg, load.Target{Model: statsModel(t, "day", "offer", "partner", "country", "os"), Mode: models.ReplaceTable})
	if !errors.Is(err, ErrTableMismatch) || errors.Is(err, ErrMigrationMissing) {
		t.Fatalf("stats_daily with another slice: %v", err)
	}
}

// TestUpgradeFromV6: a warehouse at schema version 6 (raw folded, no detail
// columns) upgrades to 7 on its own: the detail columns are filled from
// raw, raw leaves them out, and <table>_raw still gives back every object
// of the v1 fixture.
func TestUpgradeFromV6(t *testing.T) {
	path := fixtureV1(t)
	objects := fixtureObjects(t, path, "")
	var v6 []Migration
	for _, m := range migrations {
		if m.Version <= 6 {
			v6 = append(v6, m)
		}
	}
	s, err := Open(bg, path, withMigrations(v6))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	eq(t, []string{version(t, path)}, []string{"6"})
	if hasColumn(t, path, "conversions", "ua") {
		t.Fatal("version 6 already has conversions.ua")
	}
	if s, err = Open(bg, path); err != nil {
		t.Fatal(err)
	}
	s.Close()
	eq(t, []string{version(t, path)}, []string{fmt.Sprint(SchemaVersion())})
	eq(t, rawQuery(t, path, `SELECT count(*) FILTER (WHERE ua IS NOT NULL AND (offer ->> 'title') IS NOT NULL AND raw NOT LIKE '%"ua"%'),
		count(*) FROM conversions`), []string{"300|300"})
	after := fixtureObjects(t, path, "_raw")
	for table, rows := range objects {
		for k, obj := range rows {
			if !jsonEqual(t, []byte(after[table][k]), []byte(obj)) {
				t.Errorf("%s %s: rebuilt %s\nthe fixture's %s", table, k, after[table][k], obj)
			}
		}
	}
}

// BenchmarkMigration8 times migration 8 on a warehouse at version 7
// holding conversions rows (SYNCD_BENCH_ROWS; 1,000,000 by default), each
// with a raw of a few hundred bytes: the copy that puts network first.
func BenchmarkMigration8(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("SYNCD_BENCH_ROWS")); err == nil && v > 0 {
		n = v
	}
	conv := models.Conversions()
	var v7 []arrow.Field
	for _, f := range conv.Schema().Fields() {
		if f.Name != models.NetworkColumn {
			v7 = append(v7, f)
		}
	}
	for b.Loop() {
		b.StopTimer()
		path := filepath.Join(b.TempDir(), "wh.duckdb")
		s, err := Open(bg, path, withMigrations(migrations[:6]))
		if err != nil {
			b.Fatal(err)
		}
		ddl, err := createTableOf(conv, "conversions", v7)
		if err != nil {
			b.Fatal(err)
		}
		for _, q := range []string{ddl, fmt.Sprintf(`INSERT INTO conversions (id, action_id, status, currency, offer_id, partner_id, revenue, payouts, created_at, updated_at, ip, ua, raw, _synced_at)
			SELECT 'c' || i, 'a' || i, ['confirmed', 'pending', 'declined'][i %% 3 + 1], ['USD', 'EUR'][i %% 2 + 1], i %% 500, i %% 90,
				(i %% 1000) / 10, (i %% 700) / 10, TIMESTAMP '2025-01-01' + INTERVAL (i) SECOND, TIMESTAMP '2025-01-01' + INTERVAL (i + 60) SECOND,
				'10.0.' || (i %% 250) || '.' || (i %% 200), 'Mozilla/5.0 (Linux; Android 14) Mobile Safari/537.36',
				'{"click_id":"' || md5(i::VARCHAR) || '","sub1":"s' || (i %% 77) || '","sub2":"campaign-' || (i %% 13) || '","goal":"1","custom_fields":[]}',
				TIMESTAMP '2025-06-01'
			FROM range(%d) t(i)`, n)} {
			if _, err := s.DB().ExecContext(bg, q); err != nil {
				b.Fatal(err)
			}
		}
		s.Close()
		b.StartTimer()
		s, err = Open(bg, path)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		got := queryStrings(b, s, `SELECT network, count(*) FROM conversions GROUP BY 1`)
		s.Close()
		if want := []string{fmt.Sprintf("default|%d", n)}; !slices.Equal(got, want) {
			b.Fatalf("after migration 8: %v, want %v", got, want)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(n), "rows")
}

// TestUpgradeV7Fixture: the file of a user of the release before networks
// (schema version 7, written by that release's binary) upgrades through
// migration 8 alone. The history it had stays as it was; every row, cursor
// and run is kept, currency_rates and _syncd_changed included, and becomes
// network default's. Then ids collide across networks without overwriting:
// network b's offer 1 and conversion of a held id load beside default's,
// and replacing default's offers leaves b's.
func TestUpgradeV7Fixture(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wh", "affise.duckdb")
	fixtures.WarehouseV7(t, path)
	eq(t, []string{version(t, path)}, []string{"7"})
	if hasColumn(t, path, "conversions", models.NetworkColumn) {
		t.Fatal("the v7 fixture already has conversions.network")
	}
	const historyQ = `SELECT version, name, applied_at FROM _syncd_migrations ORDER BY version`
	histBefore := rawQuery(t, path, historyQ)
	tables := rawQuery(t, path, `SELECT table_name FROM duckdb_tables() WHERE table_name NOT IN ('_syncd_meta', '_syncd_migrations') ORDER BY 1`)
	for _, want := range []string{"currency_rates", "_syncd_changed", "_syncd_runs", "_syncd_state"} {
		if !slices.Contains(tables, want) {
			t.Fatalf("the v7 fixture has no %s: %v", want, tables)
		}
	}
	// Every column of every row but the one migration 8 adds, with the
	// cursors and the views.
	content := func() []string {
		var qs []string
		for _, table := range tables {
			src := table
			if hasColumn(t, path, table, models.NetworkColumn) {
				src = fmt.Sprintf("(SELECT * EXCLUDE (%s) FROM %s)", models.NetworkColumn, table)
			}
			qs = append(qs, fmt.Sprintf(`SELECT '%[1]s', count(*), coalesce(sum(hash(t)), 0) FROM %[2]s t`, table, src))
		}
		out := rawQuery(t, path, strings.Join(qs, " UNION ALL ")+" ORDER BY 1")
		out = append(out, rawQuery(t, path, `SELECT stream, position, meta, updated_at FROM _syncd_state ORDER BY stream`)...)
		return append(out, rawQuery(t, path, `SELECT string_agg(view_name, ',' ORDER BY view_name) FROM duckdb_views() WHERE NOT internal`)...)
	}
	before := content()

	s, err := Open(bg, path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	eq(t, []string{version(t, path)}, []string{fmt.Sprint(SchemaVersion())})
	eq(t, history(t, path), realHistory())
	eq(t, rawQuery(t, path, historyQ)[:len(histBefore)], histBefore)
	eq(t, content(), before)
	for _, table := range tables {
		eq(t, rawQuery(t, path, `SELECT column_name, is_nullable FROM duckdb_columns() WHERE table_name = '`+table+`' ORDER BY column_index LIMIT 1`),
			[]string{"network|false"})
		if got := rawQuery(t, path, `SELECT DISTINCT network FROM `+table); len(got) > 0 {
			eq(t, got, []string{models.DefaultNetwork})
		}
	}
	eq(t, rawQuery(t, path, `SELECT CAST(constraint_column_names AS VARCHAR) FROM duckdb_constraints() WHERE table_name = '_syncd_state' AND constraint_type = 'PRIMARY KEY'`),
		[]string{"[network, stream]"})

	s, err = Open(bg, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	held := queryStrings(t, s, `SELECT id, updated_at FROM conversions ORDER BY id LIMIT 1`)[0]
	id, updated, _ := strings.Cut(held, "|")
	b := s.ForNetwork("b").(*Sink)
	loadRows(t, b, load.Target{Model: models.Offers(), Mode: models.ReplaceTable}, nil, []row{{"network": "b", "id": 1, "title": "b's offer one"}})
	loadRows(t, b, load.Target{Model: models.Conversions(), Mode: models.Upsert}, nil,
		[]row{{"network": "b", "id": id, "status": "declined", "updated_at": ts("2030-01-01T00:00:00Z")}})
	eq(t, queryStrings(t, s, `SELECT network, count(*) FROM offers WHERE id = 1 GROUP BY 1 ORDER BY 1`), []string{"b|1", "default|1"})
	eq(t, queryStrings(t, s, `SELECT network, updated_at FROM conversions WHERE id = ? ORDER BY 1`, id),
		[]string{"b|2030-01-01T00:00:00", "default|" + updated})
	loadRows(t, s, load.Target{Model: models.Offers(), Mode: models.ReplaceTable}, nil, []row{{"network": "default", "id": 2, "title": "default's offer two"}})
	eq(t, queryStrings(t, s, `SELECT network, id, title FROM offers ORDER BY ALL`), []string{"b|1|b's offer one", "default|2|default's offer two"})
}
