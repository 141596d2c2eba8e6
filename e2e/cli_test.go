package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/syncd/syncd/models"
)

// onTerminal runs syncd with a terminal (a pty) as its stdin, stdout and
// stderr, as a person at a shell runs it. When prompt is not "", answer
// and a newline are typed once the terminal shows prompt. It returns what
// the terminal showed (with \n line ends) and the exit code.
func (e *env) onTerminal(t *testing.T, prompt, answer string, args ...string) (string, int) {
	t.Helper()
	p := e.startOnTerminal(t, context.Background(), 250, args...)
	cmd, out := p.cmd, &p.out
	if prompt != "" {
		deadline := time.Now().Add(time.Minute)
		for !strings.Contains(out.String(), prompt) {
			if time.Now().After(deadline) {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
				t.Fatalf("syncd %s: no prompt %q on the terminal; it shows:\n%s", strings.Join(args, " "), prompt, out.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
		if _, err := p.f.Write([]byte(answer + "\n")); err != nil {
			t.Fatal(err)
		}
	}
	err := p.wait()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(out.String(), "\r\n", "\n"), code
}

// ptyProc is syncd with a terminal (a pty) as its stdin, stdout and
// stderr; out collects what the terminal shows as it comes.
type ptyProc struct {
	cmd    *exec.Cmd
	f      *os.File
	out    lockedBuffer
	copied chan struct{}
}

// startOnTerminal starts syncd args (with the env's config) on a terminal
// cols columns wide; the test's end closes the terminal.
func (e *env) startOnTerminal(t *testing.T, ctx context.Context, cols uint16, args ...string) *ptyProc {
	t.Helper()
	p := &ptyProc{cmd: exec.CommandContext(ctx, filepath.Join(bin, "syncd"), append(args, "-c", e.config)...), copied: make(chan struct{})}
	p.cmd.Env = e.environ("TERM=xterm")
	f, err := pty.StartWithSize(p.cmd, &pty.Winsize{Rows: 60, Cols: cols})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	p.f = f
	go func() {
		_, _ = io.Copy(&p.out, f) // ends with EIO once syncd exits
		close(p.copied)
	}()
	return p
}

// wait waits for syncd to exit and for all it showed to be collected.
func (p *ptyProc) wait() error {
	err := p.cmd.Wait()
	<-p.copied
	return err
}

type planJSON struct {
	Stream            string    `json:"stream"`
	Cursor            time.Time `json:"cursor"`
	StartsAt          string    `json:"starts_at"`
	Windows           int       `json:"windows"`
	From              time.Time `json:"from"`
	To                time.Time `json:"to"`
	Currencies        []string  `json:"currencies"`
	EstimatedRequests int64     `json:"estimated_requests"`
	Error             string    `json:"error"`
}

type stateJSON struct {
	Stream   string    `json:"stream"`
	Cursor   time.Time `json:"cursor"`
	Behind   string    `json:"behind"`
	StartsAt string    `json:"starts_at"`
}

func (e *env) planJSON(t *testing.T, args ...string) []planJSON {
	t.Helper()
	r := e.syncd(t, append([]string{"plan", "--format", "json"}, args...)...)
	var rows []planJSON
	if r.code != 0 {
		t.Fatalf("plan --format json: exit %d\n%s", r.code, r.stderr)
	}
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatalf("plan --format json: %v\n%s", err, r.stdout)
	}
	return rows
}

func (e *env) stateJSON(t *testing.T) map[string]stateJSON {
	t.Helper()
	r := e.syncd(t, "state", "--format", "json")
	if r.code != 0 {
		t.Fatalf("state --format json: exit %d\n%s", r.code, r.stderr)
	}
	var rows []stateJSON
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatalf("state --format json: %v\n%s", err, r.stdout)
	}
	out := map[string]stateJSON{}
	for _, r := range rows {
		out[r.Stream] = r
	}
	return out
}

// TestCLIOnATerminal: plan, state, state reset and report as a person
// sees them on a terminal, and plan and state as JSON: plan makes no
// request, its estimate covers every window (per currency for
// stats_daily), daily streams are on time after a sync, and a reset asks
// first and keeps the stream's row.
func TestCLIOnATerminal(t *testing.T) {
	s := startSim(t, smallSimArgs...)
	e := newEnv(t, s, "")

	// Before the first sync: what it will do, without a request.
	before := s.requests(t)
	out, code := e.onTerminal(t, "", "", "plan")
	if code != 0 {
		t.Fatalf("plan on a terminal: exit %d\n%s", code, out)
	}
	for _, want := range []string{"stream", "windows", "requests (est.)", "starts at", "No API call was made"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan on a terminal shows no %q:\n%s", want, out)
		}
	}
	first := e.planJSON(t)
	if n := s.requests(t); n != before {
		t.Errorf("plan made %d requests to the API, want none", n-before)
	}
	if len(first) != len(models.Names()) {
		t.Errorf("plan has %d streams, want %d", len(first), len(models.Names()))
	}
	for _, p := range first {
		if p.Windows == 0 || p.EstimatedRequests < int64(p.Windows) || !p.Cursor.IsZero() || p.StartsAt == "" || p.Error != "" {
			t.Errorf("first plan of %s: %+v; want windows, at least one request each, no cursor, where it starts", p.Stream, p)
		}
	}

	r := e.mustSync(t)
	_ = r
	after := map[string]planJSON{}
	for _, p := range e.planJSON(t) {
		after[p.Stream] = p
	}
	sd := after["stats_daily"]
	if len(sd.Currencies) < 2 || sd.EstimatedRequests != int64(sd.Windows*len(sd.Currencies)) {
		t.Errorf("stats_daily plan after a sync: %+v; want one request per window and currency held", sd)
	}
	if c := after["conversions"]; c.Cursor.IsZero() || c.Windows == 0 || c.From.After(c.Cursor) {
		t.Errorf("conversions plan after a sync: %+v; want the lookback from before the cursor", c)
	}

	// state: daily streams synced today are on time, not "hours behind".
	out, code = e.onTerminal(t, "", "", "state")
	if code != 0 {
		t.Fatalf("state on a terminal: exit %d\n%s", code, out)
	}
	for _, name := range models.Names() {
		if !regexp.MustCompile(`(?m)^` + name + `\s+\d{4}-`).MatchString(out) {
			t.Errorf("state on a terminal: no line for %s with its cursor:\n%s", name, out)
		}
	}
	st := e.stateJSON(t)
	for _, name := range []string{"server_postbacks", "affiliate_postbacks", "stats_daily", "conversions"} {
		if st[name].Behind != "on time" {
			t.Errorf("state: %s is %q behind right after a sync, want on time", name, st[name].Behind)
		}
	}
	clicks := st["clicks"].Cursor
	if clicks.IsZero() {
		t.Fatalf("no clicks cursor after a sync: %+v", st["clicks"])
	}

	// state reset asks, shows old -> new, and "no" changes nothing.
	const prompt = "[y/N]"
	out, code = e.onTerminal(t, prompt, "n", "state", "reset", "--stream", "clicks")
	if code != 1 || !strings.Contains(out, "clicks: "+clicks.Format(time.RFC3339)+" -> no checkpoint (starts at") || !strings.Contains(out, "not confirmed") {
		t.Errorf("state reset answered no: exit %d\n%s", code, out)
	}
	if got := e.stateJSON(t)["clicks"].Cursor; !got.Equal(clicks) {
		t.Errorf("after answering no the clicks cursor is %s, want %s", got, clicks)
	}
	// Without a terminal and without --yes: refused, in one line.
	r = e.syncd(t, "state", "reset", "--stream", "clicks")
	if r.code != 2 || !strings.Contains(r.stderr, "add --yes") || !oneLine(r.stderr) {
		t.Errorf("state reset without a terminal: exit %d\n%s", r.code, r.stderr)
	}
	out, code = e.onTerminal(t, prompt, "y", "state", "reset", "--stream", "clicks")
	if code != 0 || !strings.Contains(out, "checkpoint removed") {
		t.Errorf("state reset answered yes: exit %d\n%s", code, out)
	}
	got := e.stateJSON(t)["clicks"]
	if !got.Cursor.IsZero() || !strings.Contains(got.StartsAt, "default start") {
		t.Errorf("clicks after the reset: %+v; want its row, no cursor, where it starts", got)
	}
	out, _ = e.onTerminal(t, "", "", "state", "--stream", "clicks")
	if !regexp.MustCompile(`(?m)^clicks\s+starts at its default start`).MatchString(out) {
		t.Errorf("state --stream clicks after the reset:\n%s", out)
	}
	// --yes: no question.
	r = e.syncd(t, "state", "reset", "--stream", "offers", "--to", time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly), "--yes")
	if r.code != 0 || strings.Contains(r.stdout, prompt) || !strings.Contains(r.stdout, "offers: ") || !strings.Contains(r.stdout, " -> ") {
		t.Errorf("state reset --yes: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// report on a terminal: a table whose conversions add up, not_found shown.
	out, code = e.onTerminal(t, "", "", "report", "daily_summary")
	if code != 0 {
		t.Fatalf("report on a terminal: exit %d\n%s", code, out)
	}
	for _, want := range []string{"day", "currency", "conversions", "not_found", "revenue", "USD"} {
		if !strings.Contains(out, want) {
			t.Errorf("report daily_summary on a terminal shows no %q:\n%s", want, out)
		}
	}
	db := e.openDB(t)
	defer db.Close()
	if bad := queryStrings(t, db, `SELECT count(*) FROM daily_revenue WHERE conversions <> confirmed + pending + declined + hold + not_found`); bad[0][0] != "0" {
		t.Errorf("%s daily_revenue rows whose status columns do not add up to conversions", bad[0][0])
	}
}

// TestPlanAndStateWhileTheDaemonRuns: with `syncd run` holding the DuckDB
// file, plan comes from the daemon's /api/plan and state's "behind" is the
// daemon's, judged by the same rule.
func TestPlanAndStateWhileTheDaemonRuns(t *testing.T) {
	s := startSim(t, smallSimArgs...)
	e, listen := newDaemonEnv(t, s)
	d := e.startDaemon(t, listen)
	d.waitAllSucceeded(t, 3*time.Minute)
	assertFileLocked(t, e)

	rows := e.planJSON(t)
	if len(rows) != len(daemonStreams) {
		t.Errorf("plan while the daemon runs: %d streams, want %d", len(rows), len(daemonStreams))
	}
	for _, p := range rows {
		if p.Error != "" || p.Cursor.IsZero() {
			t.Errorf("plan of %s while the daemon runs: %+v", p.Stream, p)
		}
	}
	one := e.planJSON(t, "--stream", "stats_daily")
	if len(one) != 1 || one[0].Stream != "stats_daily" || len(one[0].Currencies) == 0 {
		t.Errorf("plan --stream stats_daily while the daemon runs: %+v", one)
	}
	if r := e.syncd(t, "plan"); r.code != 0 || !strings.Contains(r.stdout, "requests (est.)") {
		t.Errorf("plan table while the daemon runs: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for name, row := range e.stateJSON(t) {
		if (name == "server_postbacks" || name == "stats_daily") && row.Behind != "on time" {
			t.Errorf("state while the daemon runs: %s %q behind, want on time", name, row.Behind)
		}
	}
	d.stop(t, 10*time.Second)
}

// TestHealthcheckAndVersion: healthcheck fails loudly, in one line, with
// exit 1 (Docker reserves 2) when the config cannot load; version names
// DuckDB's own version.
func TestHealthcheckAndVersion(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("http: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []string{bad, filepath.Join(dir, "missing.yaml")} {
		cmd := exec.Command(filepath.Join(bin, "syncd"), "healthcheck", "-c", cfg)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || !oneLine(stderr.String()) || !strings.Contains(stderr.String(), "cannot read http.listen") {
			t.Errorf("healthcheck -c %s: %v\n%s", cfg, err, stderr.String())
		}
	}
	out, err := exec.Command(filepath.Join(bin, "syncd"), "version").Output()
	if err != nil || !regexp.MustCompile(`^syncd \S+ \(go\S+, DuckDB v\d+\.\d+\.\d+, duckdb-go v\S+\)\n$`).Match(out) {
		t.Errorf("syncd version: %v %q", err, out)
	}
}

// TestPlanOnTheLake: plan and state read a Parquet lake as they read a
// DuckDB file, before and after the first sync, without a request.
func TestPlanOnTheLake(t *testing.T) {
	s := startSim(t, smallSimArgs...)
	e := newLakeEnv(t, s)
	before := s.requests(t)
	for _, p := range e.planJSON(t) {
		if p.Windows == 0 || !p.Cursor.IsZero() {
			t.Errorf("plan of %s on a lake not written yet: %+v", p.Stream, p)
		}
	}
	if n := s.requests(t); n != before {
		t.Errorf("plan made %d requests", n-before)
	}
	e.mustSync(t)
	rows := e.planJSON(t, "--stream", "stats_daily,conversions")
	// In the order asked for.
	if len(rows) != 2 || rows[0].Stream != "stats_daily" || rows[0].Cursor.IsZero() || len(rows[0].Currencies) < 2 || rows[1].Cursor.IsZero() {
		t.Errorf("plan on a synced lake: %+v", rows)
	}
	if st := e.stateJSON(t); st["stats_daily"].Behind != "on time" {
		t.Errorf("state on a lake: stats_daily %q behind, want on time", st["stats_daily"].Behind)
	}
}
