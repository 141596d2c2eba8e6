package e2e

// End-to-end tests of several Affise networks in one warehouse (issue
// 14): one affise-sim serving networks a and b under /a and /b, with
// colliding ids, their own zones and currencies, and syncd configured with
// a `networks:` list.

import (
	"bytes"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/internal/fixtures"
	"github.com/syncd/syncd/models"
)

// netSimArgs: network a serves seed 7's data in UTC and USD/EUR/RUB, b
// the same ids with other data in Asia/Tokyo and EUR/GBP/USD (affise-sim's
// defaults per network); syncd asks each in a zone of its own, different
// from the simulator's, so a zone mix-up shows as shifted times or days.
var netSimArgs = []string{"--seed", "7", "--conversions", "3000", "--days", "20"}

// netZones is the api.timezone syncd has per network.
var netZones = map[string]string{"a": "Europe/Berlin", "b": "America/New_York", "default": "Europe/Berlin"}

// startNetworks starts one affise-sim serving names, each under its
// prefix; each *sim is one network (URL http://host:port/NAME), sharing
// the process and the key unless args give a network its own.
func startNetworks(t *testing.T, names []string, args ...string) map[string]*sim {
	t.Helper()
	key := "e2e-secret-key-" + fmt.Sprint(time.Now().UnixNano())
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	log := &lockedBuffer{}
	cmd := exec.Command(filepath.Join(bin, "affise-sim"),
		append([]string{"--addr", addr, "--key", key, "--networks", strings.Join(names, ",")}, args...)...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("affise-sim log:\n%s", tail(log.String(), 3000))
		}
	})
	root := "http://" + addr
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(root + "/_sim/networks")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("affise-sim did not start: %v\n%s", err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	sims := map[string]*sim{}
	for _, n := range names {
		sims[n] = &sim{URL: root + "/" + n, Key: key, cmd: cmd}
		sims[n].control(t, "POST", "/_sim/requests/reset", nil, nil)
	}
	return sims
}

// netAPIYAML is one network's api block in a `networks:` list.
func netAPIYAML(name string, s *sim, zone string) string {
	return "  - name: " + name + "\n    api:\n" + apiSettingsYAML(s, zone, "      ")
}

// newNetworksEnv is newEnv for a `networks:` config of sims (in the order
// of names), each asked in its netZones zone. e.sim and e.loc are the
// first network's; e.forNetwork gives each network's view.
func newNetworksEnv(t *testing.T, sims map[string]*sim, names []string, extraYAML string) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{dir: dir, config: filepath.Join(dir, "syncd.yaml"), db: filepath.Join(dir, "wh", "affise.duckdb"),
		sim: sims[names[0]], clock: time.Now, nets: map[string]*sim{}}
	var b strings.Builder
	b.WriteString("networks:\n")
	for _, n := range names {
		b.WriteString(netAPIYAML(n, sims[n], netZones[n]))
		e.nets[n] = sims[n]
	}
	fmt.Fprintf(&b, "warehouse:\n  path: %s\n%s", e.db, extraYAML)
	if err := os.WriteFile(e.config, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	e.loc = mustZone(t, netZones[names[0]])
	return e
}

func mustZone(t *testing.T, zone string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// forNetwork is e as seen by one network: its simulator, its zone, and
// openDB showing only its rows; the assertions written for one network
// (assertEqualsSimulator and the like) then hold per network.
func (e *env) forNetwork(t *testing.T, name string) *env {
	t.Helper()
	n := *e
	n.network = name
	n.sim = e.nets[name]
	n.loc = mustZone(t, netZones[name])
	return &n
}

// openNetworkDB opens the DuckDB file read-only with every table that
// has a network column shown through a view of that network's rows.
func openNetworkDB(t *testing.T, path, network string) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1) // the views live in the one in-memory database
	if _, err := db.Exec(fmt.Sprintf(`ATTACH '%s' AS wh (READ_ONLY)`, path)); err != nil {
		t.Fatalf("attach %s: %v", path, err)
	}
	tables := queryStrings(t, db, `SELECT t.table_name, bool_or(c.column_name = 'network')::VARCHAR
		FROM duckdb_tables() t JOIN duckdb_columns() c USING (database_name, schema_name, table_name)
		WHERE t.database_name = 'wh' AND t.schema_name = 'main' GROUP BY 1`)
	for _, tb := range tables {
		where := ""
		if tb[1] == "true" {
			where = " WHERE network = '" + network + "'"
		}
		if _, err := db.Exec(fmt.Sprintf(`CREATE VIEW "%s" AS SELECT * FROM wh.main."%s"%s`, tb[0], tb[0], where)); err != nil {
			t.Fatalf("view of %s: %v", tb[0], err)
		}
	}
	return db
}

// openLakeNetwork is openLakeFiles showing one network's rows: the
// network column of the files, not the path, says whose a row is.
func openLakeNetwork(t *testing.T, dir, network string) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	for table := range lakeTables {
		if m, _ := filepath.Glob(filepath.Join(dir, table, "*")); len(m) == 0 {
			continue
		}
		glob := filepath.Join(dir, table, "**", "*.parquet")
		if _, err := db.Exec(fmt.Sprintf(`CREATE VIEW %s AS SELECT * FROM read_parquet('%s', hive_partitioning = false) WHERE network = '%s'`,
			table, glob, network)); err != nil {
			t.Fatalf("view of %s: %v", table, err)
		}
	}
	return db
}

