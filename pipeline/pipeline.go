// Package pipeline runs one pass of a stream: it walks the extractor's
// windows and commits each window's records together with the cursor they
// reach, so a crash at any instant loses nothing and doubles nothing.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/rs/zerolog"

	"github.com/syncd/syncd/checkpoints"
	"github.com/syncd/syncd/extract"
	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/models"
)

// Result sums up one pass: what `syncd sync` prints, the log's "pass
// finished" line and the _syncd_runs row say.
type Result struct {
	Stream string
	// Windows is the windows committed, of Planned.
	Windows, Planned int
	// Read is the rows fetched from the API; Committed what the commits
	// stored of them, one row per key (load.Committed).
	Read      int64
	Committed load.Committed
	// Rows is the rows the pass added or changed (Committed.Changed()).
	Rows int64
	// Requests is the HTTP attempts, Retries those beyond a page's first.
	Requests, Retries int64
	// CursorBefore is where the pass started from (for a backfill, where
	// it resumed); Cursor where it stands after it. Zero: none.
	CursorBefore, Cursor time.Time
	Duration             time.Duration
}

// Progress is a running pass as it stands.
type Progress struct {
	Stream string
	// Done is the windows committed so far, of Total planned.
	Done, Total int
	// Read is the rows fetched so far; Requests the HTTP attempts made.
	Read, Requests int64
}

// Options tune a pass.
type Options struct {
	Log zerolog.Logger
	// Now is the pass's clock (tests pin it); default time.Now.
	Now func() time.Time
	// Progress is told after each record fetched and each window
	// committed (Done grows only then), from the pass's goroutine; it must
	// return quickly.
	Progress func(Progress)
	// WindowsAhead is how many windows are fetched at once (default
	// DefaultWindowsAhead): while one is loaded, the next are fetched, so
	// small windows of a page or two still keep api.concurrency requests
	// in flight. Commits stay in window order whatever it is. Set it to
	// api.concurrency.
	WindowsAhead int
	// BackfillUnitRows and BackfillUnitAge size a backfill's commit units:
	// consecutive windows share one transaction, committed with the last
	// one's cursor, once they hold BackfillUnitRows rows (default
	// DefaultBackfillUnitRows) or the unit began BackfillUnitAge ago
	// (default DefaultBackfillUnitAge), and always at the range's end. A
	// unit that is full in the middle of a window commits before the
	// window's next batch, with the cursor of its last whole window (none
	// when it has none). So a kill loses at most one unit's work, never
	// correctness: the backfill cursor moves only with the rows it covers. A negative
	// BackfillUnitRows commits each window alone. Only upsert streams
	// group windows: a ReplaceDays window owns its days, so each commits
	// alone.
	BackfillUnitRows int64
	BackfillUnitAge  time.Duration
	// BackfillUnitMaxRows caps a unit whose Tx holds few of its rows in
	// memory (load.Backlogger: it places them in the table as they come,
	// or stages them on disk): such a unit counts only its
	// Backlog against BackfillUnitRows, and commits at BackfillUnitMaxRows
	// rows in all (default DefaultBackfillUnitMaxRows when
	// BackfillUnitRows is the default, else BackfillUnitRows). When the Tx
	// stores rows in blocks (load.Granular) no bigger than that, the unit
	// commits at the largest multiple of the block below it instead, the
	// record that crosses it split at it.
	BackfillUnitMaxRows int64
}

// DefaultBackfillUnitMaxRows is Options.BackfillUnitMaxRows' default: a
// backfill into days not loaded (new keys) commits every 250,000 rows,
// or into DuckDB every two row groups (245,760 rows; load.Granular). Its
// rows went into the table batch by batch inside the transaction (none
// wait in Go), so the unit costs no memory in syncd; DuckDB writes each
// row group to the file as it fills, so a unit of whole row groups
// commits without logging its rows. A backfill into a Parquet lake
// commits every 250,000 rows whatever its keys: the lake stages them on
// disk, and each commit rewrites every day it touches. A kill loses at
// most one unit's work, and the unit's age (DefaultBackfillUnitAge)
// bounds it in time.
const DefaultBackfillUnitMaxRows = 250_000

