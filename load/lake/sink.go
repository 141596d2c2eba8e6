// Package lake is the Parquet lake sink, on local disk or S3 (package
// bucket): each table a prefix of Parquet files, one directory per network
// (several Affise networks share a lake),
// <path>/<table>/network=<name>/date=YYYY-MM-DD/data.parquet for tables
// with a day column and <path>/<table>/network=<name>/data.parquet for the
// others, each file holding the network column too; and syncd's own
// objects (cursors, runs, journals, temporaries, the writer's lock) under
// <path>/_syncd/ only.
//
// A plain reader (read_parquet('<path>/<table>/**/*.parquet')) sees every
// row once, with its latest committed version, at every instant: a commit
// writes each partition it touches whole to a temporary under _syncd/,
// records the commit in a journal, replaces each partition's object with
// its new one in one step (a rename on disk, a server-side copy on S3),
// and moves the cursor after the data. A process killed before the
// journal is written leaves the lake as it was; one killed after leaves a
// journal the next writer's Open replays, so the Tx lands whole. Readers
// take no lock; a Tx's partitions appear one at a time (each row is in
// exactly one partition, so none is seen twice). No partition object is
// ever deleted: a reader that listed one can always open it. (The one
// exception is the one-time upgrade of a layout-1 lake, upgrade.go, which
// moves every file: readers of syncd refuse the lake until it is done.)
//
// One process writes a lake at a time: a writer's Open takes the lake's
// lock (bucket.Lock) and keeps it until Close; any number of processes
// read it meanwhile (OpenReadOnly).
//
// Limits, by design: an Upsert places a row by the day of its day column
// and merges by key within that partition only: a key whose day changed
// between loads would be stored in both days (Affise's creation times do
// not change). A commit streams each partition: it holds one staged
// record, one batch of the stored file and the row group being written,
// plus the keys of its own rows, whatever the partition's size.
package lake

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/syncd/syncd/checkpoints"
	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/load/lake/bucket"
	"github.com/syncd/syncd/models"
)

// SchemaVersion is the lake layout this build writes, recorded in
// _syncd/meta.json. A lake of a newer one is refused; an older one is
// upgraded in place by the writer's Open (upgrade.go). Layout 2 added the
// network= level and column.
const SchemaVersion = 2

type meta struct {
	Format        string `json:"format"`
	SchemaVersion int    `json:"schema_version"`
}

const formatName = "syncd-parquet-lake"

// ErrNoLake is a read-only open of a lake nothing was written to yet.
var ErrNoLake = errors.New("the lake does not exist yet: run `syncd sync` first")

// Sink is a lake as one network sees it. It implements load.Sink,
// load.Reader and checkpoints.Admin, and is safe for concurrent use as
// load.Sink states: Txs on different tables (or on one table for different
// networks) run at once; a second Begin on a table for one network waits
// until the first Tx on it ends. ForNetwork gives another network's view
// of the same lake.
type Sink struct {
	*core
	network string
}

// core is what every network's view of one opened lake shares: the
// bucket, the lock, the per-table tokens and the publish step.
type core struct {
	b        bucket.Bucket
	mem      memory.Allocator
	now      func() time.Time
	readOnly bool
	unlock   func() error
	onCommit func(table string)

	// tables holds one token per table: a Tx owns its table's from Begin
	// to its end.
	mu     sync.Mutex
	tables map[string]chan struct{}
	// publish serialises the step that puts objects in place and
	// rewrites the state and runs objects, the only read-modify-writes of
	// shared objects.
	publish sync.Mutex
	closed  bool
	// broken is a commit whose journal could not be applied: only the
	// next Open's replay may touch the lake's files, so Begin fails.
	broken error

	// layout is the lake's layout version: SchemaVersion for a writer
	// (Open upgrades), and for a reader what meta.json says.
	layout int

	// killAfterJournal, set by tests, stands for the process dying once a
	// commit's journal is durable, after n of its renames.
	killAfterJournal func(j journal) (renames int, kill bool)
}

var (
	_ load.Sink         = (*Sink)(nil)
	_ load.Reader       = (*Sink)(nil)
	_ checkpoints.Admin = (*Sink)(nil)
)

// Option configures Open.
type Option func(*Sink)

