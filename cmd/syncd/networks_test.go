package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/syncd/syncd/config"
	"github.com/syncd/syncd/internal/affisesim"
	"github.com/syncd/syncd/internal/passview"
	"github.com/syncd/syncd/pipeline"
)

const twoNetworksYAML = `networks:
  - name: alpha
    api: {base_url: "http://127.0.0.1:1", key: alpha-key-0123}
    streams: {clicks: {enabled: false}}
  - name: beta
    api: {base_url: "http://127.0.0.1:2", key: beta-key-0123}
`

func testApp(t *testing.T, yaml string) *app {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml), nil)
	if err != nil {
		t.Fatal(err)
	}
	return &app{cfg: cfg, redact: func(s string) string { return s }}
}

// A stream named with --stream runs in the networks that enable it; one
// disabled everywhere chosen is refused, naming it.
func TestSelectStreamsAcrossNetworks(t *testing.T) {
	a := testApp(t, twoNetworksYAML)
	got, err := a.selectStreams(a.cfg.Networks, []string{"clicks", "offers"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got["alpha"]) != "[offers]" || fmt.Sprint(got["beta"]) != "[clicks offers]" {
		t.Errorf("got %v", got)
	}
	_, err = a.selectStreams(a.cfg.Networks[:1], []string{"clicks"}, false)
	var ue usageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "--stream clicks: the stream is disabled") {
		t.Errorf("clicks in alpha alone: %v", err)
	}
	if _, err := a.selectStreams(a.cfg.Networks, []string{"convs"}, false); !errors.As(err, &ue) || !strings.Contains(err.Error(), `--stream "convs": no such stream`) {
		t.Errorf("unknown stream: %v", err)
	}
	all, err := a.selectStreams(a.cfg.Networks, nil, true)
	if err != nil || len(all["beta"]) != len(all["alpha"])+1 {
		t.Errorf("every enabled stream: %v %v", all, err)
	}
}

func TestSelectNetworks(t *testing.T) {
	a := testApp(t, twoNetworksYAML)
	nets, err := a.selectNetworks([]string{"beta", " alpha", "beta"})
	if err != nil || len(nets) != 2 || nets[0].Name != "beta" || nets[1].Name != "alpha" {
		t.Fatalf("got %v %v", nets, err)
	}
	if nets, err := a.selectNetworks(nil); err != nil || len(nets) != 2 {
		t.Errorf("no --network: %v %v", nets, err)
	}
	_, err = a.selectNetworks([]string{"gamma"})
	var ue usageError
	if !errors.As(err, &ue) || err.Error() != `--network "gamma": no such network (networks are alpha, beta)` {
		t.Errorf("unknown network: %v", err)
	}
	if _, err := a.oneNetwork([]string{"alpha", "beta"}); !errors.As(err, &ue) {
		t.Errorf("two networks for a query: %v", err)
	}
	if n, err := a.oneNetwork(nil); n != "" || err != nil {
		t.Errorf("no --network for a query: %q %v", n, err)
	}
}

// Messages and summaries of a config with api: alone read as they always
// have; with several networks each names its network.
func TestLabelsAndColumns(t *testing.T) {
	one := testApp(t, "api: {base_url: \"http://127.0.0.1:1\", key: abcd1234}\n")
	if one.label("default") != "" || one.column("default") != "" {
		t.Errorf("one network: label %q column %q", one.label("default"), one.column("default"))
	}
	two := testApp(t, twoNetworksYAML)
	if two.label("beta") != "network beta: " || two.column("beta") != "beta" {
		t.Errorf("two networks: label %q column %q", two.label("beta"), two.column("beta"))
	}
	solo := testApp(t, "networks:\n  - name: alpha\n    api: {base_url: \"http://127.0.0.1:1\", key: abcd1234}\n")
	if solo.label("alpha") != "network alpha: " || solo.column("alpha") != "" {
		t.Errorf("one named network: label %q column %q", solo.label("alpha"), solo.column("alpha"))
	}
}

