// Package extract talks to the Affise API and turns its pages into Arrow
// record batches, one extractor per stream.
package extract

import (
	"context"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/syncd/syncd/models"
)

// Window is one unit of work: its records are loaded in one transaction and,
// once committed, the stream's cursor moves to Advance.
type Window struct {
	From, To time.Time // half-open, UTC
	// ReplaceDays: the sink must replace exactly the days [From, To).
	ReplaceDays bool
	// Snapshot: the records are the whole table.
	Snapshot bool
	Advance  time.Time
	// Backfill: planned by PlanBackfill. Conversions then select by creation
	// date even when incremental passes select by update time.
	Backfill bool
}

// Extractor plans and fetches one stream.
type Extractor interface {
	Stream() string
	Model() models.Model
	// Location is the zone whose midnights and hours bound the windows
	// (the timezone= of the stream's requests): a ReplaceDays window
	// [From, To) covers the calendar days of From and To in it.
	Location() *time.Location
	// Plan lists the windows of an incremental pass from the stored cursor
	// (zero when the stream never ran) up to now.
	Plan(cursor time.Time, now time.Time) []Window
	// PlanBackfill lists the windows covering [from, to) for a backfill.
	PlanBackfill(from, to time.Time) []Window
	// Fetch walks every page of w, handing records of at most the batch size
	// to emit. It returns the number of requests it made.
	Fetch(ctx context.Context, w Window, emit func(arrow.RecordBatch) error) (requests int64, err error)
}