// DefaultBackfillUnitRows is Options.BackfillUnitRows' default: 10,000
// rows, ten batches (extract.DefaultBatchRows). A unit that fills up in
// the middle of a window commits before the window's next batch, so a unit
// holds less than 11,000 rows: the DuckDB sink keeps up to 15,000 in memory
// and, when their keys are new (a backfill of days not loaded), inserts
// them from Arrow straight into the table. Units of whole windows staged
// every row, and a commit of a day of 166k conversions ran DuckDB far past
// its memory_limit (peak RSS 808 MiB at 5M conversions). Each commit costs
// tens of milliseconds (mostly the WAL's fsync): 100 per million rows. It
// is rows, not batches: smaller batches (less Go heap in flight) must not
// mean more commits.
const DefaultBackfillUnitRows = 10_000

// DefaultBackfillUnitAge is Options.BackfillUnitAge's default: a slow API
// still commits, and reports progress, this often.
const DefaultBackfillUnitAge = 30 * time.Second

// unit is how a pass groups windows into commits: a zero unit commits
// each window alone.
type unit struct {
	rows, max int64
	age       time.Duration
}

func (o *Options) backfillUnit(ex extract.Extractor) unit {
	if o.BackfillUnitRows < 0 || ex.Mode() != models.Upsert {
		return unit{}
	}
	u := unit{rows: o.BackfillUnitRows, max: o.BackfillUnitMaxRows, age: o.BackfillUnitAge}
	if u.rows == 0 {
		u.rows = DefaultBackfillUnitRows
		if u.max == 0 {
			u.max = DefaultBackfillUnitMaxRows
		}
	}
	u.max = max(u.max, u.rows)
	if u.age <= 0 {
		u.age = DefaultBackfillUnitAge
	}
	return u
}

// full says whether a unit under tx that began at began and holds rows
// rows must commit now.
func (u unit) full(tx load.Tx, rows int64, began, now time.Time) bool {
	if u.rows == 0 {
		return true
	}
	limit, _ := u.limit(tx)
	return backlog(tx, rows) >= u.rows || rows >= limit || now.Sub(began) >= u.age
}

// limit is the rows at which a unit under tx is full: u.max, or, when tx
// stores rows in blocks no bigger than that (load.Granular), the largest
// multiple of the block not above it, where the unit is cut exactly.
func (u unit) limit(tx load.Tx) (rows int64, exact bool) {
	if g, ok := tx.(load.Granular); ok {
		if n := g.Granule(); n > 0 && n <= u.max {
			return u.max / n * n, true
		}
	}
	return u.max, false
}

// take is how many rows of a record of n rows a unit under tx, holding
// rows rows, takes before it is full: those up to its limit when it is
// cut there exactly (never for a zero unit, whose max is 0), else all n
// (the unit commits before the next one).
func (u unit) take(tx load.Tx, rows, n int64) int64 {
	if l, exact := u.limit(tx); exact && rows < l && rows+n > l {
		return l - rows
	}
	return n
}

// backlog is what of a unit of rows rows waits in tx for its commit.
func backlog(tx load.Tx, rows int64) int64 {
	if b, ok := tx.(load.Backlogger); ok {
		return b.Backlog()
	}
	return rows
}

// DefaultWindowsAhead is Options.WindowsAhead's default: the client's
// default concurrency.
const DefaultWindowsAhead = extract.DefaultConcurrency

func (o *Options) windowsAhead() int {
	if o.WindowsAhead > 0 {
		return o.WindowsAhead
	}
	return DefaultWindowsAhead
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now().UTC()
	}
	return time.Now().UTC()
}

