package e2e

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/models"
)

// A conversion confirmed 35-55 days after it was created gets its new
// status, whether the warehouse reached that far through start_date or
// through a backfill: update-time passes ask Affise for conversions created
// from the first day the warehouse holds. (Before, they asked from 30 days
// before each window and such changes were lost for good.)
func TestOldConversionsStatusChangesLand(t *testing.T) {
	for _, how := range []string{"start_date", "backfill"} {
		t.Run(how, func(t *testing.T) {
			s := startSim(t, "--seed", "5", "--conversions", "4000", "--days", "100")
			from := time.Now().UTC().AddDate(0, 0, -60).Format(time.DateOnly)
			extra := ""
			if how == "start_date" {
				extra = "streams:\n  conversions: {start_date: " + from + "}\n"
			}
			e := newEnv(t, s, extra)
			e.mustSync(t, "--stream", "conversions")
			if how == "backfill" {
				if r := e.syncd(t, "backfill", "--stream", "conversions", "--from", from); r.code != 0 {
					t.Fatalf("backfill: exit %d\n%s", r.code, tail(r.stderr, 2000))
				}
			}
			var churn struct{ Changed int }
			s.control(t, "POST", "/_sim/churn?n=60&min_age=35d&max_age=55d", nil, &churn)
			if churn.Changed == 0 {
				t.Fatal("the simulator changed no old conversion")
			}
			e.mustSync(t, "--stream", "conversions")

			truth := map[string]string{}
			changed := 0
			lo, hi := time.Now().UTC().AddDate(0, 0, -56), time.Now().UTC().AddDate(0, 0, -34)
			for _, r := range s.truth(t, "conversions") {
				truth[str(r["id"])] = str(r["status"])
				if c, err := time.Parse(time.DateTime, str(r["created_at"])); err == nil && c.After(lo) && c.Before(hi) && str(r["updated_at"]) > time.Now().UTC().Add(-time.Hour).Format(time.DateTime) {
					changed++
				}
			}
			if changed == 0 {
				t.Fatal("no conversion 35-55 days old was changed within the hour; the test proves nothing")
			}
			db := e.openDB(t)
			rows := queryStrings(t, db, `SELECT id, status FROM conversions WHERE created_at >= '`+from+`'`)
			wrong := 0
			for _, r := range rows {
				if truth[r[0]] != r[1] {
					wrong++
					if wrong <= 5 {
						t.Errorf("conversion %s: %s in the warehouse, %s at Affise", r[0], r[1], truth[r[0]])
					}
				}
			}
			if wrong > 0 {
				t.Errorf("%d of %d conversions have a stale status", wrong, len(rows))
			}
			t.Logf("%d old conversions changed; %d compared", churn.Changed, len(rows))
		})
	}
}

