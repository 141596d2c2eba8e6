package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/syncd/syncd/extract"
	"github.com/syncd/syncd/internal/affisesim"
	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/load/duckdb"
	"github.com/syncd/syncd/load/duckdb/sqlguard"
	"github.com/syncd/syncd/models"
	"github.com/syncd/syncd/pipeline"
)

// TestDaemonAgainstSimulator wires the daemon as `syncd run` does (the real
// client, extractors, DuckDB sink and pipeline) against an in-process
// affise-sim: passes repeat and pick up status changes, metrics move,
// /healthz turns 503 while the API fails and 200 after, queries work while
// it runs, and cancelling stops it cleanly.
func TestDaemonAgainstSimulator(t *testing.T) {
	if testing.Short() {
		t.Skip("integration")
	}
	const key = "sim-key-0123456789"
	sim, err := affisesim.New(affisesim.Config{Key: key, Seed: 3, Conversions: 1500, Days: 10, Offers: 10, Partners: 6, Advertisers: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	api := httptest.NewServer(sim)
	defer api.Close()

	reg := prometheus.NewRegistry()
	metrics := NewMetrics(reg)
	client, err := extract.NewClient(extract.ClientConfig{BaseURL: api.URL, Key: key, RequestsPerSecond: 200, Concurrency: 4, MaxRetries: 1, Timeout: 5 * time.Second},
		extract.WithObserver(metrics), extract.WithBackoff(10*time.Millisecond, 50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sink, err := duckdb.Open(ctx, filepath.Join(t.TempDir(), "w.duckdb"), duckdb.Sandboxed())
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()

	log := &testLog{}
	var jobs []Job
	for _, name := range []string{"conversions", "offers", "partners"} {
		m, err := models.ByName(name, nil)
		if err != nil {
			t.Fatal(err)
		}
		ex, err := extract.NewExtractor(name, client, m, extract.Options{StartDate: time.Now().AddDate(0, 0, -11), Lookback: 6 * time.Hour, UpdateFilter: true})
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, Job{Stream: name, Schedule: Every(300 * time.Millisecond), Staleness: 1500 * time.Millisecond,
			Run: func(ctx context.Context) (pipeline.Result, error) {
				return pipeline.Sync(ctx, ex, sink, pipeline.Options{Log: log.logger(), Progress: Progress(ctx)})
			}})
	}
	clientDB, err := sink.ClientDB()
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(Config{Jobs: jobs, Warehouse: sink, ClientSQL: sqlguard.New(clientDB), Listen: "127.0.0.1:0", Log: log.logger(),
		Registry: reg, Metrics: metrics, Redact: client.Redact})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Listen(); err != nil {
		t.Fatal(err)
	}
	listen := d.Addr().String()
	stop := runDaemon(t, d)

	passes := func(stream string) float64 {
		return scrape(t, d.Handler())[fmt.Sprintf(`syncd_passes_total{network="default",result="ok",stream="%s"}`, stream)]
	}
	waitFor(t, "three passes of conversions", 30*time.Second, func() bool { return passes("conversions") >= 3 })
	m := scrape(t, d.Handler())
	if m[`syncd_rows_total{network="default",stream="conversions"}`] < 1000 || m[`syncd_requests_total{code="200",endpoint="/3.0/stats/conversions",network="default"}`] < 3 {
		t.Errorf("metrics did not move: rows %v, requests %v", m[`syncd_rows_total{network="default",stream="conversions"}`], m[`syncd_requests_total{code="200",endpoint="/3.0/stats/conversions",network="default"}`])
	}

	// Status changes land.
	sim.Churn(100)
	want := truthStatuses(t, sim)
	waitFor(t, "the warehouse to match the simulator", 30*time.Second, func() bool {
		var b bytes.Buffer
		err := QueryRemote(ctx, listen, "SELECT status, count(*) AS n FROM conversions GROUP BY 1 ORDER BY 1", "csv", &b)
		return err == nil && b.String() == want
	})

	// The API fails: passes fail, /healthz turns 503 naming the streams.
	if err := sim.SetFaults(1, []string{"500"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "/healthz 503", 30*time.Second, func() bool {
		code, body := get(t, d.Handler(), "/healthz")
		return code == 503 && strings.Contains(body, "conversions") && strings.Contains(body, "HTTP 500")
	})
	if m := scrape(t, d.Handler()); m[`syncd_requests_total{code="500",endpoint="/3.0/stats/conversions",network="default"}`] < 1 || m[`syncd_consecutive_failures{network="default",stream="conversions"}`] < 1 {
		t.Error("failures did not show in the metrics")
	}
	// ... and back.
	if err := sim.SetFaults(0, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "/healthz 200", 30*time.Second, func() bool {
		code, _ := get(t, d.Handler(), "/healthz")
		return code == 200
	})
	if code, page := get(t, d.Handler(), "/"); code != 200 || !strings.Contains(page, "<svg") {
		t.Errorf("status page: %d", code)
	}
	if strings.Contains(log.String(), key) {
		t.Error("the API key is in the log")
	}

	t0 := time.Now()
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if el := time.Since(t0); el > 10*time.Second {
		t.Errorf("stopping took %s", el)
	}
}

func truthStatuses(t *testing.T, sim *affisesim.Sim) string {
	t.Helper()
	rows, err := sim.Truth("conversions")
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, r := range rows {
		var c struct {
			Status string `json:"status"`
		}
		if err := json.Unmarshal(r, &c); err != nil {
			t.Fatal(err)
		}
		counts[c.Status]++
	}
	var names []string
	for k := range counts {
		names = append(names, k)
	}
	sort.Strings(names)
	out := "status,n\n"
	for _, k := range names {
		out += fmt.Sprintf("%s,%d\n", k, counts[k])
	}
	return out
}

// TestNetworksAgainstSimulator wires two networks as `syncd run` does, each
// with its own client (and metrics observer), extractors and warehouse
// view: alpha against a simulator, beta against one that refuses beta's
// key throughout. alpha's passes sync its rows while beta's fail; /healthz
// names beta and its stream; each network's requests are counted under
// its own label; the status page shows both.
func TestNetworksAgainstSimulator(t *testing.T) {
	if testing.Short() {
		t.Skip("integration")
	}
	const key = "sim-key-0123456789"
	sim, err := affisesim.New(affisesim.Config{Key: key, Seed: 5, Conversions: 400, Days: 5, Offers: 5, Partners: 3, Advertisers: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	api := httptest.NewServer(sim)
	defer api.Close()

	ctx := context.Background()
	sink, err := duckdb.Open(ctx, filepath.Join(t.TempDir(), "w.duckdb"), duckdb.Sandboxed())
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	reg := prometheus.NewRegistry()
	metrics := NewMetrics(reg)
	log := &testLog{}
	var jobs []Job
	for _, network := range []string{"alpha", "beta"} {
		k := key
		if network == "beta" {
			k = "not-the-key-0123456789" // 401 on every request
		}
		client, err := extract.NewClient(extract.ClientConfig{Network: network, BaseURL: api.URL, Key: k, RequestsPerSecond: 200, Concurrency: 2, MaxRetries: 1, Timeout: 5 * time.Second},
			extract.WithObserver(metrics.ForNetwork(network)), extract.WithBackoff(10*time.Millisecond, 50*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		wh := sink.ForNetwork(network)
		m, err := models.ByName("conversions", nil)
		if err != nil {
			t.Fatal(err)
		}
		ex, err := extract.NewExtractor("conversions", client, m, extract.Options{StartDate: time.Now().AddDate(0, 0, -6), Lookback: 6 * time.Hour, UpdateFilter: true})
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, Job{Network: network, Stream: "conversions", Schedule: Every(200 * time.Millisecond), Staleness: time.Minute,
			Run: func(ctx context.Context) (pipeline.Result, error) {
				return pipeline.Sync(ctx, ex, wh, pipeline.Options{Log: log.logger(), Progress: Progress(ctx)})
			}})
	}
	d, err := New(Config{Jobs: jobs, Warehouse: sink, NetworkReader: func(n string) load.Reader { return sink.ForNetwork(n) },
		Listen: "127.0.0.1:0", Log: log.logger(), Registry: reg, Metrics: metrics})
	if err != nil {
		t.Fatal(err)
	}
	runDaemon(t, d)
	waitFor(t, "two passes of each network", 60*time.Second, func() bool {
		m := scrape(t, d.Handler())
		return m[`syncd_passes_total{network="alpha",result="ok",stream="conversions"}`] >= 2 &&
			m[`syncd_passes_total{network="beta",result="error",stream="conversions"}`] >= 2
	})
	m := scrape(t, d.Handler())
	if m[`syncd_passes_total{network="beta",result="ok",stream="conversions"}`] != 0 || m[`syncd_passes_total{network="alpha",result="error",stream="conversions"}`] != 0 {
		t.Error("a pass of alpha failed or one of beta succeeded")
	}
	if m[`syncd_requests_total{code="200",endpoint="/3.0/stats/conversions",network="alpha"}`] < 2 ||
		m[`syncd_requests_total{code="401",endpoint="/3.0/stats/conversions",network="beta"}`] < 2 {
		t.Errorf("requests by network: alpha 200 %v, beta 401 %v", m[`syncd_requests_total{code="200",endpoint="/3.0/stats/conversions",network="alpha"}`],
			m[`syncd_requests_total{code="401",endpoint="/3.0/stats/conversions",network="beta"}`])
	}
	for k := range m {
		if strings.HasPrefix(k, "syncd_requests_total{") && strings.Contains(k, `code="401"`) && !strings.Contains(k, `network="beta"`) {
			t.Errorf("a 401 counted outside beta: %s", k)
		}
	}
	if m[`syncd_rows_total{network="alpha",stream="conversions"}`] < 100 || m[`syncd_rows_total{network="beta",stream="conversions"}`] != 0 {
		t.Errorf("rows: alpha %v, beta %v", m[`syncd_rows_total{network="alpha",stream="conversions"}`], m[`syncd_rows_total{network="beta",stream="conversions"}`])
	}
	var n int
	if err := sink.DB().QueryRow(`SELECT count(*) FROM conversions WHERE network = 'alpha'`).Scan(&n); err != nil || n == 0 {
		t.Errorf("alpha's conversions in the warehouse: %d (%v)", n, err)
	}
	code, body := get(t, d.Handler(), "/healthz")
	if code != 503 || !strings.HasPrefix(body, "network beta: every pass since start failed: conversions\n") ||
		!strings.Contains(body, "\nnetwork alpha: stream conversions: fresh") || !strings.Contains(body, "\nnetwork beta: stream conversions: failing") {
		t.Errorf("/healthz %d:\n%s", code, body)
	}
	if strings.Contains(body, "not-the-key") || strings.Contains(log.String(), "not-the-key") || strings.Contains(log.String(), key) {
		t.Error("a key is in /healthz or the log")
	}
	if _, page := get(t, d.Handler(), "/"); !strings.Contains(page, "Network alpha: streams") || !strings.Contains(page, "Network beta: streams") {
		t.Error("the status page does not show both networks")
	}
}
