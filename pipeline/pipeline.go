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
)

// Result sums up one pass.
type Result struct {
	Stream   string
	Windows  int
	Rows     int64
	Requests int64
	Cursor   time.Time
	Duration time.Duration
}

// Options tune a pass.
type Options struct {
	Log zerolog.Logger
	// Now is the pass's clock (tests pin it); default time.Now.
	Now func() time.Time
	// Progress is told after each committed window.
	Progress func(done, total int, rows int64)
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now().UTC()
	}
	return time.Now().UTC()
}

// Sync runs one incremental pass from the stream's stored cursor.
func Sync(ctx context.Context, ex extract.Extractor, sink load.Sink, opts Options) (Result, error) {
	stream := ex.Stream()
	started := opts.now()
	cur, _, err := sink.Cursor(ctx, stream)
	if err != nil {
		return Result{Stream: stream}, fmt.Errorf("%s: reading cursor: %w", stream, err)
	}
	windows := ex.Plan(cur.Position, started)
	res, err := walk(ctx, ex, sink, windows, stream, cur.Position, opts)
	res.Duration = opts.now().Sub(started)
	return res, record(ctx, sink, "sync", started, opts.now(), res, err)
}

// Backfill re-syncs [from, to) without touching the incremental cursor. Its
// own cursor (checkpoints.BackfillKey) lets an interrupted backfill of the
// same range resume where it stopped; it is removed once the range is done.
func Backfill(ctx context.Context, ex extract.Extractor, sink load.Sink, from, to time.Time, opts Options) (Result, error) {
	stream := ex.Stream()
	key := checkpoints.BackfillKey(stream)
	started := opts.now()
	bounds := from.UTC().Format(time.RFC3339) + "/" + to.UTC().Format(time.RFC3339)
	resumeFrom := from
	cur, ok, err := sink.Cursor(ctx, key)
	if err != nil {
		return Result{Stream: stream}, fmt.Errorf("%s: reading backfill cursor: %w", stream, err)
	}
	if ok && cur.Meta == bounds && cur.Position.After(from) && cur.Position.Before(to) {
		resumeFrom = cur.Position
		opts.Log.Info().Str("stream", stream).Time("resume_from", resumeFrom).Msg("resuming interrupted backfill")
	}
	windows := ex.PlanBackfill(resumeFrom, to)
	res, err := walkWith(ctx, ex, sink, windows, opts, func(w extract.Window) *checkpoints.Cursor {
		return &checkpoints.Cursor{Stream: key, Position: w.Advance, Meta: bounds}
	})
	if err == nil {
		if derr := sink.DeleteCursor(ctx, key); derr != nil {
			err = fmt.Errorf("%s: clearing finished backfill cursor: %w", stream, derr)
		}
	}
	res.Duration = opts.now().Sub(started)
	return res, record(ctx, sink, "backfill", started, opts.now(), res, err)
}

func walk(ctx context.Context, ex extract.Extractor, sink load.Sink, windows []extract.Window, stream string, stored time.Time, opts Options) (Result, error) {
	high := stored
	return walkWith(ctx, ex, sink, windows, opts, func(w extract.Window) *checkpoints.Cursor {
		// Lookback windows re-read what is already loaded: the cursor never
		// moves backwards.
		if w.Advance.After(high) {
			high = w.Advance
		}
		return &checkpoints.Cursor{Stream: stream, Position: high}
	})
}

func walkWith(ctx context.Context, ex extract.Extractor, sink load.Sink, windows []extract.Window, opts Options, cursorFor func(extract.Window) *checkpoints.Cursor) (Result, error) {
	res := Result{Stream: ex.Stream()}
	for i, w := range windows {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("%s: stopped before window %s: %w", res.Stream, describe(w), err)
		}
		rows, reqs, err := loadWindow(ctx, ex, sink, w, cursorFor(w))
		res.Requests += reqs
		if err != nil {
			return res, err
		}
		res.Rows += rows
		res.Windows++
		res.Cursor = w.Advance
		if opts.Progress != nil {
			opts.Progress(i+1, len(windows), res.Rows)
		}
	}
	return res, nil
}

func loadWindow(ctx context.Context, ex extract.Extractor, sink load.Sink, w extract.Window, cursor *checkpoints.Cursor) (int64, int64, error) {
	target := load.Target{Model: ex.Model(), Mode: load.Upsert}
	switch {
	case w.Snapshot:
		target.Mode = load.ReplaceTable
	case w.ReplaceDays:
		// Affise counts days in the API's zone; the sink's days are dates.
		target.Mode, target.From, target.To = load.ReplaceDays, calendarDay(w.From, ex.Location()), calendarDay(w.To, ex.Location())
	}
	tx, err := sink.Begin(ctx, target)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: window %s: %w", ex.Stream(), describe(w), err)
	}
	reqs, err := ex.Fetch(ctx, w, func(rec arrow.RecordBatch) error {
		return tx.Write(ctx, rec)
	})
	if err != nil {
		return 0, reqs, errors.Join(fmt.Errorf("%s: window %s: %w", ex.Stream(), describe(w), err), tx.Rollback())
	}
	rows, err := tx.Commit(ctx, cursor)
	if err != nil {
		return 0, reqs, fmt.Errorf("%s: window %s: commit: %w", ex.Stream(), describe(w), err)
	}
	return rows, reqs, nil
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

// record writes the _syncd_runs row; the pass's own error wins over a
// failure to record it.
func record(ctx context.Context, sink load.Sink, kind string, started, finished time.Time, res Result, passErr error) error {
	run := load.Run{Stream: res.Stream, Kind: kind, StartedAt: started, FinishedAt: finished, Rows: res.Rows, Requests: res.Requests}
	if passErr != nil {
		run.Error = passErr.Error()
	}
	// A cancelled pass still deserves its row: record it outside ctx.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := sink.RecordRun(rctx, run); err != nil && passErr == nil {
		return fmt.Errorf("%s: recording run: %w", res.Stream, err)
	}
	return passErr
}
