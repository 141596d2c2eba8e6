package e2e

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The simulator renders its platform zone different from the one syncd asks
// for, so a zone mix-up shows as shifted times.
var simArgs = []string{"--seed", "7", "--conversions", "3000", "--days", "20", "--timezone", "America/New_York"}

func num(v any) string {
	switch x := v.(type) {
	case float64:
		return fmt.Sprintf("%.2f", x)
	case string:
		var f float64
		fmt.Sscan(x, &f)
		return fmt.Sprintf("%.2f", f)
	case nil:
		return ""
	default:
		return fmt.Sprint(x)
	}
}

func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case float64:
		return fmt.Sprintf("%.0f", x)
	case map[string]any:
		if id, ok := x["$id"]; ok {
			return str(id)
		}
		return str(x["id"])
	default:
		return fmt.Sprint(x)
	}
}

func sortRows(rows [][]string) [][]string {
	sort.Slice(rows, func(i, j int) bool { return strings.Join(rows[i], "|") < strings.Join(rows[j], "|") })
	return rows
}

func compareRows(t *testing.T, what string, got, want [][]string) {
	t.Helper()
	got, want = sortRows(got), sortRows(want)
	if len(got) != len(want) {
		t.Errorf("%s: warehouse has %d rows, simulator %d", what, len(got), len(want))
	}
	shown := 0
	for i := 0; i < len(got) && i < len(want) && shown < 5; i++ {
		if strings.Join(got[i], "|") != strings.Join(want[i], "|") {
			t.Errorf("%s row %d:\n warehouse %v\n simulator %v", what, i, got[i], want[i])
			shown++
		}
	}
}

const ts = "strftime(%s, '%%Y-%%m-%%d %%H:%%M:%%S')"

func tsCol(c string) string { return fmt.Sprintf(ts, c) }

// assertEqualsSimulator compares every table with the simulator's truth.
func assertEqualsSimulator(t *testing.T, e *env) { assertEqualsSimulatorStatsFrom(t, e, "") }

