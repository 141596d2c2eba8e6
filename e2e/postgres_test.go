package e2e

// End-to-end tests of the Postgres endpoint of `syncd run`: real clients
// (psql, Go's pgx, Python's psycopg2) against the real daemon while it
// syncs the simulator, over a DuckDB file and over a Parquet lake.

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

const pgPassword = "e2e pg password 7"

const pgInstall = "apt-get install -y postgresql-client python3-psycopg2"

// pgClients finds psql and a Python with psycopg2. Without them the test
// is skipped, saying how to install them, except on CI, where it fails.
func pgClients(t *testing.T) (psql, python string) {
	t.Helper()
	missing := func(what string) {
		t.Helper()
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed; CI must install it (%s)", what, pgInstall)
		}
		t.Skipf("%s is not installed (%s)", what, pgInstall)
	}
	psql, err := exec.LookPath("psql")
	if err != nil {
		missing("psql")
	}
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(p, "-c", "import psycopg2").Run() == nil {
			return psql, p
		}
	}
	missing("Python's psycopg2")
	return "", ""
}

// pgEndpoint adds a postgres section on a free port to e's config and
// the password to its environment; it returns host and port.
func pgEndpoint(t *testing.T, e *env) (host string, port int) {
	t.Helper()
	port = freePort(t)
	b, err := os.ReadFile(e.config)
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, fmt.Sprintf("postgres:\n  listen: 127.0.0.1:%d\n  user: grafana\n  password: ${SYNCD_PG_PASSWORD}\n", port)...)
	if err := os.WriteFile(e.config, b, 0o600); err != nil {
		t.Fatal(err)
	}
	e.extraEnv = append(e.extraEnv, "SYNCD_PG_PASSWORD="+pgPassword)
	return "127.0.0.1", port
}

// psqlRun runs psql with args against the endpoint; password "" is the
// right one.
func psqlRun(t *testing.T, psql, host string, port int, password string, args ...string) result {
	t.Helper()
	if password == "" {
		password = pgPassword
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, psql, append([]string{"-X", "-v", "ON_ERROR_STOP=1", "-h", host, "-p", strconv.Itoa(port), "-U", "grafana", "-d", "affise"}, args...)...)
	cmd.Env = envWith([]string{"PGPASSWORD=" + password, "PGCONNECT_TIMEOUT=10", "PGSSLMODE=disable", "PAGER", "PSQLRC=/dev/null"})
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}
}

func TestPostgresWhileSyncing(t *testing.T) {
	psql, python := pgClients(t)
	for _, kind := range []struct {
		name string
		env  func(*testing.T, *sim) (*env, string)
	}{
		{"duckdb", newDaemonEnv},
		{"lake", func(t *testing.T, s *sim) (*env, string) {
			e := newLakeEnv(t, s)
			y, listen := daemonYAML(t)
			b, err := os.ReadFile(e.config)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(e.config, append(b, y...), 0o600); err != nil {
				t.Fatal(err)
			}
			return e, listen
		}},
	} {
		t.Run(kind.name, func(t *testing.T) {
			s := startSim(t, smallSimArgs...)
			e, listen := kind.env(t, s)
			host, port := pgEndpoint(t, e)
			d := e.startDaemon(t, listen)
			d.waitAllSucceeded(t, 3*time.Minute)
			postgresClients(t, s, e, d, psql, python, host, port)
		})
	}
}

