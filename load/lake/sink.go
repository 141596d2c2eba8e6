// Package lake is the Parquet lake sink on local disk: each table a
// directory of Parquet files, <path>/<table>/date=YYYY-MM-DD/data.parquet
// for tables with a day column and <path>/<table>/data.parquet for the
// others, and syncd's own files (cursors, runs, journals, temp files) under
// <path>/_syncd/ only.
//
// A plain reader (read_parquet('<path>/<table>/**/*.parquet')) sees every
// row once, with its latest committed version, at every instant: a commit
// writes each partition it touches whole to a temp file under _syncd/,
// fsyncs it, records the commit in a journal, renames each file over its
// partition's, and moves the cursor after the data. A process killed
// before the journal is written leaves the lake as it was; one killed after
// leaves a journal the next Open replays, so the Tx lands whole. Readers
// take no lock; a Tx's partitions appear one rename at a time (each row is
// in exactly one partition, so none is seen twice).
//
// Limits, by design for now: one process writes a lake at a time, and
// nothing enforces it yet. An Upsert places a row by the day of its day
// column and merges by key within that partition only: a key whose day
// changed between loads would be stored in both days (Affise's creation
// times do not change). A commit holds one partition's staged rows in
// memory.
package lake

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/syncd/syncd/checkpoints"
	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/models"
)

// Sink is a lake on local disk. It implements load.Sink, load.Reader and
// checkpoints.Admin, and is safe for concurrent use as load.Sink states:
// Txs on different tables run at once; a second Begin on a table waits
// until the first Tx on it ends. One process writes a lake at a time
// (nothing enforces it yet); any number may read it.
type Sink struct {
	l   layout
	mem memory.Allocator
	now func() time.Time

	// tables holds one token per table: a Tx owns its table's from Begin
	// to its end.
	mu     sync.Mutex
	tables map[string]chan struct{}
	// publish serialises the step that moves files into place and
	// rewrites the state file, the only read-modify-write of shared files.
	publish sync.Mutex
	closed  bool
	// broken is a commit whose journal could not be applied: only the
	// next Open's replay may touch the lake's files, so Begin fails.
	broken error

	// killAfterJournal, set by tests, stands for the process dying once a
	// commit's journal is durable, after n of its renames.
	killAfterJournal func(j journal) (renames int, kill bool)
}

var (
	_ load.Sink         = (*Sink)(nil)
	_ load.Reader       = (*Sink)(nil)
	_ checkpoints.Admin = (*Sink)(nil)
)

// Open opens the lake at dir for writing, creating it if need be, and
// finishes any commit a killed process left half applied (see the package
// doc), removing that process's temp files. It is the one writer's: a
// process that only reads (syncd state, syncd query) must not call it
// while a writer runs, or it would take the writer's in-flight files for
// a dead one's. A failed Open leaves the lake for the next one to recover.
func Open(ctx context.Context, dir string) (*Sink, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l := layout{root: dir}
	for _, d := range []string{l.syncdDir(), l.journalDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("lake: open %s: %w", dir, err)
		}
	}
	if err := l.recover(); err != nil {
		return nil, fmt.Errorf("lake: open %s: %w", dir, err)
	}
	return &Sink{l: l, mem: memory.DefaultAllocator, now: time.Now, tables: map[string]chan struct{}{}}, nil
}

// Path is the lake's root directory.
func (s *Sink) Path() string { return s.l.root }

