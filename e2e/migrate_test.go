package e2e

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/syncd/syncd/internal/fixtures"
	"github.com/syncd/syncd/models"
)

// fixtureSimArgs are the simulator arguments the v1 warehouse fixture was
// synced from (internal/fixtures/README.md): the fixed anchor makes this
// simulator serve the rows the fixture holds. --retention keeps the
// fixture's clicks in the simulator's truth however long ago the anchor is;
// it changes which clicks are kept, not the data generated.
// The fixture was written before the simulator sold in several
// currencies: --currencies USD serves its data byte for byte.
var fixtureSimArgs = []string{"--seed", "1", "--conversions", "300", "--days", "5",
	"--anchor", "2026-12-01T21:00:00Z", "--retention", "876000h", "--currencies", "USD"}

// userTables are the tables a v1 warehouse holds for the streams.
var userTables = []string{"conversions", "clicks", "server_postbacks", "affiliate_postbacks", "stats_daily", "offers", "partners", "advertisers"}

// tableChecksums is each stream table's row count and the checksum of its
// typed columns. _synced_at and raw are left out: a re-read row is
// rewritten with a new _synced_at, and since row streams are requested in
// UTC, its raw JSON holds UTC wall-clock text where the fixture's, requested
// in Europe/Berlin, held Berlin's (the same instants).
func (e *env) tableChecksums(t *testing.T) [][]string {
	t.Helper()
	db := e.openDB(t)
	defer db.Close()
	var out [][]string
	for _, table := range userTables {
		// stats_daily.currency came with migration 4: '' (currencies mixed)
		// on the fixture's rows, USD on the days a sync re-reads.
		// The columns migration 7 added are filled from raw
		// (TestUpgradeV1Fixture checks them): the rows compare without them,
		// and without network, which migration 8 added ('default' on every
		// row: TestV1WarehouseMigratesAndSyncsOn checks it).
		out = append(out, queryStrings(t, db, `SELECT '`+table+`', count(*)::VARCHAR,
			coalesce(sum(hash(t)), 0)::VARCHAR FROM (SELECT COLUMNS(c -> c NOT IN ('_synced_at', 'raw', 'currency', 'network', `+addedIn7+`) OR '`+table+`' <> 'stats_daily' AND c = 'currency') FROM `+table+`) t`)...)
	}
	return out
}

// addedIn7 are the columns schema version 7 added to conversions, clicks
// and the postbacks, as SQL strings.
const addedIn7 = `'conversion_id', 'cbid', 'ip', 'ua', 'country_name', 'isp_code', 'device_type',
	'goal_value', 'payment_type', 'is_paid', 'fraud_risk_level', 'decline_reason', 'supplier_id',
	'referrer', 'ref_id', 'comment', 'city_id', 'landing_id', 'prelanding_id', 'sum',
	'custom_field_1', 'custom_field_2', 'custom_field_3', 'custom_field_4', 'custom_field_5',
	'custom_field_6', 'custom_field_7', 'offer', 'partner', 'advertiser', 'fraud_type',
	'click_id', 'city', 'region_name', 'device', 'device_fullname', 'device_model', 'os_version', 'os_fullname',
	'browser_version', 'browser_fullname', 'connection_type', 'idfa', 'smart_id', 'os_id', 'user_id',
	'ext1', 'ext2', 'ext3', 'unid', 'supplier_manager_id', 'region_id', 'isp', 'landing', 'prelanding',
	'get', 'post', 'server', 'response', '_get', '_post', 'track', 'job_id'`

const (
	runsQuery    = `SELECT stream, kind, started_at::VARCHAR, finished_at::VARCHAR, rows::VARCHAR, requests::VARCHAR, coalesce(error, '') FROM _syncd_runs`
	cursorsQuery = `SELECT stream, strftime(position, '%Y-%m-%d %H:%M:%S') FROM _syncd_state ORDER BY stream`
)

