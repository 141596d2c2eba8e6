// Package extract talks to the Affise API and turns its pages into Arrow
// record batches, one extractor per stream.
package extract

import (
	"context"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/syncd/syncd/models"
	"github.com/syncd/syncd/plan"
)

// Window is one unit of work (see plan.Window); the alias keeps the
// extractor's interface readable where plan is not imported.
type Window = plan.Window

// Extractor plans and fetches one stream.
type Extractor interface {
	Stream() string
	// Network is the network whose rows the extractor fetches (every row
	// carries it in models.NetworkColumn).
	Network() string
	Model() models.Model
	// Mode is how the stream's windows replace what its table holds, as
	// its declaration says.
	Mode() models.Mode
	// Location is the zone whose midnights and hours bound the windows
	// (the timezone= of the stream's requests): a ReplaceDays window
	// [From, To) covers the calendar days of From and To in it.
	Location() *time.Location
	// Plan lists the windows of an incremental pass from the stored cursor
	// (zero when the stream never ran) up to now.
	Plan(cursor time.Time, now time.Time) []Window
	// PlanBackfill lists the windows covering [from, to) for a backfill.
	PlanBackfill(from, to time.Time) []Window
	// Changes names the set of changed hours the stream's loads record
	// (records) and the one whose days its passes re-read (rereads); ""
	// for none (see models.Stream).
	Changes() (records, rereads string)
	// Settle is how far back by creation date passes re-read, a slice
	// each (0: none): conversions under an affiliate key, which Affise
	// cannot select by update time.
	Settle() time.Duration
	// Fetch walks every page of w, handing records of at most the batch size
	// to emit. It returns the number of requests it made. A pipeline calls
	// it for several windows at once (each emit on its own goroutine).
	Fetch(ctx context.Context, w Window, emit func(arrow.RecordBatch) error) (requests int64, err error)
}
