//go:build !memtrace

package duckdb

import "net/url"

// startMemTrace does nothing: see memtrace.go (build tag memtrace).
func (s *Sink) startMemTrace() {}

// debugSettings does nothing: see memtrace.go.
func debugSettings(url.Values) {}
