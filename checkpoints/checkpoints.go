// Package checkpoints owns the cursor types of every stream and the store
// interface that sinks implement so a cursor is committed with its data.
package checkpoints

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Cursor is how far a stream has been loaded. Position is the exclusive end
// of the last fully committed window, always UTC. Meta carries what a
// particular cursor kind needs besides the position (a backfill's bounds).
type Cursor struct {
	Stream    string
	Position  time.Time
	Meta      string
	UpdatedAt time.Time
}

// BackfillKey names the cursor a backfill of stream keeps, apart from the
// incremental cursor so a backfill never moves it.
func BackfillKey(stream string) string { return stream + backfillSuffix }

const backfillSuffix = "#backfill"

// Store reads and moves cursors outside of a load (state, state reset).
// Loads move cursors through the sink's transaction instead.
type Store interface {
	Cursor(ctx context.Context, stream string) (Cursor, bool, error)
	Cursors(ctx context.Context) ([]Cursor, error)
	SetCursor(ctx context.Context, c Cursor) error
	DeleteCursor(ctx context.Context, stream string) error
}

// FutureTolerance is how far past now a stored incremental cursor may lie
// and still be trusted. A pass never stores a position later than its own
// clock reading (a snapshot stores exactly it; windowed streams an hour or
// day edge at or before it), so only a clock stepped back since then puts a
// cursor ahead: a few minutes absorb ordinary corrections. Anything further
// is a bad manual edit, a backup restored from a machine whose clock ran
// ahead, or a clock that jumped forward and back, and resuming from it
// would skip everything between the true position and the stored one.
const FutureTolerance = 5 * time.Minute

// InFuture reports whether the cursor lies more than FutureTolerance after
// now. Only incremental cursors are held to it: a backfill's own cursor
// may legitimately end at tomorrow's midnight (see IsBackfillKey).
func (c Cursor) InFuture(now time.Time) bool {
	return c.Position.After(now.Add(FutureTolerance))
}

// IsBackfillKey reports whether key names a backfill's cursor rather than
// a stream's incremental one.
func IsBackfillKey(key string) bool { return strings.HasSuffix(key, backfillSuffix) }

// ResetCommand is the command that moves stream's cursor to a trusted
// place: without a date the next sync starts over from start_date, which
// re-reads rather than skips (loads upsert or replace, so nothing doubles).
func ResetCommand(stream string) string { return "syncd state reset --stream " + stream }

// FutureCursorError is a pass refused because its stream's stored cursor
// lies in the future: syncing from there would silently skip everything
// before it, so the stream stops until someone moves the cursor.
type FutureCursorError struct {
	Stream   string
	Position time.Time // the stored cursor
	Now      time.Time // the clock the pass read
}

func (e *FutureCursorError) Error() string {
	return fmt.Sprintf("%s: stored cursor %s is %s ahead of now (%s); syncing from it would skip everything before it, "+
		"so the stream is refused until its cursor is moved: if the clock is right, run `%s` "+
		"(with syncd run stopped; re-syncs from start_date, nothing doubles) or add `--to YYYY-MM-DD` with the last day known to be fully loaded",
		e.Stream, e.Position.UTC().Format(time.RFC3339), ahead(e.Position.Sub(e.Now)), e.Now.UTC().Format(time.RFC3339), e.Fix())
}

// ahead prints a lead in the unit a reader compares with a calendar.
func ahead(d time.Duration) string {
	if d >= 48*time.Hour {
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	}
	return d.Round(time.Second).String()
}

// Fix is the command that clears the error.
func (e *FutureCursorError) Fix() string { return ResetCommand(e.Stream) }
