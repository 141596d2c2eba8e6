package e2e

import (
	"os"
	"strings"
	"testing"
)

// TestParquetIsNotAvailableYet: warehouse.kind: parquet is a config error
// of every command, at start, on one line, creating nothing: as before the
// choice of a sink moved from the config's validation to load/warehouse.
func TestParquetIsNotAvailableYet(t *testing.T) {
	s := startSim(t, "--seed", "1", "--conversions", "10", "--days", "2")
	e := newEnv(t, s, "  kind: parquet\n")
	const want = "syncd: config: warehouse.kind: parquet is not available in this version yet; use duckdb"
	for _, args := range [][]string{
		{"sync"}, {"check"}, {"run"}, {"state"}, {"state", "reset", "--stream", "clicks"},
		{"query", "SELECT 1"}, {"backfill", "--stream", "conversions", "--from", "2025-01-01"},
	} {
		r := e.syncd(t, args...)
		if r.code != 2 || !oneLine(r.stderr) || strings.TrimSpace(r.stderr) != want {
			t.Errorf("%s: exit %d, stderr %q; want 2 and %q", strings.Join(args, " "), r.code, r.stderr, want)
		}
	}
	if _, err := os.Stat(e.db); !os.IsNotExist(err) {
		t.Errorf("a refused kind created the warehouse: %v", err)
	}
}