func TestFailuresOneLinePerFailedPass(t *testing.T) {
	fail := func(network, stream string) passview.Pass {
		return passview.Pass{Result: pipeline.Result{Stream: stream}, Err: fmt.Errorf("network %s: %s: HTTP 401", network, stream)}
	}
	ok := passview.Pass{Result: pipeline.Result{Stream: "offers"}}
	two := testApp(t, twoNetworksYAML)
	err := two.failures([]passview.Pass{ok, fail("beta", "conversions"), fail("beta", "offers")}, 2)
	want := "2 of 3 passes failed:\nnetwork beta: conversions: HTTP 401\nnetwork beta: offers: HTTP 401"
	if err == nil || err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
	if err := two.failures([]passview.Pass{ok, fail("beta", "offers")}, 1); err == nil || err.Error() != "network beta: offers: HTTP 401" {
		t.Errorf("one failure: %v", err)
	}
	if err := two.failures([]passview.Pass{ok}, 0); err != nil {
		t.Errorf("no failure: %v", err)
	}
	one := testApp(t, "api: {base_url: \"http://127.0.0.1:1\", key: abcd1234}\n")
	plain := func(stream string) passview.Pass {
		return passview.Pass{Result: pipeline.Result{Stream: stream}, Err: errors.New(stream + ": HTTP 500")}
	}
	err = one.failures([]passview.Pass{plain("conversions"), ok, plain("clicks")}, 2)
	if err == nil || err.Error() != "2 of 3 streams failed (conversions, clicks); first: conversions: HTTP 500" {
		t.Errorf("one network: %v", err)
	}
}

func TestTablesGetANetworkColumn(t *testing.T) {
	var b bytes.Buffer
	if err := printPlan(&b, []planRow{{Network: "alpha", Stream: "offers", Windows: 1, EstimatedRequests: 1}, {Network: "beta", Stream: "offers", Error: "boom"}}, "table"); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	if !strings.HasPrefix(lines[0], "network  stream") || !strings.HasPrefix(lines[1], "alpha    offers") || !strings.HasPrefix(lines[2], "beta     offers") {
		t.Errorf("plan:\n%s", b.String())
	}
	b.Reset()
	if err := printState(&b, []stateRow{{Stream: "offers", Enabled: true}}, "table"); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), "stream  ") {
		t.Errorf("state of one network has a network column:\n%s", b.String())
	}
	b.Reset()
	if err := printState(&b, []stateRow{{Network: "alpha", Stream: "offers", Enabled: true}}, "json"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"network": "alpha"`) {
		t.Errorf("state json:\n%s", b.String())
	}
}

// Two networks, one answering 401 to every request: the other syncs fully
// into its own rows, and the exit error has a line per failed pass naming
// the network and the stream; the summary has a network column.
func TestSyncOneNetworkFailsAlone(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two simulators")
	}
	now := time.Now().UTC()
	good, err := affisesim.New(affisesim.Config{Key: "alpha-key-0123", Seed: 1, Conversions: 300, Days: 3, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	bad, err := affisesim.New(affisesim.Config{Key: "the-real-beta-key", Seed: 2, Conversions: 300, Days: 3, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	alpha, beta := httptest.NewServer(good), httptest.NewServer(bad)
	defer alpha.Close()
	defer beta.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "syncd.yaml")
	db := filepath.Join(dir, "w.duckdb")
	yaml := fmt.Sprintf(`networks:
  - name: alpha
    api: {base_url: %q, key: alpha-key-0123, requests_per_second: 200, max_retries: 1}
  - name: beta
    api: {base_url: %q, key: "${BETA_KEY}", requests_per_second: 200, max_retries: 1}
warehouse: {path: %q}
`, alpha.URL, beta.URL, db)
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BETA_KEY", "wrong-beta-key-0123")
	root, _ := newRootCmd()
	root.SetArgs([]string{"sync", "-c", path, "--stream", "conversions,offers", "--log-level", "error"})
	var out bytes.Buffer
	root.SetOut(&out)
	err = root.ExecuteContext(context.Background())
	if err == nil {
		t.Fatalf("sync with a failing network succeeded:\n%s", out.String())
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 3 || lines[0] != "2 of 4 passes failed:" || !strings.HasPrefix(lines[1], "network beta: conversions: ") || !strings.HasPrefix(lines[2], "network beta: offers: ") ||
		!strings.Contains(lines[1], "401") {
		t.Errorf("error:\n%v", err)
	}
	if strings.Contains(err.Error(), "wrong-beta-key-0123") {
		t.Error("the error shows the key")
	}
	summary := out.String()
	if !strings.HasPrefix(summary, "NETWORK") || strings.Count(summary, "alpha ") != 2 || strings.Count(summary, "beta ") != 2 || strings.Count(summary, "failed") != 2 {
		t.Errorf("summary:\n%s", summary)
	}
	conn, err := sql.Open("duckdb", db+"?access_mode=read_only")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var alphaRows, betaRows int
	if err := conn.QueryRow(`SELECT count(*) FILTER (WHERE network = 'alpha'), count(*) FILTER (WHERE network = 'beta') FROM conversions`).Scan(&alphaRows, &betaRows); err != nil {
		t.Fatal(err)
	}
	if alphaRows != 300 || betaRows != 0 { // every conversion of alpha's simulator
		t.Errorf("conversions: alpha %d, beta %d", alphaRows, betaRows)
	}
}
