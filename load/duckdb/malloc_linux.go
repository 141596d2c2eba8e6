//go:build linux && cgo

package duckdb

/*
#include <malloc.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/types.h>

// DuckDB links jemalloc in (on linux/amd64, its symbols prefixed
// duckdb_je_) and configures it from a constructor with a decay of a
// second: pages a checkpoint or an evicted buffer frees stay resident
// that long, and a backfill frees them faster than they decay (about
// 90 MB of a 1M backfill's 420 MB peak). jemalloc reads this string after
// DuckDB's own (its malloc_conf_2_conf_harder, a weak symbol this strong
// one replaces at link time), so these settings win: freed pages go
// back to the OS at once.
const char *duckdb_je_malloc_conf_2_conf_harder = "dirty_decay_ms:0,muzzy_decay_ms:0";

// duckdb_je_mallctl is jemalloc's control; weak, so a build of DuckDB
// without jemalloc (linux/arm64) links too, with it NULL.
extern int duckdb_je_mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen) __attribute__((weak));

static long syncd_je_decay(const char *name) {
	if (duckdb_je_mallctl == NULL) return -2;
	ssize_t v = 0;
	size_t l = sizeof(v);
	if (duckdb_je_mallctl(name, &v, &l, NULL, 0) != 0) return -2;
	return (long)v;
}

// glibc malloc holds DuckDB's own C++ objects (jemalloc only its
// buffers). By default each thread that meets contention gets an arena
// of its own, up to eight per core, and the free space scattered over
// them stayed resident: about 110 MB after a 1M backfill, 30 MB of it in
// use. Two arenas kept it near 70 MB. glibc fixes the count when it adds
// its first arena, before any Go code could run, hence a constructor:
// this only runs when the DuckDB sink is linked in.
__attribute__((constructor)) static void syncd_malloc_arenas(void) { mallopt(M_ARENA_MAX, 2); }
*/
import "C"

import "unsafe"

// jemallocDecay is jemalloc's arenas.dirty_decay_ms and
// arenas.muzzy_decay_ms; ok is false where DuckDB has no jemalloc.
func jemallocDecay() (dirty, muzzy int64, ok bool) {
	get := func(name string) int64 {
		cs := C.CString(name)
		defer C.free(unsafe.Pointer(cs))
		return int64(C.syncd_je_decay(cs))
	}
	d, m := get("arenas.dirty_decay_ms"), get("arenas.muzzy_decay_ms")
	return d, m, d != -2 && m != -2
}
