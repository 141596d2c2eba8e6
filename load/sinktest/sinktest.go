// Package sinktest is the conformance suite every warehouse sink must pass:
// the behaviour of load.Sink, load.Tx, load.Reader, checkpoints.Store and
// checkpoints.Admin that the
// pipeline, `syncd state` and the crash-safety guarantees rely on, written
// once so each sink (DuckDB today, the Parquet lake next) is held to the
// same contract. A sink's package wires it in a test:
//
//	func TestConformance(t *testing.T) {
//		sinktest.Run(t, sinktest.Harness{Open: ..., Read: ...})
//	}
//
// The suite loads the real models (conversions, stats_daily, offers) with
// records decoded from API-shaped JSON by their own builders; it needs
// nothing from a sink beyond the Harness.
package sinktest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/syncd/syncd/checkpoints"
	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/models"
)

// Sink is what the suite holds a warehouse to: its loading side, what
// syncd reads back from it, and the moves of cursors by hand that `syncd
// state reset` makes.
type Sink interface {
	load.Sink
	load.Reader
	checkpoints.Admin
}

// Harness is what the suite needs from a sink besides Sink itself.
// Each function gets the subtest's t and may fail it.
type Harness struct {
	// Open opens the sink stored in dir, an empty directory the first
	// time (the sink creates its storage there). Called again with the
	// same dir after the earlier sink was closed, it must return a sink
	// holding everything that one committed: a restart. The suite closes
	// every sink it opens, exactly once.
	Open func(t *testing.T, dir string) Sink

	// Read returns every committed row of table, in any order, as Arrow
	// records with one column per model column, named as in the model and
	// no others. Any Arrow shape of a value does (a timestamp with or
	// without zone, the latter holding UTC; any string, dictionary or
	// decimal width). A table never committed reads as no records. It reads
	// the way a query of the warehouse would (SQL for DuckDB, the Parquet
	// files for a lake) while transactions may be open; the suite releases
	// the records.
	Read func(t *testing.T, s load.Sink, table string) []arrow.RecordBatch

	// Crash stands for the process being killed now, with a transaction
	// staged but not committed: it abandons s (no Commit, Rollback or
	// Close) and returns the directory a restarted process would open,
	// holding what the kill would leave on disk. Nil means dir itself: right
	// for a sink that shares no state between two Opens in one process. A
	// sink whose reopen would share state with the abandoned one (DuckDB's
	// driver caches instances by path) returns a copy of dir's files taken
	// now instead. The suite rolls back and closes the abandoned sink after
	// the case has checked the restarted one.
	Crash func(t *testing.T, s load.Sink, dir string) string

	// ForNetwork returns the view of s that loads and reads network's part
	// of the warehouse (load.Sink's contract: its rows, cursors, runs and
	// changed hours). The view shares s's storage: the suite never closes
	// a view, only s.
	ForNetwork func(s Sink, network string) Sink

	// Previous writes into the empty dir a warehouse as the oldest release
	// this build still upgrades wrote it, holding committed conversions and
	// their cursor (DuckDB: a file the release before schema migrations
	// wrote). Open must upgrade it in place. Nil skips the migration case,
	// for a sink with no earlier release.
	Previous func(t *testing.T, dir string)
}

// Run runs the conformance suite against sinks made by h, one subtest per
// case, each on a sink of its own.
func Run(t *testing.T, h Harness) {
	if h.Open == nil || h.Read == nil || h.ForNetwork == nil {
		t.Fatal("sinktest: Harness needs Open, Read and ForNetwork")
	}
	for _, c := range cases() {
		t.Run(c.name, func(t *testing.T) { c.run(newEnv(t, h)) })
	}
}

// testCase is one behaviour of the contract.
type testCase struct {
	name string
	run  func(e *env)
}

// env is one subtest: its harness, context and the allocator every record
// it writes comes from.
type env struct {
	t   *testing.T
	h   Harness
	ctx context.Context
	mem *memory.CheckedAllocator
}

func newEnv(t *testing.T, h Harness) *env {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	// Registered first so it runs last, after every Tx is rolled back and
	// every sink closed: a sink releases each record it retained.
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return &env{t: t, h: h, ctx: t.Context(), mem: mem}
}

