package daemon

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncd/syncd/checkpoints"
	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/pipeline"
)

// moneyWarehouse is a fakeWarehouse whose DailyMoney returns days.
type moneyWarehouse struct {
	*fakeWarehouse
	days []load.DayMoney
	runs []load.LastRun
}

func (m *moneyWarehouse) DailyMoney(_ context.Context, from, to time.Time) ([]load.DayMoney, bool, error) {
	var out []load.DayMoney
	for _, d := range m.days {
		if !d.Day.Before(from) && d.Day.Before(to) {
			out = append(out, d)
		}
	}
	return out, true, nil
}

func (m *moneyWarehouse) LastRuns(context.Context) ([]load.LastRun, error) { return m.runs, nil }

// networkJob is a job of network whose passes fail with err (nil: succeed).
func networkJob(network, stream string, every time.Duration, err error) Job {
	return Job{Network: network, Stream: stream, Schedule: Every(every), Run: func(context.Context) (pipeline.Result, error) {
		return pipeline.Result{Rows: 3, Read: 3, Requests: 1}, err
	}}
}

// TestTwoNetworksOneFailing: two networks' jobs run side by side while one
// network's API refuses every request. The other's passes run and
// succeed; /healthz names the failing network and its streams and still
// shows the healthy one's; every series carries its network, from the
// first scrape on; /api/status and /api/plan carry each entry's network;
// the status page groups the streams and charts per network; each
// network's cursors and last passes come from its own reader.
func TestTwoNetworksOneFailing(t *testing.T) {
	now := time.Now().UTC()
	today := now.Truncate(24 * time.Hour)
	alphaWH := &moneyWarehouse{fakeWarehouse: newFakeWarehouse(), days: []load.DayMoney{
		{Day: today, Currency: "EUR", Revenue: 1234.5, Payouts: 1000, Conversions: 7},
	}}
	betaWH := &moneyWarehouse{fakeWarehouse: newFakeWarehouse(), days: []load.DayMoney{
		{Day: today, Currency: "USD", Revenue: 777, Payouts: 100, Conversions: 3},
	}, runs: []load.LastRun{{Run: load.Run{Stream: "conversions", StartedAt: now.Add(-time.Hour), FinishedAt: now.Add(-time.Hour), Rows: 42}}}}
	betaCursor := now.Add(-3 * time.Hour).Truncate(time.Second)
	betaWH.set("conversions", betaCursor)
	readers := map[string]load.Reader{"alpha": alphaWH, "beta": betaWH}
	var asked []string

	unauthorized := errors.New("conversions window 2025-06-01T00:00Z..2025-06-01T01:00Z: GET /3.0/stats/conversions: HTTP 401: the API key is not valid")
	jobs := []Job{
		networkJob("alpha", "conversions", 20*time.Millisecond, nil),
		networkJob("alpha", "offers", 20*time.Millisecond, nil),
		networkJob("beta", "conversions", 20*time.Millisecond, unauthorized),
		networkJob("beta", "offers", 20*time.Millisecond, unauthorized),
	}
	// alpha's passes move alpha's cursor (in alpha's reader only).
	alphaCursor := now.Add(-10 * time.Minute).Truncate(time.Second)
	jobs[0].Run = func(context.Context) (pipeline.Result, error) {
		alphaWH.set("conversions", alphaCursor)
		return pipeline.Result{Rows: 3, Read: 3, Requests: 1}, nil
	}
	for i := range jobs {
		n := jobs[i].Network
		jobs[i].Plan = func(context.Context) (any, error) { return map[string]string{"from": n}, nil }
	}
	d, err := New(Config{Listen: "127.0.0.1:0", Jobs: jobs, NetworkReader: func(n string) load.Reader {
		asked = append(asked, n)
		return readers[n]
	}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(asked, ",") != "alpha,beta" {
		t.Errorf("NetworkReader asked for %v, want alpha then beta", asked)
	}
	h := d.Handler()

	// Every per-stream counter exists at 0 from the first scrape, per
	// network.
	m := scrape(t, h)
	for _, n := range []string{"alpha", "beta"} {
		for _, s := range []string{"conversions", "offers"} {
			for _, k := range []string{
				`syncd_rows_total{network="` + n + `",stream="` + s + `"}`,
				`syncd_passes_total{network="` + n + `",result="error",stream="` + s + `"}`,
				`syncd_passes_total{network="` + n + `",result="ok",stream="` + s + `"}`,
				`syncd_stream_unhealthy{network="` + n + `",stream="` + s + `"}`,
			} {
				if v, ok := m[k]; !ok || v != 0 {
					t.Errorf("before any pass %s = %v (present %v), want 0", k, v, ok)
				}
			}
		}
	}

	// The extract clients' observers: each network's requests under its
	// own label.
	d.metrics.ForNetwork("alpha").ObserveRequest("/3.0/stats/conversions", 200, 10*time.Millisecond)
	d.metrics.ForNetwork("beta").ObserveRequest("/3.0/stats/conversions", 401, 10*time.Millisecond)
	d.metrics.ForNetwork("beta").ObserveRetry("/3.0/stats/conversions", "HTTP 503", time.Second)

	stop := runDaemon(t, d)
	passes := func(network, stream, result string) float64 {
		return scrape(t, h)[`syncd_passes_total{network="`+network+`",result="`+result+`",stream="`+stream+`"}`]
	}
	waitFor(t, "passes of both networks", 20*time.Second, func() bool {
		return passes("alpha", "conversions", "ok") >= 3 && passes("alpha", "offers", "ok") >= 3 &&
			passes("beta", "conversions", "error") >= 3 && passes("beta", "offers", "error") >= 3
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	m = scrape(t, h)
	for k, want := range map[string]float64{
		`syncd_passes_total{network="beta",result="ok",stream="conversions"}`:                     0,
		`syncd_passes_total{network="alpha",result="error",stream="conversions"}`:                 0,
		`syncd_consecutive_failures{network="alpha",stream="conversions"}`:                        0,
		`syncd_stream_unhealthy{network="alpha",stream="conversions"}`:                            0,
		`syncd_stream_unhealthy{network="beta",stream="conversions"}`:                             1,
		`syncd_stream_unhealthy{network="beta",stream="offers"}`:                                  1,
		`syncd_requests_total{code="200",endpoint="/3.0/stats/conversions",network="alpha"}`:      1,
		`syncd_requests_total{code="401",endpoint="/3.0/stats/conversions",network="beta"}`:       1,
		`syncd_retries_total{endpoint="/3.0/stats/conversions",network="beta",reason="HTTP 503"}`: 1,
	} {
		if v, ok := m[k]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", k, v, ok, want)
		}
	}
	if v := m[`syncd_consecutive_failures{network="beta",stream="offers"}`]; v < 3 {
		t.Errorf("beta offers consecutive failures %v, want >= 3", v)
	}
	if rows := m[`syncd_rows_total{network="alpha",stream="conversions"}`]; rows < 9 {
		t.Errorf("alpha conversions rows %v, want >= 9", rows)
	}
	if _, ok := m[`syncd_requests_total{code="401",endpoint="/3.0/stats/conversions",network="alpha"}`]; ok {
		t.Error("beta's 401 is counted under alpha")
	}
	// Each network's cursor from its own reader: alpha's moved by its
	// passes, beta's seeded at start.
	if lag := m[`syncd_cursor_lag_seconds{network="alpha",stream="conversions"}`]; lag < 9*60 || lag > 60*60 {
		t.Errorf("alpha's cursor lag %vs, want about 10 minutes", lag)
	}
	if lag := m[`syncd_cursor_lag_seconds{network="beta",stream="conversions"}`]; lag < 3*3600-60 || lag > 4*3600 {
		t.Errorf("beta's cursor lag %vs, want about 3 hours", lag)
	}

	// /healthz: 503, naming beta and its streams; alpha's lines say fresh.
	code, body := get(t, h, "/healthz")
	lines := strings.Split(strings.TrimSpace(body), "\n")
	if code != 503 || lines[0] != "network beta: every pass since start failed: conversions, offers" {
		t.Errorf("/healthz %d, first line %q", code, lines[0])
	}
	for _, want := range []string{
		"network alpha: stream conversions: fresh, last success ",
		"network alpha: stream offers: fresh, last success ",
		"network beta: stream conversions: failing, all ",
		"network beta: stream offers: failing, all ",
	} {
		found := false
		for _, l := range lines[1:] {
			found = found || strings.HasPrefix(l, want)
		}
		if !found {
			t.Errorf("/healthz lacks a line starting %q:\n%s", want, body)
		}
	}
	if !strings.Contains(body, "HTTP 401: the API key is not valid") {
		t.Errorf("/healthz does not quote beta's error:\n%s", body)
	}

	// /api/status through RemoteStatus: every entry names its network.
	srv := httptest.NewServer(h)
	defer srv.Close()
	listen := strings.TrimPrefix(srv.URL, "http://")
	sts, err := RemoteStatus(context.Background(), listen)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range sts {
		got = append(got, s.Network+"/"+s.Stream+"/"+s.State)
	}
	if strings.Join(got, " ") != "alpha/conversions/fresh alpha/offers/fresh beta/conversions/failing beta/offers/failing" {
		t.Errorf("RemoteStatus: %v", got)
	}

	// /api/plan: every network's, or one network's.
	entries, err := RemotePlan(context.Background(), listen, "conversions")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 || entries[0].Network != "alpha" || entries[1].Network != "beta" || !strings.Contains(string(entries[1].Plan), `"from": "beta"`) {
		t.Errorf("RemotePlan conversions: %+v", entries)
	}
	code, body = get(t, h, "/api/plan?network=beta")
	var plan struct{ Streams []PlanEntry }
	if err := json.Unmarshal([]byte(body), &plan); code != 200 || err != nil || len(plan.Streams) != 2 || plan.Streams[0].Network != "beta" || plan.Streams[1].Stream != "offers" {
		t.Errorf("/api/plan?network=beta: %d %s", code, body)
	}
	if code, body := get(t, h, "/api/plan?network=gamma"); code != 404 || !strings.Contains(body, "alpha, beta") {
		t.Errorf("/api/plan?network=gamma: %d %s", code, body)
	}

	// The status page: a section per network, a chart per network and
	// currency, beta's last seeded pass, and nothing of one network in the
	// other's section.
	code, page := get(t, h, "/")
	if code != 200 {
		t.Fatalf("status page: HTTP %d", code)
	}
	for _, want := range []string{
		`data-network="alpha"`, `data-network="beta"`, "Network alpha: streams", "Network beta: streams",
		"alpha · EUR", "beta · USD", "network beta: every pass since start failed: conversions, offers",
		"revenue <b>1,234.50 EUR</b>", "revenue <b>777.00 USD</b>",
		"network beta: conversions: every pass since the daemon started failed",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("status page lacks %q", want)
		}
	}
	alphaSection := page[strings.Index(page, "Network alpha: streams"):strings.Index(page, "Network beta: streams")]
	if strings.Contains(alphaSection, "401") || !strings.Contains(alphaSection, "state-fresh") {
		t.Errorf("alpha's section shows beta's error or is not fresh:\n%s", alphaSection)
	}
}

// A daemon of the default network alone looks as it did before networks:
// no network in /healthz, the page or the fix command; its series carry
// network="default"; Warehouse is its reader.
func TestSingleNetworkUnchanged(t *testing.T) {
	clk := newClock(t0)
	wh := newFakeWarehouse()
	wh.set("clicks", t0.Add(48*time.Hour))
	d, err := New(Config{Now: clk.Now, Warehouse: wh, Jobs: []Job{idleJob("clicks", time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	d.seed(context.Background())
	code, body := get(t, d.Handler(), "/healthz")
	if code != 503 || !strings.HasPrefix(body, "cursor in future: clicks\nclicks: cursor_in_future, ") || strings.Contains(body, "network") {
		t.Errorf("/healthz %d:\n%s", code, body)
	}
	if !strings.Contains(body, "fix: "+checkpoints.ResetCommand("clicks")+", with") {
		t.Errorf("the fix should be the plain reset command:\n%s", body)
	}
	if _, page := get(t, d.Handler(), "/"); strings.Contains(page, "Network ") || !strings.Contains(page, "<h2>Streams</h2>") {
		t.Error("a single-network page shows a network heading")
	}
	if m := scrape(t, d.Handler()); m[`syncd_cursor_in_future{network="default",stream="clicks"}`] != 1 {
		t.Errorf("syncd_cursor_in_future{network=default} = %v", m[`syncd_cursor_in_future{network="default",stream="clicks"}`])
	}
}

// A cursor in the future of a non-default network: the fix names the
// network, as `syncd state reset` needs it.
func TestNetworkFixNamesNetwork(t *testing.T) {
	clk := newClock(t0)
	wh := newFakeWarehouse()
	wh.set("clicks", t0.Add(48*time.Hour))
	d, err := New(Config{Now: clk.Now, NetworkReader: func(n string) load.Reader {
		if n == "beta" {
			return wh
		}
		return nil
	}, Jobs: []Job{networkJob("alpha", "clicks", time.Hour, nil), networkJob("beta", "clicks", time.Hour, nil)}})
	if err != nil {
		t.Fatal(err)
	}
	d.seed(context.Background())
	_, body := get(t, d.Handler(), "/healthz")
	if !strings.HasPrefix(body, "network beta: cursor in future: clicks\n") ||
		!strings.Contains(body, "fix: "+checkpoints.ResetCommand("clicks")+" --network beta, with") {
		t.Errorf("/healthz:\n%s", body)
	}
	if _, page := get(t, d.Handler(), "/"); !strings.Contains(page, "No warehouse to chart.") {
		t.Error("alpha, without a reader, should say it has no chart")
	}
}

func TestNetworkJobsChecked(t *testing.T) {
	for name, jobs := range map[string][]Job{
		"twice":         {networkJob("alpha", "offers", time.Hour, nil), networkJob("alpha", "offers", time.Hour, nil)},
		"bad name":      {networkJob("Alpha", "offers", time.Hour, nil)},
		"default twice": {networkJob("", "offers", time.Hour, nil), networkJob("default", "offers", time.Hour, nil)},
	} {
		if _, err := New(Config{Jobs: jobs}); err == nil {
			t.Errorf("%s: New accepted %v", name, jobs)
		}
	}
	// One stream in two networks is two jobs.
	if _, err := New(Config{Jobs: []Job{networkJob("alpha", "offers", time.Hour, nil), networkJob("beta", "offers", time.Hour, nil)}}); err != nil {
		t.Error(err)
	}
}

// Verification per network: each network's result in its own series and
// its own section of the page.
func TestVerificationPerNetwork(t *testing.T) {
	done := make(chan struct{}, 2)
	check := func(days []string) func(context.Context) (VerifyResult, error) {
		first := true
		return func(ctx context.Context) (VerifyResult, error) {
			if !first {
				<-ctx.Done()
				return VerifyResult{}, ctx.Err()
			}
			first = false
			defer func() { done <- struct{}{} }()
			return VerifyResult{Rows: 5, MismatchedDays: days}, nil
		}
	}
	d, err := New(Config{Listen: "127.0.0.1:0",
		Jobs: []Job{networkJob("alpha", "offers", time.Hour, nil), networkJob("beta", "offers", time.Hour, nil)},
		Verify: []*Verification{
			{Network: "alpha", Schedule: Every(10 * time.Millisecond), Days: 3, Run: check(nil)},
			{Network: "beta", Schedule: Every(10 * time.Millisecond), Days: 3, Run: check([]string{"2025-06-02"})},
		}})
	if err != nil {
		t.Fatal(err)
	}
	if m := scrape(t, d.Handler()); m[`syncd_verify_mismatched_days{network="alpha"}`] != -1 || m[`syncd_verify_mismatched_days{network="beta"}`] != -1 {
		t.Errorf("before verifying: %v", m)
	}
	runDaemon(t, d)
	<-done
	<-done
	m := scrape(t, d.Handler())
	if m[`syncd_verify_mismatched_days{network="alpha"}`] != 0 || m[`syncd_verify_mismatched_days{network="beta"}`] != 1 ||
		m[`syncd_verify_runs_total{network="beta",result="mismatch"}`] != 1 || m[`syncd_verify_runs_total{network="alpha",result="ok"}`] != 1 {
		t.Errorf("after verifying: alpha %v, beta %v", m[`syncd_verify_mismatched_days{network="alpha"}`], m[`syncd_verify_mismatched_days{network="beta"}`])
	}
	_, page := get(t, d.Handler(), "/")
	for _, want := range []string{"Network alpha: verification", "Network beta: verification", "syncd verify --repair --network beta", "all 5 day-currency rows agree"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if _, err := New(Config{Jobs: []Job{idleJob("offers", time.Hour)}, Verify: []*Verification{
		{Schedule: Every(time.Hour), Run: check(nil)}, {Network: "default", Schedule: Every(time.Hour), Run: check(nil)},
	}}); err == nil {
		t.Error("New accepted two verifications of the default network")
	}
}

// networkQuerier records the network each query asks for and runs it over
// every network (the filtering itself is sqlguard's, tested there).
type networkQuerier struct {
	db       *sql.DB
	mu       sync.Mutex
	networks []string
}

func (q *networkQuerier) RunReadOnly(ctx context.Context, network, stmt string, read func(*sql.Rows) error) error {
	q.mu.Lock()
	q.networks = append(q.networks, network)
	q.mu.Unlock()
	rows, err := q.db.QueryContext(ctx, stmt)
	if err != nil {
		return err
	}
	defer rows.Close()
	return read(rows)
}

// /api/query hands the request's network to ClientSQL ("" when the
// request names none) and refuses a name no network can have.
func TestAPIQueryNetwork(t *testing.T) {
	_, db := openWarehouse(t)
	q := &networkQuerier{db: db}
	d, err := New(Config{Listen: "127.0.0.1:0", ClientSQL: q, Jobs: []Job{networkJob("alpha", "offers", time.Hour, nil)}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	listen := strings.TrimPrefix(srv.URL, "http://")
	ctx := context.Background()
	var b bytes.Buffer
	if err := QueryRemoteRequest(ctx, listen, QueryRequest{SQL: "SELECT 1 AS n", Format: "csv", Network: "beta"}, &b); err != nil || b.String() != "n\n1\n" {
		t.Fatalf("network beta: %v %q", err, b.String())
	}
	if err := QueryRemote(ctx, listen, "SELECT 2 AS n", "csv", &b); err != nil {
		t.Fatal(err)
	}
	err = QueryRemoteRequest(ctx, listen, QueryRequest{SQL: "SELECT 3", Network: "Beta'; --"}, &b)
	if err == nil || !strings.Contains(err.Error(), `network "Beta'; --"`) {
		t.Errorf("a bad network name: %v", err)
	}
	if strings.Join(q.networks, ",") != "beta," {
		t.Errorf("ClientSQL saw networks %q, want beta then every network", q.networks)
	}
}
