// Command syncd keeps a SQL warehouse in step with an Affise network.
// This package only wires: config, logging, the Affise client, the
// extractors, the sink and the pipeline live in their own packages.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/syncd/syncd/config"
)

// Exit codes, as DESIGN.md promises.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

// usageError marks bad flags or arguments (exit 2).
type usageError struct{ error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// goMemoryLimit is the Go runtime's soft memory limit; DuckDB's memory
// (warehouse.memory_limit) comes on top. README "Memory" sums them. At
// 64 MiB a backfill of 200k conversions peaked at 299 MB RSS against
// 372 MB at 128 MiB, about as fast: the batches in flight live well
// below it, the rest was garbage the collector let pile up. Batches of
// 1,000 rows (extract.DefaultBatchRows) keep some 25-35 MB live, so 48 MiB
// took another 15 MB off a 1M backfill's Go heap at no more CPU time.
const goMemoryLimit = 48 << 20

// lakeGoMemoryLimit replaces goMemoryLimit once the config names a
// Parquet lake: no DuckDB memory comes on top there, and the lake writer
// builds its files on the Go heap, so at 48 MiB the collector took half
// of a 200k backfill's CPU time (15-19 s against 8.4-9.9 s at 96 MiB,
// peak RSS 166 MB against 184 MB).
const lakeGoMemoryLimit = 96 << 20

// setGoMemoryLimit sets the Go soft limit for a warehouse of kind, unless
// GOMEMLIMIT in the environment set it.
func setGoMemoryLimit(kind string) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	if kind == "parquet" {
		debug.SetMemoryLimit(lakeGoMemoryLimit)
		return
	}
	debug.SetMemoryLimit(goMemoryLimit)
}

func main() {
	// Everything syncd writes (the DuckDB file, its WAL, temp files) holds
	// a business's numbers: readable by its owner only.
	syscall.Umask(0o077)
	// The Go heap holds a few batches in flight (their strings dominate):
	// a soft limit makes the collector keep it near that instead of at
	// twice the last live size (GOGC). GOMEMLIMIT in the environment wins.
	setGoMemoryLimit("duckdb")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code := withCPUProfile(os.Getenv("SYNCD_CPUPROFILE"), func() int { return run(ctx, os.Args[1:]) })
	os.Exit(code)
}

// withCPUProfile runs f with a Go CPU profile written to path, when path
// is set (SYNCD_CPUPROFILE, README "Performance": for whoever profiles a
// real run; it sees Go and cgo frames, not into DuckDB's own threads). A
// profile that cannot start is reported and f runs anyway.
func withCPUProfile(path string, f func() int) int {
	if path == "" {
		return f()
	}
	out, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(out)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "syncd: SYNCD_CPUPROFILE %s: %v (running without a profile)\n", path, err)
		return f()
	}
	defer out.Close()
	defer pprof.StopCPUProfile()
	return f()
}

func run(ctx context.Context, args []string) int {
	root, g := newRootCmd()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	// One line per failure (several networks' passes fail one by one),
	// each as the one line a single failure always was.
	for _, line := range strings.Split(g.redact(err.Error()), "\n") {
		fmt.Fprintln(os.Stderr, "syncd: "+line)
	}
	return exitCode(err)
}

func exitCode(err error) int {
	var ue usageError
	var ce *config.Error
	if errors.As(err, &ue) || errors.As(err, &ce) {
		return exitUsage
	}
	return exitFailed
}
