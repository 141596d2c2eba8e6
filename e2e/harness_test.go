// Package e2e runs the real syncd and affise-sim binaries against each other
// and checks the DuckDB file they produce against the simulator's truth.
package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
)

var bin string // directory holding the freshly built binaries

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "syncd-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = dir
	for _, pkg := range []string{"syncd", "affise-sim"} {
		cmd := exec.Command("go", "build", "-tags", "duckdb_arrow", "-o", filepath.Join(dir, pkg), "../cmd/"+pkg)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building", pkg, err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// sim is a running affise-sim process.
type sim struct {
	URL string
	Key string
	cmd *exec.Cmd
	log *bytes.Buffer
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startSim(t *testing.T, args ...string) *sim {
	t.Helper()
	s := &sim{Key: "e2e-secret-key-" + fmt.Sprint(time.Now().UnixNano()), log: &bytes.Buffer{}}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	s.URL = "http://" + addr
	s.cmd = exec.Command(filepath.Join(bin, "affise-sim"), append([]string{"--addr", addr, "--key", s.Key}, args...)...)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.cmd.Process.Kill(); s.cmd.Wait() })
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/_sim/requests")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("affise-sim did not start: %v\n%s", err, s.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.control(t, "POST", "/_sim/requests/reset", nil, nil)
	return s
}

func (s *sim) control(t *testing.T, method, path string, body, out any) {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, s.URL+path, rd)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("%s %s: HTTP %d", method, path, resp.StatusCode)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

func (s *sim) truth(t *testing.T, stream string) []map[string]any {
	t.Helper()
	var out struct {
		Rows []map[string]any `json:"rows"`
	}
	s.control(t, "GET", "/_sim/truth/"+stream, nil, &out)
	return out.Rows
}

// api GETs path (with its query) from the simulator's Affise API with the
// key, as a client would, and decodes the reply into out.
func (s *sim) api(t *testing.T, path string, out any) {
	t.Helper()
	req, err := http.NewRequest("GET", s.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("API-Key", s.Key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: HTTP %d %s", path, resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

func (s *sim) requests(t *testing.T) int {
	t.Helper()
	var out struct {
		Total int `json:"total"`
	}
	s.control(t, "GET", "/_sim/requests", nil, &out)
	return out.Total
}

// env is one syncd setup: a config file and a warehouse.
type env struct {
	dir    string
	config string
	db     string
	// lakeFiles is, for a Parquet lake, the local directory holding its
	// objects (for a lake on S3, the S3 server's backing directory), which
	// openDB reads as a plain Parquet reader does; "" for DuckDB.
	lakeFiles string
	// extraEnv is added to every syncd run (S3 credentials).
	extraEnv []string
	sim      *sim
	// loc is api.timezone: stats_daily's days are its calendar days.
	loc *time.Location
	// clock is what syncd and the simulator take for now: the real clock,
	// or one replaying a past day (see replay).
	clock    func() time.Time
	replayed bool
	// lastSync is when the latest mustSync started: clicks are loaded up to
	// the last full hour before it.
	lastSync time.Time
	// nets are the simulators of a `networks:` config by network name
	// (nil for a single-api config); network, when set, scopes openDB to
	// that network's rows (see forNetwork).
	nets    map[string]*sim
	network string
}

func newEnv(t *testing.T, s *sim, extraYAML string) *env {
	t.Helper()
	return newEnvIn(t, s, "Europe/Berlin", extraYAML)
}

// newEnvIn is newEnv with api.timezone set to zone.
func newEnvIn(t *testing.T, s *sim, zone string, extraYAML string) *env {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	e := &env{dir: dir, config: filepath.Join(dir, "syncd.yaml"), db: filepath.Join(dir, "wh", "affise.duckdb"), sim: s,
		loc: loc, clock: time.Now}
	cfg := fmt.Sprintf(`api:
%swarehouse:
  path: %s
%s`, apiSettingsYAML(s, zone, "  "), e.db, extraYAML)
	if err := os.WriteFile(e.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

type result struct {
	stdout, stderr string
	code           int
}

func (e *env) syncd(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	return e.run(t, exec.CommandContext(ctx, filepath.Join(bin, "syncd"), append(args, "-c", e.config)...))
}

// run runs cmd with the test's environment plus E2E_KEY, or with cmd.Env
// when the caller set one.
func (e *env) run(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if cmd.Env == nil {
		cmd.Env = e.environ()
	}
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}
}

// replay makes syncd's clock read t0 now and run from there, as a simulator
// started with --clock t0 at the same moment does.
func (e *env) replay(t0 time.Time) {
	started := time.Now()
	e.clock = func() time.Time { return t0.Add(time.Since(started)) }
	e.replayed = true
}

// environ is the test's environment plus E2E_KEY and extra, without the
// variables named in unset.
func (e *env) environ(extra ...string) []string {
	return envWith(append(append([]string{"E2E_KEY=" + e.sim.Key}, e.extraEnv...), extra...))
}

// envWith is os.Environ with set added (NAME=value) or removed (NAME).
func envWith(set []string) []string {
	out := os.Environ()
	for _, kv := range set {
		name, _, isSet := strings.Cut(kv, "=")
		out = slices.DeleteFunc(out, func(o string) bool { return strings.HasPrefix(o, name+"=") })
		if isSet {
			out = append(out, kv)
		}
	}
	return out
}

func (e *env) mustSync(t *testing.T, args ...string) result {
	t.Helper()
	e.lastSync = e.clock().UTC()
	if e.replayed {
		args = append(args, "--clock", e.lastSync.Format(time.RFC3339Nano))
	}
	r := e.syncd(t, append([]string{"sync"}, args...)...)
	if r.code != 0 {
		t.Fatalf("syncd sync exit %d\nstderr:\n%s", r.code, tail(r.stderr, 4000))
	}
	return r
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// openDB opens the warehouse read-only (syncd must not be running): the
// DuckDB file, or a lake's files as a plain reader reads them.
func (e *env) openDB(t *testing.T) *sql.DB {
	t.Helper()
	if e.lakeFiles != "" && e.network != "" {
		return openLakeNetwork(t, e.lakeFiles, e.network)
	}
	if e.lakeFiles != "" {
		return openLakeFiles(t, e.lakeFiles)
	}
	if e.network != "" {
		return openNetworkDB(t, e.db, e.network)
	}
	db, err := sql.Open("duckdb", e.db+"?access_mode=READ_ONLY")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func queryStrings(t *testing.T, db *sql.DB, q string) [][]string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out [][]string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			row[i] = v.String
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func oneLine(s string) bool {
	return strings.Count(strings.TrimSpace(s), "\n") == 0 && strings.TrimSpace(s) != ""
}

// apiSettingsYAML is the api block's settings the tests sync with, against
// s in zone, each line indented by indent: the single api: block and each
// network's in a networks: list are the same settings.
func apiSettingsYAML(s *sim, zone, indent string) string {
	var b strings.Builder
	for _, l := range []string{"base_url: " + s.URL, "key: ${E2E_KEY}", "timezone: " + zone,
		"requests_per_second: 200", "concurrency: 4", "timeout: 5s"} {
		b.WriteString(indent + l + "\n")
	}
	return b.String()
}