// assertKeptCursorsAndRuns: after a fixture's upgrade and one sync, each
// cursor is where the fixture left it or later, the fixture's runs are
// all there, and the sync added one per stream (the fixture's and those
// added since, such as currency_rates to the v1 file).
func assertKeptCursorsAndRuns(t *testing.T, e *env, cursorsBefore, runsBefore [][]string) {
	t.Helper()
	after := map[string]string{}
	for _, r := range e.rawStrings(t, cursorsQuery) {
		after[r[0]] = r[1]
	}
	for _, r := range cursorsBefore {
		if got, ok := after[r[0]]; !ok || got < r[1] {
			t.Errorf("cursor %s: %s before the upgrade, %q after", r[0], r[1], got)
		}
	}
	runsAfter := map[string]bool{}
	for _, r := range e.rawStrings(t, runsQuery) {
		runsAfter[strings.Join(r, "|")] = true
	}
	for _, r := range runsBefore {
		if !runsAfter[strings.Join(r, "|")] {
			t.Errorf("run %v of the fixture is gone", r)
		}
	}
	if len(runsAfter) != len(runsBefore)+len(models.Names()) {
		t.Errorf("_syncd_runs: %d rows before the sync, %d after", len(runsBefore), len(runsAfter))
	}
}

func (e *env) rawStrings(t *testing.T, q string) [][]string {
	t.Helper()
	db := e.openDB(t)
	defer db.Close()
	return queryStrings(t, db, q)
}

// TestV1WarehouseMigratesAndSyncsOn: a warehouse written by the release
// before schema migrations, synced on by this build from the same
// simulator. Read-only commands refuse it until a writable one has
// upgraded it; `syncd sync` upgrades it in place and syncs on with every
// row, cursor and run kept, ending equal to the simulator.
// schemaVersion is the schema version this build writes (what
// duckdb.SchemaVersion says): every migration that raises it updates it.
const schemaVersion = "8"

func TestV1WarehouseMigratesAndSyncsOn(t *testing.T) {
	s := startSim(t, fixtureSimArgs...)
	e := newEnv(t, s, "")
	fixtures.WarehouseV1(t, e.db)

	version := func() string {
		return e.rawStrings(t, `SELECT value FROM _syncd_meta WHERE key = 'schema_version'`)[0][0]
	}
	if v := version(); v != "1" {
		t.Fatalf("the fixture has schema version %s, want 1", v)
	}
	before := e.tableChecksums(t)
	cursorsBefore := e.rawStrings(t, cursorsQuery)
	runsBefore := e.rawStrings(t, runsQuery)
	if len(cursorsBefore) != len(userTables) {
		t.Fatalf("fixture cursors: %v", cursorsBefore)
	}

	// Read-only opens refuse the old schema with the way out, and leave
	// the file as it is.
	for _, args := range [][]string{{"query", "SELECT count(*) FROM conversions"}, {"state"}} {
		r := e.syncd(t, args...)
		if r.code != 1 || !oneLine(r.stderr) || !strings.Contains(r.stderr, "has schema version 1; this syncd reads version "+schemaVersion+": run `syncd sync` (or any writable command) once to upgrade it") {
			t.Errorf("syncd %s on a v1 warehouse: exit %d, stderr %q", args[0], r.code, r.stderr)
		}
	}
	if v := version(); v != "1" {
		t.Fatalf("a read-only command moved the schema to version %s", v)
	}

	e.mustSync(t)

	if v := version(); v != schemaVersion {
		t.Errorf("after sync: schema version %s, want %s", v, schemaVersion)
	}
	// Every migration from 2 on, each applied once, in order.
	hist := e.rawStrings(t, `SELECT version::VARCHAR, name, (applied_at IS NOT NULL)::VARCHAR FROM _syncd_migrations ORDER BY version`)
	last, _ := strconv.Atoi(schemaVersion)
	if len(hist) != last-1 {
		t.Errorf("migration history: %v, want versions 2..%d", hist, last)
	}
	for i, h := range hist {
		if h[0] != strconv.Itoa(i+2) || h[2] != "true" {
			t.Errorf("migration history: %v, want versions 2..%d, each applied", hist, last)
			break
		}
	}

	// The simulator serves exactly the fixture's rows: syncing on changes
	// no row, loses none and doubles none.
	compareRows(t, "table checksums", e.tableChecksums(t), before)
	assertEqualsSimulator(t, e)
	// Every row held and synced since is the default network's.
	for _, table := range userTables {
		if got := e.rawStrings(t, `SELECT DISTINCT network FROM `+table); len(got) != 1 || got[0][0] != "default" {
			t.Errorf("%s: networks %v, want only default", table, got)
		}
	}

	assertKeptCursorsAndRuns(t, e, cursorsBefore, runsBefore)

	// Now upgraded, read-only commands work again.
	rows, r := e.queryCSV(t, "SELECT count(*) FROM conversions")
	if r.code != 0 || len(rows) != 1 || rows[0][0] != "300" {
		t.Errorf("syncd query after the upgrade: exit %d, rows %v, stderr %s", r.code, rows, tail(r.stderr, 2000))
	}
	if r := e.syncd(t, "state"); r.code != 0 || !strings.Contains(r.stdout, "conversions") {
		t.Errorf("syncd state after the upgrade: exit %d\n%s%s", r.code, r.stdout, tail(r.stderr, 2000))
	}
}