// lookbackIn is lookbackFrom in loc: the first stats_daily day a sync at
// t re-reads with the default 7-day lookback.
func lookbackIn(t time.Time, loc *time.Location) string {
	return t.In(loc).AddDate(0, 0, -6).Format(time.DateOnly)
}

// assertNetworksEqualSimulators checks every network's rows against its
// simulator (stats_daily from each network's lookback when churned), and
// that the networks' ids collide in the warehouse without a row lost.
func assertNetworksEqualSimulators(t *testing.T, e *env, churned bool) {
	t.Helper()
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range e.nets {
			if !yield(n) {
				return
			}
		}
	})
	for _, n := range names {
		ne := e.forNetwork(t, n)
		from := ""
		if churned {
			from = lookbackIn(e.lastSync, ne.loc)
		}
		t.Run("network "+n, func(t *testing.T) { assertEqualsSimulatorStatsFrom(t, ne, from) })
	}
	// All networks at once: each conversion once per network, and ids the
	// networks share are held twice, not merged.
	want := 0
	ids := map[string]int{}
	for _, n := range names {
		for _, r := range e.nets[n].truth(t, "conversions") {
			want++
			ids[str(r["id"])]++
		}
	}
	shared := 0
	for _, c := range ids {
		if c > 1 {
			shared++
		}
	}
	if shared == 0 {
		t.Fatal("the networks share no conversion id; the test proves nothing")
	}
	db := e.openDB(t) // every network's rows
	defer db.Close()
	got := queryStrings(t, db, `SELECT count(*)::VARCHAR, count(DISTINCT (network, id))::VARCHAR,
		(SELECT count(*) FROM (SELECT id FROM conversions GROUP BY id HAVING count(DISTINCT network) > 1))::VARCHAR FROM conversions`)
	if got[0][0] != strconv.Itoa(want) || got[0][1] != strconv.Itoa(want) || got[0][2] != strconv.Itoa(shared) {
		t.Errorf("conversions of every network: %s rows, %s distinct (network, id), %s ids in several networks; want %d, %d, %d",
			got[0][0], got[0][1], got[0][2], want, want, shared)
	}
	for _, table := range []string{"offers", "partners", "advertisers"} {
		rows := queryStrings(t, db, `SELECT network, count(*)::VARCHAR FROM `+table+` GROUP BY 1 ORDER BY 1`)
		var wantRows [][]string
		for _, n := range names {
			wantRows = append(wantRows, []string{n, strconv.Itoa(len(e.nets[n].truth(t, table)))})
		}
		compareRows(t, table+" per network", rows, wantRows)
	}
}