// OnCommit has f called, with the table, after each commit landed (and
// after each cursor set by hand, with table ""), so a reader in the same
// process (the daemon's SQL over the lake) can see new partitions. f runs
// on the committing goroutine and must be quick.
func OnCommit(f func(table string)) Option { return func(s *Sink) { s.onCommit = f } }

// Open opens the lake in b for writing, creating it if need be: it takes
// the lake's writer lock, named after holder (e.g. "syncd run"; a second
// writer gets a *bucket.LockedError), then finishes any commit a killed
// writer left half applied and removes its temporaries. A failed Open
// holds no lock and leaves the lake for the next one to recover.
func Open(ctx context.Context, b bucket.Bucket, holder string, opts ...Option) (*Sink, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	unlock, err := b.Lock(ctx, holder)
	if err != nil {
		return nil, fmt.Errorf("lake: open %s: %w", b, err)
	}
	if err := prepare(ctx, b); err != nil {
		_ = unlock()
		return nil, fmt.Errorf("lake: open %s: %w", b, err)
	}
	s := newSink(b, SchemaVersion)
	s.unlock = unlock
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// prepare makes the lake in b ready for a writer: created if new,
// upgraded to SchemaVersion if older (or if an upgrade was under way when
// a writer died), and the journals of a killed writer replayed.
func prepare(ctx context.Context, b bucket.Bucket) error {
	var m meta
	found, err := getJSON(ctx, b, metaKey, &m)
	if err != nil {
		return err
	}
	var up upgradeRecord
	upgrading, err := getJSON(ctx, b, upgradeKey, &up)
	if err != nil {
		return err
	}
	switch {
	case found:
		if err := checkMeta(b, m); err != nil {
			return err
		}
	case !upgrading:
		if err := putJSON(ctx, b, metaKey, meta{Format: formatName, SchemaVersion: SchemaVersion}); err != nil {
			return err
		}
		m.SchemaVersion = SchemaVersion
	}
	if upgrading || m.SchemaVersion < SchemaVersion {
		if err := upgrade(ctx, b, m.SchemaVersion, upgrading, up); err != nil {
			return fmt.Errorf("upgrading the lake from layout %d to %d: %w (the next open for writing goes on from here)", m.SchemaVersion, SchemaVersion, err)
		}
	}
	return replay(ctx, b, SchemaVersion)
}

func checkMeta(b bucket.Bucket, m meta) error {
	if m.Format != formatName {
		return fmt.Errorf("%s/%s does not describe a syncd lake (format %q); point warehouse.path at a lake or an empty location", b, metaKey, m.Format)
	}
	if m.SchemaVersion > SchemaVersion {
		return fmt.Errorf("the lake %s has schema version %d, newer than this syncd's %d: upgrade syncd", b, m.SchemaVersion, SchemaVersion)
	}
	return nil
}

// OpenReadOnly opens the lake in b to read its cursors and runs, taking no
// lock: it may run while a writer commits, and sees what is committed.
// Every write fails. It fails with ErrNoLake when nothing was written yet.
func OpenReadOnly(ctx context.Context, b bucket.Bucket) (*Sink, error) {
	var m meta
	found, err := getJSON(ctx, b, metaKey, &m)
	if err != nil {
		return nil, fmt.Errorf("lake: open %s: %w", b, err)
	}
	if !found {
		return nil, fmt.Errorf("lake %s: %w", b, ErrNoLake)
	}
	if err := checkMeta(b, m); err != nil {
		return nil, fmt.Errorf("lake: open %s: %w", b, err)
	}
	if m.SchemaVersion < SchemaVersion {
		return nil, fmt.Errorf("lake: open %s: %w", b, &OldLayoutError{Where: b.String(), Layout: m.SchemaVersion})
	}
	s := newSink(b, m.SchemaVersion)
	s.readOnly = true
	return s, nil
}

// ErrOldLayout matches every *OldLayoutError.
var ErrOldLayout = errors.New("the lake has an older layout")

// OldLayoutError is a read-only open of a lake an earlier syncd wrote,
// which only a writer may upgrade (readers never change a lake).
type OldLayoutError struct {
	Where  string
	Layout int
}

func (e *OldLayoutError) Error() string {
	return fmt.Sprintf("the lake %s was written by an earlier syncd (layout %d, this one reads %d): run `syncd sync` (or start `syncd run`) once with this syncd to upgrade it in place, then read it", e.Where, e.Layout, SchemaVersion)
}

func (e *OldLayoutError) Unwrap() error { return ErrOldLayout }

func newSink(b bucket.Bucket, layout int) *Sink {
	return &Sink{core: &core{b: b, mem: memory.DefaultAllocator, now: time.Now, tables: map[string]chan struct{}{}, layout: layout},
		network: models.DefaultNetwork}
}

// Network implements load.Sink: the network this view loads and reads.
func (s *Sink) Network() string { return s.network }

// ForNetwork is the lake as network sees it: a view sharing s's bucket,
// lock and state (load.Warehouse.ForNetwork). Closing any view closes the
// lake, once. A name models.ValidNetworkName refuses gives a view whose
// every call fails.
func (s *Sink) ForNetwork(network string) *Sink { return &Sink{core: s.core, network: network} }

// checkNetwork keeps a view of an invalid name from reaching any object
// key, which the name is part of.
func (s *Sink) checkNetwork() error {
	if !models.ValidNetworkName(s.network) {
		return fmt.Errorf("network %q is not a valid network name (1-40 of a-z, 0-9, _ and -, starting with a letter or digit)", s.network)
	}
	return nil
}

// Bucket is where the lake's objects live.
func (s *Sink) Bucket() bucket.Bucket { return s.b }

var errReadOnly = errors.New("the lake was opened read-only")

// Begin implements load.Sink. It waits while another Tx on the same table
// is open, until ctx ends.
func (s *Sink) Begin(ctx context.Context, t load.Target) (load.Tx, error) {
	table := t.Model.Table()
	if s.readOnly {
		return nil, fmt.Errorf("lake: begin %s: %w", table, errReadOnly)
	}
	if err := s.checkNetwork(); err != nil {
		return nil, fmt.Errorf("lake: begin %s: %w", table, err)
	}
	if err := checkTarget(t); err != nil {
		return nil, fmt.Errorf("lake: begin %s: %w", table, err)
	}
	// One token per network's part of a table: networks' Txs on a table
	// touch different partitions.
	tokKey := s.network + "/" + table
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
	tok, ok := s.tables[tokKey]
	if !ok {
		tok = make(chan struct{}, 1)
		s.tables[tokKey] = tok
	}
	s.mu.Unlock()
	select {
	case tok <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("lake: begin %s: %w", table, ctx.Err())
	}
	tx := &Tx{s: s, network: s.network, target: t, id: newID(), release: func() { <-tok }}
	tx.dir = filepath.Join(s.b.Scratch(), tx.id+".staging.partial")
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

// Close implements load.Sink: it releases the writer's lock. Every Tx
// of every network's view must have ended before it; closing one view
// closes them all, and again is nothing.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.unlock != nil {
		return s.unlock()
	}
	return nil
}