// Sync runs one incremental pass from the stream's stored cursor. A cursor
// more than checkpoints.FutureTolerance ahead of now fails the pass with a
// *checkpoints.FutureCursorError before any request.
func Sync(ctx context.Context, ex extract.Extractor, sink load.Sink, opts Options) (Result, error) {
	stream := ex.Stream()
	started := opts.now()
	cur, _, err := sink.Cursor(ctx, stream)
	if err != nil {
		return Result{Stream: stream}, fmt.Errorf("%s: reading cursor: %w", stream, err)
	}
	before := Result{Stream: stream, CursorBefore: cur.Position, Cursor: cur.Position}
	if cur.InFuture(started) {
		// Planning from it would find nothing to do, pass after pass, while
		// everything up to it went unsynced: stop the stream, loudly, and
		// leave moving the cursor to someone who knows where it belongs.
		ferr := &checkpoints.FutureCursorError{Stream: stream, Position: cur.Position, Now: started}
		opts.Log.Error().Str("stream", stream).Time("cursor", cur.Position).Time("now", started).Str("fix", ferr.Fix()).
			Msg("stored cursor is in the future: refusing the pass so no data is skipped; check the clock, then move the cursor")
		return finish(ctx, sink, "sync", started, opts.now(), before, ferr)
	}
	p, err := planPass(ctx, sink, ex, cur.Position, started)
	if err != nil {
		return finish(ctx, sink, "sync", started, opts.now(), before, err)
	}
	res, err := walk(ctx, ex, sink, p.Windows, stream, cur.Position, opts)
	res.CursorBefore = cur.Position
	if err == nil && !p.SettleTo.IsZero() {
		err = moveCursor(ctx, sink, ex, checkpoints.Cursor{Stream: checkpoints.SettleKey(stream), Position: p.SettleTo})
	}
	return finish(ctx, sink, "sync", started, opts.now(), res, err)
}

// PlanReader is what planning a pass reads from a warehouse: the stored
// cursors, the first day a table holds and the changed hours a stream
// re-reads (as load.Sink states them). A load.Sink is one, and so is a
// load.ReadOnly, so a pass can be planned without the right to load.
type PlanReader interface {
	checkpoints.Store
	FirstDay(ctx context.Context, m models.Model) (day time.Time, found bool, err error)
	ChangedHours(ctx context.Context, set string) ([]time.Time, error)
}

// Planned is what the next incremental pass of a stream would do, as
// Sync would plan it at the same instant from the same warehouse.
type Planned struct {
	Stream string
	// Cursor is where the pass starts: the stored cursor, zero when the
	// stream never ran (the planner starts at its start date).
	Cursor time.Time
	// InFuture: the stored cursor is ahead of now, so Sync refuses the
	// pass (Windows is then empty).
	InFuture bool
	// Windows in the order the pass walks them: first Settle windows of
	// the settle slice, then ChangedDays windows of days with changed
	// hours, then the planner's own.
	Windows     []extract.Window
	Settle      int
	ChangedDays int
	// SettleTo is where the settle cursor moves once the pass succeeds.
	SettleTo time.Time
}

// PlanSync plans the next incremental pass of ex at now without fetching
// anything: the windows Sync would walk, from the stored cursor.
func PlanSync(ctx context.Context, ex extract.Extractor, r PlanReader, now time.Time) (Planned, error) {
	stream := ex.Stream()
	cur, _, err := r.Cursor(ctx, stream)
	if err != nil {
		return Planned{Stream: stream}, fmt.Errorf("%s: reading cursor: %w", stream, err)
	}
	if cur.InFuture(now) {
		return Planned{Stream: stream, Cursor: cur.Position, InFuture: true}, nil
	}
	p, err := planPass(ctx, r, ex, cur.Position, now)
	p.Stream, p.Cursor = stream, cur.Position
	return p, err
}

// planPass is an incremental pass's windows: the planner's, with their
// creation floor lowered to what the warehouse holds, after the changed
// days the stream re-reads and the settle slice it re-reads, each part
// counted (see Planned; Stream and Cursor are the caller's to set).
// SettleTo is where the settle cursor moves once the pass succeeds (zero:
// nowhere).
func planPass(ctx context.Context, sink PlanReader, ex extract.Extractor, cursor, now time.Time) (Planned, error) {
	windows := ex.Plan(cursor, now)
	if err := lowerCreatedFrom(ctx, sink, ex.Model(), windows); err != nil {
		return Planned{}, err
	}
	own := len(windows)
	windows, err := withChangedDays(ctx, sink, ex, windows, cursor)
	if err != nil {
		return Planned{}, err
	}
	changed := len(windows) - own
	windows, settleTo, err := withSettleSlice(ctx, sink, ex, windows, cursor, now)
	if err != nil {
		return Planned{}, err
	}
	return Planned{Windows: windows, ChangedDays: changed, Settle: len(windows) - own - changed, SettleTo: settleTo}, nil
}

