package duckdb

import "testing"

// TestJemallocReturnsFreedPages: the jemalloc DuckDB links in reads
// syncd's configuration (malloc_linux.go), so pages DuckDB frees leave
// the process at once. Fails when DuckDB's jemalloc no longer reads it
// (renamed prefix, another configuration hook).
func TestJemallocReturnsFreedPages(t *testing.T) {
	dirty, muzzy, ok := jemallocDecay()
	if !ok {
		t.Skip("this build of DuckDB has no jemalloc")
	}
	if dirty != 0 || muzzy != 0 {
		t.Fatalf("jemalloc decay: dirty %d ms, muzzy %d ms; want 0 and 0 (syncd's malloc_conf_2_conf_harder not read)", dirty, muzzy)
	}
}
