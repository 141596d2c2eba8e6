package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/load/duckdb/sqlguard"
	"github.com/syncd/syncd/models"
	"github.com/syncd/syncd/pipeline"
)

var t0 = time.Date(2025, 6, 10, 12, 0, 0, 0, time.UTC)

// idleJob is a job that succeeds at once; clicks has a retention, as
// cmd/syncd sets from its declaration.
func idleJob(name string, s time.Duration) Job {
	return Job{Stream: name, Schedule: every(s), Retention: name == "clicks", Run: func(context.Context) (pipeline.Result, error) {
		return pipeline.Result{}, nil
	}}
}

// TestHealthz: 200 while every stream succeeded within its staleness, 503
// naming exactly the stale ones otherwise, and back to 200 after a
// success.
func TestHealthz(t *testing.T) {
	clk := newClock(t0)
	d, err := New(Config{Now: clk.Now, Jobs: []Job{idleJob("conversions", 15*time.Minute), idleJob("offers", 6*time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	h := d.Handler()
	if code, body := get(t, h, "/healthz"); code != 200 || !strings.HasPrefix(body, "ok\n") {
		t.Fatalf("fresh daemon: %d %q", code, body)
	}
	// conversions: staleness 3*15m + 5m = 50m.
	clk.Add(51 * time.Minute)
	code, body := get(t, h, "/healthz")
	if code != 503 || !strings.HasPrefix(body, "stale: conversions\n") || strings.Contains(body, "stale: conversions, offers") {
		t.Fatalf("after 51m: %d %q", code, body)
	}
	if !strings.Contains(body, "offers: waiting") {
		t.Errorf("body lacks the healthy stream's line: %q", body)
	}
	// A failing pass does not make it healthy.
	st := d.byKey[jobKey{models.DefaultNetwork, "conversions"}]
	st.begin(clk.Now())
	st.finish(clk.Now(), pipeline.Result{}, time.Time{}, "GET /3.0/stats/conversions: HTTP 500 (after 7 attempts)", false)
	code, body = get(t, h, "/healthz")
	if code != 503 || !strings.Contains(body, "HTTP 500") {
		t.Fatalf("after a failure: %d %q", code, body)
	}
	// A success makes it fresh again.
	st.begin(clk.Now())
	st.finish(clk.Now(), pipeline.Result{Rows: 3}, time.Time{}, "", false)
	if code, body := get(t, h, "/healthz"); code != 200 {
		t.Fatalf("after a success: %d %q", code, body)
	}
	// Both stale.
	clk.Add(20 * time.Hour)
	code, body = get(t, h, "/healthz")
	if code != 503 || !strings.HasPrefix(body, "stale: conversions, offers\n") {
		t.Fatalf("after 20h: %d %q", code, body)
	}
	// A long first pass that commits windows keeps its stream healthy.
	Progress(context.WithValue(context.Background(), progressKey{}, &passProgress{d: d, st: st}))(pipeline.Progress{Done: 3, Total: 10, Read: 500})
	code, body = get(t, h, "/healthz")
	if code != 503 || !strings.HasPrefix(body, "stale: offers\n") {
		t.Fatalf("after progress: %d %q", code, body)
	}
}

// TestMetrics scrapes /metrics after real passes and client hook calls.
func TestMetrics(t *testing.T) {
	sink := newFakeWarehouse()
	now := time.Now().UTC()
	clicksCursor := now.Add(-6 * 24 * time.Hour).Truncate(time.Hour)
	convCursor := now.Add(-10 * time.Minute)
	m := NewMetrics(nil) // registered by New below through Config.Registry
	_ = m
	log := &testLog{}
	d, err := New(Config{Listen: "127.0.0.1:0", Warehouse: sink, Log: log.logger(), Jobs: []Job{
		{Stream: "conversions", Schedule: every(time.Hour), Run: func(context.Context) (pipeline.Result, error) {
			sink.set("conversions", convCursor)
			return pipeline.Result{Stream: "conversions", Rows: 120, Read: 150, Committed: load.Committed{Inserted: 100, Updated: 20, Unchanged: 30},
				Requests: 4, Retries: 1, Duration: 2 * time.Second}, nil
		}},
		{Stream: "clicks", Schedule: every(time.Hour), Retention: true, Run: func(context.Context) (pipeline.Result, error) {
			sink.set("clicks", clicksCursor)
			return pipeline.Result{Stream: "clicks", Rows: 7, Requests: 2}, errors.New("clicks window 2025-06-01T00:00Z..2025-06-01T01:00Z: HTTP 500")
		}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	// What the extract client reports through the hook.
	d.metrics.OnRequest("/3.0/stats/conversions", 200, 120*time.Millisecond)
	d.metrics.ObserveRequest("/3.0/stats/conversions", 429, 10*time.Millisecond)
	d.metrics.ObserveRetry("/3.0/stats/conversions", "HTTP 429", time.Second)
	d.metrics.OnRequest("/3.0/stats/clicks", 0, time.Second)

	runDaemon(t, d)
	waitFor(t, "both passes", 5*time.Second, func() bool {
		s := d.Status()
		return s[0].HasLast && s[1].HasLast
	})
	got := scrape(t, d.Handler())
	want := map[string]float64{
		`syncd_rows_total{network="default",stream="conversions"}`:                                   120,
		`syncd_rows_total{network="default",stream="clicks"}`:                                        7,
		`syncd_rows_read_total{network="default",stream="conversions"}`:                              150,
		`syncd_rows_stored_total{change="inserted",network="default",stream="conversions"}`:          100,
		`syncd_rows_stored_total{change="updated",network="default",stream="conversions"}`:           20,
		`syncd_rows_stored_total{change="unchanged",network="default",stream="conversions"}`:         30,
		`syncd_pass_retries_total{network="default",stream="conversions"}`:                           1,
		`syncd_pass_retries_total{network="default",stream="clicks"}`:                                0,
		`syncd_passes_total{network="default",result="ok",stream="conversions"}`:                     1,
		`syncd_passes_total{network="default",result="error",stream="clicks"}`:                       1,
		`syncd_pass_duration_seconds_count{network="default",stream="conversions"}`:                  1,
		`syncd_pass_duration_seconds_sum{network="default",stream="conversions"}`:                    2,
		`syncd_requests_total{code="200",endpoint="/3.0/stats/conversions",network="default"}`:       1,
		`syncd_requests_total{code="429",endpoint="/3.0/stats/conversions",network="default"}`:       1,
		`syncd_requests_total{code="0",endpoint="/3.0/stats/clicks",network="default"}`:              1,
		`syncd_rate_limited_total{endpoint="/3.0/stats/conversions",network="default"}`:              1,
		`syncd_retries_total{endpoint="/3.0/stats/conversions",network="default",reason="HTTP 429"}`: 1,
		`syncd_request_duration_seconds_count{endpoint="/3.0/stats/conversions",network="default"}`:  2,
		`syncd_clicks_retention_alarm{network="default"}`:                                            1,
		`syncd_consecutive_failures{network="default",stream="clicks"}`:                              1,
		`syncd_stream_stale{network="default",stream="conversions"}`:                                 0,
		`syncd_pass_running{network="default",stream="conversions"}`:                                 0,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	if lag := got[`syncd_cursor_lag_seconds{network="default",stream="conversions"}`]; lag < 590 || lag > 700 {
		t.Errorf("conversions cursor lag = %v, want about 600", lag)
	}
	if lag := got[`syncd_cursor_lag_seconds{network="default",stream="clicks"}`]; lag < 6*86400-3600 || lag > 6*86400+3600 {
		t.Errorf("clicks cursor lag = %v, want about 6 days", lag)
	}
	if ts := got[`syncd_last_success_timestamp_seconds{network="default",stream="conversions"}`]; ts < float64(now.Unix()-5) || ts > float64(time.Now().Unix()+1) {
		t.Errorf("last success timestamp = %v, want about %d", ts, now.Unix())
	}
	if _, ok := got[`syncd_last_success_timestamp_seconds{network="default",stream="clicks"}`]; ok {
		t.Error("clicks never succeeded but has a last success timestamp")
	}
	// The retention alarm also warns in the log, each pass.
	if !strings.Contains(log.String(), `"level":"warn"`) || !strings.Contains(log.String(), "Affise drops clicks") {
		t.Errorf("no retention warning in the log: %s", log.String())
	}
}

// TestStatusPage renders against an empty and a populated warehouse.
func TestStatusPage(t *testing.T) {
	secret := "k3y-abcdef-123456"
	redact := func(s string) string { return strings.ReplaceAll(s, secret, "[REDACTED]") }
	now := time.Now().UTC()
	wh, db := openWarehouse(t)
	clk := newClock(now)
	d, err := New(Config{Now: clk.Now, Warehouse: wh, Redact: redact, Version: "v1.2.3", Jobs: []Job{
		idleJob("conversions", 15*time.Minute), idleJob("clicks", time.Hour), idleJob("offers", 6*time.Hour),
	}})
	if err != nil {
		t.Fatal(err)
	}
	code, page := get(t, d.Handler(), "/")
	if code != 200 || !strings.Contains(page, "No conversions synced yet") || !strings.Contains(page, "<td><b>clicks</b></td>") {
		t.Fatalf("empty warehouse: %d\n%s", code, page)
	}
	if strings.Contains(page, "class=\"alarm\"") || strings.Contains(page, "<svg") {
		t.Errorf("empty warehouse page shows an alarm or a chart")
	}

	seedConversions(t, db, now, 40)
	st := d.byKey[jobKey{models.DefaultNetwork, "conversions"}]
	st.begin(now.Add(-2 * time.Minute))
	st.finish(now.Add(-time.Minute), pipeline.Result{Rows: 1234, Read: 2000, Committed: load.Committed{Inserted: 1000, Updated: 234, Unchanged: 766},
		Requests: 5, Retries: 1, Duration: 42 * time.Second, CursorBefore: now.Add(-2 * time.Hour)}, now.Add(-time.Hour), "", false)
	cl := d.byKey[jobKey{models.DefaultNetwork, "clicks"}]
	cl.begin(now)
	cl.finish(now, pipeline.Result{}, now.Add(-(5*24+3)*time.Hour), `GET /3.0/stats/clicks: <script>alert(1)</script> key `+secret, false)

	code, page = get(t, d.Handler(), "/")
	if code != 200 {
		t.Fatalf("HTTP %d", code)
	}
	for _, want := range []string{
		"<svg", "<polyline", "took 42s", "2,000 read · 1,000 new · 234 updated · 766 unchanged · 5 requests (1 retried)",
		"cursor " + now.Add(-2*time.Hour).UTC().Format("01-02 15:04") + " → " + now.Add(-time.Hour).UTC().Format("01-02 15:04"),
		"Clicks retention alarm", "5d3h behind", `class="alarm-row"`,
		"&lt;script&gt;alert(1)&lt;/script&gt;", "[REDACTED]", "v1.2.3",
		`pill state-failing`, `pill state-fresh`, `pill state-waiting`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, bad := range []string{secret, "<script>", "https://", "src=", "url(", `href="http`} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	// Totals over the last 30 days: confirmed only (declined excluded).
	var rev, pay float64
	for i := range 30 {
		r, p := 100+10*i, 60+5*i
		if i%7 == 3 {
			p = r + 25
		}
		rev += float64(r)
		pay += float64(p)
	}
	if want := "revenue <b>" + money(rev) + " USD</b> · payouts <b>" + money(pay) + " USD</b> · profit <b>" + money(rev-pay) + " USD</b> · 60 conversions"; !strings.Contains(page, want) {
		i := strings.Index(page, "30 days:")
		t.Errorf("page lacks totals %q: %s", want, page[i:min(len(page), i+300)])
	}
}

func TestDailyMoneyFillsGaps(t *testing.T) {
	wh, db := openWarehouse(t)
	now := time.Date(2025, 6, 10, 8, 0, 0, 0, time.UTC)
	mustExec(t, db, `CREATE TABLE conversions (id VARCHAR, status VARCHAR, currency VARCHAR, revenue DECIMAL(18,4), payouts DECIMAL(18,4), created_at TIMESTAMP)`)
	mustExec(t, db, `INSERT INTO conversions VALUES
		('a', 'confirmed', 'USD', 10.5, 4, '2025-06-10 01:00:00'),
		('b', 'pending', 'USD', 1, 1, '2025-06-10 23:59:59'),
		('c', 'hold', 'USD', 2, 0.5, '2025-06-01 00:00:00'),
		('d', 'declined', 'USD', 100, 100, '2025-06-01 00:00:00'),
		('e', 'confirmed', 'USD', 1000, 1000, '2025-05-11 23:59:59'),
		('f', 'confirmed', 'USD', 3, 1, '2025-05-12 00:00:00'),
		('g', 'confirmed', 'EUR', 50, 20, '2025-06-10 02:00:00')`)
	mustExec(t, db, `ALTER TABLE conversions ADD COLUMN network VARCHAR DEFAULT 'default'`)
	charts, ok, err := dailyMoney(context.Background(), wh, now)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if len(charts) != 2 || charts[0].Currency != "USD" || charts[1].Currency != "EUR" {
		t.Fatalf("charts %+v: want USD (more conversions) then EUR", charts)
	}
	days := charts[0].Days
	if len(days) != 30 || !days[0].Day.Equal(time.Date(2025, 5, 12, 0, 0, 0, 0, time.UTC)) || !days[29].Day.Equal(time.Date(2025, 6, 10, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("days %v .. %v (%d)", days[0].Day, days[len(days)-1].Day, len(days))
	}
	check := func(days []DayMoney, i int, rev, pay float64, n int64) {
		t.Helper()
		if d := days[i]; d.Revenue != rev || d.Payouts != pay || d.Profit != rev-pay || d.Converts != n {
			t.Errorf("day %s = %+v, want revenue %v payouts %v, %d conversions", d.Day.Format(time.DateOnly), d, rev, pay, n)
		}
	}
	check(days, 0, 3, 1, 1)
	check(days, 20, 2, 0.5, 2)
	check(days, 29, 11.5, 5, 2) // the EUR conversion of that day is not added
	check(days, 5, 0, 0, 0)
	check(charts[1].Days, 29, 50, 20, 1)
	check(charts[1].Days, 28, 0, 0, 0)
	c := buildChart(days)
	if len(c.RevenueBars) != 30 || len(c.ProfitMarkers) != 30 || c.Ticks[0].Label != "0.00" {
		t.Errorf("chart: %d bars, %d markers, ticks %v", len(c.RevenueBars), len(c.ProfitMarkers), c.Ticks)
	}
}

func TestMoney(t *testing.T) {
	for v, want := range map[float64]string{0: "0.00", 12.5: "12.50", 1234567.891: "1,234,567.89", -1500: "-1,500.00", 25e6: "25.0M", 3.5e9: "3.50B"} {
		if got := money(v); got != want {
			t.Errorf("money(%v) = %q, want %q", v, got, want)
		}
	}
}

// TestAPIQuery: the daemon answers read-only queries in every format,
// rejects writes, and does not wait for an open write transaction.
func TestAPIQuery(t *testing.T) {
	wh, db := openWarehouse(t)
	secret := "s3cr3t-key-value"
	mustExec(t, db, `CREATE TABLE offers (id BIGINT PRIMARY KEY, title VARCHAR, payout DECIMAL(10,2))`)
	mustExec(t, db, `INSERT INTO offers VALUES (1, 'Alpha', 1.50), (2, 'Beta, "quoted"', 2.25), (3, ?, 0)`, "leaks "+secret)
	d, err := New(Config{Listen: "127.0.0.1:0", Warehouse: wh, ClientSQL: sqlguard.New(db), Jobs: []Job{idleJob("offers", time.Hour)},
		Redact: func(s string) string { return strings.ReplaceAll(s, secret, "[REDACTED]") }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	listen := strings.TrimPrefix(srv.URL, "http://")
	ctx := context.Background()

	q := func(sql, format string) (string, error) {
		var b bytes.Buffer
		err := QueryRemote(ctx, listen, sql, format, &b)
		return b.String(), err
	}
	out, err := q("SELECT id, title, payout FROM offers ORDER BY id", "table")
	if err != nil || !strings.Contains(out, "Alpha") || !strings.HasSuffix(out, "(3 rows)\n") || !strings.Contains(out, "[REDACTED]") || strings.Contains(out, secret) {
		t.Fatalf("table: %v\n%s", err, out)
	}
	out, err = q("SELECT id, title, payout FROM offers WHERE id <= 2 ORDER BY id", "csv")
	if want := "id,title,payout\n1,Alpha,1.50\n2,\"Beta, \"\"quoted\"\"\",2.25\n"; err != nil || out != want {
		t.Fatalf("csv: %v\n%q\nwant %q", err, out, want)
	}
	out, err = q("FROM offers SELECT id, payout WHERE id = 2", "json")
	if want := `{"id":2,"payout":2.25}` + "\n"; err != nil || out != want {
		t.Fatalf("json: %v\n%q", err, out)
	}
	for _, ok := range []string{"SHOW TABLES", "DESCRIBE offers", "SUMMARIZE offers", "SELECT * FROM pragma_table_info('offers')", "WITH x AS (SELECT 1 AS a) SELECT * FROM x"} {
		if _, err := q(ok, "table"); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{
		"DELETE FROM offers", "DROP TABLE offers", "INSERT INTO offers VALUES (9, 'x', 1)",
		"SELECT 1; DROP TABLE offers", "UPDATE offers SET title = 'x'", "CREATE TABLE x (a INT)",
		"COPY offers TO '" + t.TempDir() + "/x.csv'", "ATTACH ':memory:' AS m", "SET threads = 1",
		"EXPLAIN ANALYZE DELETE FROM offers", "EXPLAIN ANALYSE DELETE FROM offers", "CHECKPOINT", "BEGIN",
		"PRAGMA table_info('offers')", "EXPLAIN SELECT 1", "SELECT * FROM checkpoint()",
	} {
		if _, err := q(bad, "table"); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM offers`).Scan(&n); err != nil || n != 3 {
		t.Fatalf("offers after rejected writes: %d rows, %v", n, err)
	}
	// Errors come back as HTTP 400 with a one-line message.
	_, err = q("SELECT * FROM nope", "table")
	if err == nil || !strings.Contains(err.Error(), "nope") || strings.Contains(err.Error(), "\n") {
		t.Errorf("bad query: %v", err)
	}
	_, err = q("SELECT 1", "xml")
	if err == nil || !strings.Contains(err.Error(), "format") {
		t.Errorf("bad format: %v", err)
	}
	resp, err := http.Post(srv.URL+"/api/query", "text/plain", strings.NewReader(`{"sql":"SELECT 1"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain body: HTTP %d", resp.StatusCode)
	}

	// A load in flight (an open write transaction) does not block a query,
	// which sees the last committed state.
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`INSERT INTO offers VALUES (4, 'Delta', 9)`); err != nil {
		t.Fatal(err)
	}
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	var b bytes.Buffer
	err = QueryRemote(qctx, listen, "SELECT count(*) AS n FROM offers", "csv", &b)
	cancel()
	if err != nil || b.String() != "n\n3\n" {
		t.Errorf("query during a write: %v %q", err, b.String())
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	b.Reset()
	if err := QueryRemote(ctx, listen, "SELECT count(*) AS n FROM offers", "csv", &b); err != nil || b.String() != "n\n4\n" {
		t.Errorf("query after the commit: %v %q", err, b.String())
	}
}

// TestAPIQueryLargeResult streams past the held-back buffer; an error
// after the first bytes arrives as the trailer.
func TestAPIQueryLargeResult(t *testing.T) {
	wh, db := openWarehouse(t)
	d, err := New(Config{Warehouse: wh, ClientSQL: sqlguard.New(db), Jobs: []Job{idleJob("offers", time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	listen := strings.TrimPrefix(srv.URL, "http://")
	var b bytes.Buffer
	if err := QueryRemote(context.Background(), listen, "SELECT i, repeat('x', 100) AS pad FROM range(20000) t(i)", "csv", &b); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(b.String(), "\n"); lines != 20001 {
		t.Errorf("%d lines", lines)
	}
	b.Reset()
	// Fails at row 15000, after ~1.5MB went out.
	err = QueryRemote(context.Background(), listen, "SELECT i, repeat('x', 100) AS pad, CASE WHEN i < 15000 THEN 'ok' ELSE error('boom at ' || i) END AS e FROM range(20000) t(i)", "csv", &b)
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("late error: %v (%d bytes)", err, b.Len())
	}
}

func TestCheckHealth(t *testing.T) {
	clk := newClock(t0)
	d, err := New(Config{Now: clk.Now, Jobs: []Job{idleJob("offers", time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	listen := strings.TrimPrefix(srv.URL, "http://")
	if err := CheckHealth(context.Background(), listen); err != nil {
		t.Fatal(err)
	}
	clk.Add(4 * time.Hour)
	if err := CheckHealth(context.Background(), listen); err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "stale: offers") {
		t.Errorf("stale: %v", err)
	}
	_, port, _ := strings.Cut(listen, ":")
	if got := clientAddr(":" + port); got != "127.0.0.1:"+port {
		t.Errorf("clientAddr = %s", got)
	}
	if got := clientAddr("0.0.0.0:9464"); got != "127.0.0.1:9464" {
		t.Errorf("clientAddr = %s", got)
	}
}

// TestRunServesHTTP: Run listens on the configured address.
func TestRunServesHTTP(t *testing.T) {
	d, err := New(Config{Listen: "127.0.0.1:0", Jobs: []Job{idleJob("offers", time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Listen(); err != nil {
		t.Fatal(err)
	}
	runDaemon(t, d)
	resp, err := http.Get(fmt.Sprintf("http://%s/healthz", d.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "ok") {
		t.Errorf("%d %s", resp.StatusCode, body)
	}
	if code, _ := get(t, d.Handler(), "/nope"); code != 404 {
		t.Errorf("/nope: %d", code)
	}
}

// TestMetricsStartAtZero: before any pass, every per-stream counter is
// there at 0 (so rate() sees the first pass), and syncd_build_info says
// which syncd and DuckDB run.
func TestMetricsStartAtZero(t *testing.T) {
	d, err := New(Config{Version: "v9.8.7", DuckDBVersion: "v1.2.3", Jobs: []Job{idleJob("conversions", time.Hour), idleJob("offers", time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	got := scrape(t, d.Handler())
	for _, stream := range []string{"conversions", "offers"} {
		for _, k := range []string{
			`syncd_rows_total{network="default",stream="%s"}`, `syncd_rows_read_total{network="default",stream="%s"}`, `syncd_pass_retries_total{network="default",stream="%s"}`,
			`syncd_rows_stored_total{change="inserted",network="default",stream="%s"}`, `syncd_rows_stored_total{change="updated",network="default",stream="%s"}`,
			`syncd_rows_stored_total{change="unchanged",network="default",stream="%s"}`,
			`syncd_passes_total{network="default",result="ok",stream="%s"}`, `syncd_passes_total{network="default",result="error",stream="%s"}`,
			`syncd_passes_total{network="default",result="canceled",stream="%s"}`,
		} {
			k = fmt.Sprintf(k, stream)
			if v, ok := got[k]; !ok || v != 0 {
				t.Errorf("%s = %v (present %v), want 0 before any pass", k, v, ok)
			}
		}
	}
	if v, ok := got[`syncd_build_info{duckdb="v1.2.3",version="v9.8.7"}`]; !ok || v != 1 {
		t.Errorf("syncd_build_info = %v (present %v), want 1", v, ok)
	}
}