// lowerCreatedFrom moves the creation floor of windows that have one down
// to the first day the warehouse holds, so a status change of any
// conversion it holds lands, however old.
func lowerCreatedFrom(ctx context.Context, sink PlanReader, m models.Model, windows []extract.Window) error {
	if len(windows) == 0 || windows[0].CreatedFrom.IsZero() {
		return nil
	}
	first, found, err := sink.FirstDay(ctx, m)
	if err != nil {
		return fmt.Errorf("%s: reading the first day held: %w", m.Table(), err)
	}
	if !found {
		return nil
	}
	for i := range windows {
		if first.Before(windows[i].CreatedFrom) {
			windows[i].CreatedFrom = first
		}
	}
	return nil
}

// withChangedDays puts before windows, for a stream that re-reads a set of
// changed hours, the windows of the days that hold a changed hour and that
// windows do not cover: a status change of a conversion older than
// stats_daily's lookback changes Affise's numbers of its day, and so must
// change ours. Adjacent days share a window (at most the planner's
// longest), so the cost is one request per run of changed days. They
// leave the cursor where it is; each commit consumes its days' hours.
func withChangedDays(ctx context.Context, sink PlanReader, ex extract.Extractor, windows []extract.Window, cursor time.Time) ([]extract.Window, error) {
	_, set := ex.Changes()
	if set == "" {
		return windows, nil
	}
	hours, err := sink.ChangedHours(ctx, set)
	if err != nil {
		return nil, fmt.Errorf("%s: reading changed hours: %w", ex.Stream(), err)
	}
	covered := time.Time{}
	if len(windows) > 0 {
		covered = windows[0].From
	}
	var extra []extract.Window
	for _, h := range hours {
		if !covered.IsZero() && !h.Before(covered) {
			break // the pass re-reads these anyway
		}
		day := ex.PlanBackfill(h, h.Add(time.Hour))
		if len(day) == 0 {
			continue
		}
		from, to := day[0].From, day[len(day)-1].To
		if n := len(extra); n > 0 && !from.After(extra[n-1].To) {
			if to.After(extra[n-1].To) {
				extra[n-1].To = to
			}
			continue
		}
		extra = append(extra, extract.Window{From: from, To: to})
	}
	var out []extract.Window
	for _, r := range extra {
		if !covered.IsZero() && r.To.After(covered) {
			r.To = covered
		}
		for _, w := range ex.PlanBackfill(r.From, r.To) {
			w.Backfill, w.Advance = false, cursor
			out = append(out, w)
		}
	}
	return append(out, windows...), nil
}

// SettleSlice is how much of its settle window a pass re-reads: about
// three days' requests besides the pass's own, so a 60-day window is
// walked in 20 passes (5 hours at the default 15-minute schedule).
const SettleSlice = 3 * 24 * time.Hour

// withSettleSlice puts before windows, for a stream with a settle window
// (conversions under an affiliate key, which Affise cannot select by
// update time), the windows of the next slice of it by creation date:
// from the settle cursor (checkpoints.SettleKey), or the window's start,
// SettleSlice long, wrapping to the window's start at the pass's own
// windows. So every conversion created within the window is re-read, and
// its status refreshed, once per cycle. It returns where the settle cursor
// moves once the pass succeeds; zero for none.
func withSettleSlice(ctx context.Context, sink PlanReader, ex extract.Extractor, windows []extract.Window, cursor, now time.Time) ([]extract.Window, time.Time, error) {
	settle := ex.Settle()
	if settle <= 0 || len(windows) == 0 {
		return windows, time.Time{}, nil
	}
	start, end := now.Add(-settle), windows[0].From
	if !start.Before(end) {
		return windows, time.Time{}, nil // the pass itself covers the window
	}
	c, _, err := sink.Cursor(ctx, checkpoints.SettleKey(ex.Stream()))
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("%s: reading the settle cursor: %w", ex.Stream(), err)
	}
	from := c.Position
	if from.Before(start) || !from.Before(end) {
		from = start // a new cycle
	}
	to := from.Add(SettleSlice)
	if to.After(end) {
		to = end
	}
	var out []extract.Window
	for _, w := range ex.PlanBackfill(from, to) {
		w.Advance = cursor // the incremental cursor stays
		out = append(out, w)
	}
	if len(out) > 0 {
		to = out[len(out)-1].To // aligned outward to whole days
	}
	return append(out, windows...), to, nil
}