// Cursor implements checkpoints.Store, reading the state object as last
// committed.
func (s *Sink) Cursor(ctx context.Context, stream string) (checkpoints.Cursor, bool, error) {
	st, err := readState(ctx, s.b, s.layout)
	if err != nil {
		return checkpoints.Cursor{}, false, fmt.Errorf("lake: cursor %s: %w", stream, err)
	}
	c, ok := st[s.network][stream]
	if !ok {
		return checkpoints.Cursor{}, false, nil
	}
	return c.cursor(stream), true, nil
}

// Cursors implements checkpoints.Store: the view's network's cursors.
func (s *Sink) Cursors(ctx context.Context) ([]checkpoints.Cursor, error) {
	st, err := readState(ctx, s.b, s.layout)
	if err != nil {
		return nil, fmt.Errorf("lake: cursors: %w", err)
	}
	out := make([]checkpoints.Cursor, 0, len(st[s.network]))
	for k, c := range st[s.network] {
		out = append(out, c.cursor(k))
	}
	slices.SortFunc(out, func(a, b checkpoints.Cursor) int { return strings.Compare(a.Stream, b.Stream) })
	return out, nil
}

// NetworkCursor is one network's cursor.
type NetworkCursor struct {
	Network string
	checkpoints.Cursor
}