func postgresClients(t *testing.T, s *sim, e *env, d *daemonProc, psql, python, host string, port int) {
	ctx := context.Background()
	truth := len(s.truth(t, "conversions"))

	// psql: list and describe as a new user would.
	r := psqlRun(t, psql, host, port, "", "-c", `\dt`)
	if r.code != 0 || !strings.Contains(r.stdout, "conversions") || !strings.Contains(r.stdout, "stats_daily") || strings.Contains(r.stdout, "daily_revenue") {
		t.Fatalf(`\dt: exit %d\n%s%s`, r.code, r.stdout, r.stderr)
	}
	r = psqlRun(t, psql, host, port, "", "-c", `\dv`)
	if r.code != 0 || !strings.Contains(r.stdout, "daily_revenue") {
		t.Errorf(`\dv: exit %d\n%s%s`, r.code, r.stdout, r.stderr)
	}
	r = psqlRun(t, psql, host, port, "", "-c", `\d conversions`)
	for _, want := range []string{`Table "main.conversions"`, "revenue", "numeric(18,4)", "created_at", "timestamp without time zone"} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf(`\d conversions: no %q (exit %d)\n%s%s`, want, r.code, r.stdout, r.stderr)
		}
	}
	// A SELECT over a view agrees with /api/query's answer.
	const revenueByDay = "SELECT day, sum(revenue) AS revenue FROM daily_revenue GROUP BY day ORDER BY day"
	r = psqlRun(t, psql, host, port, "", "--csv", "-c", revenueByDay)
	if r.code != 0 || strings.Count(r.stdout, "\n") < 3 {
		t.Fatalf("psql %s: exit %d\n%s%s", revenueByDay, r.code, r.stdout, r.stderr)
	}
	api, res := e.queryCSV(t, revenueByDay)
	if res.code != 0 {
		t.Fatalf("syncd query: %s", res.stderr)
	}
	if got, want := strings.Count(r.stdout, "\n")-1, len(api); got != want {
		t.Errorf("psql has %d days, syncd query %d", got, want)
	}

	// psql's \copy ... to: COPY ... TO STDOUT on the wire, the file written
	// by psql on the client's side.
	r = psqlRun(t, psql, host, port, "", "-c", `\copy (select id, status, currency from conversions order by id) to stdout with csv header`)
	recs, err := csv.NewReader(strings.NewReader(r.stdout)).ReadAll()
	if r.code != 0 || err != nil || len(recs) != truth+1 || strings.Join(recs[0], ",") != "id,status,currency" {
		t.Errorf("\\copy (select ...) to stdout with csv header: exit %d, %d records (want %d), %v\n%s", r.code, len(recs), truth+1, err, tail(r.stderr, 2000))
	}
	local := filepath.Join(t.TempDir(), "conversions.tsv")
	r = psqlRun(t, psql, host, port, "", "-c", `\copy conversions (id, status) to '`+local+`'`)
	b, err := os.ReadFile(local)
	if r.code != 0 || err != nil || strings.Count(string(b), "\n") != truth || !strings.Contains(r.stdout, fmt.Sprintf("COPY %d", truth)) {
		t.Errorf("\\copy conversions to a local file: exit %d, %v, %d lines (want %d)\n%s%s", r.code, err, strings.Count(string(b), "\n"), truth, r.stdout, r.stderr)
	}
	r = psqlRun(t, psql, host, port, "", "-c", `\copy (select 1 as a, null as b, 'x'||chr(9)||'y' as c) to stdout`)
	if r.code != 0 || r.stdout != "1\t\\N\tx\\ty\n" {
		t.Errorf("\\copy in text format: exit %d, %q\n%s", r.code, r.stdout, r.stderr)
	}
	r = psqlRun(t, psql, host, port, "", "-c", `\copy (select * from read_csv('/etc/passwd')) to stdout`)
	if r.code == 0 || !strings.Contains(r.stderr, "only read-only queries are served") {
		t.Errorf("\\copy of a file read: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// pgx: a parameterised query, prepared and run in binary.
	url := fmt.Sprintf("postgres://grafana:%s@%s:%d/anything?sslmode=disable", strings.ReplaceAll(pgPassword, " ", "%20"), host, port)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM conversions WHERE created_at >= $1 AND id <> $2", time.Unix(0, 0), "none").Scan(&n); err != nil || n != truth {
		t.Fatalf("pgx: %d conversions, %v; the simulator has %d", n, err, truth)
	}

	// psycopg2 (libpq underneath, BEGIN before the first query).
	script := fmt.Sprintf(`
import psycopg2, datetime
conn = psycopg2.connect(host=%q, port=%d, user="grafana", password=%q, dbname="affise")
cur = conn.cursor()
cur.execute("SELECT count(*), sum(revenue) FROM conversions WHERE created_at >= %%s", (datetime.datetime(2000, 1, 1),))
n, revenue = cur.fetchone()
print(n, revenue)
conn.close()
`, host, port, pgPassword)
	out, err := exec.Command(python, "-c", script).CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), strconv.Itoa(truth)+" ") {
		t.Errorf("psycopg2: %v\n%s", err, out)
	}

	// Refused, and nothing written.
	r = psqlRun(t, psql, host, port, "wrong password", "-c", "SELECT 1")
	if r.code == 0 || !strings.Contains(r.stderr, "password authentication failed") {
		t.Errorf("wrong password: exit %d\n%s", r.code, r.stderr)
	}
	leak := filepath.Join(t.TempDir(), "x")
	for _, c := range []struct{ stmt, want string }{
		{"INSERT INTO conversions (id) VALUES ('x')", "read-only"},
		{"COPY conversions TO '" + leak + "'", "only read-only queries are served"},
		{"ATTACH '" + filepath.Join(t.TempDir(), "a.duckdb") + "' AS a", "only read-only queries are served"},
		{"SET memory_limit = '64GB'", "refused"},
	} {
		r := psqlRun(t, psql, host, port, "", "-c", c.stmt)
		if r.code == 0 || !strings.Contains(r.stderr, c.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 1 {
			t.Errorf("%s: exit %d\n%s", c.stmt, r.code, r.stderr)
		}
	}
	if _, err := os.Stat(leak); err == nil {
		t.Error("COPY wrote a file")
	}
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM conversions WHERE id = 'x'").Scan(&n); err != nil || n != 0 {
		t.Errorf("the INSERT landed: %d %v", n, err)
	}
	if refused, _ := d.metric(t, "syncd_postgres_refused_total"); refused < 4 {
		t.Errorf("syncd_postgres_refused_total = %v, want at least 4", refused)
	}
	if sessions, ok := d.metric(t, "syncd_postgres_sessions"); !ok || sessions < 1 {
		t.Errorf("syncd_postgres_sessions = %v (found %v) with pgx connected", sessions, ok)
	}

	// A long query and the passes overlap, and neither fails.
	longQueryOverlapsPasses(t, s, d, conn)

	// SIGTERM with a session open still exits 0 within 10s.
	_, metrics, _ := d.get("/metrics")
	d.stop(t, 10*time.Second)
	if strings.Contains(d.log.String(), pgPassword) || strings.Contains(metrics, pgPassword) {
		t.Error("the Postgres password is in the daemon's log or metrics")
	}
}

