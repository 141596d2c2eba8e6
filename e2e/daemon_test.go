package e2e

// End-to-end tests of `syncd run`: the real daemon binary against the
// simulator, over its HTTP endpoints (/healthz, /metrics, /api/status) and
// through `syncd query`, which must go through the daemon while it holds
// the DuckDB file.

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/syncd/syncd/models"
)

// daemonStreams are every stream syncd has; the daemon tests run them all.
var daemonStreams = models.Names()

// smallSimArgs is a small data set for tests about the daemon's behaviour
// rather than about the data.
var smallSimArgs = []string{"--seed", "3", "--conversions", "400", "--days", "8"}

// daemonYAML schedules every stream every 2s and puts the daemon's HTTP
// listener on a free loopback port.
func daemonYAML(t *testing.T) (yaml, listen string) {
	t.Helper()
	listen = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	var b strings.Builder
	b.WriteString("streams:\n")
	for _, s := range daemonStreams {
		fmt.Fprintf(&b, "  %s:\n    schedule: \"@every 2s\"\n", s)
	}
	fmt.Fprintf(&b, "http:\n  listen: %s\n", listen)
	return b.String(), listen
}

// newDaemonEnv is newEnv with daemonYAML.
func newDaemonEnv(t *testing.T, s *sim) (*env, string) {
	t.Helper()
	y, listen := daemonYAML(t)
	return newEnv(t, s, y), listen
}

// editConfig replaces old (which must occur) by repl in e's config file.
func (e *env) editConfig(t *testing.T, old, repl string) {
	t.Helper()
	b, err := os.ReadFile(e.config)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("config has no %q:\n%s", old, b)
	}
	if err := os.WriteFile(e.config, bytes.Replace(b, []byte(old), []byte(repl), 1), 0o600); err != nil {
		t.Fatal(err)
	}
}

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// daemonProc is a running `syncd run`.
type daemonProc struct {
	base    string // http://listen
	cmd     *exec.Cmd
	log     *lockedBuffer
	done    chan struct{}
	waitErr error
}

var httpc = &http.Client{Timeout: 15 * time.Second}

// startDaemon starts `syncd run -c e.config`; the test's cleanup kills it
// if it still runs and shows its log when the test failed.
func (e *env) startDaemon(t *testing.T, listen string) *daemonProc {
	t.Helper()
	d := &daemonProc{base: "http://" + listen, log: &lockedBuffer{}, done: make(chan struct{})}
	d.cmd = exec.Command(filepath.Join(bin, "syncd"), "run", "-c", e.config)
	d.cmd.Env = e.environ()
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.waitErr = d.cmd.Wait(); close(d.done) }()
	t.Cleanup(func() {
		if !d.exited() {
			d.cmd.Process.Kill()
			<-d.done
		}
		if t.Failed() {
			t.Logf("syncd run log (pid %d):\n%s", d.cmd.Process.Pid, tail(d.log.String(), 6000))
		}
	})
	return d
}

func (d *daemonProc) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

func (d *daemonProc) exitCode() int {
	<-d.done
	if ee, ok := d.waitErr.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if d.waitErr != nil {
		return -1
	}
	return 0
}

