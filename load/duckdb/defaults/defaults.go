// Package defaults holds the DuckDB warehouse's defaults, once: syncd.yaml's
// (package config) and the sink's own (package duckdb, for callers that
// set none) are these, without config importing the cgo sink.
package defaults

// MemoryLimit is DuckDB's memory_limit (warehouse.memory_limit). DuckDB
// fills its buffer pool up to the limit with the blocks of the tables a
// load reads and writes, so the limit, not the volume loaded, bounds its
// share of the process: a small VM's worth. Work past it (a big window's
// staging, the row group a backfill is filling, a checkpoint) spills to
// the database's .tmp directory instead. 96MB took 1M and 5M backfills
// with one DuckDB thread (Threads) about as fast as 128MB; 64MB ran out
// of memory in a backfill's last commit, and 96MB with two threads in
// its inserts.
const MemoryLimit = "96MB"

// Threads is DuckDB's worker threads (warehouse.threads): one. syncd's
// loads insert one Arrow stream at a time, which one thread reads as fast
// as two; a second one only added its own buffers and allocator arenas (a
// 1M backfill peaked some 25 MB higher), its coordination (a fifth more
// CPU time, 2 cores), and at MemoryLimit ran out of memory where one did
// not (a staged commit's de-duplication, a backfill's inserts). Queries
// the daemon serves run on it too: raise it on a machine with cores and
// memory to spare for them.
const Threads = 1
