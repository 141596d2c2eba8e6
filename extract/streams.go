package extract

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/syncd/syncd/models"
	"github.com/syncd/syncd/plan"
)

// Options configure one stream's extractor (the stream's config keys).
type Options struct {
	// StartDate is the day the first sync begins (cursor zero): its date
	// (as config parses it, a UTC midnight) is a day of the network's
	// calendar, the client's zone, and windows start at the stream's own
	// midnight at or before that day's. Default: now-30d (clicks: now-7d).
	// For conversions selected by update time it is also the creation-date
	// floor (date_from) of every request.
	StartDate time.Time
	// Lookback is re-read before the cursor on every pass.
	Lookback time.Duration
	// UpdateFilter (conversions; admin keys): select by update time.
	// False (affiliate keys): re-read by creation date.
	UpdateFilter bool
	// SettleWindow (conversions without UpdateFilter): see Extractor.Settle.
	SettleWindow time.Duration
	// Currencies lists the currencies a stream declared PerCurrency
	// (stats_daily) asks for one by one; nil or none known: one request
	// for all of them together, stored with currency "".
	Currencies func(ctx context.Context) ([]string, error)
	// Slices (stats_daily) are sent as slice[]=..., exactly as given; they
	// must include "day".
	Slices []string
	// BatchRows overrides the client's rows per emitted record.
	BatchRows int
}

// Stream is the extractor of one stream; it implements Extractor. What it
// asks for, and how, is the stream's declaration (models.Stream).
type Stream struct {
	decl *models.Stream
	c    *Client
	m    models.Model
	// batch overrides the client's rows per record (Options.BatchRows).
	batch int
	// settle is Options.SettleWindow.
	settle time.Duration
	// currencies is Options.Currencies; curList is what it last returned,
	// at curAt.
	currencies func(ctx context.Context) ([]string, error)
	curMu      sync.Mutex
	curList    []string
	curAt      time.Time
	// scope is what the declaration's planner is told; its Loc is the zone
	// the stream asks Affise for (timezone=), plans its windows in and
	// reads Affise's offset-less times in.
	scope plan.Scope
}

var _ Extractor = (*Stream)(nil)

// NewExtractor builds the extractor of the named stream (see
// models.Registry).
func NewExtractor(stream string, c *Client, m models.Model, o Options) (*Stream, error) {
	decl, err := models.Lookup(stream)
	if err != nil {
		return nil, fmt.Errorf("extract: %w", err)
	}
	return New(c, decl, m, o)
}

// New builds the extractor of the declared stream, decoding into m (the
// declaration's model, or a stand-in in tests).
func New(c *Client, decl *models.Stream, m models.Model, o Options) (*Stream, error) {
	name := decl.Name
	if c == nil {
		return nil, fmt.Errorf("extract: %s: nil client", name)
	}
	if m == nil {
		return nil, fmt.Errorf("extract: %s: nil model", name)
	}
	if o.Lookback < 0 {
		return nil, fmt.Errorf("extract: %s: negative lookback %s", name, o.Lookback)
	}
	if o.BatchRows < 0 {
		return nil, fmt.Errorf("extract: %s: negative batch rows %d", name, o.BatchRows)
	}
	loc := time.UTC
	if decl.Zone == models.ZoneNetwork {
		loc = c.loc
	}
	s := &Stream{decl: decl, c: c, m: m, batch: o.BatchRows, settle: o.SettleWindow, currencies: o.Currencies, scope: plan.Scope{
		Stream: name, Loc: loc, Network: c.loc, StartDate: o.StartDate, Lookback: o.Lookback,
		UpdateFilter: o.UpdateFilter, Slices: slices.Clone(o.Slices), Now: c.now, Log: c.log,
	}}
	if err := decl.Planner.Check(&s.scope); err != nil {
		return nil, fmt.Errorf("extract: %s: %w", name, err)
	}
	return s, nil
}

// Stream is the stream's name.
func (s *Stream) Stream() string { return s.decl.Name }

// Network is the network of the stream's client.
func (s *Stream) Network() string { return s.c.network }

// Model is the stream's table.
func (s *Stream) Model() models.Model { return s.m }

// Mode is the stream's declared load mode.
func (s *Stream) Mode() models.Mode { return s.decl.Mode }

// Endpoint is the path the stream reads.
func (s *Stream) Endpoint() string { return s.decl.Endpoint }

// Location is the zone of the stream's requests and windows: UTC, or for
// stats_daily the network's (the client's) zone.
func (s *Stream) Location() *time.Location { return s.scope.Loc }

func (s *Stream) batchRows() int {
	if s.batch > 0 {
		return s.batch
	}
	return s.c.batchRows
}

// Plan lists the windows of an incremental pass from cursor up to now.
func (s *Stream) Plan(cursor, now time.Time) []Window {
	return s.marked(s.decl.Planner.Plan(&s.scope, cursor.UTC(), now.UTC()), false)
}

// PlanBackfill lists the windows covering [from, to), aligned outward to
// days of the stream's zone (clicks: hours, within retention). Every window
// advances to its own end and is marked Backfill.
func (s *Stream) PlanBackfill(from, to time.Time) []Window {
	return s.marked(s.decl.Planner.Backfill(&s.scope, from.UTC(), to.UTC()), true)
}

// Settle implements Extractor.
func (s *Stream) Settle() time.Duration {
	if s.scope.UpdateFilter || s.decl.Defaults.SettleWindow == 0 {
		return 0
	}
	return s.settle
}

// Changes implements Extractor.
func (s *Stream) Changes() (records, rereads string) {
	return s.decl.RecordsChanges, s.decl.RereadsChanges
}

// marked sets the flags by which the pipeline loads ws: the declaration's
// load mode, and whether they are a backfill's.
func (s *Stream) marked(ws []Window, backfill bool) []Window {
	for i := range ws {
		ws[i].ReplaceDays = s.decl.Mode == models.ReplaceDays
		ws[i].Snapshot = s.decl.Mode == models.ReplaceTable
		ws[i].Backfill = backfill
	}
	return ws
}

// RetentionLag is how far a cursor is behind now (0 for a zero cursor or one
// in the future). For clicks, more than plan.ClicksWarnLag means clicks are
// at risk of expiring before they are synced; see RetentionAtRisk.
func (s *Stream) RetentionLag(cursor, now time.Time) time.Duration {
	return plan.RetentionLag(cursor, now)
}

// RetentionAtRisk reports a clicks cursor more than 5 days behind now
// (always false for other streams).
func (s *Stream) RetentionAtRisk(cursor, now time.Time) bool {
	return plan.AtRisk(s.decl.Planner, cursor, now)
}

// query is the request (less page/limit) that selects window w.
func (s *Stream) query(w Window) url.Values {
	q := url.Values{}
	for k, v := range s.decl.Params {
		q[k] = slices.Clone(v)
	}
	// Affise reads the dates and hours below, and renders the times it
	// returns, in this zone.
	q.Set("timezone", s.scope.Loc.String())
	s.decl.Planner.Query(&s.scope, w, q)
	return q
}

// Query is the request, less page and limit, that Fetch sends for w (for
// logs and tests).
func (s *Stream) Query(w Window) url.Values { return s.query(w) }
