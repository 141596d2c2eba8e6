package extract

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/syncd/syncd/models"
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
	// CreationFloorAgo: without start_date, update-time windows of
	// conversions ask for conversions created this long before the window.
	CreationFloorAgo = 30 * 24 * time.Hour
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
	// Slices (stats_daily) are sent as slice[]=..., exactly as given; they
	// must include "day".
	Slices []string
	// BatchRows overrides the client's rows per emitted record.
	BatchRows int
}

type kind int

const (
	kindConversions kind = iota
	kindClicks
	kindPostbacks
	kindStats
	kindSnapshot
)

// Stream is the extractor of one stream; it implements Extractor.
type Stream struct {
	name    string
	path    string
	listKey string
	kind    kind
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
	keyOf func([]byte) []byte
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

func newStream(name, path, listKey string, k kind, c *Client, m models.Model, o Options) (*Stream, error) {
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
	return &Stream{name: name, path: path, listKey: listKey, kind: k, c: c, loc: time.UTC, m: m, o: o, keyOf: idKey}, nil
}

// NewConversions: GET /3.0/stats/conversions. With o.UpdateFilter windows
// select by update time (admin keys), else by creation date.
func NewConversions(c *Client, m models.Model, o Options) (*Stream, error) {
	return newStream(StreamConversions, "/3.0/stats/conversions", "conversions", kindConversions, c, m, o)
}

// NewClicks: GET /3.0/stats/clicks over closed hours.
func NewClicks(c *Client, m models.Model, o Options) (*Stream, error) {
	return newStream(StreamClicks, "/3.0/stats/clicks", "clicks", kindClicks, c, m, o)
}

// NewServerPostbacks: GET /3.0/stats/serverpostbacks, daily windows.
func NewServerPostbacks(c *Client, m models.Model, o Options) (*Stream, error) {
	s, err := newStream(StreamServerPostbacks, "/3.0/stats/serverpostbacks", "postbacks", kindPostbacks, c, m, o)
	if s != nil {
		s.keyOf = mongoIDKey
	}
	return s, err
}

// NewAffiliatePostbacks: GET /3.0/stats/affiliatepostbacks, daily windows.
func NewAffiliatePostbacks(c *Client, m models.Model, o Options) (*Stream, error) {
	s, err := newStream(StreamAffiliatePostbacks, "/3.0/stats/affiliatepostbacks", "postbacks", kindPostbacks, c, m, o)
	if s != nil {
		s.keyOf = mongoIDKey
	}
	return s, err
}

// NewStatsDaily: GET /3.0/stats/custom with slice[]=o.Slices; windows replace
// whole days.
func NewStatsDaily(c *Client, m models.Model, o Options) (*Stream, error) {
	if len(o.Slices) == 0 {
		return nil, errors.New("extract: stats_daily: no slices configured")
	}
	if !slices.Contains(o.Slices, "day") {
		return nil, fmt.Errorf("extract: stats_daily: slices %v must include day", o.Slices)
	}
	o.Slices = slices.Clone(o.Slices)
	s, err := newStream(StreamStatsDaily, "/3.0/stats/custom", "stats", kindStats, c, m, o)
	if s != nil {
		s.keyOf = sliceKey
		s.fixed = url.Values{"slice[]": o.Slices}
		s.loc = c.loc
	}
	return s, err
}

// NewOffers: GET /3.0/offers (active, stopped and suspended), a snapshot.
func NewOffers(c *Client, m models.Model) (*Stream, error) {
	s, err := newStream(StreamOffers, "/3.0/offers", "offers", kindSnapshot, c, m, Options{})
	if s != nil {
		s.fixed = url.Values{"status[]": {"active", "stopped", "suspended"}}
	}
	return s, err
}

// NewPartners: GET /3.0/admin/partners (admin keys), a snapshot.
func NewPartners(c *Client, m models.Model) (*Stream, error) {
	return newStream(StreamPartners, "/3.0/admin/partners", "partners", kindSnapshot, c, m, Options{})
}

// NewAdvertisers: GET /3.0/admin/advertisers (admin keys), a snapshot.
func NewAdvertisers(c *Client, m models.Model) (*Stream, error) {
	return newStream(StreamAdvertisers, "/3.0/admin/advertisers", "advertisers", kindSnapshot, c, m, Options{})
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

// start is where an incremental pass begins, before alignment.
func (s *Stream) start(cursor, now time.Time, defaultAgo time.Duration) time.Time {
	if cursor.IsZero() {
		if !s.o.StartDate.IsZero() {
			return dayStart(s.startDate(), s.loc)
		}
		return now.Add(-defaultAgo)
	}
	return cursor.Add(-s.o.Lookback)
}

// startDate is the first instant of Options.StartDate's day in the
// network's calendar.
func (s *Stream) startDate() time.Time {
	y, m, d := s.o.StartDate.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, s.c.loc).UTC()
}

// Plan lists the windows of an incremental pass from cursor up to now.
func (s *Stream) Plan(cursor, now time.Time) []Window {
	loc := s.loc
	cursor, now = cursor.UTC(), now.UTC()
	switch s.kind {
	case kindConversions:
		start := s.start(cursor, now, DefaultStartAgo)
		if s.o.UpdateFilter {
			// Through the open hour, which is re-read next pass.
			return planUpdateHours(loc, start, hourStart(now, loc).Add(time.Hour), hourStart(now, loc), cursor)
		}
		return planDays(loc, start, nextDay(now, loc), 1, dayStart(now, loc), cursor, false)
	case kindClicks:
		floor := s.clicksFloor(now)
		start := s.start(cursor, now, ClicksRetention)
		if lag := s.RetentionLag(cursor, now); !cursor.IsZero() && lag > ClicksWarnLag {
			s.c.log.Warn().Str("stream", s.name).Time("cursor", cursor).Dur("lag", lag).
				Msg("clicks cursor is more than 5 days behind; Affise keeps clicks for about 7 days")
		}
		if start.Before(floor) {
			if !cursor.IsZero() || !s.o.StartDate.IsZero() {
				s.c.log.Error().Str("stream", s.name).Time("from", start).Time("retention_floor", floor).
					Msg("clicks before the retention floor are LOST: Affise no longer serves them; syncing from the floor")
			}
			start = floor
		}
		return planClicks(loc, start, hourStart(now, loc), cursor)
	case kindPostbacks:
		start := s.start(cursor, now, DefaultStartAgo)
		return planDays(loc, start, nextDay(now, loc), 1, dayStart(now, loc), cursor, false)
	case kindStats:
		start := s.start(cursor, now, DefaultStartAgo)
		return planDays(loc, start, nextDay(now, loc), StatsWindowDays, dayStart(now, loc), cursor, true)
	default:
		return []Window{{From: cursor, To: now, Snapshot: true, Advance: now}}
	}
}

// PlanBackfill lists the windows covering [from, to), aligned outward to
// days of the stream's zone (clicks: hours, within retention). Every window
// advances to its own end and is marked Backfill.
func (s *Stream) PlanBackfill(from, to time.Time) []Window {
	loc := s.loc
	from, to = from.UTC(), to.UTC()
	var ws []Window
	switch s.kind {
	case kindConversions, kindPostbacks:
		ws = planDays(loc, from, dayCeil(to, loc), 1, farFuture, time.Time{}, false)
	case kindStats:
		ws = planDays(loc, from, dayCeil(to, loc), StatsWindowDays, farFuture, time.Time{}, true)
	case kindClicks:
		now := s.c.now().UTC()
		floor := s.clicksFloor(now)
		if from.Before(floor) {
			s.c.log.Error().Str("stream", s.name).Time("from", from).Time("retention_floor", floor).
				Msg("clicks before the retention floor are LOST: Affise no longer serves them; backfilling from the floor")
			from = floor
		}
		ws = planClicks(loc, hourStart(from, loc), minTime(hourCeil(to, loc), hourStart(now, loc)), time.Time{})
	default:
		ws = []Window{{From: from, To: to, Snapshot: true, Advance: to}}
	}
	for i := range ws {
		ws[i].Backfill = true
	}
	return ws
}

var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

func (s *Stream) clicksFloor(now time.Time) time.Time {
	return hourStart(now.Add(-ClicksRetention), s.loc)
}

// RetentionLag is how far a cursor is behind now (0 for a zero cursor or one
// in the future). For clicks, more than ClicksWarnLag means clicks are at
// risk of expiring before they are synced; see RetentionAtRisk.
func (s *Stream) RetentionLag(cursor, now time.Time) time.Duration {
	if cursor.IsZero() || !now.After(cursor) {
		return 0
	}
	return now.Sub(cursor)
}

// RetentionAtRisk reports a clicks cursor more than 5 days behind now
// (always false for other streams).
func (s *Stream) RetentionAtRisk(cursor, now time.Time) bool {
	return s.kind == kindClicks && s.RetentionLag(cursor, now) > ClicksWarnLag
}

// planDays steps day-aligned windows of up to chunk days from the day holding
// start to end (a midnight). Advance = max(min(To, advCap), cursor).
func planDays(loc *time.Location, start, end time.Time, chunk int, advCap, cursor time.Time, replace bool) []Window {
	var ws []Window
	for t := dayStart(start, loc); t.Before(end); {
		to := minTime(addDays(t, chunk, loc), end)
		ws = append(ws, Window{From: t, To: to, ReplaceDays: replace, Advance: maxTime(minTime(to, advCap), cursor)})
		t = to
	}
	return ws
}

// planUpdateHours steps hour-aligned windows from start to end, each inside
// one day of loc (so the update_from/to date+hour pair never spans days).
func planUpdateHours(loc *time.Location, start, end, advCap, cursor time.Time) []Window {
	var ws []Window
	for t := hourStart(start, loc); t.Before(end); {
		to := minTime(nextDay(t, loc), end)
		ws = append(ws, Window{From: t, To: to, Advance: maxTime(minTime(to, advCap), cursor)})
		t = to
	}
	return ws
}

// planClicks covers [start, end) (end an hour boundary) with whole days
// where a day is wholly inside, else single hours.
func planClicks(loc *time.Location, start, end, cursor time.Time) []Window {
	var ws []Window
	for t := hourStart(start, loc); t.Before(end); {
		d0, d1 := dayStart(t, loc), nextDay(t, loc)
		if t.Equal(d0) && !d1.After(end) {
			ws = append(ws, Window{From: t, To: d1, Advance: maxTime(d1, cursor)})
			t = d1
			continue
		}
		to := hourStart(t.Add(time.Hour), loc)
		if !to.After(t) { // a zone whose hours are not whole: step anyway
			to = t.Add(time.Hour)
		}
		to = minTime(to, end)
		ws = append(ws, Window{From: t, To: to, Advance: maxTime(to, cursor)})
		t = to
	}
	return ws
}

// query is the request (less page/limit) that selects window w.
func (s *Stream) query(w Window) url.Values {
	loc := s.loc
	q := url.Values{}
	for k, v := range s.fixed {
		q[k] = slices.Clone(v)
	}
	// Affise reads the dates and hours below, and renders the times it
	// returns, in this zone.
	q.Set("timezone", loc.String())
	switch s.kind {
	case kindConversions:
		if s.o.UpdateFilter && !w.Backfill {
			q.Set("update_from_date", date(w.From, loc))
			q.Set("update_from_hour", strconv.Itoa(localHour(w.From, loc)))
			last := w.To.Add(-time.Nanosecond)
			q.Set("update_to_date", date(last, loc))
			q.Set("update_to_hour", strconv.Itoa(localHour(last, loc)))
			// date_from/date_to select by creation and default to the last
			// week: without them older conversions' status changes are lost.
			floor := w.From.Add(-CreationFloorAgo)
			if !s.o.StartDate.IsZero() {
				floor = s.startDate()
			}
			floor = minTime(floor, w.From)
			today := maxTime(s.c.now(), w.To.Add(-time.Nanosecond))
			q.Set("date_from", date(floor, loc))
			q.Set("date_to", date(today, loc))
		} else {
			q.Set("date_from", date(w.From, loc))
			q.Set("date_to", lastDate(w.To, loc))
		}
	case kindClicks:
		q.Set("date_from", date(w.From, loc))
		q.Set("date_to", lastDate(w.To, loc))
		if !w.To.Equal(nextDay(w.From, loc)) || !w.From.Equal(dayStart(w.From, loc)) {
			q.Set("hour", strconv.Itoa(localHour(w.From, loc)))
		}
	case kindPostbacks:
		q.Set("date_from", date(w.From, loc))
		q.Set("date_to", lastDate(w.To, loc))
	case kindStats:
		q.Set("filter[date_from]", date(w.From, loc))
		q.Set("filter[date_to]", lastDate(w.To, loc))
	}
	return q
}

// Query is the request, less page and limit, that Fetch sends for w (for
// logs and tests).
func (s *Stream) Query(w Window) url.Values { return s.query(w) }
