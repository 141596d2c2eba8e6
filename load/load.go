// Package load holds the sinks: each commits a stream's records and the
// cursor they reach in one atomic step.
package load

import (
	"context"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/syncd/syncd/checkpoints"
	"github.com/syncd/syncd/models"
)

// Mode says how a transaction's records replace what the table holds.
type Mode int

const (
	// Upsert replaces rows whose key matches and inserts the rest.
	Upsert Mode = iota
	// ReplaceDays deletes every row whose day is in [From, To) then inserts.
	ReplaceDays
	// ReplaceTable swaps the whole table for the transaction's records.
	ReplaceTable
)

// Target is what one transaction writes to.
type Target struct {
	Model models.Model
	Mode  Mode
	// From, To bound the days a ReplaceDays load owns (UTC midnights).
	From, To time.Time
}

// Sink is a warehouse. Every write happens inside a Tx.
type Sink interface {
	checkpoints.Store
	// Begin opens a transaction; tables are created on first use.
	Begin(ctx context.Context, t Target) (Tx, error)
	// RecordRun appends a row to _syncd_runs.
	RecordRun(ctx context.Context, r Run) error
	Close() error
}

// Tx is single use: Commit or Rollback, never both, never reused.
type Tx interface {
	// Write stages a record; nothing is visible until Commit.
	Write(ctx context.Context, rec arrow.RecordBatch) error
	// Commit makes the staged rows and the cursor (when not nil) durable
	// together. It returns the number of rows written.
	Commit(ctx context.Context, cursor *checkpoints.Cursor) (int64, error)
	Rollback() error
}

// Run is one pass of one stream, as recorded in _syncd_runs.
type Run struct {
	Stream     string
	Kind       string // sync | backfill
	StartedAt  time.Time
	FinishedAt time.Time
	Rows       int64
	Requests   int64
	Error      string
}