// moveCursor commits c alone, with no rows.
func moveCursor(ctx context.Context, sink load.Sink, ex extract.Extractor, c checkpoints.Cursor) error {
	tx, err := sink.Begin(ctx, load.Target{Model: ex.Model(), Mode: models.Upsert})
	if err != nil {
		return fmt.Errorf("%s: moving cursor %s: %w", ex.Stream(), c.Stream, err)
	}
	if _, err := tx.Commit(ctx, &c); err != nil {
		return fmt.Errorf("%s: moving cursor %s: %w", ex.Stream(), c.Stream, err)
	}
	return nil
}

// Backfill re-syncs [from, to) without touching the incremental cursor. Its
// own cursor (checkpoints.BackfillKey) lets an interrupted backfill of the
// same range resume where it stopped; the commit of the range's last
// window removes it, so a finished backfill leaves none even after a crash.
func Backfill(ctx context.Context, ex extract.Extractor, sink load.Sink, from, to time.Time, opts Options) (Result, error) {
	stream := ex.Stream()
	key := checkpoints.BackfillKey(stream)
	started := opts.now()
	bounds := checkpoints.BackfillBounds{From: from, To: to}
	resumeFrom := from
	cur, ok, err := sink.Cursor(ctx, key)
	if err != nil {
		return Result{Stream: stream}, fmt.Errorf("%s: reading backfill cursor: %w", stream, err)
	}
	if ok && cur.Backfill != nil && cur.Backfill.Equal(bounds) && cur.Position.After(from) && cur.Position.Before(to) {
		resumeFrom = cur.Position
		opts.Log.Info().Str("stream", stream).Time("resume_from", resumeFrom).Msg("resuming interrupted backfill")
	}
	windows := ex.PlanBackfill(resumeFrom, to)
	last := len(windows) - 1
	res, err := walkWith(ctx, ex, sink, windows, resumeFrom, opts, opts.backfillUnit(ex), func(i int, w extract.Window) *checkpoints.Cursor {
		if i == last {
			return &checkpoints.Cursor{Stream: key} // a zero Position: removed with the window's rows
		}
		return &checkpoints.Cursor{Stream: key, Position: w.Advance, Backfill: &bounds}
	})
	res.CursorBefore = resumeFrom
	switch {
	case err != nil:
	case last >= 0:
		res.Cursor = windows[last].Advance
	case ok:
		// Nothing left to walk (the range ends inside a window not closed
		// yet), yet a cursor of this or an earlier range is stored: end it
		// as the last window would have.
		err = removeCursor(ctx, sink, ex, key)
	}
	return finish(ctx, sink, "backfill", started, opts.now(), res, err)
}

// removeCursor commits the removal of key's cursor with no rows.
func removeCursor(ctx context.Context, sink load.Sink, ex extract.Extractor, key string) error {
	return moveCursor(ctx, sink, ex, checkpoints.Cursor{Stream: key})
}

func walk(ctx context.Context, ex extract.Extractor, sink load.Sink, windows []extract.Window, stream string, stored time.Time, opts Options) (Result, error) {
	high := stored
	return walkWith(ctx, ex, sink, windows, stored, opts, unit{}, func(_ int, w extract.Window) *checkpoints.Cursor {
		// Lookback windows re-read what is already loaded: the cursor never
		// moves backwards.
		if w.Advance.After(high) {
			high = w.Advance
		}
		return &checkpoints.Cursor{Stream: stream, Position: high}
	})
}