// TestV7WarehouseMigratesAndSyncsOn: the DuckDB file of a user of the
// release before several networks (schema version 7, written by that
// release's binary from the same simulator), opened by this build with the
// same single-api config. Read-only commands refuse it with the way out;
// `syncd sync` applies migration 8 alone and syncs on: every row (every
// column but the new network, which is default's), cursor and run is
// kept, and the warehouse equals the simulator, before and after the
// network's data changes.
func TestV7WarehouseMigratesAndSyncsOn(t *testing.T) {
	s := startSim(t, fixtureSimArgs...)
	e := newEnv(t, s, "")
	fixtures.WarehouseV7(t, e.db)
	if v := e.rawStrings(t, `SELECT value FROM _syncd_meta WHERE key = 'schema_version'`)[0][0]; v != "7" {
		t.Fatalf("the fixture has schema version %s, want 7", v)
	}
	tables := append(slices.Clone(userTables), "currency_rates")
	// Every column but network (which the upgrade adds) and _synced_at (a
	// re-read row may be rewritten with a new one).
	checksums := func() [][]string {
		var out [][]string
		for _, table := range tables {
			out = append(out, e.rawStrings(t, `SELECT '`+table+`', count(*)::VARCHAR, coalesce(sum(hash(t)), 0)::VARCHAR
				FROM (SELECT COLUMNS(c -> c NOT IN ('network', '_synced_at')) FROM `+table+`) t`)...)
		}
		return out
	}
	before := checksums()
	const historyQ = `SELECT version::VARCHAR, name, applied_at::VARCHAR FROM _syncd_migrations ORDER BY version`
	histBefore := e.rawStrings(t, historyQ)
	cursorsBefore := e.rawStrings(t, cursorsQuery)
	runsBefore := e.rawStrings(t, runsQuery)
	if len(cursorsBefore) != len(models.Names()) || len(histBefore) != 6 {
		t.Fatalf("fixture cursors %v, migrations %v", cursorsBefore, histBefore)
	}

	for _, args := range [][]string{{"query", "SELECT count(*) FROM conversions"}, {"state"}} {
		r := e.syncd(t, args...)
		if r.code != 1 || !oneLine(r.stderr) || !strings.Contains(r.stderr, "has schema version 7; this syncd reads version "+schemaVersion+": run `syncd sync` (or any writable command) once to upgrade it") {
			t.Errorf("syncd %s on a v7 warehouse: exit %d, stderr %q", args[0], r.code, r.stderr)
		}
	}

	e.mustSync(t)

	hist := e.rawStrings(t, historyQ)
	if len(hist) != 7 || hist[6][0] != schemaVersion || !slices.EqualFunc(hist[:6], histBefore, slices.Equal) {
		t.Errorf("migration history after the sync:\n%v\nwant the fixture's\n%v\nand version %s", hist, histBefore, schemaVersion)
	}
	compareRows(t, "table checksums", checksums(), before)
	for _, table := range append(tables, "_syncd_state", "_syncd_runs") {
		if got := e.rawStrings(t, `SELECT coalesce(string_agg(DISTINCT network, ','), '') FROM `+table); got[0][0] != "default" {
			t.Errorf("%s: networks %q after the upgrade, want every row default's", table, got[0][0])
		}
	}
	assertKeptCursorsAndRuns(t, e, cursorsBefore, runsBefore)
	assertEqualsSimulator(t, e)
	if t.Failed() {
		return
	}

	// Syncing on: the network's data changes, the next sync takes it.
	s.control(t, "POST", "/_sim/churn?n=120", nil, nil)
	e.mustSync(t)
	assertEqualsSimulator(t, e)
}
