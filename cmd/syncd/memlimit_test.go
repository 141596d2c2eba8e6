package main

import (
	"runtime/debug"
	"testing"
)

// The Go soft limit follows the warehouse: a lake, with no DuckDB memory
// beside it, gets the larger one; GOMEMLIMIT in the environment wins.
func TestGoMemoryLimitFollowsTheWarehouse(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	t.Setenv("GOMEMLIMIT", "")
	for kind, want := range map[string]int64{"duckdb": goMemoryLimit, "parquet": lakeGoMemoryLimit} {
		setGoMemoryLimit(kind)
		if got := debug.SetMemoryLimit(-1); got != want {
			t.Errorf("%s: Go soft limit %d, want %d", kind, got, want)
		}
	}
	t.Setenv("GOMEMLIMIT", "1GiB")
	debug.SetMemoryLimit(1 << 30)
	setGoMemoryLimit("parquet")
	if got := debug.SetMemoryLimit(-1); got != 1<<30 {
		t.Errorf("with GOMEMLIMIT set: Go soft limit %d, want it left at 1 GiB", got)
	}
}