// Begin implements load.Sink. It waits while another Tx on the same table
// is open, until ctx ends.
func (s *Sink) Begin(ctx context.Context, t load.Target) (load.Tx, error) {
	table := t.Model.Table()
	if err := checkTarget(t); err != nil {
		return nil, fmt.Errorf("lake: begin %s: %w", table, err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, fmt.Errorf("lake: begin %s: sink closed", table)
	}
	if s.broken != nil {
		err := s.broken
		s.mu.Unlock()
		return nil, fmt.Errorf("lake: begin %s: %w", table, err)
	}
	tok, ok := s.tables[table]
	if !ok {
		tok = make(chan struct{}, 1)
		s.tables[table] = tok
	}
	s.mu.Unlock()
	select {
	case tok <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("lake: begin %s: %w", table, ctx.Err())
	}
	tx := &Tx{s: s, target: t, id: newID(), release: func() { <-tok }}
	tx.dir = s.l.tmpDir() + "/" + tx.id + ".staging.partial"
	if err := os.MkdirAll(tx.dir, 0o755); err != nil {
		tx.release()
		return nil, fmt.Errorf("lake: begin %s: %w", table, err)
	}
	return tx, nil
}

func checkTarget(t load.Target) error {
	m := t.Model
	switch t.Mode {
	case models.Upsert, models.ReplaceTable:
	case models.ReplaceDays:
		if m.DayColumn() == "" {
			return errors.New("replace-days load of a table without a day column")
		}
		if !t.From.Before(t.To) {
			return fmt.Errorf("empty day window [%s, %s)", t.From.Format(time.DateOnly), t.To.Format(time.DateOnly))
		}
	default:
		return fmt.Errorf("unknown mode %v", t.Mode)
	}
	if len(m.Key()) == 0 {
		return errors.New("model has no key")
	}
	for _, c := range append(append([]string{}, m.Key()...), m.DayColumn(), m.Version()) {
		if c != "" && len(m.Schema().FieldIndices(c)) != 1 {
			return fmt.Errorf("column %s is not in the schema", c)
		}
	}
	return nil
}

// Close implements load.Sink. Every Tx must have ended before it.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

// Cursor implements checkpoints.Store, reading the state file as last
// committed.
func (s *Sink) Cursor(ctx context.Context, stream string) (checkpoints.Cursor, bool, error) {
	st, err := s.l.readState()
	if err != nil {
		return checkpoints.Cursor{}, false, fmt.Errorf("lake: cursor %s: %w", stream, err)
	}
	c, ok := st[stream]
	if !ok {
		return checkpoints.Cursor{}, false, nil
	}
	return c.cursor(stream), true, nil
}

// Cursors implements checkpoints.Store.
func (s *Sink) Cursors(ctx context.Context) ([]checkpoints.Cursor, error) {
	st, err := s.l.readState()
	if err != nil {
		return nil, fmt.Errorf("lake: cursors: %w", err)
	}
	out := make([]checkpoints.Cursor, 0, len(st))
	for k, c := range st {
		out = append(out, c.cursor(k))
	}
	return out, nil
}

func (c storedCursor) cursor(stream string) checkpoints.Cursor {
	out := checkpoints.Cursor{Stream: stream, Position: c.Position.UTC(), UpdatedAt: c.UpdatedAt.UTC()}
	out.SetStoredMeta(c.Meta)
	return out
}

// SetCursor implements checkpoints.Admin.
func (s *Sink) SetCursor(ctx context.Context, c checkpoints.Cursor) error {
	ch, err := changeOf(c, s.now())
	if err != nil {
		return fmt.Errorf("lake: set cursor %s: %w", c.Stream, err)
	}
	s.publish.Lock()
	defer s.publish.Unlock()
	if err := s.l.applyCursor(ch); err != nil {
		return fmt.Errorf("lake: set cursor %s: %w", c.Stream, err)
	}
	return nil
}

// DeleteCursor implements checkpoints.Admin.
func (s *Sink) DeleteCursor(ctx context.Context, stream string) error {
	return s.SetCursor(ctx, checkpoints.Cursor{Stream: stream})
}

// runLine is one line of _syncd/runs.jsonl.
type runLine struct {
	Stream     string    `json:"stream"`
	Kind       string    `json:"kind"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	Rows       int64     `json:"rows"`
	Requests   int64     `json:"requests"`
	Error      string    `json:"error,omitempty"`
}

// RecordRun implements load.Sink: one line appended to _syncd/runs.jsonl
// and fsynced. A kill mid-append leaves a torn last line, which LastRuns
// skips.
func (s *Sink) RecordRun(ctx context.Context, r load.Run) error {
	b, err := json.Marshal(runLine{Stream: r.Stream, Kind: r.Kind, StartedAt: r.StartedAt.UTC(), FinishedAt: r.FinishedAt.UTC(),
		Rows: r.Rows, Requests: r.Requests, Error: r.Error})
	if err != nil {
		return fmt.Errorf("lake: record run of %s: %w", r.Stream, err)
	}
	s.publish.Lock()
	defer s.publish.Unlock()
	f, err := os.OpenFile(s.l.runsFile(), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("lake: record run of %s: %w", r.Stream, err)
	}
	// A torn line from a kill gets a newline of its own first, so it
	// spoils only itself.
	_, err = f.Write(append(append([]byte{'\n'}, b...), '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("lake: record run of %s: %w", r.Stream, err)
	}
	return nil
}

// LastRuns implements load.Reader.
func (s *Sink) LastRuns(ctx context.Context) ([]load.LastRun, error) {
	b, err := os.ReadFile(s.l.runsFile())
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("lake: last runs: %w", err)
	}
	latest := map[string]load.LastRun{}
	ok := map[string]time.Time{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var r runLine
		if len(bytes.TrimSpace(sc.Bytes())) == 0 || json.Unmarshal(sc.Bytes(), &r) != nil {
			continue
		}
		if r.Kind != "sync" || r.FinishedAt.IsZero() {
			continue
		}
		if r.Error == "" && r.FinishedAt.After(ok[r.Stream]) {
			ok[r.Stream] = r.FinishedAt
		}
		if cur, seen := latest[r.Stream]; !seen || !r.FinishedAt.Before(cur.FinishedAt) {
			latest[r.Stream] = load.LastRun{Run: load.Run{Stream: r.Stream, Kind: r.Kind, StartedAt: r.StartedAt.UTC(),
				FinishedAt: r.FinishedAt.UTC(), Rows: r.Rows, Requests: r.Requests, Error: r.Error}}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("lake: last runs: %w", err)
	}
	out := make([]load.LastRun, 0, len(latest))
	for k, r := range latest {
		r.LastSuccess = ok[k]
		out = append(out, r)
	}
	return out, nil
}
