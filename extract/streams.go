package extract

import (
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/syncd/syncd/models"
	"github.com/syncd/syncd/plan"
)

// Stream names, as in the config and the state table.
const (
	StreamConversions        = "conversions"
	StreamClicks             = "clicks"
	StreamServerPostbacks    = "server_postbacks"
	StreamAffiliatePostbacks = "affiliate_postbacks"
	StreamStatsDaily         = "stats_daily"
	StreamOffers             = "offers"
	StreamPartners           = "partners"
	StreamAdvertisers        = "advertisers"
)

// Streams lists every stream name.
var Streams = []string{
	StreamConversions, StreamClicks, StreamServerPostbacks, StreamAffiliatePostbacks,
	StreamStatsDaily, StreamOffers, StreamPartners, StreamAdvertisers,
}

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
	// Slices (stats_daily) are sent as slice[]=..., exactly as given; they
	// must include "day".
	Slices []string
	// BatchRows overrides the client's rows per emitted record.
	BatchRows int
}

// mark says how a stream's windows are loaded.
type mark int

const (
	markUpsert mark = iota
	markReplaceDays
	markSnapshot
)

// Stream is the extractor of one stream; it implements Extractor.
type Stream struct {
	name    string
	path    string
	listKey string
	planner plan.Planner
	mark    mark
	scope   plan.Scope
	c       *Client
	// loc is the zone the stream asks Affise for (timezone=), plans its
	// windows in and reads Affise's offset-less times in. Row times in a
	// zone with DST are ambiguous in the repeated hour, so every stream asks
	// for UTC except stats_daily, whose day slice is a calendar day of the
	// network: it needs the client's zone, and its rows carry no time.
	loc   *time.Location
	m     models.Model
	o     Options
	fixed url.Values // parameters of every request
}

var _ Extractor = (*Stream)(nil)

// NewExtractor builds the extractor of the named stream (see Streams).
func NewExtractor(stream string, c *Client, m models.Model, o Options) (*Stream, error) {
	switch stream {
	case StreamConversions:
		return NewConversions(c, m, o)
	case StreamClicks:
		return NewClicks(c, m, o)
	case StreamServerPostbacks:
		return NewServerPostbacks(c, m, o)
	case StreamAffiliatePostbacks:
		return NewAffiliatePostbacks(c, m, o)
	case StreamStatsDaily:
		return NewStatsDaily(c, m, o)
	case StreamOffers:
		return NewOffers(c, m)
	case StreamPartners:
		return NewPartners(c, m)
	case StreamAdvertisers:
		return NewAdvertisers(c, m)
	}
	return nil, fmt.Errorf("extract: unknown stream %q", stream)
}

func newStream(name, path, listKey string, p plan.Planner, mk mark, c *Client, m models.Model, o Options) (*Stream, error) {
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
	s := &Stream{name: name, path: path, listKey: listKey, planner: p, mark: mk, c: c, loc: time.UTC, m: m, o: o}
	s.scope = plan.Scope{Stream: name, Loc: s.loc, Network: c.loc, StartDate: o.StartDate, Lookback: o.Lookback,
		UpdateFilter: o.UpdateFilter, Slices: o.Slices, Now: c.now, Log: c.log}
	return s, nil
}

// NewConversions: GET /3.0/stats/conversions. With o.UpdateFilter windows
// select by update time (admin keys), else by creation date.
func NewConversions(c *Client, m models.Model, o Options) (*Stream, error) {
	return newStream(StreamConversions, "/3.0/stats/conversions", "conversions", plan.UpdateHours{}, markUpsert, c, m, o)
}

// NewClicks: GET /3.0/stats/clicks over closed hours.
func NewClicks(c *Client, m models.Model, o Options) (*Stream, error) {
	return newStream(StreamClicks, "/3.0/stats/clicks", "clicks", plan.ClickHours{}, markUpsert, c, m, o)
}

// NewServerPostbacks: GET /3.0/stats/serverpostbacks, daily windows.
func NewServerPostbacks(c *Client, m models.Model, o Options) (*Stream, error) {
	return newStream(StreamServerPostbacks, "/3.0/stats/serverpostbacks", "postbacks", plan.Days{}, markUpsert, c, m, o)
}