// assertStatsEqualCustomStats: per day and currency, a network's
// stats_daily equals the network's own custom stats asked in its zone.
func assertStatsEqualCustomStats(t *testing.T, ne *env, from string) {
	t.Helper()
	db := ne.openDB(t)
	defer db.Close()
	currencies := map[string]bool{}
	for _, r := range ne.sim.truth(t, "conversions") {
		currencies[str(r["currency"])] = true
	}
	to := ne.clock().In(ne.loc).Format(time.DateOnly)
	for cur := range currencies {
		var reply struct {
			Stats []struct {
				Slice   struct{ Year, Month, Day int }
				Actions map[string]struct {
					Count  json.Number
					Charge json.Number
				}
			}
		}
		ne.sim.api(t, "/3.0/stats/custom?slice[]=day&filter[date_from]="+from+"&filter[date_to]="+to+"&filter[currency][]="+cur+
			"&timezone="+ne.loc.String()+"&limit=500", &reply)
		var want [][]string
		for _, st := range reply.Stats {
			if n, _ := st.Actions["total"].Count.Int64(); n == 0 {
				continue
			}
			day := time.Date(st.Slice.Year, time.Month(st.Slice.Month), st.Slice.Day, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
			row := []string{day}
			for _, k := range []string{"confirmed", "pending", "declined", "hold"} {
				row = append(row, st.Actions[k].Count.String())
			}
			f, _ := st.Actions["confirmed"].Charge.Float64()
			want = append(want, append(row, fmt.Sprintf("%.2f", f)))
		}
		if len(want) == 0 {
			t.Errorf("network %s: the simulator's custom stats in %s are empty", ne.network, cur)
		}
		got := queryStrings(t, db, `SELECT strftime(day, '%Y-%m-%d'), sum(confirmed_count)::VARCHAR, sum(pending_count)::VARCHAR,
			sum(declined_count)::VARCHAR, sum(hold_count)::VARCHAR, sum(confirmed_charge)::DECIMAL(18,2)::VARCHAR
			FROM stats_daily WHERE currency = '`+cur+`' AND day >= DATE '`+from+`' GROUP BY day HAVING sum(total_count) > 0`)
		compareRows(t, "network "+ne.network+": stats_daily in "+cur+" against its custom stats", got, want)
	}
}

// csvTable parses CSV output into rows keyed by the header's names.
func csvTable(t *testing.T, out string) (header []string, rows []map[string]string) {
	t.Helper()
	all, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(all) == 0 {
		t.Fatalf("not CSV with a header: %v\n%s", err, out)
	}
	for _, r := range all[1:] {
		m := map[string]string{}
		for i, h := range all[0] {
			m[h] = r[i]
		}
		rows = append(rows, m)
	}
	return all[0], rows
}

// TestTwoNetworksEqualTheirSimulators: two networks with colliding ids,
// other zones and other currencies, synced into one DuckDB file: every
// table equals each network's truth, per network; stats_daily equals each
// network's custom stats; daily_summary shows revenue per network and
// currency; `syncd query/report --network` show one network's rows. Then
// both networks change and a second sync keeps it all true.
func TestTwoNetworksEqualTheirSimulators(t *testing.T) {
	sims := startNetworks(t, []string{"a", "b"}, netSimArgs...)
	e := newNetworksEnv(t, sims, []string{"a", "b"}, "")
	e.mustSync(t)
	assertNetworksEqualSimulators(t, e, false)
	if t.Failed() {
		return
	}
	from := time.Now().UTC().AddDate(0, 0, -19).Format(time.DateOnly)
	for _, n := range []string{"a", "b"} {
		assertStatsEqualCustomStats(t, e.forNetwork(t, n), from)
	}

	// The views join per network: offer 1 of a is not offer 1 of b.
	rows, r := e.queryCSV(t, `SELECT DISTINCT network, offer_id::VARCHAR, coalesce(offer_title, '') FROM daily_revenue`)
	if rows == nil {
		t.Fatalf("daily_revenue: exit %d %s", r.code, r.stderr)
	}
	titles := map[string]string{}
	for _, n := range []string{"a", "b"} {
		for _, o := range sims[n].truth(t, "offers") {
			titles[n+"|"+str(o["id"])] = str(o["title"])
		}
	}
	for _, row := range rows {
		if want := titles[row[0]+"|"+row[1]]; row[2] != want {
			t.Errorf("daily_revenue: network %s offer %s has title %q, its network's offer is %q", row[0], row[1], row[2], want)
		}
	}
	assertDailySummaryPerNetwork(t, e)
	assertQueryOneNetwork(t, e)

	for _, s := range sims {
		s.control(t, "POST", "/_sim/churn?n=300", nil, nil)
	}
	e.mustSync(t)
	assertNetworksEqualSimulators(t, e, true)
}

// assertDailySummaryPerNetwork: `syncd report daily_summary` prints
// revenue per network, day and currency, each equal to that network's
// conversions (confirmed + pending + hold, per UTC day of the last 30);
// with --network it prints that network's rows alone.
func assertDailySummaryPerNetwork(t *testing.T, e *env) {
	t.Helper()
	r := e.syncd(t, "report", "daily_summary", "--format", "csv")
	if r.code != 0 {
		t.Fatalf("report daily_summary: exit %d %s", r.code, r.stderr)
	}
	header, rows := csvTable(t, r.stdout)
	for _, c := range []string{"network", "day", "currency", "revenue"} {
		if !slices.Contains(header, c) {
			t.Fatalf("daily_summary has no %s column: %v", c, header)
		}
	}
	want := map[string]float64{}
	since := time.Now().UTC().AddDate(0, 0, -30).Format(time.DateOnly)
	for n, s := range e.nets {
		for _, c := range s.truth(t, "conversions") {
			day := str(c["created_at"])[:10]
			if day < since {
				continue
			}
			k := n + "|" + day + "|" + str(c["currency"])
			if st := str(c["status"]); st == "confirmed" || st == "pending" || st == "hold" {
				var f float64
				fmt.Sscan(num(c["revenue"]), &f)
				want[k] += f
			} else if _, ok := want[k]; !ok {
				want[k] = 0
			}
		}
	}
	got := map[string]float64{}
	usdIn := map[string]bool{}
	for _, row := range rows {
		k := row["network"] + "|" + row["day"] + "|" + row["currency"]
		if _, dup := got[k]; dup {
			t.Errorf("daily_summary has two rows for %s", k)
		}
		got[k], _ = strconv.ParseFloat(row["revenue"], 64)
		if row["currency"] == "USD" {
			usdIn[row["network"]] = true
		}
	}
	if !usdIn["a"] || !usdIn["b"] {
		t.Errorf("both networks sell in USD; daily_summary has USD rows of %v", usdIn)
	}
	bad := 0
	for k, w := range want {
		if g, ok := got[k]; !ok || math.Abs(g-w) > 0.011 {
			if bad++; bad <= 5 {
				t.Errorf("daily_summary %s: revenue %v (present %v), the network's conversions say %.2f", k, g, ok, w)
			}
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			if bad++; bad <= 5 {
				t.Errorf("daily_summary has a row %s no network's conversions make", k)
			}
		}
	}

	// --network b: b's rows of the full report, nothing else.
	r = e.syncd(t, "report", "daily_summary", "--network", "b", "--format", "csv")
	if r.code != 0 {
		t.Fatalf("report daily_summary --network b: exit %d %s", r.code, r.stderr)
	}
	_, only := csvTable(t, r.stdout)
	var gotB, wantB []string
	for _, row := range only {
		gotB = append(gotB, row["network"]+"|"+row["day"]+"|"+row["currency"]+"|"+row["revenue"])
	}
	for _, row := range rows {
		if row["network"] == "b" {
			wantB = append(wantB, row["network"]+"|"+row["day"]+"|"+row["currency"]+"|"+row["revenue"])
		}
	}
	slices.Sort(gotB)
	slices.Sort(wantB)
	if len(wantB) == 0 || !slices.Equal(gotB, wantB) {
		t.Errorf("report --network b: %d rows, b's rows of the full report: %d\n%v\nvs\n%v", len(gotB), len(wantB), gotB, wantB)
	}
}

// assertQueryOneNetwork: `syncd query --network a` sees a's rows alone,
// in tables and views, and without it every network's.
func assertQueryOneNetwork(t *testing.T, e *env) {
	t.Helper()
	for n, s := range e.nets {
		want := strconv.Itoa(len(s.truth(t, "conversions")))
		r := e.syncd(t, "query", "--network", n, "--format", "csv",
			"SELECT network, count(*) AS n, count(DISTINCT id) AS d FROM conversions GROUP BY network")
		if r.code != 0 {
			t.Errorf("query --network %s: exit %d %s", n, r.code, r.stderr)
			continue
		}
		if _, rows := csvTable(t, r.stdout); len(rows) != 1 || rows[0]["network"] != n || rows[0]["n"] != want || rows[0]["d"] != want {
			t.Errorf("query --network %s: want one row %s,%s,%s:\n%s", n, n, want, want, r.stdout)
		}
		for _, q := range []string{"SELECT DISTINCT network FROM daily_revenue", "SELECT DISTINCT network FROM stats_daily",
			"SELECT DISTINCT network FROM offers"} {
			rows, r := e.queryCSV(t, q) // every network
			if rows == nil || len(rows) != len(e.nets) {
				t.Errorf("%s: %v, want every network; exit %d %s", q, rows, r.code, r.stderr)
			}
			r = e.syncd(t, "query", "--network", n, "--format", "csv", q)
			if r.code != 0 {
				t.Errorf("query --network %s %q: exit %d %s", n, q, r.code, r.stderr)
			} else if _, only := csvTable(t, r.stdout); len(only) != 1 || only[0]["network"] != n {
				t.Errorf("query --network %s %q: want network %s alone:\n%s", n, q, n, r.stdout)
			}
		}
	}
	if r := e.syncd(t, "query", "--network", "nope", "SELECT 1"); r.code == 0 || !strings.Contains(r.stderr, "nope") {
		t.Errorf("query --network nope: exit %d, want an error naming it: %s", r.code, r.stderr)
	}
}

// TestTwoNetworksOnTheLake is the two-network sync on a Parquet lake:
// each network's rows under <table>/network=<name>/, each file holding
// that network's rows, every table equal to each network's truth.
func TestTwoNetworksOnTheLake(t *testing.T) {
	for _, where := range []string{"local", "s3"} {
		t.Run(where, func(t *testing.T) {
			sims := startNetworks(t, []string{"a", "b"}, netSimArgs...)
			e := newNetworksEnv(t, sims, []string{"a", "b"}, "")
			if where == "local" {
				e.lakeFiles = filepath.Join(e.dir, "lake")
				writeLakeConfig(t, e, "  kind: parquet\n  path: "+e.lakeFiles+"\n")
			} else {
				lakeOnS3(t, e)
			}
			e.mustSync(t)
			assertNetworksEqualSimulators(t, e, false)
			assertNetworkPartitions(t, e.lakeFiles, []string{"a", "b"})
			assertQueryOneNetwork(t, e)
			if t.Failed() {
				return
			}
			for _, s := range sims {
				s.control(t, "POST", "/_sim/churn?n=300", nil, nil)
			}
			e.mustSync(t)
			assertNetworksEqualSimulators(t, e, true)
			assertNetworkPartitions(t, e.lakeFiles, []string{"a", "b"})
		})
	}
}

// lakeOnS3 points e's warehouse at a lake on a real S3 server, as
// newS3LakeEnv does.
func lakeOnS3(t *testing.T, e *env) {
	t.Helper()
	s3 := newS3LakeEnv(t, e.sim) // for its server and settings
	b, err := os.ReadFile(s3.config)
	if err != nil {
		t.Fatal(err)
	}
	_, wh, _ := strings.Cut(string(b), "warehouse:\n")
	writeLakeConfig(t, e, wh)
	e.lakeFiles, e.extraEnv = s3.lakeFiles, s3.extraEnv
}

// assertNetworkPartitions: every data object of the lake is
// <table>/network=<name>/date=YYYY-MM-DD/data.parquet (tables without
// days: <table>/network=<name>/data.parquet) of a configured network, and
// holds only that network's rows.
func assertNetworkPartitions(t *testing.T, dir string, names []string) {
	t.Helper()
	datePart := regexp.MustCompile(`^date=\d{4}-\d{2}-\d{2}$`)
	seen := map[string]bool{}
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		parts := strings.Split(filepath.ToSlash(rel), "/")
		if parts[0] == "_syncd" {
			return nil
		}
		dated, isTable := lakeTables[parts[0]]
		ok := isTable && len(parts) >= 3 && strings.HasPrefix(parts[1], "network=") && slices.Contains(names, strings.TrimPrefix(parts[1], "network="))
		if ok && dated {
			ok = len(parts) == 4 && datePart.MatchString(parts[2]) && parts[3] == "data.parquet"
		} else if ok {
			ok = len(parts) == 3 && parts[2] == "data.parquet"
		}
		if !ok {
			t.Errorf("an object outside <table>/network=<name>/[date=.../]data.parquet: %s", rel)
			return nil
		}
		seen[parts[0]+"/"+parts[1]] = true
		files = append(files, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"conversions", "offers", "stats_daily"} {
		for _, n := range names {
			if !seen[table+"/network="+n] {
				t.Errorf("no %s/network=%s/ in the lake", table, n)
			}
		}
	}
	// The network column of each file is its directory's network.
	for _, f := range files {
		var other int
		want := strings.TrimPrefix(regexp.MustCompile(`network=[^/]+`).FindString(filepath.ToSlash(f)), "network=")
		if err := readLake(f, `SELECT count(*) FILTER (WHERE network <> '`+want+`') FROM read_parquet('%s')`, &other); err != nil || other != 0 {
			t.Errorf("%s: %d rows of another network (%v)", f, other, err)
		}
	}
}

// TestOneNetworkFailingOthersSyncFully: network b answers every request
// with 401 (a key it does not take) or 500: `syncd sync` syncs a fully,
// exits non-zero and names network b and its streams; under `syncd run`
// /healthz names b's failing streams, not a's, and /metrics carries the
// network label.
func TestOneNetworkFailingOthersSyncFully(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		// b's own api: sets its key: the hint names that setting.
		{"401", []string{"--b.key", "a-key-b-does-not-share-0123"}, `401: .*\(check networks\[1\]\.api\.key\)`},
		{"500", []string{"--b.fault-rate", "1", "--b.fault-kinds", "500"}, "500"},
	} {
		t.Run(c.name, func(t *testing.T) {
			sims := startNetworks(t, []string{"a", "b"}, append(slices.Clone(smallSimArgs), c.args...)...)
			y, listen := daemonYAML(t)
			e := newNetworksEnv(t, sims, []string{"a", "b"}, y)
			// b fails fast: one retry of a 500, not minutes of backoff.
			e.editConfig(t, "base_url: "+sims["b"].URL+"\n      key: ${E2E_KEY}\n", "base_url: "+sims["b"].URL+"\n      key: ${E2E_KEY}\n      max_retries: 1\n")

			e.lastSync = time.Now().UTC()
			r := e.syncd(t, "sync")
			if r.code != 1 {
				t.Fatalf("syncd sync with network b failing: exit %d, want 1 (a run failed)\n%s", r.code, tail(r.stderr, 3000))
			}
			failing := regexp.MustCompile(`network b: (stream )?conversions: .*` + c.want)
			if !failing.MatchString(r.stderr) {
				t.Errorf("stderr does not name network b, its stream conversions and the %s:\n%s", c.want, tail(r.stderr, 3000))
			}
			if strings.Contains(r.stderr, "network a:") {
				t.Errorf("stderr blames network a:\n%s", tail(r.stderr, 3000))
			}
			if strings.Contains(r.stderr, e.sim.Key) {
				t.Error("the API key was printed")
			}
			t.Run("network a", func(t *testing.T) { assertEqualsSimulator(t, e.forNetwork(t, "a")) })
			db := e.openDB(t)
			for _, table := range []string{"conversions", "offers", "stats_daily"} {
				if n := queryStrings(t, db, `SELECT count(*)::VARCHAR FROM `+table+` WHERE network = 'b'`); n[0][0] != "0" {
					t.Errorf("%s holds %s rows of network b, which failed every request", table, n[0][0])
				}
			}
			db.Close()

			// Only network a: exit 0.
			if r := e.syncd(t, "sync", "--network", "a"); r.code != 0 {
				t.Errorf("sync --network a: exit %d\n%s", r.code, tail(r.stderr, 2000))
			}
			if r := e.syncd(t, "sync", "--network", "b"); r.code == 0 || !failing.MatchString(r.stderr) {
				t.Errorf("sync --network b: exit %d, want non-zero naming network b: conversions\n%s", r.code, tail(r.stderr, 2000))
			}

			d := e.startDaemon(t, listen)
			// The first line names what is wrong (network b's streams, not
			// a's); the lines after it give every stream of every network.
			// b's streams fail one by one: wait for its conversions to be
			// among them, then a must still not be named.
			var body, first string
			d.waitFor(t, 90*time.Second, "/healthz 503 naming network b's conversions", func() (bool, string) {
				code, b, err := d.get("/healthz")
				if err != nil {
					return false, err.Error()
				}
				body = b
				first, _, _ = strings.Cut(b, "\n")
				return code == 503 && strings.Contains(first, "conversions"), fmt.Sprintf("HTTP %d: %s", code, b)
			})
			if !strings.Contains(first, "network b") || strings.Contains(first, "network a") {
				t.Errorf("/healthz 503's first line should name network b and its streams, not a:\n%s", body)
			}
			if !regexp.MustCompile(`(?m)^network b: stream conversions: .*` + c.want).MatchString(body) {
				t.Errorf("/healthz should say why network b's conversions fail (%s):\n%s", c.want, body)
			}
			if regexp.MustCompile(`(?m)^network a: .*(failed|fail)`).MatchString(body) {
				t.Errorf("/healthz says network a fails:\n%s", body)
			}
			if strings.Contains(body, e.sim.Key) {
				t.Error("/healthz carries the key")
			}
			d.waitFor(t, 90*time.Second, "network a's passes to succeed while b's fail", func() (bool, string) {
				code, text, err := d.get("/metrics")
				if err != nil || code != 200 {
					return false, fmt.Sprintf("/metrics: %d %v", code, err)
				}
				okA, foundA := metricSum(text, "syncd_stream_unhealthy", `network="a"`)
				badB, _ := metricSum(text, "syncd_stream_unhealthy", `network="b"`, `stream="conversions"`)
				success, _ := metricSum(text, "syncd_last_success_timestamp_seconds", `network="a"`, `stream="conversions"`)
				passes, _ := metricSum(text, "syncd_passes_total", `network="b"`)
				return foundA && okA == 0 && badB == 1 && success > 0 && passes > 0,
					fmt.Sprintf("unhealthy a %v (found %v), unhealthy b conversions %v, a's last success %v, b's passes %v", okA, foundA, badB, success, passes)
			})
			// /api/status: every stream of each network, b's failing, a's not.
			code, text, err := d.get("/api/status")
			var st struct {
				Networks []string `json:"networks"`
				Streams  []struct {
					Network   string `json:"network"`
					Stream    string `json:"stream"`
					Failures  int    `json:"consecutive_failures"`
					LastError string `json:"last_error"`
				} `json:"streams"`
			}
			if err != nil || code != 200 || json.Unmarshal([]byte(text), &st) != nil {
				t.Fatalf("/api/status: HTTP %d %v\n%s", code, err, text)
			}
			if !slices.Equal(st.Networks, []string{"a", "b"}) || len(st.Streams) != 2*len(daemonStreams) {
				t.Errorf("/api/status: networks %v and %d streams, want a, b and %d", st.Networks, len(st.Streams), 2*len(daemonStreams))
			}
			for _, x := range st.Streams {
				if x.Network == "a" && x.Failures > 0 || x.Network == "b" && x.Stream == "conversions" && (x.Failures == 0 || !regexp.MustCompile(c.want).MatchString(x.LastError)) {
					t.Errorf("/api/status: network %s stream %s: %d failures, last error %q", x.Network, x.Stream, x.Failures, x.LastError)
				}
			}
			d.stop(t, 10*time.Second)
		})
	}
}