// get GETs path from the daemon: status code and body, or an error.
func (d *daemonProc) get(path string) (int, string, error) {
	resp, err := httpc.Get(d.base + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// waitFor polls cond every 200ms until it holds; it fails the test after
// timeout (or at once when the daemon exits), showing cond's last detail.
func (d *daemonProc) waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, detail := cond()
		if ok {
			return
		}
		if detail != "" {
			last = detail
		}
		if d.exited() {
			t.Fatalf("waiting for %s: syncd run exited (code %d); last: %s", what, d.exitCode(), last)
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: not after %s; last: %s", what, timeout, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// healthz waits until /healthz answers want and returns its body.
func (d *daemonProc) waitHealthz(t *testing.T, want int, timeout time.Duration) string {
	t.Helper()
	var body string
	d.waitFor(t, timeout, fmt.Sprintf("/healthz %d", want), func() (bool, string) {
		code, b, err := d.get("/healthz")
		if err != nil {
			return false, err.Error()
		}
		body = b
		return code == want, fmt.Sprintf("HTTP %d: %s", code, b)
	})
	return body
}

type daemonStatus struct {
	Started time.Time `json:"started"`
	Streams []struct {
		Stream      string    `json:"stream"`
		State       string    `json:"state"`
		Running     bool      `json:"running"`
		Stale       bool      `json:"stale"`
		LastSuccess time.Time `json:"last_success"`
		PassStarted time.Time `json:"pass_started"`
		LastEnd     time.Time `json:"last_pass_finished"`
		Failures    int       `json:"consecutive_failures"`
		LastError   string    `json:"last_error"`
		Cursor      time.Time `json:"cursor"`
	} `json:"streams"`
}

func (d *daemonProc) status() (daemonStatus, error) {
	var st daemonStatus
	code, body, err := d.get("/api/status")
	if err != nil {
		return st, err
	}
	if code != 200 {
		return st, fmt.Errorf("/api/status: HTTP %d: %s", code, body)
	}
	err = json.Unmarshal([]byte(body), &st)
	return st, err
}

// waitAllSucceeded waits until every stream had a successful pass since the
// daemon (this process) started, its last pass included.
func (d *daemonProc) waitAllSucceeded(t *testing.T, timeout time.Duration) daemonStatus {
	t.Helper()
	var st daemonStatus
	d.waitFor(t, timeout, "a successful pass of every stream", func() (bool, string) {
		var err error
		st, err = d.status()
		if err != nil {
			return false, err.Error()
		}
		if len(st.Streams) != len(daemonStreams) {
			return false, fmt.Sprintf("%d streams in /api/status, want %d", len(st.Streams), len(daemonStreams))
		}
		var pending []string
		for _, s := range st.Streams {
			if !s.LastSuccess.After(st.Started) || s.Failures > 0 {
				pending = append(pending, fmt.Sprintf("%s (%s, failures %d, %s)", s.Stream, s.State, s.Failures, s.LastError))
			}
		}
		return len(pending) == 0, "not yet: " + strings.Join(pending, "; ")
	})
	return st
}

// stop sends SIGTERM and requires exit code 0 within limit.
func (d *daemonProc) stop(t *testing.T, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.done:
	case <-time.After(limit):
		t.Fatalf("syncd run did not exit within %s of SIGTERM", limit)
	}
	took := time.Since(start)
	if code := d.exitCode(); code != 0 {
		t.Fatalf("syncd run exited %d after SIGTERM, want 0", code)
	}
	return took
}

// metric sums the samples of name whose labels contain every one of
// labels (e.g. `stream="conversions"`); found reports whether any matched.
func (d *daemonProc) metric(t *testing.T, name string, labels ...string) (sum float64, found bool) {
	t.Helper()
	code, body, err := d.get("/metrics")
	if err != nil || code != 200 {
		return 0, false // not listening yet, or exiting
	}
	return metricSum(body, name, labels...)
}

func metricSum(text, name string, labels ...string) (sum float64, found bool) {
	for line := range strings.SplitSeq(text, "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(line, l)
		}
		if !ok {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			continue
		}
		sum += v
		found = true
	}
	return sum, found
}

// queryCSV runs `syncd query SQL --format csv` and returns the rows without
// the header, or the failed result.
func (e *env) queryCSV(t *testing.T, q string) ([][]string, result) {
	t.Helper()
	r := e.syncd(t, "query", q, "--format", "csv")
	if r.code != 0 {
		return nil, r
	}
	rows, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if err != nil {
		t.Fatalf("syncd query %q: output is not CSV: %v\n%s", q, err, r.stdout)
	}
	if len(rows) == 0 {
		t.Fatalf("syncd query %q: no header line", q)
	}
	return rows[1:], r
}

// statusCounts renders per-status counts as "status=n" lines, sorted.
func statusCounts(rows [][]string) string {
	var out []string
	for _, r := range rows {
		out = append(out, strings.Join(r, "="))
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func truthStatusCounts(truth []map[string]any) string {
	n := map[string]int{}
	for _, r := range truth {
		n[str(r["status"])]++
	}
	var rows [][]string
	for s, c := range n {
		rows = append(rows, []string{s, strconv.Itoa(c)})
	}
	return statusCounts(rows)
}

// assertFileLocked checks the daemon holds the DuckDB file, so a `syncd
// query` that succeeds must have gone through the daemon.
func assertFileLocked(t *testing.T, e *env) {
	t.Helper()
	db, err := sql.Open("duckdb", e.db+"?access_mode=READ_ONLY")
	if err != nil {
		return
	}
	defer db.Close()
	if err := db.Ping(); err == nil {
		t.Errorf("opened %s while syncd run holds it: the daemon does not hold the file", e.db)
	}
}

const warehouseQuery = `SELECT status, count(*) FROM conversions GROUP BY status ORDER BY status`

func TestDaemonSyncsRepeatedlyAndPicksUpChanges(t *testing.T) {
	s := startSim(t, simArgs...)
	e, listen := newDaemonEnv(t, s)
	d := e.startDaemon(t, listen)

	d.waitAllSucceeded(t, 3*time.Minute)
	d.waitHealthz(t, 200, 60*time.Second)
	assertFileLocked(t, e)

	// The warehouse, read through the daemon, holds the simulator's rows.
	waitWarehouse := func(what string, truth []map[string]any) {
		t.Helper()
		wantCount, wantStatus := strconv.Itoa(len(truth)), truthStatusCounts(truth)
		d.waitFor(t, 90*time.Second, what, func() (bool, string) {
			rows, r := e.queryCSV(t, `SELECT count(*) FROM conversions`)
			if rows == nil {
				return false, fmt.Sprintf("syncd query exit %d: %s", r.code, tail(r.stderr, 500))
			}
			if len(rows) != 1 || rows[0][0] != wantCount {
				return false, fmt.Sprintf("count(*) %v, simulator %s", rows, wantCount)
			}
			rows, r = e.queryCSV(t, warehouseQuery)
			if rows == nil {
				return false, fmt.Sprintf("syncd query exit %d: %s", r.code, tail(r.stderr, 500))
			}
			got := statusCounts(rows)
			return got == wantStatus, fmt.Sprintf("statuses %s, simulator %s", got, wantStatus)
		})
	}
	waitWarehouse("the first passes in the warehouse", s.truth(t, "conversions"))

	rows, _ := d.metric(t, "syncd_rows_total", `stream="conversions"`)
	if rows <= 0 {
		t.Errorf(`syncd_rows_total{stream="conversions"} = %v, want > 0`, rows)
	}
	req1, found := d.metric(t, "syncd_requests_total")
	if !found || req1 <= 0 {
		t.Errorf("syncd_requests_total = %v (found %v), want > 0", req1, found)
	}

	var churn struct{ Changed, Created int }
	s.control(t, "POST", "/_sim/churn?n=200", nil, &churn)
	if churn.Changed == 0 || churn.Created == 0 {
		t.Fatalf("churn changed nothing: %+v", churn)
	}
	waitWarehouse("the churn in the warehouse", s.truth(t, "conversions"))

	// Passes keep running on schedule: the request counter moves.
	d.waitFor(t, 60*time.Second, "syncd_requests_total to move", func() (bool, string) {
		req2, _ := d.metric(t, "syncd_requests_total")
		return req2 > req1, fmt.Sprintf("syncd_requests_total %v, before %v", req2, req1)
	})
	d.stop(t, 10*time.Second)
}

func TestDaemonHealthTurnsStaleAndRecovers(t *testing.T) {
	s := startSim(t, smallSimArgs...)
	e, listen := newDaemonEnv(t, s)
	// Failing passes should end fast.
	e.editConfig(t, "  timeout: 5s\n", "  timeout: 2s\n  max_retries: 1\n")
	d := e.startDaemon(t, listen)
	d.waitAllSucceeded(t, 3*time.Minute)
	d.waitHealthz(t, 200, 60*time.Second)

	s.control(t, "POST", "/_sim/faults", map[string]any{"rate": 1, "kinds": []string{"500"}}, nil)
	body := d.waitHealthz(t, 503, 60*time.Second)
	first, _, _ := strings.Cut(body, "\n")
	named := ""
	for _, st := range daemonStreams {
		if strings.HasPrefix(first, "stale: ") && strings.Contains(first, st) {
			named = st
		}
	}
	if named == "" {
		t.Errorf("503 body does not name a stale stream:\n%s", body)
	}
	if strings.Contains(body, s.Key) {
		t.Errorf("/healthz shows the API key:\n%s", body)
	}
	t.Logf("/healthz while the API fails:\n%s", body)

	// The container HEALTHCHECK sees it too.
	if r := e.syncd(t, "healthcheck"); r.code == 0 {
		t.Errorf("syncd healthcheck exit 0 while /healthz answers 503\nstdout: %s\nstderr: %s", r.stdout, r.stderr)
	}
	if st, err := d.status(); err == nil {
		for _, x := range st.Streams {
			if x.Stream == named && x.Failures == 0 {
				t.Errorf("%s is stale but /api/status shows no failed pass: %+v", named, x)
			}
		}
	}

	s.control(t, "POST", "/_sim/faults", map[string]any{"rate": 0}, nil)
	d.waitHealthz(t, 200, 60*time.Second)
	d.stop(t, 10*time.Second)
}

func TestDaemonSIGTERMExitsZero(t *testing.T) {
	s := startSim(t, append(simArgs, "--latency", "20ms")...)
	e, listen := newDaemonEnv(t, s)
	d := e.startDaemon(t, listen)

	// Query while the daemon is mid-pass: once conversions has committed a
	// window (the table exists), and while a pass is in flight.
	d.waitFor(t, 3*time.Minute, "a committed conversions window", func() (bool, string) {
		rows, _ := d.metric(t, "syncd_rows_total", `stream="conversions"`)
		st, err := d.status()
		if err != nil {
			return false, err.Error()
		}
		for _, x := range st.Streams {
			if x.Stream == "conversions" {
				return !x.Cursor.IsZero() || rows > 0, fmt.Sprintf("conversions %s, cursor %v, rows %v", x.State, x.Cursor, rows)
			}
		}
		return false, "no conversions in /api/status"
	})
	waitRunning := func() string {
		t.Helper()
		var running string
		d.waitFor(t, 2*time.Minute, "a pass in flight", func() (bool, string) {
			st, err := d.status()
			if err != nil {
				return false, err.Error()
			}
			for _, x := range st.Streams {
				if x.Running {
					running = x.Stream
					return true, ""
				}
			}
			return false, "no stream is running"
		})
		return running
	}
	running := waitRunning()
	assertFileLocked(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	q := exec.CommandContext(ctx, filepath.Join(bin, "syncd"), "query", "SELECT count(*) AS n FROM conversions", "--format", "csv", "-c", e.config)
	q.Env = append(os.Environ(), "E2E_KEY="+s.Key)
	q.Stdout, q.Stderr = &out, &errb
	start := time.Now()
	if err := q.Run(); err != nil {
		t.Fatalf("syncd query while %s is mid-pass: %v\nstderr: %s", running, err, errb.String())
	}
	t.Logf("syncd query during a %s pass answered in %s:\n%s", running, time.Since(start).Round(time.Millisecond), out.String())
	if n, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(out.String()), "n\n")); err != nil || n <= 0 {
		t.Errorf("syncd query count(*) printed %q, want a positive count", out.String())
	}

	// SIGTERM with a pass in flight: exit 0 within 10s.
	running = waitRunning()
	took := d.stop(t, 10*time.Second)
	t.Logf("SIGTERM during a %s pass: exited 0 after %s", running, took.Round(time.Millisecond))

	// The file is intact: a sync finishes the job and equals the simulator.
	e.mustSync(t)
	assertEqualsSimulator(t, e)
}

func TestDaemonKill9ThenRestartResumes(t *testing.T) {
	s := startSim(t, append(simArgs, "--latency", "5ms")...)
	e, listen := newDaemonEnv(t, s)
	d := e.startDaemon(t, listen)

	var cursor time.Time
	d.waitFor(t, 3*time.Minute, "a committed conversions window", func() (bool, string) {
		st, err := d.status()
		if err != nil {
			return false, err.Error()
		}
		for _, x := range st.Streams {
			if x.Stream == "conversions" {
				cursor = x.Cursor
				return !cursor.IsZero(), fmt.Sprintf("conversions %s, no cursor yet", x.State)
			}
		}
		return false, "no conversions in /api/status"
	})
	var inFlight []string
	if st, err := d.status(); err == nil {
		for _, x := range st.Streams {
			if x.Running {
				inFlight = append(inFlight, x.Stream)
			}
		}
	}
	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-d.done
	t.Logf("killed syncd run with passes in flight: %v (conversions cursor %s)", inFlight, cursor)

	d = e.startDaemon(t, listen)
	// The restarted daemon starts from the committed checkpoint.
	d.waitFor(t, 60*time.Second, "the restarted daemon's status", func() (bool, string) {
		st, err := d.status()
		if err != nil {
			return false, err.Error()
		}
		for _, x := range st.Streams {
			if x.Stream == "conversions" {
				if x.Cursor.IsZero() {
					t.Errorf("the restarted daemon shows no conversions cursor; the killed one had committed %s", cursor)
				} else if x.Cursor.Before(cursor) {
					t.Errorf("conversions cursor went back from %s to %s after kill -9", cursor, x.Cursor)
				}
				return true, ""
			}
		}
		return false, "no conversions in /api/status"
	})
	d.waitAllSucceeded(t, 3*time.Minute)
	d.waitHealthz(t, 200, 60*time.Second)
	d.stop(t, 10*time.Second)
	assertEqualsSimulator(t, e)
}

func TestHealthcheckCommand(t *testing.T) {
	s := startSim(t, smallSimArgs...)
	e, listen := newDaemonEnv(t, s)

	if r := e.syncd(t, "healthcheck"); r.code == 0 {
		t.Errorf("syncd healthcheck exit 0 with no daemon on %s\nstdout: %s", listen, r.stdout)
	} else if !strings.Contains(r.stderr, listen) {
		t.Errorf("syncd healthcheck failure does not name %s:\n%s", listen, r.stderr)
	}

	d := e.startDaemon(t, listen)
	d.waitAllSucceeded(t, 3*time.Minute)
	d.waitHealthz(t, 200, 60*time.Second)
	r := e.syncd(t, "healthcheck")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "ok" {
		t.Errorf("syncd healthcheck while healthy: exit %d, stdout %q, stderr:\n%s", r.code, r.stdout, r.stderr)
	}
	d.stop(t, 10*time.Second)

	if r := e.syncd(t, "healthcheck"); r.code == 0 {
		t.Errorf("syncd healthcheck exit 0 after the daemon stopped\nstdout: %s", r.stdout)
	}
}