// NewAffiliatePostbacks: GET /3.0/stats/affiliatepostbacks, daily windows.
func NewAffiliatePostbacks(c *Client, m models.Model, o Options) (*Stream, error) {
	return newStream(StreamAffiliatePostbacks, "/3.0/stats/affiliatepostbacks", "postbacks", plan.Days{}, markUpsert, c, m, o)
}

// NewStatsDaily: GET /3.0/stats/custom with slice[]=o.Slices; windows replace
// whole days.
func NewStatsDaily(c *Client, m models.Model, o Options) (*Stream, error) {
	o.Slices = slices.Clone(o.Slices)
	s, err := newStream(StreamStatsDaily, "/3.0/stats/custom", "stats", plan.StatsDays{}, markReplaceDays, c, m, o)
	if s != nil {
		s.loc = c.loc
		s.scope.Loc = c.loc
		if err := s.planner.Check(&s.scope); err != nil {
			return nil, fmt.Errorf("extract: %s: %w", s.name, err)
		}
	}
	return s, err
}

// NewOffers: GET /3.0/offers (active, stopped and suspended), a snapshot.
func NewOffers(c *Client, m models.Model) (*Stream, error) {
	s, err := newStream(StreamOffers, "/3.0/offers", "offers", plan.Snapshot{}, markSnapshot, c, m, Options{})
	if s != nil {
		s.fixed = url.Values{"status[]": {"active", "stopped", "suspended"}}
	}
	return s, err
}

// NewPartners: GET /3.0/admin/partners (admin keys), a snapshot.
func NewPartners(c *Client, m models.Model) (*Stream, error) {
	return newStream(StreamPartners, "/3.0/admin/partners", "partners", plan.Snapshot{}, markSnapshot, c, m, Options{})
}

// NewAdvertisers: GET /3.0/admin/advertisers (admin keys), a snapshot.
func NewAdvertisers(c *Client, m models.Model) (*Stream, error) {
	return newStream(StreamAdvertisers, "/3.0/admin/advertisers", "advertisers", plan.Snapshot{}, markSnapshot, c, m, Options{})
}

// Stream is the stream's name.
func (s *Stream) Stream() string { return s.name }

// Model is the stream's table.
func (s *Stream) Model() models.Model { return s.m }

// Endpoint is the path the stream reads.
func (s *Stream) Endpoint() string { return s.path }

// Location is the zone of the stream's requests and windows: UTC, or for
// stats_daily the network's (the client's) zone.
func (s *Stream) Location() *time.Location { return s.loc }

func (s *Stream) batchRows() int {
	if s.o.BatchRows > 0 {
		return s.o.BatchRows
	}
	return s.c.batchRows
}

// Plan lists the windows of an incremental pass from cursor up to now.
func (s *Stream) Plan(cursor, now time.Time) []Window {
	return s.marked(s.planner.Plan(&s.scope, cursor.UTC(), now.UTC()), false)
}

// PlanBackfill lists the windows covering [from, to), aligned outward to
// days of the stream's zone (clicks: hours, within retention). Every window
// advances to its own end and is marked Backfill.
func (s *Stream) PlanBackfill(from, to time.Time) []Window {
	return s.marked(s.planner.Backfill(&s.scope, from.UTC(), to.UTC()), true)
}

// marked sets the flags by which the pipeline picks how ws are loaded.
func (s *Stream) marked(ws []Window, backfill bool) []Window {
	for i := range ws {
		ws[i].ReplaceDays = s.mark == markReplaceDays
		ws[i].Snapshot = s.mark == markSnapshot
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
	return plan.AtRisk(s.planner, cursor, now)
}

// query is the request (less page/limit) that selects window w.
func (s *Stream) query(w Window) url.Values {
	q := url.Values{}
	for k, v := range s.fixed {
		q[k] = slices.Clone(v)
	}
	// Affise reads the dates and hours below, and renders the times it
	// returns, in this zone.
	q.Set("timezone", s.loc.String())
	s.planner.Query(&s.scope, w, q)
	return q
}

// Query is the request, less page and limit, that Fetch sends for w (for
// logs and tests).
func (s *Stream) Query(w Window) url.Values { return s.query(w) }