// prefetchRecords is how many fetched records may wait for the loader
// besides the one the fetching goroutine holds: none. The next batch is
// fetched and decoded while DuckDB commits the last anyway (the current
// window's walk holds one, its builder fills the next), and every record
// waiting is about 4 MB of conversions on the Go heap.
//
// Records held at once, each at most the batch size: the loader's (in
// its Tx, three at most), the one being handed on, and per window fetched
// (WindowsAhead) aheadRecords plus one waiting for its turn and one being built; besides
// them each window walk holds the pages it fetched ahead (at most
// api.concurrency).
const prefetchRecords = 0

// fetched is what the fetching goroutine hands the loader: a record of
// window i, or (rec nil) the end of window i with its requests and error;
// after a failure, window -1 carries the requests of windows fetched
// ahead in vain.
type fetched struct {
	window int
	rec    arrow.RecordBatch
	reqs   int64
	err    error
}

// walkWith commits the windows in order, in units of consecutive windows
// as u says (each window alone for a zero u), each unit with
// cursorFor(i, w) of its last window i; cursorFor is asked for every
// window, in order. Result.Cursor is the last cursor committed (removals
// aside), or from when none was: a pass with nothing to load (the next
// closed hour not there yet) still reports where the stream stands.
func walkWith(ctx context.Context, ex extract.Extractor, sink load.Sink, windows []extract.Window, from time.Time, opts Options, u unit, cursorFor func(i int, w extract.Window) *checkpoints.Cursor) (res Result, _ error) {
	res = Result{Stream: ex.Stream(), Cursor: from, Planned: len(windows)}
	// The pass's own count of retries (and of requests as they happen):
	// the Client's counts mix the streams that share it.
	tally := &extract.Tally{}
	ctx = extract.WithTally(ctx, tally)
	defer func() { res.Retries = tally.Retries() }()
	progress := func() {
		if opts.Progress != nil {
			opts.Progress(Progress{Stream: res.Stream, Done: res.Windows, Total: len(windows), Read: res.Read, Requests: tally.Requests()})
		}
	}
	fetchCtx, cancel := context.WithCancel(ctx)
	items := make(chan fetched, prefetchRecords)
	go fetchAll(fetchCtx, ex, windows, opts.windowsAhead(), items)
	// stop lets the fetcher finish, frees what it sent, and counts the
	// requests of the windows it fetched ahead in vain.
	stop := func() {
		cancel()
		for it := range items {
			if it.rec != nil {
				it.rec.Release()
			}
			res.Requests += it.reqs
		}
	}
	defer stop()

	var tx load.Tx
	// The unit under way: when it began, its rows and windows.
	var began time.Time
	var unitRows int64
	var unitWindows int
	// unitCursor is the cursor of the unit's last whole window (nil: none).
	var unitCursor *checkpoints.Cursor
	// write hands rec to the unit's Tx; the caller releases rec.
	write := func(rec arrow.RecordBatch) error {
		res.Read += rec.NumRows()
		unitRows += rec.NumRows()
		return tx.Write(ctx, rec)
	}
	committed := func(rows load.Committed, c *checkpoints.Cursor) {
		res.Committed = res.Committed.Add(rows)
		res.Rows = res.Committed.Changed()
		res.Windows += unitWindows
		if c != nil && !c.Position.IsZero() {
			res.Cursor = c.Position
		}
		progress()
	}
	fail := func(w extract.Window, err error) (Result, error) {
		if tx != nil {
			err = errors.Join(err, tx.Rollback())
		}
		stop()
		return res, fmt.Errorf("%s: window %s: %w", res.Stream, describe(w), err)
	}
	for it := range items {
		if it.window < 0 {
			res.Requests += it.reqs
			continue
		}
		w := windows[it.window]
		if tx == nil && it.err == nil {
			var err error
			if tx, err = sink.Begin(ctx, target(ex, w)); err != nil {
				if it.rec != nil {
					it.rec.Release()
				}
				return fail(w, err)
			}
			began, unitRows, unitWindows, unitCursor = opts.now(), 0, 0, nil
		}
		if it.rec != nil && tx != nil {
			if n := u.take(tx, unitRows, it.rec.NumRows()); n < it.rec.NumRows() {
				// The unit ends inside this record: its head fills the
				// unit, which commits below, and the rest starts the next.
				head, rest := it.rec.NewSlice(0, n), it.rec.NewSlice(n, it.rec.NumRows())
				it.rec.Release()
				it.rec = rest
				err := write(head)
				head.Release()
				if err != nil {
					it.rec.Release()
					return fail(w, err)
				}
			}
		}
		if it.rec != nil && tx != nil && u.rows > 0 && unitRows > 0 && u.full(tx, unitRows, began, opts.now()) {
			// A full unit in the middle of a window (its end would have
			// committed it): commit what it holds now, with the cursor of
			// its last whole window if any, so a unit holds at most a batch
			// past its limit (exactly its limit when cut above). The rest
			// of the window goes on in the next unit; a
			// kill in between re-reads the window, whose rows then update.
			rows, err := tx.Commit(ctx, unitCursor)
			tx = nil
			if err != nil {
				it.rec.Release()
				return fail(w, fmt.Errorf("commit: %w", err))
			}
			committed(rows, unitCursor)
			if tx, err = sink.Begin(ctx, target(ex, w)); err != nil {
				it.rec.Release()
				return fail(w, err)
			}
			began, unitRows, unitWindows, unitCursor = opts.now(), 0, 0, nil
		}
		if it.rec != nil {
			err := write(it.rec)
			it.rec.Release()
			if err != nil {
				return fail(w, err)
			}
			progress()
			continue
		}
		res.Requests += it.reqs
		if it.err != nil {
			return fail(w, it.err)
		}
		c := cursorFor(it.window, w)
		unitWindows++
		if it.window < len(windows)-1 && !u.full(tx, unitRows, began, opts.now()) {
			unitCursor = c
			continue // the next window joins the unit
		}
		rows, err := tx.Commit(ctx, c)
		tx = nil
		if err != nil {
			return fail(w, fmt.Errorf("commit: %w", err))
		}
		committed(rows, c)
	}
	return res, nil
}

