package e2e

// A _syncd_state cursor in the future (a bad manual edit, a backup from a
// machine whose clock ran ahead) used to stop its stream silently: every
// pass planned nothing, exited 0 and logged cursor 0001-01-01. These tests
// put one there the way a person would, with `syncd query --write`, and
// check that sync and run refuse the stream loudly while the others go on,
// and that the reset they print brings it back without losing anything.

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

const futureCursor = "2099-01-01T00:00:00Z"

// setFutureCursor moves stream's cursor to futureCursor (syncd must not be
// running: it holds the file).
func (e *env) setFutureCursor(t *testing.T, stream string) {
	t.Helper()
	r := e.syncd(t, "query", "--write", fmt.Sprintf(
		`UPDATE _syncd_state SET position = TIMESTAMP '2099-01-01 00:00:00' WHERE stream = '%s' RETURNING stream`, stream))
	if r.code != 0 || !strings.Contains(r.stdout, stream) {
		t.Fatalf("moving the %s cursor: exit %d\nstdout: %s\nstderr: %s", stream, r.code, r.stdout, r.stderr)
	}
}

func TestSyncRefusesAFutureCursorAndTheResetItNamesRecovers(t *testing.T) {
	s := startSim(t, smallSimArgs...)
	e := newEnv(t, s, "")
	e.mustSync(t)
	e.setFutureCursor(t, "conversions")

	// syncd state shows it, with the fix, on that stream's line only.
	st := e.syncd(t, "state")
	if st.code != 0 {
		t.Fatalf("syncd state exit %d: %s", st.code, st.stderr)
	}
	for _, line := range strings.Split(st.stdout, "\n") {
		flagged := strings.Contains(line, "IN THE FUTURE") && strings.Contains(line, "syncd state reset --stream conversions")
		if strings.HasPrefix(line, "conversions ") != flagged {
			t.Errorf("syncd state line %q: flagged %v", line, flagged)
		}
	}

	// New conversions and status changes arrive while the cursor is wrong.
	var churn struct{ Changed, Created int }
	s.control(t, "POST", "/_sim/churn?n=100", nil, &churn)
	if churn.Changed == 0 || churn.Created == 0 {
		t.Fatalf("churn changed nothing: %+v", churn)
	}
	db := e.openDB(t)
	before := queryStrings(t, db, `SELECT max(finished_at)::VARCHAR FROM _syncd_runs`)[0][0]
	db.Close()
	r := e.syncd(t, "sync")
	if r.code != 1 {
		t.Fatalf("sync with a future conversions cursor: exit %d, want 1\nstderr:\n%s", r.code, tail(r.stderr, 4000))
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	last := lines[len(lines)-1]
	for _, want := range []string{"conversions", futureCursor, "syncd state reset --stream conversions"} {
		if !strings.Contains(last, want) {
			t.Errorf("last line %q lacks %q", last, want)
		}
	}
	var loud, finished bool
	for _, l := range lines {
		if strings.Contains(l, `"level":"error"`) && strings.Contains(l, `"fix":"syncd state reset --stream conversions"`) && strings.Contains(l, `"cursor":"`+futureCursor) && strings.Contains(l, `"now":"`) {
			loud = true
		}
		if strings.Contains(l, `"pass finished"`) && strings.Contains(l, `"stream":"conversions"`) {
			finished = strings.Contains(l, `"cursor":"`+futureCursor)
		}
	}
	if !loud || !finished || strings.Contains(r.stderr, "0001-01-01") {
		t.Errorf("log: error line with cursor, now and fix %v; pass finished with the stored cursor %v; stderr:\n%s", loud, finished, tail(r.stderr, 4000))
	}
	db = e.openDB(t)
	runs := queryStrings(t, db, fmt.Sprintf(`SELECT stream, coalesce(error, '') FROM _syncd_runs
		WHERE started_at > TIMESTAMP '%s' ORDER BY stream`, before))
	db.Close()
	ok := 0
	for _, run := range runs {
		switch {
		case run[0] == "conversions" && !strings.Contains(run[1], "syncd state reset --stream conversions"):
			t.Errorf("conversions run recorded error %q", run[1])
		case run[0] != "conversions" && run[1] != "":
			t.Errorf("%s failed too: %s", run[0], run[1])
		case run[0] != "conversions":
			ok++
		}
	}
	if ok != len(daemonStreams)-1 {
		t.Errorf("%d other streams synced, want %d: %v", ok, len(daemonStreams)-1, runs)
	}

	// The command it names: every conversion lands, the churn included.
	if r := e.syncd(t, "state", "reset", "--stream", "conversions", "--yes"); r.code != 0 {
		t.Fatalf("state reset: exit %d: %s", r.code, r.stderr)
	}
	e.mustSync(t)
	assertEqualsSimulatorStatsFrom(t, e, lookbackFrom(e.lastSync))
	if st := e.syncd(t, "state"); strings.Contains(st.stdout, "IN THE FUTURE") {
		t.Errorf("syncd state after the reset:\n%s", st.stdout)
	}
}

func TestDaemonShowsAFutureCursorUntilReset(t *testing.T) {
	s := startSim(t, smallSimArgs...)
	e, listen := newDaemonEnv(t, s)
	e.mustSync(t)
	e.setFutureCursor(t, "clicks")

	d := e.startDaemon(t, listen)
	body := d.waitHealthz(t, 503, 60*time.Second)
	if first, _, _ := strings.Cut(body, "\n"); first != "cursor in future: clicks" || !strings.Contains(body, "syncd state reset --stream clicks") {
		t.Errorf("/healthz 503 body should name clicks, why, and the fix:\n%s", body)
	}
	// The other streams keep syncing; clicks' refusal is its own.
	d.waitFor(t, 60*time.Second, "every other stream to succeed and clicks to be refused", func() (bool, string) {
		st, err := d.status()
		if err != nil {
			return false, err.Error()
		}
		var pending []string
		for _, x := range st.Streams {
			switch {
			case x.Stream == "clicks" && (x.State != "cursor_in_future" || !strings.Contains(x.LastError, futureCursor)):
				pending = append(pending, fmt.Sprintf("clicks %s (%s)", x.State, x.LastError))
			case x.Stream != "clicks" && !x.LastSuccess.After(st.Started):
				pending = append(pending, fmt.Sprintf("%s %s", x.Stream, x.State))
			}
		}
		return len(pending) == 0, strings.Join(pending, "; ")
	})
	if v, found := d.metric(t, "syncd_cursor_in_future", `stream="clicks"`); !found || v != 1 {
		t.Errorf(`syncd_cursor_in_future{stream="clicks"} = %v (found %v), want 1`, v, found)
	}
	if v, _ := d.metric(t, "syncd_cursor_in_future", `stream="conversions"`); v != 0 {
		t.Errorf(`syncd_cursor_in_future{stream="conversions"} = %v, want 0`, v)
	}
	if code, page, err := d.get("/"); err != nil || code != 200 || !strings.Contains(page, ">cursor in future<") || !strings.Contains(page, "syncd state reset --stream clicks") {
		t.Errorf("status page (%d, %v) does not show clicks' cursor in the future and the fix", code, err)
	}
	if !strings.Contains(d.log.String(), `"fix":"syncd state reset --stream clicks"`) {
		t.Error("the daemon's log has no error line with the fix")
	}
	d.stop(t, 10*time.Second)

	if r := e.syncd(t, "state", "reset", "--stream", "clicks", "--yes"); r.code != 0 {
		t.Fatalf("state reset: exit %d: %s", r.code, r.stderr)
	}
	d = e.startDaemon(t, listen)
	d.waitAllSucceeded(t, 2*time.Minute)
	d.waitHealthz(t, 200, 60*time.Second)
	if v, found := d.metric(t, "syncd_cursor_in_future", `stream="clicks"`); !found || v != 0 {
		t.Errorf(`after the reset syncd_cursor_in_future{stream="clicks"} = %v (found %v), want 0`, v, found)
	}
	d.stop(t, 10*time.Second)
}

// TestDaemonHealthzFailsWhenEveryPassFails: with the API failing every
// request from the start, /healthz turns 503 within the first passes, not
// after the streams' staleness (hours on these schedules).
func TestDaemonHealthzFailsWhenEveryPassFails(t *testing.T) {
	s := startSim(t, append(smallSimArgs, "--fault-rate", "1", "--fault-kinds", "500")...)
	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	var y strings.Builder
	y.WriteString("streams:\n")
	for _, st := range daemonStreams {
		fmt.Fprintf(&y, "  %s:\n    schedule: \"@every 1h\"\n", st)
	}
	fmt.Fprintf(&y, "http:\n  listen: %s\n", listen)
	e := newEnv(t, s, y.String())
	e.editConfig(t, "  timeout: 5s\n", "  timeout: 2s\n  max_retries: 1\n")

	d := e.startDaemon(t, listen)
	body := d.waitHealthz(t, 503, 90*time.Second)
	first, _, _ := strings.Cut(body, "\n")
	if !strings.HasPrefix(first, "every pass since start failed: ") || strings.Contains(first, "stale") {
		t.Errorf("/healthz 503 should name the streams that never succeeded:\n%s", body)
	}
	if !strings.Contains(body, "HTTP 500") || strings.Contains(body, s.Key) {
		t.Errorf("/healthz should carry the reason and never the key:\n%s", body)
	}
	if v, _ := d.metric(t, "syncd_stream_unhealthy"); v < 1 {
		t.Errorf("syncd_stream_unhealthy sums to %v, want at least 1", v)
	}
	if r := e.syncd(t, "healthcheck"); r.code == 0 {
		t.Errorf("syncd healthcheck exit 0 while every pass fails")
	}
	d.stop(t, 10*time.Second)
}