// longQueryOverlapsPasses runs a query lasting several seconds over the
// conversions while the simulator changes them and the daemon's passes
// commit: the query returns a consistent answer, and passes succeed while
// it runs.
func longQueryOverlapsPasses(t *testing.T, s *sim, d *daemonProc, conn *pgx.Conn) {
	t.Helper()
	before := len(s.truth(t, "conversions"))
	s.control(t, "POST", "/_sim/churn?n=100", nil, nil)
	after := len(s.truth(t, "conversions"))
	okBefore, _ := d.metric(t, "syncd_passes_total", `result="ok"`)

	const k = 20000
	start := time.Now()
	var got int64
	// A join big enough to scan for a while, and pg_sleep so it lasts
	// several schedule intervals (2s) however fast the machine is.
	err := conn.QueryRow(context.Background(), fmt.Sprintf(
		"SELECT count(*) FROM conversions c, range(%d) r, (SELECT pg_sleep(6) AS z) s WHERE s.z IS NULL AND hash(c.id, r.range) %% 7 <> 7", k)).Scan(&got)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("the long query failed after %s: %v", took, err)
	}
	if got%k != 0 || got/k < int64(min(before, after)) || got/k > int64(max(before, after)) {
		t.Errorf("the long query counted %d = %d x %d; the warehouse had %d, then %d conversions", got, got/k, k, before, after)
	}
	okAfter, _ := d.metric(t, "syncd_passes_total", `result="ok"`)
	failed, _ := d.metric(t, "syncd_passes_total", `result="error"`)
	if okAfter <= okBefore || failed > 0 {
		t.Errorf("during the %s query: %v passes succeeded, %v failed", took.Round(time.Millisecond), okAfter-okBefore, failed)
	}
	t.Logf("the long query ran %s; %v passes succeeded meanwhile", took.Round(time.Millisecond), okAfter-okBefore)
}