// assertEqualsSimulatorStatsFrom compares stats_daily only from statsFrom
// on: stats_daily re-reads its lookback, so status changes of conversions
// older than that stay in older days by design.
func assertEqualsSimulatorStatsFrom(t *testing.T, e *env, statsFrom string) {
	t.Helper()
	db := e.openDB(t)
	defer db.Close() // syncd needs the file back for the next pass

	var want [][]string
	for _, r := range e.sim.truth(t, "conversions") {
		want = append(want, []string{str(r["id"]), str(r["status"]), str(r["offer_id"]), str(r["partner_id"]),
			num(r["revenue"]), num(r["payouts"]), str(r["created_at"]), str(r["updated_at"]), str(r["currency"])})
	}
	got := queryStrings(t, db, `SELECT id, status, offer_id::VARCHAR, partner_id::VARCHAR, revenue::DECIMAL(18,2)::VARCHAR,
		payouts::DECIMAL(18,2)::VARCHAR, `+tsCol("created_at")+`, `+tsCol("updated_at")+`, currency FROM conversions`)
	compareRows(t, "conversions", got, want)

	// Clicks: closed hours only, and Affise forgets them after 7 days; compare
	// what both sides can hold.
	lo := e.clock().UTC().Add(-7*24*time.Hour + 10*time.Minute).Format(time.DateTime)
	hi := e.lastSync.Truncate(time.Hour).Format(time.DateTime)
	want = nil
	for _, r := range e.sim.truth(t, "clicks") {
		if c := str(r["created_at"]); c >= lo && c < hi {
			want = append(want, []string{str(r["id"]), c, str(r["offer"])})
		}
	}
	got = queryStrings(t, db, `SELECT id, `+tsCol("created_at")+`, offer_id::VARCHAR FROM clicks
		WHERE created_at >= '`+lo+`' AND created_at < '`+hi+`'`)
	compareRows(t, "clicks", got, want)

	for _, pb := range []string{"server_postbacks", "affiliate_postbacks"} {
		want = nil
		for _, r := range e.sim.truth(t, pb) {
			d := r["date"].(map[string]any)
			want = append(want, []string{str(r["_id"]), time.Unix(int64(d["sec"].(float64)), 0).UTC().Format(time.DateTime)})
		}
		got = queryStrings(t, db, `SELECT id, `+tsCol("date")+` FROM `+pb)
		compareRows(t, pb, got, want)
	}

	for _, ref := range []struct{ table, col string }{{"offers", "status"}, {"partners", "status"}, {"advertisers", "title"}} {
		want = nil
		for _, r := range e.sim.truth(t, ref.table) {
			want = append(want, []string{str(r["id"]), str(r[ref.col])})
		}
		got = queryStrings(t, db, `SELECT id::VARCHAR, `+ref.col+` FROM `+ref.table)
		compareRows(t, ref.table, got, want)
	}

	// stats_daily per day (Affise counts days in the requested zone) equals
	// the conversions it was computed from.
	type agg struct {
		counts map[string]int
		charge float64
	}
	days := map[string]*agg{}
	for _, r := range e.sim.truth(t, "conversions") {
		created, err := time.Parse(time.DateTime, str(r["created_at"]))
		if err != nil {
			t.Fatal(err)
		}
		day := created.In(e.loc).Format(time.DateOnly)
		a := days[day]
		if a == nil {
			a = &agg{counts: map[string]int{}}
			days[day] = a
		}
		st := str(r["status"])
		a.counts[st]++
		if st == "confirmed" {
			var f float64
			fmt.Sscan(num(r["revenue"]), &f)
			a.charge += f
		}
	}
	want = nil
	for day, a := range days {
		if day < statsFrom {
			continue
		}
		want = append(want, []string{day, fmt.Sprint(a.counts["confirmed"]), fmt.Sprint(a.counts["pending"]),
			fmt.Sprint(a.counts["declined"]), fmt.Sprint(a.counts["hold"]), fmt.Sprintf("%.2f", a.charge)})
	}
	got = queryStrings(t, db, `SELECT strftime(day, '%Y-%m-%d'), sum(confirmed_count)::VARCHAR, sum(pending_count)::VARCHAR,
		sum(declined_count)::VARCHAR, sum(hold_count)::VARCHAR, sum(confirmed_charge)::DECIMAL(18,2)::VARCHAR
		FROM stats_daily WHERE day >= '`+cmpOr(statsFrom, "1970-01-01")+`' GROUP BY day HAVING sum(total_count) > 0`)
	compareRows(t, "stats_daily per day", got, want)

	assertNoDuplicates(t, db)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// lookbackFrom is the first stats_daily day a sync at t re-reads with the
// default 7-day lookback, in the zone the e2e config asks Affise for.
func lookbackFrom(t time.Time) string {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	return t.In(berlin).AddDate(0, 0, -6).Format(time.DateOnly)
}

func assertNoDuplicates(t *testing.T, db *sql.DB) {
	t.Helper()
	for _, table := range []string{"conversions", "clicks", "server_postbacks", "affiliate_postbacks", "offers", "partners", "advertisers"} {
		rows := queryStrings(t, db, `SELECT (count(*) - count(DISTINCT id))::VARCHAR FROM `+table)
		if rows[0][0] != "0" {
			t.Errorf("%s has %s duplicated ids", table, rows[0][0])
		}
	}
}

func TestFirstSyncThenChangesEqualSimulator(t *testing.T) {
	s := startSim(t, simArgs...)
	e := newEnv(t, s, "")
	e.mustSync(t)
	assertEqualsSimulator(t, e)
	if t.Failed() {
		return
	}

	var churn struct{ Changed, Created int }
	s.control(t, "POST", "/_sim/churn?n=300", nil, &churn)
	if churn.Changed == 0 || churn.Created == 0 {
		t.Fatalf("churn changed nothing: %+v", churn)
	}
	e.mustSync(t)
	assertEqualsSimulatorStatsFrom(t, e, lookbackFrom(e.lastSync))
}

// awayFromHourEdge waits out the last 90 s of an hour: a sync pair that
// straddles it legitimately loads the hour of clicks that just closed.
func awayFromHourEdge(t *testing.T) {
	if left := time.Until(time.Now().Truncate(time.Hour).Add(time.Hour)); left < 90*time.Second {
		t.Logf("waiting %s for the hour to turn", left.Round(time.Second))
		time.Sleep(left + 2*time.Second)
	}
}

func TestSecondSyncChangesNothingAndCostsFewRequests(t *testing.T) {
	awayFromHourEdge(t)
	s := startSim(t, simArgs...)
	e := newEnv(t, s, "")
	e.mustSync(t)
	snapshot := func() [][]string {
		db := e.openDB(t)
		var out [][]string
		for _, table := range []string{"conversions", "clicks", "server_postbacks", "affiliate_postbacks", "stats_daily", "offers", "partners", "advertisers"} {
			out = append(out, queryStrings(t, db, `SELECT '`+table+`', count(*)::VARCHAR,
				coalesce(sum(hash(t)), 0)::VARCHAR FROM (SELECT * EXCLUDE (_synced_at) FROM `+table+`) t`)...)
			if table == "conversions" || table == "clicks" || table == "server_postbacks" {
				// Upserted tables: a re-read of unchanged rows leaves them be.
				out = append(out, queryStrings(t, db, `SELECT '`+table+` synced', max(_synced_at)::VARCHAR FROM `+table)...)
			}
		}
		db.Close()
		return out
	}
	before := snapshot()
	first := s.requests(t)
	e.mustSync(t)
	second := s.requests(t) - first
	after := snapshot()
	compareRows(t, "table checksums", after, before)
	// One page per re-read window: conversions' lookback, the open clicks
	// hours, two postback days each, one stats window, three snapshots.
	if second > 40 {
		t.Errorf("second sync made %d requests (first made %d); want a few", second, first)
	}
	t.Logf("first sync %d requests, second %d", first, second)
}

func TestKillNineNeverLosesOrDoubles(t *testing.T) {
	s := startSim(t, append(simArgs, "--latency", "5ms")...)
	e := newEnv(t, s, "")
	killSyncs(t, e, func() { s.control(t, "POST", "/_sim/churn?n=100", nil, nil) })
	e.mustSync(t)
	assertEqualsSimulatorStatsFrom(t, e, lookbackFrom(e.lastSync))
}

// killSyncs runs six syncs and kills most of them at random instants,
// calling churn (status changes and new rows) after the third. A sync
// that ends before its kill must have succeeded.
func killSyncs(t *testing.T, e *env, churn func()) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	killed := killRuns(t, e, []string{"sync"}, 6,
		func() time.Duration { return time.Duration(100+rng.IntN(1500)) * time.Millisecond },
		func(round int, _ bool) bool {
			if round == 2 {
				churn()
			}
			return true
		})
	t.Logf("killed %d syncs", killed)
}