// run runs f as a subtest with an environment of its own.
func (e *env) run(name string, f func(e *env)) {
	e.t.Run(name, func(t *testing.T) { f(newEnv(t, e.h)) })
}

// sink is a sink the suite opened; Close closes it once, whether a case
// closes it (to reopen it) or the cleanup does.
type sink struct {
	Sink
	once sync.Once
	err  error
}

func (s *sink) Close() error {
	s.once.Do(func() { s.err = s.Sink.Close() })
	return s.err
}

// open opens the sink in dir ("" for a new directory).
func (e *env) open(dir string) (*sink, string) {
	e.t.Helper()
	if dir == "" {
		dir = e.t.TempDir()
	}
	ls := e.h.Open(e.t, dir)
	if ls == nil {
		e.t.Fatalf("Open(%s) returned no sink", dir)
	}
	s := &sink{Sink: ls}
	e.t.Cleanup(func() { _ = s.Close() })
	return s, dir
}

// close closes s now, as a clean shutdown does.
func (e *env) close(s *sink) {
	e.t.Helper()
	if err := s.Close(); err != nil {
		e.t.Fatalf("Close: %v", err)
	}
}

func (e *env) begin(s *sink, tg load.Target) load.Tx {
	e.t.Helper()
	tx, err := s.Begin(e.ctx, tg)
	if err != nil {
		e.t.Fatalf("Begin %s: %v", tg.Model.Table(), err)
	}
	// Runs before the sink's Close (cleanups run last first); a no-op
	// once the Tx is finished.
	e.t.Cleanup(func() { _ = tx.Rollback() })
	return tx
}

// write decodes objs with m's builder and writes them as one record, which
// the suite releases as soon as Write returns: Write does not take the
// caller's reference (the pipeline releases each record after Write).
func (e *env) write(tx load.Tx, m models.Model, objs ...string) error {
	e.t.Helper()
	rec := build(e.t, e.mem, m, objs...)
	defer rec.Release()
	return tx.Write(e.ctx, rec)
}

func (e *env) mustWrite(tx load.Tx, m models.Model, objs ...string) {
	e.t.Helper()
	if err := e.write(tx, m, objs...); err != nil {
		e.t.Fatalf("Write %s: %v", m.Table(), err)
	}
}

func (e *env) commit(tx load.Tx, cur *checkpoints.Cursor) load.Committed {
	e.t.Helper()
	n, err := tx.Commit(e.ctx, cur)
	if err != nil {
		e.t.Fatalf("Commit: %v", err)
	}
	return n
}

// load commits one Tx writing each batch as one record; it returns what
// Commit reports.
func (e *env) load(s *sink, tg load.Target, cur *checkpoints.Cursor, batches ...[]string) load.Committed {
	e.t.Helper()
	tx := e.begin(s, tg)
	for _, b := range batches {
		e.mustWrite(tx, tg.Model, b...)
	}
	return e.commit(tx, cur)
}

// read returns m's table as canonical rows, after checking what every read
// must hold: exactly the model's columns, and one row per key.
func (e *env) read(s *sink, m models.Model) []row {
	e.t.Helper()
	recs := e.h.Read(e.t, s.Sink, m.Table())
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	want := make([]string, 0, m.Schema().NumFields())
	for _, f := range m.Schema().Fields() {
		want = append(want, f.Name)
	}
	slices.Sort(want)
	for _, r := range recs {
		var got []string
		for _, f := range r.Schema().Fields() {
			got = append(got, f.Name)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			e.t.Fatalf("Read %s: columns %v, want the model's %v", m.Table(), got, want)
		}
	}
	rows, err := canonicalRows(recs)
	if err != nil {
		e.t.Fatalf("Read %s: %v", m.Table(), err)
	}
	seen := map[string]bool{}
	for _, r := range rows {
		k := render(r, m.Key())
		if seen[k] {
			e.t.Fatalf("Read %s: two rows with key %s=%s", m.Table(), strings.Join(m.Key(), ","), k)
		}
		seen[k] = true
	}
	return rows
}

// rows renders m's rows as the given columns joined by "|", sorted.
func (e *env) rows(s *sink, m models.Model, cols ...string) []string {
	e.t.Helper()
	var out []string
	for _, r := range e.read(s, m) {
		out = append(out, render(r, cols))
	}
	slices.Sort(out)
	return out
}