// syncd verify finds, per day and currency, conversions a page skipped
// once (the simulator answers one window as if they did not exist, total
// included) and conversions deleted by hand, exits 1 naming the days, and
// --repair re-syncs exactly them: then verify exits 0 and the warehouse
// equals Affise.
func TestVerifyFindsAndRepairs(t *testing.T) {
	s := startSim(t, simArgs...)
	e := newEnv(t, s, "")
	berlin, _ := time.LoadLocation("Europe/Berlin")
	skipped := time.Now().In(berlin).AddDate(0, 0, -3).Format(time.DateOnly)
	var hide struct{ Hidden int }
	s.control(t, "POST", "/_sim/hide-once?stream=conversions&day="+skipped+"&timezone=Europe/Berlin", nil, &hide)
	if hide.Hidden == 0 {
		t.Fatal("the simulator hid nothing")
	}
	e.mustSync(t)
	// Conversions deleted by hand on another day.
	deleted := time.Now().In(berlin).AddDate(0, 0, -6).Format(time.DateOnly)
	db, err := sql.Open("duckdb", e.db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DELETE FROM conversions WHERE id IN (SELECT id FROM conversions
		WHERE CAST(timezone('Europe/Berlin', timezone('UTC', created_at)) AS DATE) = DATE '` + deleted + `' LIMIT 5)`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	from := time.Now().In(berlin).AddDate(0, 0, -19).Format(time.DateOnly)
	r := e.syncd(t, "verify", "--from", from)
	if r.code != 1 || !strings.Contains(r.stderr, "differ from Affise") {
		t.Fatalf("verify after a skipped page and a deletion: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, day := range []string{skipped, deleted} {
		if !regexp.MustCompile(`(?m)^` + day + `\s+\S+\s+.*DIFF`).MatchString(r.stdout) {
			t.Errorf("verify does not report %s as differing:\n%s", day, r.stdout)
		}
	}
	bad := strings.Count(r.stdout, "DIFF")

	r = e.syncd(t, "verify", "--from", from, "--repair")
	if r.code != 0 || !strings.Contains(r.stderr, "repairing") {
		t.Fatalf("verify --repair: exit %d\n%s\n%s", r.code, r.stdout, tail(r.stderr, 2000))
	}
	r = e.syncd(t, "verify", "--from", from, "--format", "json")
	if r.code != 0 || strings.Contains(r.stdout, `"agrees": false`) {
		t.Fatalf("verify after the repair: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	var doc struct {
		Requests int64
		Rows     []struct{ Day, Currency string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || len(doc.Rows) == 0 {
		t.Fatalf("verify --format json: %v\n%s", err, r.stdout)
	}
	t.Logf("%d rows differed; verify of 19 days in %d currencies costs %d requests", bad, len(doc.Rows)/19, doc.Requests)
	assertEqualsSimulator(t, e)
}

// After status changes spread over the whole history, older than every
// lookback included, stats_daily equals the conversions per day and
// currency, and syncd verify exits 0.
func TestNumbersEqualAffiseAfterChurn(t *testing.T) {
	s := startSim(t, "--seed", "9", "--conversions", "5000", "--days", "100", "--timezone", "America/New_York")
	start := time.Now().UTC().AddDate(0, 0, -95).Format(time.DateOnly)
	e := newEnv(t, s, "streams:\n  conversions: {start_date: "+start+"}\n  stats_daily: {start_date: "+start+"}\n")
	e.mustSync(t)
	for _, q := range []string{"n=100&min_age=30d&max_age=90d", "n=100&min_age=8d&max_age=30d", "n=100"} {
		s.control(t, "POST", "/_sim/churn?"+q, nil, nil)
		e.mustSync(t)
	}
	if r := e.syncd(t, "verify", "--from", start); r.code != 0 {
		t.Errorf("verify after churn: exit %d\n%s\n%s", r.code, tail(r.stdout, 3000), r.stderr)
	}
	db := e.openDB(t)
	diff := queryStrings(t, db, `
		WITH c AS (SELECT CAST(timezone('Europe/Berlin', timezone('UTC', created_at)) AS DATE) AS day, currency,
				count(*) FILTER (status = 'confirmed') AS n, coalesce(sum(revenue) FILTER (status = 'confirmed'), 0) AS rev
			FROM conversions GROUP BY 1, 2),
		s AS (SELECT day, currency, sum(confirmed_count) AS n, sum(confirmed_charge) AS rev FROM stats_daily GROUP BY 1, 2)
		SELECT c.day::VARCHAR, c.currency, c.n::VARCHAR, coalesce(s.n, -1)::VARCHAR FROM c LEFT JOIN s USING (day, currency)
		WHERE c.day >= DATE '`+start+`' + 1 AND (c.n <> coalesce(s.n, -1) OR c.rev <> coalesce(s.rev, -1)) ORDER BY 1, 2`)
	for _, d := range diff {
		t.Errorf("%s %s: %s confirmed conversions, stats_daily says %s", d[0], d[1], d[2], d[3])
	}
	// And stats_daily equals the simulator's own custom stats, asked per
	// currency as a user would check them.
	from := time.Now().UTC().AddDate(0, 0, -90).Format(time.DateOnly)
	to := time.Now().UTC().Format(time.DateOnly)
	for _, cur := range []string{"EUR", "RUB", "USD"} {
		var reply struct {
			Stats []struct {
				Slice   struct{ Year, Month, Day int }
				Actions map[string]struct {
					Count  json.Number
					Charge json.Number
				}
			}
		}
		s.api(t, "/3.0/stats/custom?slice[]=day&filter[date_from]="+from+"&filter[date_to]="+to+"&filter[currency][]="+cur+"&timezone=Europe/Berlin&limit=500", &reply)
		var want [][]string
		for _, st := range reply.Stats {
			if n, _ := st.Actions["total"].Count.Int64(); n == 0 {
				continue // traffic only: stats_daily keeps it, with no conversions to compare
			}
			day := time.Date(st.Slice.Year, time.Month(st.Slice.Month), st.Slice.Day, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
			row := []string{day}
			for _, k := range []string{"confirmed", "pending", "declined", "hold"} {
				row = append(row, st.Actions[k].Count.String())
			}
			f, _ := st.Actions["confirmed"].Charge.Float64()
			want = append(want, append(row, fmt.Sprintf("%.2f", f)))
		}
		got := queryStrings(t, db, `SELECT strftime(day, '%Y-%m-%d'), sum(confirmed_count)::VARCHAR, sum(pending_count)::VARCHAR,
			sum(declined_count)::VARCHAR, sum(hold_count)::VARCHAR, sum(confirmed_charge)::DECIMAL(18,2)::VARCHAR
			FROM stats_daily WHERE currency = '`+cur+`' AND day >= DATE '`+from+`' GROUP BY day HAVING sum(total_count) > 0`)
		compareRows(t, "stats_daily in "+cur+" against the simulator's custom stats", got, want)
	}
}

// No view, report or chart adds two currencies: the simulator sells in
// USD, EUR and RUB; every view and report that shows money shows the
// currency it is in, and daily_summary's money per day and currency equals
// the conversions' own.
func TestNoViewOrReportAddsCurrencies(t *testing.T) {
	s := startSim(t, simArgs...)
	e := newEnv(t, s, "")
	e.mustSync(t)
	db := e.openDB(t)
	if cs := queryStrings(t, db, `SELECT count(DISTINCT currency)::VARCHAR FROM conversions`); cs[0][0] < "2" {
		t.Fatalf("the simulator sold in %s currencies; the test needs several", cs[0][0])
	}
	money := func(cols []string) bool {
		for _, c := range cols {
			if strings.Contains(c, "revenue") || strings.Contains(c, "payout") || strings.Contains(c, "profit") || c == "epc" {
				return true
			}
		}
		return false
	}
	views := queryStrings(t, db, `SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1`)
	for _, v := range views {
		rows, err := db.Query(`SELECT * FROM ` + v[0] + ` LIMIT 0`)
		if err != nil {
			t.Fatalf("view %s: %v", v[0], err)
		}
		cols, _ := rows.Columns()
		rows.Close()
		if money(cols) && !slices.Contains(cols, "currency") {
			t.Errorf("view %s shows money without its currency: %v", v[0], cols)
		}
	}
	db.Close()
	reports, err := filepath.Glob("../sql/reports/*.sql")
	if err != nil || len(reports) == 0 {
		t.Fatalf("reports: %v %v", reports, err)
	}
	for _, f := range reports {
		r := e.syncd(t, "query", "--file", f, "--format", "csv")
		if r.code != 0 {
			t.Errorf("%s: exit %d %s", f, r.code, r.stderr)
			continue
		}
		header, _, _ := strings.Cut(r.stdout, "\n")
		cols := strings.Split(header, ",")
		if money(cols) && !slices.Contains(cols, "currency") {
			t.Errorf("report %s shows money without its currency: %v", filepath.Base(f), cols)
		}
	}

	// daily_summary's revenue per day and currency equals the conversions'.
	got, r := e.queryCSV(t, `SELECT day::VARCHAR, currency, revenue::VARCHAR FROM (`+strings.TrimSuffix(strings.TrimSpace(readFile(t, "../sql/reports/daily_summary.sql")), ";")+`)`)
	if got == nil {
		t.Fatalf("daily_summary: exit %d %s", r.code, r.stderr)
	}
	want, r := e.queryCSV(t, `SELECT CAST(created_at AS DATE)::VARCHAR, currency,
		CAST(coalesce(sum(revenue) FILTER (WHERE status IN ('confirmed', 'pending', 'hold')), 0) AS DECIMAL(18,2))::VARCHAR
		FROM conversions WHERE CAST(created_at AS DATE) >= current_date - 30 GROUP BY 1, 2`)
	if want == nil {
		t.Fatalf("conversions: exit %d %s", r.code, r.stderr)
	}
	compareRows(t, "daily_summary per day and currency", got, want)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// syncd run verifies on its schedule: after its first passes the status
// page says every day agrees and syncd_verify_mismatched_days is 0.
func TestDaemonVerifiesOnItsSchedule(t *testing.T) {
	s := startSim(t, smallSimArgs...)
	y, listen := daemonYAML(t)
	e := newEnv(t, s, y+"verify:\n  schedule: \"@every 3s\"\n  days: 5\n")
	d := e.startDaemon(t, listen)
	d.waitAllSucceeded(t, 3*time.Minute)
	d.waitFor(t, 90*time.Second, "a verification that agrees", func() (bool, string) {
		v, found := d.metric(t, "syncd_verify_mismatched_days")
		if !found || v != 0 {
			return false, fmt.Sprintf("syncd_verify_mismatched_days = %v (found %v)", v, found)
		}
		_, page, err := d.get("/")
		if err != nil || !strings.Contains(page, "agree with Affise") {
			return false, fmt.Sprintf("status page: %v", err)
		}
		return true, ""
	})
	d.stop(t, 10*time.Second)
}

// currency_rates holds one snapshot per UTC day of Affise's quotes: after
// two syncs today's rows equal the simulator's quotes of the day, once.
func TestCurrencyRatesSnapshot(t *testing.T) {
	s := startSim(t, smallSimArgs...)
	e := newEnv(t, s, "")
	e.mustSync(t, "--stream", "currency_rates")
	e.mustSync(t, "--stream", "currency_rates")
	today := time.Now().UTC().Format(time.DateOnly)
	var truth struct {
		Rows []struct {
			Date   string
			Quotes map[string]float64
		}
	}
	s.control(t, "GET", "/_sim/truth/currency_rates?day="+today, nil, &truth)
	if len(truth.Rows) != 1 || len(truth.Rows[0].Quotes) < 3 {
		t.Fatalf("simulator truth %+v", truth)
	}
	var want [][]string
	for cur, q := range truth.Rows[0].Quotes {
		want = append(want, []string{today, cur, strconv.FormatFloat(q, 'g', -1, 64)})
	}
	db := e.openDB(t)
	got := queryStrings(t, db, `SELECT strftime(date, '%Y-%m-%d'), currency, regexp_replace(rate_per_usd::VARCHAR, '\.0$', '') FROM currency_rates`)
	compareRows(t, "currency_rates", got, want)
}

// syncd state works while the daemon holds the DuckDB file (it asks the
// daemon) and says per stream its cursor, how far behind, its last pass
// and next run, as a table or JSON.
func TestStateWhileTheDaemonRuns(t *testing.T) {
	s := startSim(t, smallSimArgs...)
	e, listen := newDaemonEnv(t, s)
	d := e.startDaemon(t, listen)
	d.waitAllSucceeded(t, 3*time.Minute)
	r := e.syncd(t, "state", "--format", "json")
	if r.code != 0 {
		t.Fatalf("state while the daemon runs: exit %d %s", r.code, r.stderr)
	}
	var rows []struct {
		Stream      string
		Cursor      time.Time
		LastPassEnd time.Time `json:"last_pass_finished"`
		NextRun     time.Time `json:"next_run"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatalf("state --format json: %v\n%s", err, r.stdout)
	}
	if len(rows) != len(models.Names()) {
		t.Errorf("%d rows, want one per stream: %s", len(rows), r.stdout)
	}
	for _, row := range rows {
		if row.Cursor.IsZero() || row.LastPassEnd.IsZero() || row.NextRun.IsZero() {
			t.Errorf("%s: %+v, want a cursor, a last pass and a next run", row.Stream, row)
		}
	}
	r = e.syncd(t, "state")
	if r.code != 0 || !strings.Contains(r.stdout, "behind") || !strings.Contains(r.stdout, "rows") {
		t.Errorf("state table: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	d.stop(t, 10*time.Second)
}

// syncd report runs the embedded reports from any directory: the same rows
// as the SQL file, and --from/--to bound the days.
func TestReportByName(t *testing.T) {
	s := startSim(t, smallSimArgs...)
	e := newEnv(t, s, "")
	e.mustSync(t)
	elsewhere := func(args ...string) result {
		t.Helper()
		cmd := exec.Command(filepath.Join(bin, "syncd"), append(args, "-c", e.config)...)
		cmd.Dir = t.TempDir() // no sql/ directory here
		return e.run(t, cmd)
	}
	r := elsewhere("report", "--list")
	if r.code != 0 || !strings.Contains(r.stdout, "daily_summary") || !strings.Contains(r.stdout, "top_partners") {
		t.Fatalf("report --list: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	byName := elsewhere("report", "daily_summary", "--format", "csv")
	byFile := e.syncd(t, "query", "--file", "../sql/reports/daily_summary.sql", "--format", "csv")
	if byName.code != 0 || byName.stdout != byFile.stdout || strings.Count(byName.stdout, "\n") < 3 {
		t.Errorf("report daily_summary differs from its SQL file:\n%s\nvs\n%s%s", byName.stdout, byFile.stdout, byName.stderr)
	}
	day := time.Now().UTC().AddDate(0, 0, -2).Format(time.DateOnly)
	r = elsewhere("report", "daily_summary", "--from", day, "--to", day, "--format", "csv")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) < 2 {
		t.Fatalf("report with a range: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// Rows are per network, then day.
	for _, l := range lines[1:] {
		if f := strings.Split(l, ","); len(f) < 2 || f[0] != "default" || f[1] != day {
			t.Errorf("a row outside %s of network default: %s", day, l)
		}
	}
	if r := elsewhere("report", "nope"); r.code != 2 || !strings.Contains(r.stderr, "daily_summary") {
		t.Errorf("an unknown report: exit %d %s", r.code, r.stderr)
	}
}
