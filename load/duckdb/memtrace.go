//go:build memtrace

package duckdb

/*
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
extern int duckdb_je_mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);
static uint64_t je_epoch(void) {
	uint64_t e = 1; size_t l = sizeof(e);
	duckdb_je_mallctl("epoch", &e, &l, &e, l);
	return e;
}
static size_t je_stat(const char *name) {
	size_t v = 0; size_t l = sizeof(v);
	if (duckdb_je_mallctl(name, &v, &l, NULL, 0) != 0) return (size_t)-1;
	return v;
}
#include <malloc.h>
static size_t glibc_inuse(void) { struct mallinfo2 m = mallinfo2(); return m.uordblks + m.hblkhd; }
static size_t glibc_total(void) { struct mallinfo2 m = mallinfo2(); return m.arena + m.hblkhd; }
static int je_bool(const char *name) { _Bool v = 0; size_t l = sizeof(v); if (duckdb_je_mallctl(name, &v, &l, NULL, 0) != 0) return -1; return v; }
static long je_ssize(const char *name) { ssize_t v = 0; size_t l = sizeof(v); if (duckdb_je_mallctl(name, &v, &l, NULL, 0) != 0) return -2; return v; }
*/
import "C"

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

// startMemTrace, in a build with the memtrace tag and SYNCD_MEMTRACE set
// to a file, appends one JSON line every 200 ms: the process's resident
// memory split as /proc reports it, the Go runtime's and DuckDB's own
// accounts, so a timeline shows which part grows when. For measuring
// memory (README "Memory"); the default build has none of it.
func (s *Sink) startMemTrace() {
	path := os.Getenv("SYNCD_MEMTRACE")
	if path == "" || s.readOnly {
		return
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return
	}
	start := time.Now()
	names := []string{
		"/memory/classes/total:bytes",
		"/memory/classes/heap/released:bytes",
		"/memory/classes/heap/objects:bytes",
		"/memory/classes/heap/unused:bytes",
		"/memory/classes/heap/free:bytes",
		"/gc/heap/goal:bytes",
		"/gc/cycles/total:gc-cycles",
		"/cpu/classes/gc/total:cpu-seconds",
		"/cpu/classes/total:cpu-seconds",
	}
	samples := make([]metrics.Sample, len(names))
	for i, n := range names {
		samples[i].Name = n
	}
	go func() {
		defer f.Close()
		enc := json.NewEncoder(f)
		nextHeap := time.Now().Add(20 * time.Second)
		for range time.Tick(200 * time.Millisecond) {
			if time.Now().After(nextHeap) {
				nextHeap = time.Now().Add(20 * time.Second)
				if hf, err := os.Create(path + ".heap." + strconv.Itoa(int(time.Since(start).Seconds()))); err == nil {
					_ = pprof.WriteHeapProfile(hf)
					hf.Close()
				}
			}
			rec := map[string]any{"t": time.Since(start).Seconds()}
			if b, err := os.ReadFile("/proc/self/status"); err == nil {
				for _, l := range strings.Split(string(b), "\n") {
					k, v, ok := strings.Cut(l, ":")
					if !ok {
						continue
					}
					switch k {
					case "VmRSS", "VmHWM", "RssAnon", "RssFile", "Threads":
						n, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
						rec[k] = n >> 10 // MB (kB in /proc), threads as is below
						if k == "Threads" {
							rec[k] = n
						}
					}
				}
			}
			if b, err := os.ReadFile("/proc/self/stat"); err == nil {
				fs := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+2:])
				u, _ := strconv.ParseInt(fs[11], 10, 64)
				st, _ := strconv.ParseInt(fs[12], 10, 64)
				rec["cpu"] = float64(u+st) / 100
			}
			metrics.Read(samples)
			for i, smp := range samples {
				k := strings.TrimPrefix(names[i], "/")
				switch smp.Value.Kind() {
				case metrics.KindUint64:
					v := smp.Value.Uint64()
					if strings.HasSuffix(names[i], "bytes") {
						rec[k] = v >> 20
					} else {
						rec[k] = v
					}
				case metrics.KindFloat64:
					rec[k] = smp.Value.Float64()
				}
			}
			C.je_epoch()
			for _, n := range []string{"allocated", "active", "resident", "retained", "mapped", "metadata"} {
				cs := C.CString("stats." + n)
				rec["je."+n] = uint64(C.je_stat(cs)) >> 20
				C.free(unsafe.Pointer(cs))
			}
			for _, n := range []string{"pdirty", "pmuzzy"} {
				cs := C.CString("stats.arenas.4096." + n)
				rec["je."+n] = uint64(C.je_stat(cs)) * 4096 >> 20
				C.free(unsafe.Pointer(cs))
			}
			if st, err := os.Stat(s.path + ".wal"); err == nil {
				rec["wal"] = st.Size() >> 20
			}
			if es, err := os.ReadDir(s.path + ".tmp"); err == nil {
				var n int64
				for _, e := range es {
					if i, err := e.Info(); err == nil {
						n += i.Size()
					}
				}
				rec["tmpdir"] = n >> 20
			}
			if st, err := os.Stat(s.path); err == nil {
				rec["db"] = st.Size() >> 20
			}
			rec["glibc.inuse"] = uint64(C.glibc_inuse()) >> 20
			rec["glibc.total"] = uint64(C.glibc_total()) >> 20
			for _, n := range []string{"background_thread", "opt.background_thread"} {
				cs := C.CString(n)
				rec["je."+n] = int(C.je_bool(cs))
				C.free(unsafe.Pointer(cs))
			}
			for _, n := range []string{"arenas.dirty_decay_ms", "arenas.muzzy_decay_ms", "opt.narenas"} {
				cs := C.CString(n)
				rec["je."+n] = int64(C.je_ssize(cs))
				C.free(unsafe.Pointer(cs))
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			rows, err := s.db.QueryContext(ctx, "SELECT tag, memory_usage_bytes, temporary_storage_bytes FROM duckdb_memory() WHERE memory_usage_bytes > 0 OR temporary_storage_bytes > 0")
			if err == nil {
				var tot, tmp int64
				for rows.Next() {
					var tag string
					var m, t int64
					if rows.Scan(&tag, &m, &t) == nil {
						tot += m
						tmp += t
						rec["dk."+tag] = m >> 20
					}
				}
				rows.Close()
				rec["duck"] = tot >> 20
				rec["duck.tmp"] = tmp >> 20
			} else {
				rec["duck.err"] = err.Error()
			}
			cancel()
			_ = enc.Encode(rec)
		}
	}()
}

// debugSettings overrides DuckDB settings of the DSN with
// SYNCD_DUCK_SET's k=v;k=v.
func debugSettings(q url.Values) {
	for _, st := range strings.Split(os.Getenv("SYNCD_DUCK_SET"), ";") {
		if k, v, ok := strings.Cut(strings.TrimSpace(st), "="); ok {
			q.Set(k, v)
		}
	}
}
