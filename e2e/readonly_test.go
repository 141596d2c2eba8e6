package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDaemonQueryAPIIsReadOnly replays the attacks of the adversarial
// review against a running `syncd run`: the query API wrote files as the
// daemon's user, overwrote the live warehouse and changed the daemon's
// memory_limit. Now each is refused with one line, nothing is written, the
// setting holds and the warehouse opens after shutdown.
func TestDaemonQueryAPIIsReadOnly(t *testing.T) {
	s := startSim(t, smallSimArgs...)
	e, listen := newDaemonEnv(t, s)
	d := e.startDaemon(t, listen)
	d.waitAllSucceeded(t, 3*time.Minute)

	post := func(sql string) (int, string) {
		t.Helper()
		body, _ := json.Marshal(map[string]string{"sql": sql, "format": "csv"})
		resp, err := httpc.Post(d.base+"/api/query", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	memoryLimit := func() string {
		t.Helper()
		code, body := post("SELECT current_setting('memory_limit') AS m")
		if code != http.StatusOK {
			t.Fatalf("reading memory_limit: HTTP %d %s", code, body)
		}
		return body
	}
	limitBefore := memoryLimit()

	leak := filepath.Join(t.TempDir(), "leak.csv")
	for _, attack := range []string{
		"EXPLAIN ANALYSE COPY (SELECT id, raw FROM partners) TO '" + leak + "'",
		"EXPLAIN ANALYZE COPY (SELECT id, raw FROM partners) TO '" + leak + "'",
		"EXPLAIN ANALYSE COPY (SELECT 1) TO '" + e.db + "'",
		"EXPLAIN ANALYSE SET memory_limit='10MB'",
		"SET memory_limit='10MB'",
		"COPY partners TO '" + leak + "'",
		"SELECT * FROM read_text('/proc/self/environ')",
		"SELECT * FROM read_csv('/etc/passwd')",
		"SELECT * FROM glob('/*')",
		"SELECT * FROM force_checkpoint()",
		"ATTACH '" + leak + ".duckdb' AS x",
		"DELETE FROM conversions",
		"SELECT 1; DELETE FROM conversions",
	} {
		code, body := post(attack)
		if code != http.StatusBadRequest {
			t.Errorf("%s: HTTP %d, want 400: %s", attack, code, body)
		}
		if strings.Count(strings.TrimSpace(body), "\n") > 0 {
			t.Errorf("%s: the refusal is not one line: %q", attack, body)
		}
		if strings.Contains(body, s.Key) {
			t.Errorf("%s: the answer holds the API key", attack)
		}
	}
	if _, err := os.Stat(leak); err == nil {
		t.Fatal("the daemon wrote a file for a client")
	}
	if got := memoryLimit(); got != limitBefore {
		t.Errorf("memory_limit changed: %q -> %q", limitBefore, got)
	}

	// `syncd query` goes through the same guard while the daemon runs.
	r := e.syncd(t, "query", "EXPLAIN ANALYSE COPY (SELECT 1) TO '"+leak+"'")
	if r.code == 0 || !strings.Contains(r.stderr, "read-only") {
		t.Errorf("syncd query of an attack: exit %d: %s", r.code, r.stderr)
	}
	rows, r := e.queryCSV(t, "SELECT count(*) > 0 FROM partners")
	if len(rows) != 1 || rows[0][0] != "true" {
		t.Errorf("a plain query through the daemon: %v exit %d %s", rows, r.code, r.stderr)
	}

	d.stop(t, 10*time.Second)
	// The warehouse is intact: it opens and holds what was synced.
	db := e.openDB(t)
	got := queryStrings(t, db, "SELECT count(*) > 0 FROM partners")
	if len(got) != 1 || got[0][0] != "true" {
		t.Errorf("after shutdown: %v", got)
	}
}