// TestKillNineDuringTwoNetworkSync: syncs of two networks killed at
// random instants, both networks changing in between, then one sync that
// runs to its end: every network equals its truth, nothing doubled.
func TestKillNineDuringTwoNetworkSync(t *testing.T) {
	sims := startNetworks(t, []string{"a", "b"}, append(slices.Clone(netSimArgs), "--latency", "5ms")...)
	e := newNetworksEnv(t, sims, []string{"a", "b"}, "")
	killSyncs(t, e, func() {
		for _, s := range sims {
			s.control(t, "POST", "/_sim/churn?n=100", nil, nil)
		}
	})
	e.mustSync(t)
	assertNetworksEqualSimulators(t, e, true)
	db := e.openDB(t)
	if n := queryStrings(t, db, `SELECT count(*)::VARCHAR FROM (SELECT network, stream FROM _syncd_state GROUP BY ALL HAVING count(*) > 1)`); n[0][0] != "0" {
		t.Errorf("_syncd_state has %s (network, stream) pairs twice", n[0][0])
	}
	if n := queryStrings(t, db, `SELECT count(DISTINCT network)::VARCHAR FROM _syncd_state`); n[0][0] != "2" {
		t.Errorf("_syncd_state has cursors of %s networks, want 2", n[0][0])
	}
}

