// Package checkpoints owns the cursor types of every stream and the store
// interface that sinks implement so a cursor is committed with its data.
package checkpoints

import (
	"context"
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
func BackfillKey(stream string) string { return stream + "#backfill" }

// Store reads and moves cursors outside of a load (state, state reset).
// Loads move cursors through the sink's transaction instead.
type Store interface {
	Cursor(ctx context.Context, stream string) (Cursor, bool, error)
	Cursors(ctx context.Context) ([]Cursor, error)
	SetCursor(ctx context.Context, c Cursor) error
	DeleteCursor(ctx context.Context, stream string) error
}