// killRuns runs syncd with args up to rounds times, each killed with
// SIGKILL after delay() unless it ends first, in which case it must have
// succeeded. After each run, next(round, killed) says whether to go on.
// It fails the test when no run was killed (the test would prove
// nothing), and returns how many were.
func killRuns(t *testing.T, e *env, args []string, rounds int, delay func() time.Duration, next func(round int, killed bool) bool) int {
	t.Helper()
	killed := 0
	for round := range rounds {
		cmd := exec.Command(filepath.Join(bin, "syncd"), append(args, "-c", e.config)...)
		cmd.Env = e.environ()
		var stderr lockedBuffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		wasKilled := false
		select {
		case <-time.After(delay()):
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-done
			killed++
			wasKilled = true
		case err := <-done:
			if err != nil {
				t.Fatalf("round %d: syncd %s, not killed, failed: %v\n%s", round, args[0], err, tail(stderr.String(), 3000))
			}
		}
		if !next(round, wasKilled) {
			break
		}
	}
	if killed == 0 {
		t.Fatalf("no syncd %s was killed mid-way; the test proves nothing", args[0])
	}
	return killed
}

func TestFaultsAndServerRateLimit(t *testing.T) {
	s := startSim(t, append(simArgs, "--fault-rate", "0.15", "--fault-kinds", "429,500,502,status2,truncated", "--rps", "40")...)
	e := newEnv(t, s, "")
	e.mustSync(t)
	assertEqualsSimulator(t, e)
	var counts struct {
		ByCode map[string]int `json:"by_code"`
	}
	s.control(t, "GET", "/_sim/requests", nil, &counts)
	if counts.ByCode["429"] == 0 || counts.ByCode["500"] == 0 {
		t.Errorf("faults were not exercised: %v", counts.ByCode)
	}
}