// TestV1WarehouseGainsASecondNetwork: the warehouse of the release before
// networks, synced by this build with its single-api config, migrates and
// every old row becomes network 'default'; then the config lists that
// network as `default` and adds network b: the next sync keeps default's
// rows and cursors as they were, adds b's, and each equals its truth.
func TestV1WarehouseGainsASecondNetwork(t *testing.T) {
	// The default network serves the fixture's rows (variant 0, UTC, USD);
	// b shares its ids with other data in other currencies.
	sims := startNetworks(t, []string{"default", "b"}, append(slices.Clone(fixtureSimArgs), "--b.currencies", "EUR:60,USD:40")...)
	e := newEnv(t, sims["default"], "") // the single-api config, at the default network's prefix
	fixtures.WarehouseV1(t, e.db)
	before := e.rawStrings(t, `SELECT count(*)::VARCHAR FROM conversions`)[0][0]

	e.mustSync(t)
	if v := e.rawStrings(t, `SELECT value FROM _syncd_meta WHERE key = 'schema_version'`)[0][0]; v != schemaVersion {
		t.Errorf("after the sync: schema version %s, want %s", v, schemaVersion)
	}
	for _, table := range append(slices.Clone(userTables), "_syncd_state", "_syncd_runs") {
		if got := e.rawStrings(t, `SELECT coalesce(string_agg(DISTINCT network, ','), '') FROM `+table); got[0][0] != "default" {
			t.Errorf("%s: networks %q after the upgrade, want every row 'default'", table, got[0][0])
		}
	}
	if after := e.rawStrings(t, `SELECT count(*)::VARCHAR FROM conversions WHERE network = 'default'`)[0][0]; after != before {
		t.Errorf("conversions: %s rows before the upgrade, %s of network default after", before, after)
	}
	assertEqualsSimulator(t, e)
	if t.Failed() {
		return
	}

	// The same warehouse, now with networks default and b.
	snapshot := func() [][]string {
		var out [][]string
		for _, table := range userTables {
			out = append(out, e.rawStrings(t, `SELECT '`+table+`', count(*)::VARCHAR, coalesce(sum(hash(t)), 0)::VARCHAR
				FROM (SELECT * EXCLUDE (_synced_at) FROM `+table+` WHERE network = 'default') t`)...)
		}
		return out
	}
	rowsBefore := snapshot()
	cursorsBefore := e.rawStrings(t, `SELECT stream, strftime(position, '%Y-%m-%d %H:%M:%S') FROM _syncd_state WHERE network = 'default'`)
	cfg := netAPIYAML("default", sims["default"], netZones["default"]) + netAPIYAML("b", sims["b"], netZones["b"])
	if err := os.WriteFile(e.config, []byte("networks:\n"+cfg+"warehouse:\n  path: "+e.db+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.nets = map[string]*sim{"default": sims["default"], "b": sims["b"]}
	e.mustSync(t)
	// Rows of the old network are as they were: the fixture's simulator
	// serves exactly them, so syncing on changed none.
	compareRows(t, "network default's tables after adding b", snapshot(), rowsBefore)
	after := map[string]string{}
	for _, r := range e.rawStrings(t, `SELECT stream, strftime(position, '%Y-%m-%d %H:%M:%S') FROM _syncd_state WHERE network = 'default'`) {
		after[r[0]] = r[1]
	}
	for _, r := range cursorsBefore {
		if got := after[r[0]]; got < r[1] {
			t.Errorf("network default's cursor %s: %s before b was added, %q after", r[0], r[1], got)
		}
	}
	assertNetworksEqualSimulators(t, e, false)
	if r := e.syncd(t, "query", "--network", "default", "--format", "csv", "SELECT count(*) FROM conversions"); r.code != 0 || !bytes.HasSuffix(bytes.TrimSpace([]byte(r.stdout)), []byte("\n"+before)) {
		t.Errorf("query --network default: exit %d, want %s rows:\n%s%s", r.code, before, r.stdout, r.stderr)
	}
}

// TestSimulatorNetworkAtItsPrefix: a single-api syncd pointed at one
// network of a several-network affise-sim (api.base_url
// http://host:port/b) syncs exactly that network's truth, not the other's
// (whose ids are the same).
func TestSimulatorNetworkAtItsPrefix(t *testing.T) {
	sims := startNetworks(t, []string{"a", "b"}, netSimArgs...)
	e := newEnvIn(t, sims["b"], netZones["b"], "")
	e.mustSync(t)
	assertEqualsSimulator(t, e)
	ids := map[string]bool{}
	for _, r := range sims["a"].truth(t, "conversions") {
		ids[str(r["id"])] = true
	}
	shared := 0
	for _, r := range sims["b"].truth(t, "conversions") {
		if ids[str(r["id"])] {
			shared++
		}
	}
	if shared == 0 {
		t.Error("networks a and b share no conversion id")
	}
	var req struct {
		Total     int            `json:"total"`
		ByNetwork map[string]int `json:"by_network"`
	}
	root := &sim{URL: strings.TrimSuffix(sims["a"].URL, "/a")}
	root.control(t, "GET", "/_sim/requests", nil, &req)
	if req.ByNetwork["a"] != 0 || req.ByNetwork["b"] == 0 || req.Total != req.ByNetwork["b"] {
		t.Errorf("requests per network %+v: want b's alone", req)
	}
}

// TestNetworkFlagScopesStateVerifyAndPlan: `syncd state`, `plan` and
// `verify` show every network without --network and one with it;
// conversions lost from network b only make verify of b (and of all)
// differ, not verify of a, and `verify --network b --repair` restores b;
// `state reset --network b` moves b's cursor alone.
func TestNetworkFlagScopesStateVerifyAndPlan(t *testing.T) {
	sims := startNetworks(t, []string{"a", "b"}, smallSimArgs...)
	e := newNetworksEnv(t, sims, []string{"a", "b"}, "")
	e.mustSync(t)
	streams := len(models.Names())

	type stateRow struct {
		Network string    `json:"network"`
		Stream  string    `json:"stream"`
		Cursor  time.Time `json:"cursor"`
	}
	state := func(args ...string) []stateRow {
		t.Helper()
		r := e.syncd(t, append([]string{"state", "--format", "json"}, args...)...)
		var rows []stateRow
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &rows) != nil {
			t.Fatalf("state %v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
		return rows
	}
	all := state()
	pairs := map[string]bool{}
	for _, row := range all {
		pairs[row.Network+"/"+row.Stream] = true
		if row.Cursor.IsZero() {
			t.Errorf("state: %s/%s has no cursor after a sync", row.Network, row.Stream)
		}
	}
	if len(all) != 2*streams || len(pairs) != 2*streams {
		t.Errorf("state: %d rows, %d (network, stream) pairs; want %d of each", len(all), len(pairs), 2*streams)
	}
	for _, n := range []string{"a", "b"} {
		rows := state("--network", n)
		if len(rows) != streams {
			t.Errorf("state --network %s: %d rows, want %d", n, len(rows), streams)
		}
		for _, row := range rows {
			if row.Network != n {
				t.Errorf("state --network %s shows %s/%s", n, row.Network, row.Stream)
			}
		}
		r := e.syncd(t, "plan", "--network", n, "--format", "json")
		var plan []struct {
			Network string `json:"network"`
			Stream  string `json:"stream"`
		}
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &plan) != nil || len(plan) != streams {
			t.Errorf("plan --network %s: exit %d, want %d streams:\n%s%s", n, r.code, streams, r.stdout, r.stderr)
		}
		for _, p := range plan {
			if p.Network != n {
				t.Errorf("plan --network %s plans %s/%s", n, p.Network, p.Stream)
			}
		}
	}

	from := time.Now().UTC().AddDate(0, 0, -6).Format(time.DateOnly)
	if r := e.syncd(t, "verify", "--from", from); r.code != 0 {
		t.Fatalf("verify after a sync: exit %d\n%s%s", r.code, r.stdout, tail(r.stderr, 2000))
	}
	// Conversions of b lost on one of b's days; a has the same ids.
	day := time.Now().In(mustZone(t, netZones["b"])).AddDate(0, 0, -3).Format(time.DateOnly)
	db, err := sql.Open("duckdb", e.db)
	if err != nil {
		t.Fatal(err)
	}
	res, err := db.Exec(`DELETE FROM conversions WHERE network = 'b' AND id IN (SELECT id FROM conversions WHERE network = 'b'
		AND CAST(timezone('` + netZones["b"] + `', timezone('UTC', created_at)) AS DATE) = DATE '` + day + `' LIMIT 5)`)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 5 {
		t.Fatalf("deleted %d conversions of b, want 5", n)
	}
	db.Close()
	for _, c := range []struct {
		args []string
		want int
	}{{nil, 1}, {[]string{"--network", "a"}, 0}, {[]string{"--network", "b"}, 1}} {
		r := e.syncd(t, append([]string{"verify", "--from", from}, c.args...)...)
		if r.code != c.want {
			t.Errorf("verify %v with b's conversions missing: exit %d, want %d\n%s%s", c.args, r.code, c.want, r.stdout, tail(r.stderr, 2000))
		}
		differs := regexp.MustCompile(`(?m)^.*`+day+`.*DIFF.*$`).FindAllString(r.stdout, -1)
		if c.want == 1 && len(differs) == 0 {
			t.Errorf("verify %v does not report %s as differing:\n%s", c.args, day, r.stdout)
		}
		for _, line := range differs {
			if regexp.MustCompile(`\ba\b`).MatchString(strings.ReplaceAll(line, day, "")) && !regexp.MustCompile(`\bb\b`).MatchString(line) {
				t.Errorf("verify %v reports a day of network a as differing: %s", c.args, line)
			}
		}
	}
	if r := e.syncd(t, "verify", "--from", from, "--network", "b", "--repair"); r.code != 0 {
		t.Fatalf("verify --network b --repair: exit %d\n%s%s", r.code, r.stdout, tail(r.stderr, 2000))
	}
	if r := e.syncd(t, "verify", "--from", from); r.code != 0 {
		t.Errorf("verify after b's repair: exit %d\n%s%s", r.code, r.stdout, tail(r.stderr, 2000))
	}
	t.Run("network b", func(t *testing.T) { assertEqualsSimulator(t, e.forNetwork(t, "b")) })

	// A reset of b's offers cursor leaves a's.
	cursors := func() map[string]time.Time {
		out := map[string]time.Time{}
		for _, row := range state() {
			out[row.Network+"/"+row.Stream] = row.Cursor
		}
		return out
	}
	before := cursors()
	if r := e.syncd(t, "state", "reset", "--network", "b", "--stream", "conversions", "--to", from, "--yes"); r.code != 0 {
		t.Fatalf("state reset --network b: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	after := cursors()
	if !after["a/conversions"].Equal(before["a/conversions"]) {
		t.Errorf("a's conversions cursor moved with b's reset: %s -> %s", before["a/conversions"], after["a/conversions"])
	}
	if after["b/conversions"].Equal(before["b/conversions"]) || after["b/conversions"].Format(time.DateOnly) > from {
		t.Errorf("b's conversions cursor: %s -> %s, want it back at %s", before["b/conversions"], after["b/conversions"], from)
	}
}
