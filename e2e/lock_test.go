package e2e

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestWarehouseInUseNamesTheHolderOnce: while `syncd run` holds the
// warehouse, every command that needs it writable fails with one line
// naming the daemon and its PID and saying what to do, printed once.
func TestWarehouseInUseNamesTheHolderOnce(t *testing.T) {
	s := startSim(t, smallSimArgs...)
	e, listen := newDaemonEnv(t, s)
	d := e.startDaemon(t, listen)
	d.waitFor(t, 60*time.Second, "the daemon to listen", func() (bool, string) {
		_, err := d.status()
		return err == nil, fmt.Sprint(err)
	})
	want := fmt.Sprintf("the warehouse %s is in use by `syncd run` (PID %d): stop it, or query through it with `syncd query`", e.db, d.cmd.Process.Pid)
	for _, args := range [][]string{
		{"sync"},
		{"sync", "--stream", "offers"},
		{"backfill", "--stream", "conversions", "--from", time.Now().AddDate(0, 0, -2).Format(time.DateOnly)},
		{"query", "--write", "DELETE FROM offers"},
		{"state", "reset", "--stream", "clicks", "--yes"},
		{"check"},
	} {
		r := e.syncd(t, args...)
		name := strings.Join(args, " ")
		if r.code != 1 {
			t.Errorf("syncd %s: exit %d, want 1\nstderr: %s", name, r.code, tail(r.stderr, 2000))
		}
		if n := strings.Count(r.stdout+r.stderr, "is in use by"); n != 1 {
			t.Errorf("syncd %s: the lock is reported %d times, want once\nstdout: %s\nstderr: %s", name, n, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stdout+r.stderr, want) {
			t.Errorf("syncd %s: output does not say %q\nstdout: %s\nstderr: %s", name, want, r.stdout, r.stderr)
		}
		if !oneLine(r.stderr) {
			t.Errorf("syncd %s: stderr is not one line: %q", name, r.stderr)
		}
		t.Logf("syncd %s: %s", name, strings.TrimSpace(r.stderr))
	}
	// Reading still works, through the daemon.
	if rows, r := e.queryCSV(t, "SELECT 1"); rows == nil {
		t.Errorf("syncd query while the daemon runs: exit %d: %s", r.code, r.stderr)
	}
	d.stop(t, 10*time.Second)
	if _, err := os.Stat(e.db + ".owner"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the daemon left its owner file: %v", err)
	}
}