// fetchAll fetches up to ahead windows at once and hands their records
// onto items in window order, one record at a time, each window closed by
// its end marker; it stops at the first error (of the earliest window:
// a later window's error waits its turn, so the windows before it still
// load) and cancels the fetches under way.
func fetchAll(ctx context.Context, ex extract.Extractor, windows []extract.Window, ahead int, items chan<- fetched) {
	defer close(items)
	ctx, cancel := context.WithCancel(ctx)
	// Windows started, in order; the one being handed on is out of the
	// queue, so ahead-1 wait in it.
	queue := make(chan *windowFetch, ahead-1)
	go func() {
		defer close(queue)
		for _, w := range windows {
			wf := &windowFetch{recs: make(chan arrow.RecordBatch, aheadRecords)}
			select {
			case queue <- wf:
			case <-ctx.Done():
				return
			}
			go wf.fetch(ctx, ex, w)
		}
	}()
	var cur *windowFetch
	defer func() {
		// Stop the windows under way; each closes its recs when done.
		cancel()
		var reqs int64
		if cur != nil {
			reqs += cur.drain()
		}
		for wf := range queue {
			reqs += wf.drain()
		}
		if reqs > 0 {
			items <- fetched{window: -1, reqs: reqs}
		}
	}()
	// The loader reads items to the end whatever happens, so sends need
	// not watch ctx: every window it is to commit gets its end marker, an
	// error when the pass was stopped.
	for i := range windows {
		var ok bool
		if cur, ok = <-queue; !ok {
			items <- fetched{window: i, err: fmt.Errorf("stopped: %w", context.Cause(ctx))}
			return
		}
		for rec := range cur.recs {
			items <- fetched{window: i, rec: rec}
		}
		// recs is closed: reqs and err are set.
		err := cur.err
		if err == nil && ctx.Err() != nil {
			err = fmt.Errorf("stopped: %w", ctx.Err())
		}
		items <- fetched{window: i, reqs: cur.reqs, err: err}
		cur = nil
		if err != nil {
			return
		}
	}
}