// all renders m's rows with every column, for comparing whole states.
func (e *env) all(s *sink, m models.Model) []string {
	e.t.Helper()
	var cols []string
	for _, f := range m.Schema().Fields() {
		cols = append(cols, f.Name)
	}
	return e.rows(s, m, cols...)
}

func render(r row, cols []string) string {
	vals := make([]string, len(cols))
	for i, c := range cols {
		vals[i] = r[c]
	}
	return strings.Join(vals, "|")
}

// state is everything a sink holds for the suite's purposes: every row of
// the given models and every cursor. Two equal states are the same
// warehouse.
func (e *env) state(s *sink, ms ...models.Model) []string {
	e.t.Helper()
	var out []string
	for _, m := range ms {
		for _, r := range e.all(s, m) {
			out = append(out, m.Table()+": "+r)
		}
	}
	for _, c := range e.cursors(s) {
		out = append(out, "cursor: "+showCursor(c)+" updated="+c.UpdatedAt.UTC().Format(time.RFC3339Nano))
	}
	return out
}

func (e *env) cursors(s *sink) []checkpoints.Cursor {
	e.t.Helper()
	cs, err := s.Cursors(e.ctx)
	if err != nil {
		e.t.Fatalf("Cursors: %v", err)
	}
	for _, c := range cs {
		e.checkCursor(c)
	}
	// The Store promises no order.
	slices.SortFunc(cs, func(a, b checkpoints.Cursor) int { return strings.Compare(a.Stream, b.Stream) })
	return cs
}

func (e *env) cursor(s *sink, stream string) (checkpoints.Cursor, bool) {
	e.t.Helper()
	c, ok, err := s.Cursor(e.ctx, stream)
	if err != nil {
		e.t.Fatalf("Cursor(%s): %v", stream, err)
	}
	if ok {
		if c.Stream != stream {
			e.t.Fatalf("Cursor(%s) returned the cursor of %q", stream, c.Stream)
		}
		e.checkCursor(c)
	}
	return c, ok
}

// checkCursor holds what every stored cursor must: a UTC position (so
// `syncd state` and the future-cursor check compare instants) and the time
// it was last moved.
func (e *env) checkCursor(c checkpoints.Cursor) {
	e.t.Helper()
	if !c.Position.IsZero() && c.Position.Location() != time.UTC {
		e.t.Fatalf("cursor %s: position %v is not in UTC", c.Stream, c.Position)
	}
	if c.UpdatedAt.IsZero() {
		e.t.Fatalf("cursor %s: UpdatedAt is zero; the sink stamps when a cursor moved", c.Stream)
	}
}

// wantCursor fails unless stream's cursor is at pos with meta.
func (e *env) wantCursor(s *sink, stream string, pos time.Time, meta string) {
	e.t.Helper()
	c, ok := e.cursor(s, stream)
	if !ok {
		e.t.Fatalf("cursor %s: missing, want %s", stream, pos.UTC().Format(time.RFC3339))
	}
	if !c.Position.Equal(pos) || c.Meta != meta {
		e.t.Fatalf("cursor %s = %s %q, want %s %q", stream, c.Position.Format(time.RFC3339Nano), c.Meta,
			pos.UTC().Format(time.RFC3339Nano), meta)
	}
}

func (e *env) noCursor(s *sink, stream string) {
	e.t.Helper()
	if c, ok := e.cursor(s, stream); ok {
		e.t.Fatalf("cursor %s = %s, want none", stream, showCursor(c))
	}
}

func showCursor(c checkpoints.Cursor) string {
	return fmt.Sprintf("%s@%s meta=%q", c.Stream, c.Position.UTC().Format(time.RFC3339Nano), c.Meta)
}

// expect compares two lists of rendered rows or states.
func (e *env) expect(what string, got, want []string) {
	e.t.Helper()
	if !slices.Equal(got, want) {
		e.t.Fatalf("%s:\n got:\n   %s\nwant:\n   %s", what, strings.Join(got, "\n   "), strings.Join(want, "\n   "))
	}
}

// dayOf is a UTC midnight.
func (e *env) dayOf(s string) time.Time { return day(e.t, s) }
