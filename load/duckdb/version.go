package duckdb

import "github.com/duckdb/duckdb-go/v2/mapping"

// LibraryVersion is the version of the DuckDB library syncd embeds (e.g.
// "v1.4.1"), as DuckDB itself reports it: the version that reads and
// writes the warehouse file, which other DuckDB clients must match.
func LibraryVersion() string { return mapping.LibraryVersion() }