// aheadRecords is how many finished records a window fetched ahead of
// its turn may hold besides the one it is building. Its walk stops
// requesting pages once they are all taken: with batches of 1,000 rows (2
// pages of 500) and none held, windows ahead stalled after a few pages,
// and a backfill used 82% of a 10 req/s budget at 300 ms latency instead
// of 99% (bench, budget part). One more costs at most 1.6 MB of
// conversions per window ahead.
const aheadRecords = 1

// windowFetch is one window being fetched: its records, one at a time
// (recs holds aheadRecords: a window ahead of its turn holds that many
// finished records, and builds the next), then, once recs is closed, its
// requests and error.
type windowFetch struct {
	recs chan arrow.RecordBatch
	reqs int64
	err  error
}

func (wf *windowFetch) fetch(ctx context.Context, ex extract.Extractor, w extract.Window) {
	defer close(wf.recs)
	wf.reqs, wf.err = ex.Fetch(ctx, w, func(rec arrow.RecordBatch) error {
		rec.Retain() // Fetch releases it when emit returns
		select {
		case wf.recs <- rec:
			return nil
		case <-ctx.Done():
			rec.Release()
			return ctx.Err()
		}
	})
}

// drain frees the records of a window no longer wanted until its fetch
// ends, and returns the requests it made.
func (wf *windowFetch) drain() int64 {
	for rec := range wf.recs {
		rec.Release()
	}
	return wf.reqs
}

// target is what window w of ex loads into: the stream's declared mode,
// and for ReplaceDays the days the window owns.
func target(ex extract.Extractor, w extract.Window) load.Target {
	t := load.Target{Model: ex.Model(), Mode: ex.Mode()}
	if t.Mode == models.ReplaceDays {
		// Affise counts the days in the zone the stream asked for (stats_daily:
		// api.timezone); the sink's days are dates.
		t.From, t.To = calendarDay(w.From, ex.Location()), calendarDay(w.To, ex.Location())
	}
	records, rereads := ex.Changes()
	t.Changes = records
	if rereads != "" && t.Mode == models.ReplaceDays {
		// The window re-read every hour of its days: their changes are in.
		t.Consumes, t.ConsumeFrom, t.ConsumeTo = rereads, w.From, w.To
	}
	return t
}

// calendarDay is the date of t in loc, as a UTC midnight.
func calendarDay(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func describe(w extract.Window) string {
	if w.Snapshot {
		return "snapshot"
	}
	return w.From.Format("2006-01-02T15:04Z") + ".." + w.To.Format("2006-01-02T15:04Z")
}

// finish stamps the pass's duration and writes its _syncd_runs row; the
// pass's own error wins over a failure to record it.
func finish(ctx context.Context, sink load.Sink, kind string, started, finished time.Time, res Result, passErr error) (Result, error) {
	res.Duration = finished.Sub(started)
	run := load.Run{Stream: res.Stream, Kind: kind, StartedAt: started, FinishedAt: finished, Rows: res.Rows, RowsRead: res.Read,
		Inserted: res.Committed.Inserted, Updated: res.Committed.Updated, Unchanged: res.Committed.Unchanged,
		Requests: res.Requests, Retries: res.Retries, CursorBefore: res.CursorBefore, CursorAfter: res.Cursor}
	if passErr != nil {
		run.Error = passErr.Error()
	}
	// A cancelled pass still deserves its row: record it outside ctx.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := sink.RecordRun(rctx, run); err != nil && passErr == nil {
		return res, fmt.Errorf("%s: recording run: %w", res.Stream, err)
	}
	return res, passErr
}

// Behind is how far cursor lags the furthest place ex's cursor can be at
// now: where the windows of a pass planned now would move it. So a daily
// stream whose cursor is today's midnight (in its zone) is on time (zero)
// all day, and an hourly one at the last closed hour; a snapshot's cursor
// is when it was taken, so it is behind by its age. A zero cursor (never
// synced) is not behind anything: zero.
func Behind(ex extract.Extractor, cursor, now time.Time) time.Duration {
	if cursor.IsZero() {
		return 0
	}
	reach := cursor
	for _, w := range ex.Plan(cursor, now) {
		if w.Advance.After(reach) {
			reach = w.Advance
		}
	}
	return reach.Sub(cursor)
}
