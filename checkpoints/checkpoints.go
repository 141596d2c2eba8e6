// Package checkpoints owns the cursor types of every stream and the
// interfaces a warehouse implements to read them (Store) and to move them
// by hand (Admin). Loads move cursors with their data, through load.Tx.
package checkpoints

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Cursor is how far a stream has been loaded. Position is the exclusive end
// of the last fully committed window, always UTC.
type Cursor struct {
	Stream   string
	Position time.Time
	// Backfill is set on a backfill's own cursor (see BackfillKey): the
	// range that backfill walks, so only a backfill of the same range
	// resumes from it.
	Backfill *BackfillBounds
	// Meta is text a sink stores with the cursor and hands back verbatim.
	// syncd writes none since backfill bounds got a field of their own; it
	// stays so whatever a cursor carries is never lost on its way through
	// a sink. It cannot be combined with Backfill (see StoredMeta).
	Meta      string
	UpdatedAt time.Time
}

// BackfillBounds is the range [From, To) a backfill re-syncs.
type BackfillBounds struct {
	From, To time.Time
}

// Equal reports whether b and o bound the same instants, whatever their
// zones.
func (b BackfillBounds) Equal(o BackfillBounds) bool {
	return b.From.Equal(o.From) && b.To.Equal(o.To)
}

// StoredMeta is the one string a sink stores for c's Backfill and Meta,
// and SetStoredMeta reads it back: sinks keep a single text column for
// both, so no schema changes. Bounds are stored as the release before
// them wrote their string ("<from>/<to>", RFC 3339 UTC, whole seconds),
// so a backfill interrupted by an upgrade still resumes. It fails for a
// cursor that would not read back as it is: both fields set, or a Meta
// that looks like stored bounds.
func (c Cursor) StoredMeta() (string, error) {
	if c.Backfill == nil {
		if _, ok := parseBounds(c.Meta); ok {
			return "", fmt.Errorf("cursor %s: Meta %q reads back as backfill bounds; set Backfill instead", c.Stream, c.Meta)
		}
		return c.Meta, nil
	}
	if c.Meta != "" {
		return "", fmt.Errorf("cursor %s has both backfill bounds and Meta %q; a cursor stores one of them", c.Stream, c.Meta)
	}
	b := *c.Backfill
	if b.From.IsZero() || b.To.IsZero() || !b.From.Before(b.To) || b.From.Nanosecond() != 0 || b.To.Nanosecond() != 0 {
		return "", fmt.Errorf("cursor %s: backfill bounds [%s, %s) are not an ordered range of whole seconds", c.Stream,
			b.From.Format(time.RFC3339Nano), b.To.Format(time.RFC3339Nano))
	}
	return b.From.UTC().Format(time.RFC3339) + "/" + b.To.UTC().Format(time.RFC3339), nil
}

// SetStoredMeta sets c's Backfill and Meta from what StoredMeta returned.
func (c *Cursor) SetStoredMeta(stored string) {
	c.Backfill, c.Meta = nil, ""
	if b, ok := parseBounds(stored); ok {
		c.Backfill = &b
		return
	}
	c.Meta = stored
}

func parseBounds(s string) (BackfillBounds, bool) {
	from, to, ok := strings.Cut(s, "/")
	if !ok {
		return BackfillBounds{}, false
	}
	f, err1 := time.Parse(time.RFC3339, from)
	t, err2 := time.Parse(time.RFC3339, to)
	// Only the exact form StoredMeta writes, so no other text is mistaken
	// for bounds.
	if err1 != nil || err2 != nil || f.UTC().Format(time.RFC3339) != from || t.UTC().Format(time.RFC3339) != to || !f.Before(t) {
		return BackfillBounds{}, false
	}
	return BackfillBounds{From: f.UTC(), To: t.UTC()}, true
}

// BackfillKey names the cursor a backfill of stream keeps, apart from the
// incremental cursor so a backfill never moves it.
func BackfillKey(stream string) string { return stream + backfillSuffix }

const backfillSuffix = "#backfill"

// SettleKey names the cursor of stream's settle re-read (conversions with
// an affiliate key): the creation instant where the next pass's slice of
// the settle window starts.
func SettleKey(stream string) string { return stream + settleSuffix }

const settleSuffix = "#settle"

// Store reads cursors. Its methods may be called concurrently with each
// other and with loads; a cursor a Commit moves is seen whole, before or
// after. The order of Cursors is unspecified.
type Store interface {
	// Cursor returns stream's cursor; found is false, with no error, when
	// the stream has none.
	Cursor(ctx context.Context, stream string) (c Cursor, found bool, err error)
	Cursors(ctx context.Context) ([]Cursor, error)
}

// Admin moves cursors by hand, outside any load: `syncd state reset` is
// its one user, and runs with the daemon stopped, since a pass in flight
// would commit its own cursor over the one set here. Loads never use it:
// their cursors move only with their data, in load.Tx's Commit.
//
// Each call is atomic (on error the stored cursor is as it was) and may
// run concurrently with Store's reads and with loads.
type Admin interface {
	// SetCursor stores c as the cursor of c.Stream, replacing the stored
	// one whole: its Position, Backfill and Meta (what c leaves empty is
	// not kept). A zero UpdatedAt is stamped with the current time; a
	// given one is kept. A zero Position removes the cursor, as
	// DeleteCursor does.
	SetCursor(ctx context.Context, c Cursor) error
	// DeleteCursor removes stream's cursor, so its next sync starts at its
	// start_date. Deleting a missing cursor is not an error.
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