// AllCursors is every network's cursors, by network then stream: the rows
// of the lake's _syncd_state.
func (s *Sink) AllCursors(ctx context.Context) ([]NetworkCursor, error) {
	st, err := readState(ctx, s.b, s.layout)
	if err != nil {
		return nil, fmt.Errorf("lake: cursors: %w", err)
	}
	var out []NetworkCursor
	for _, n := range slices.Sorted(maps.Keys(st)) {
		for _, k := range slices.Sorted(maps.Keys(st[n])) {
			out = append(out, NetworkCursor{Network: n, Cursor: st[n][k].cursor(k)})
		}
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
	if s.readOnly {
		return fmt.Errorf("lake: set cursor %s: %w", c.Stream, errReadOnly)
	}
	if err := s.checkNetwork(); err != nil {
		return fmt.Errorf("lake: set cursor %s: %w", c.Stream, err)
	}
	ch, err := changeOf(c, s.now())
	if err != nil {
		return fmt.Errorf("lake: set cursor %s: %w", c.Stream, err)
	}
	s.publish.Lock()
	err = applyCursor(ctx, s.b, s.layout, s.network, ch)
	s.publish.Unlock()
	if err != nil {
		return fmt.Errorf("lake: set cursor %s: %w", c.Stream, err)
	}
	s.committed("")
	return nil
}

// committed tells the OnCommit hook.
func (s *Sink) committed(table string) {
	if s.onCommit != nil {
		s.onCommit(table)
	}
}

// DeleteCursor implements checkpoints.Admin.
func (s *Sink) DeleteCursor(ctx context.Context, stream string) error {
	return s.SetCursor(ctx, checkpoints.Cursor{Stream: stream})
}

// RunLine is one pass as _syncd/runs.json keeps it.
type RunLine struct {
	Network    string    `json:"network"`
	Stream     string    `json:"stream"`
	Kind       string    `json:"kind"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	Rows       int64     `json:"rows"`
	Requests   int64     `json:"requests"`
	Error      string    `json:"error,omitempty"`
	// The pass's summary (load.Run). Absent in passes recorded before it
	// existed, which _syncd_runs shows as NULL.
	RowsRead     *int64     `json:"rows_read,omitempty"`
	Inserted     *int64     `json:"rows_inserted,omitempty"`
	Updated      *int64     `json:"rows_updated,omitempty"`
	Unchanged    *int64     `json:"rows_unchanged,omitempty"`
	Retries      *int64     `json:"retries,omitempty"`
	CursorBefore *time.Time `json:"cursor_before,omitempty"`
	CursorAfter  *time.Time `json:"cursor_after,omitempty"`
}

// runLine is r as runs.json keeps it.
func runLine(r load.Run) RunLine {
	n := func(v int64) *int64 { return &v }
	at := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		u := t.UTC()
		return &u
	}
	return RunLine{Network: r.Network, Stream: r.Stream, Kind: r.Kind, StartedAt: r.StartedAt.UTC(), FinishedAt: r.FinishedAt.UTC(),
		Rows: r.Rows, Requests: r.Requests, Error: r.Error,
		RowsRead: n(r.RowsRead), Inserted: n(r.Inserted), Updated: n(r.Updated), Unchanged: n(r.Unchanged), Retries: n(r.Retries),
		CursorBefore: at(r.CursorBefore), CursorAfter: at(r.CursorAfter)}
}

// Run is the pass l records (zero where it recorded nothing).
func (l RunLine) Run() load.Run {
	n := func(v *int64) int64 {
		if v == nil {
			return 0
		}
		return *v
	}
	at := func(t *time.Time) time.Time {
		if t == nil {
			return time.Time{}
		}
		return *t
	}
	return load.Run{Network: l.Network, Stream: l.Stream, Kind: l.Kind, StartedAt: l.StartedAt, FinishedAt: l.FinishedAt, Rows: l.Rows, Requests: l.Requests,
		Error: l.Error, RowsRead: n(l.RowsRead), Inserted: n(l.Inserted), Updated: n(l.Updated), Unchanged: n(l.Unchanged),
		Retries: n(l.Retries), CursorBefore: at(l.CursorBefore), CursorAfter: at(l.CursorAfter)}
}

// streamRuns is one stream's record in _syncd/runs.json: its latest passes
// (at most keptRuns) and when its latest successful sync pass finished,
// which outlives the passes kept.
type streamRuns struct {
	Recent      []RunLine `json:"recent"`
	LastSuccess time.Time `json:"last_success,omitzero"`
}

// keptRuns bounds _syncd/runs.json, which every pass rewrites whole (an
// object store cannot append).
const keptRuns = 100

// readRuns reads runs.json, written in layout (see readState), by network
// then stream; each line carries its network.
func readRuns(ctx context.Context, b bucket.Bucket, layout int) (map[string]map[string]*streamRuns, error) {
	runs := map[string]map[string]*streamRuns{}
	if layout < 2 {
		flat := map[string]*streamRuns{}
		if _, err := getJSON(ctx, b, runsKey, &flat); err != nil {
			return nil, err
		}
		runs[models.DefaultNetwork] = flat
	} else if _, err := getJSON(ctx, b, runsKey, &runs); err != nil {
		return nil, err
	}
	for n, byStream := range runs {
		for _, sr := range byStream {
			for i := range sr.Recent {
				sr.Recent[i].Network = n
			}
		}
	}
	return runs, nil
}

// RecordRun implements load.Sink: the run joins its stream's recent passes
// in _syncd/runs.json, rewritten whole in one step.
func (s *Sink) RecordRun(ctx context.Context, r load.Run) error {
	if s.readOnly {
		return fmt.Errorf("lake: record run of %s: %w", r.Stream, errReadOnly)
	}
	if err := s.checkNetwork(); err != nil {
		return fmt.Errorf("lake: record run of %s: %w", r.Stream, err)
	}
	r.Network = s.network
	s.publish.Lock()
	defer s.publish.Unlock()
	runs, err := readRuns(ctx, s.b, s.layout)
	if err != nil {
		return fmt.Errorf("lake: record run of %s: %w", r.Stream, err)
	}
	if runs[s.network] == nil {
		runs[s.network] = map[string]*streamRuns{}
	}
	sr := runs[s.network][r.Stream]
	if sr == nil {
		sr = &streamRuns{}
		runs[s.network][r.Stream] = sr
	}
	line := runLine(r)
	sr.Recent = append(sr.Recent, line)
	if len(sr.Recent) > keptRuns {
		sr.Recent = slices.Clone(sr.Recent[len(sr.Recent)-keptRuns:])
	}
	if line.Kind == "sync" && line.Error == "" && !line.FinishedAt.IsZero() && line.FinishedAt.After(sr.LastSuccess) {
		sr.LastSuccess = line.FinishedAt
	}
	if err := putJSON(ctx, s.b, runsKey, runs); err != nil {
		return fmt.Errorf("lake: record run of %s: %w", r.Stream, err)
	}
	s.committed("")
	return nil
}

// Runs returns every kept pass of every stream of every network, oldest
// first: the rows of the lake's _syncd_runs.
func (s *Sink) Runs(ctx context.Context) ([]RunLine, error) {
	runs, err := readRuns(ctx, s.b, s.layout)
	if err != nil {
		return nil, fmt.Errorf("lake: runs: %w", err)
	}
	var out []RunLine
	for _, byStream := range runs {
		for _, sr := range byStream {
			out = append(out, sr.Recent...)
		}
	}
	slices.SortFunc(out, func(a, b RunLine) int { return a.StartedAt.Compare(b.StartedAt) })
	return out, nil
}

// LastRuns implements load.Reader: the view's network's.
func (s *Sink) LastRuns(ctx context.Context) ([]load.LastRun, error) {
	runs, err := readRuns(ctx, s.b, s.layout)
	if err != nil {
		return nil, fmt.Errorf("lake: last runs: %w", err)
	}
	var out []load.LastRun
	for stream, sr := range runs[s.network] {
		var latest *RunLine
		for i := range sr.Recent {
			r := &sr.Recent[i]
			if r.Kind != "sync" || r.FinishedAt.IsZero() {
				continue
			}
			if latest == nil || !r.FinishedAt.Before(latest.FinishedAt) {
				latest = r
			}
		}
		if latest == nil {
			continue
		}
		run := latest.Run()
		run.Stream, run.Network = stream, s.network
		out = append(out, load.LastRun{LastSuccess: sr.LastSuccess, Run: run})
	}
	return out, nil
}
