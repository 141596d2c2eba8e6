// Package plan cuts a stream's history into windows and says how Affise is
// asked for each. A stream's declaration (package models) names one
// Planner; the extractor hands it the stream's Scope and sends what it
// returns, so the planning rules of every stream are written once, here.
package plan

import (
	"net/url"
	"time"

	"github.com/rs/zerolog"
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
	// CreatedFrom, when set, is the oldest creation instant a window that
	// selects by update time asks for (date_from): a status change of any
	// conversion created since then lands. The planner sets it to the
	// pass's start; the pipeline lowers it to the first day the warehouse
	// holds (load.Sink.FirstDay), so older conversions' changes land too.
	CreatedFrom time.Time
}

// Planner is how one kind of stream is walked. Implementations are
// stateless values; every method may be called concurrently. Windows come
// back contiguous, non-empty and in UTC; the caller sets the load flags
// (ReplaceDays, Snapshot, Backfill) from the stream's declaration.
type Planner interface {
	// Check refuses a scope the planner cannot plan with (stats_daily
	// without the day slice); it is called once, when the extractor is built.
	Check(s *Scope) error
	// Plan lists the windows of an incremental pass from cursor (zero when
	// the stream never ran) up to now. Advance never goes back from cursor.
	Plan(s *Scope, cursor, now time.Time) []Window
	// Backfill lists the windows covering [from, to), aligned outward to
	// the planner's units; each advances to its own end.
	Backfill(s *Scope, from, to time.Time) []Window
	// Query sets on q the parameters that select w (timezone, page and
	// limit are the caller's).
	Query(s *Scope, w Window, q url.Values)
}

// Scope is what a planner knows of the stream it plans: its options as
// configured and the client's zone, clock and log.
type Scope struct {
	// Stream names the stream in log lines.
	Stream string
	// Loc is the zone the stream asks Affise for (timezone=), plans its
	// windows in and reads Affise's offset-less times in.
	Loc *time.Location
	// Network is the network's zone (api.timezone): start_date is a day of
	// its calendar.
	Network *time.Location
	// StartDate is the day the first sync begins (cursor zero), as config
	// parses it (a UTC midnight standing for a day of Network's calendar).
	// Zero: the planner's default. For conversions selected by update time
	// it is also the creation-date floor (date_from) of every request.
	StartDate time.Time
	// Lookback is re-read before the cursor on every pass.
	Lookback time.Duration
	// UpdateFilter (conversions; admin keys): select by update time.
	// False (affiliate keys): re-read by creation date.
	UpdateFilter bool
	// Slices (stats_daily) are sent as slice[]=..., exactly as given.
	Slices []string
	// Now is the client's clock.
	Now func() time.Time
	// Log receives the planners' warnings (clicks near retention).
	Log zerolog.Logger
}

// Planning constants.
const (
	// DefaultStartAgo is where a first sync starts without start_date.
	DefaultStartAgo = 30 * 24 * time.Hour
	// ClicksRetention is how long Affise keeps clicks.
	ClicksRetention = 7 * 24 * time.Hour
	// ClicksWarnLag: a clicks cursor further behind than this is at risk.
	ClicksWarnLag = 5 * 24 * time.Hour
	// StatsWindowDays is the longest stats_daily window.
	StatsWindowDays = 31
	// CreationSpanMax bounds how far back update-time windows of
	// conversions ask for creation dates: a warehouse older than this
	// gets the status changes of its older conversions from a backfill
	// (or syncd verify --repair), not from every pass.
	CreationSpanMax = 366 * 24 * time.Hour
)

// start is where an incremental pass begins, before alignment.
func (s *Scope) start(cursor, now time.Time, defaultAgo time.Duration) time.Time {
	if cursor.IsZero() {
		if !s.StartDate.IsZero() {
			return DayStart(s.startDate(), s.Loc)
		}
		return now.Add(-defaultAgo)
	}
	return cursor.Add(-s.Lookback)
}

// startDate is the first instant of StartDate's day in the network's
// calendar.
func (s *Scope) startDate() time.Time {
	y, m, d := s.StartDate.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, s.Network).UTC()
}

// RetentionLag is how far a cursor is behind now (0 for a zero cursor or one
// in the future).
func RetentionLag(cursor, now time.Time) time.Duration {
	if cursor.IsZero() || !now.After(cursor) {
		return 0
	}
	return now.Sub(cursor)
}

// AtRisk reports a cursor so far behind now that the source may drop rows
// before they are read: true only for planners of sources with a retention
// (clicks, more than ClicksWarnLag behind).
func AtRisk(p Planner, cursor, now time.Time) bool {
	r, ok := p.(retainer)
	return ok && r.atRisk(cursor, now)
}

// HasRetention reports whether p walks a source that drops rows after a
// while (clicks), whose cursor AtRisk can find too far behind.
func HasRetention(p Planner) bool {
	_, ok := p.(retainer)
	return ok
}

// retainer is a planner of a source with a retention.
type retainer interface {
	atRisk(cursor, now time.Time) bool
}

var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
