//go:build !linux || !cgo

package duckdb

// jemallocDecay reports no jemalloc: see malloc_linux.go.
func jemallocDecay() (dirty, muzzy int64, ok bool) { return 0, 0, false }
