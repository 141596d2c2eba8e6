package plan

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// The five ways syncd walks Affise. Each is named by the streams' declarations
// in package models.
var (
	_ Planner = UpdateHours{}
	_ Planner = Days{}
	_ Planner = ClickHours{}
	_ Planner = StatsDays{}
	_ Planner = Snapshot{}
	_ Planner = Daily{}
)

// UpdateHours walks conversions. With Scope.UpdateFilter (admin keys) it
// selects by update time in hour windows, each inside one day, through the
// open hour (re-read next pass), so status changes land; it also asks for
// the creation dates from the window's CreatedFrom (the oldest day the
// warehouse holds, or the pass's start; start_date if earlier; at most
// CreationSpanMax back), since Affise otherwise filters by creation within
// the last week. Without it, and in backfills, it walks days by creation
// date like Days.
type UpdateHours struct{}

func (UpdateHours) Check(*Scope) error { return nil }

func (UpdateHours) Plan(s *Scope, cursor, now time.Time) []Window {
	if !s.UpdateFilter {
		return Days{}.Plan(s, cursor, now)
	}
	loc := s.Loc
	start := s.start(cursor, now, DefaultStartAgo)
	end, advCap := HourStart(now, loc).Add(time.Hour), HourStart(now, loc)
	var ws []Window
	for t := HourStart(start, loc); t.Before(end); {
		to := minTime(nextDay(t, loc), end)
		ws = append(ws, Window{From: t, To: to, Advance: maxTime(minTime(to, advCap), cursor)})
		t = to
	}
	for i := range ws {
		ws[i].CreatedFrom = DayStart(ws[0].From, time.UTC)
	}
	return ws
}

func (UpdateHours) Backfill(s *Scope, from, to time.Time) []Window {
	return Days{}.Backfill(s, from, to)
}

func (UpdateHours) Query(s *Scope, w Window, q url.Values) {
	if !s.UpdateFilter || w.Backfill {
		Days{}.Query(s, w, q)
		return
	}
	loc := s.Loc
	q.Set("update_from_date", date(w.From, loc))
	q.Set("update_from_hour", strconv.Itoa(localHour(w.From, loc)))
	last := w.To.Add(-time.Nanosecond)
	q.Set("update_to_date", date(last, loc))
	q.Set("update_to_hour", strconv.Itoa(localHour(last, loc)))
	// date_from/date_to select by creation and default to the last week:
	// without them older conversions' status changes are lost.
	floor := w.From
	if !w.CreatedFrom.IsZero() {
		floor = minTime(floor, w.CreatedFrom)
	}
	if !s.StartDate.IsZero() {
		floor = minTime(floor, s.startDate())
	}
	floor = maxTime(floor, minTime(w.From, s.Now().Add(-CreationSpanMax)))
	today := maxTime(s.Now(), last)
	q.Set("date_from", date(floor, loc))
	q.Set("date_to", date(today, loc))
}

// Days walks one day per window by date_from/date_to (postbacks), through
// today, which is re-read next pass.
type Days struct{}

func (Days) Check(*Scope) error { return nil }

func (Days) Plan(s *Scope, cursor, now time.Time) []Window { return planDays(s, cursor, now, 1) }

func (Days) Backfill(s *Scope, from, to time.Time) []Window { return backfillDays(s, from, to, 1) }

func (Days) Query(s *Scope, w Window, q url.Values) {
	q.Set("date_from", date(w.From, s.Loc))
	q.Set("date_to", lastDate(w.To, s.Loc))
}

// StatsDays walks custom stats: windows of up to StatsWindowDays whole days
// by filter[date_from]/filter[date_to], with the configured slice[]s. Each
// window's days are replaced whole, so the day slice is required.
type StatsDays struct{}

func (StatsDays) Check(s *Scope) error {
	if len(s.Slices) == 0 {
		return errors.New("no slices configured")
	}
	if !slices.Contains(s.Slices, "day") {
		return fmt.Errorf("slices %v must include day", s.Slices)
	}
	return nil
}

func (StatsDays) Plan(s *Scope, cursor, now time.Time) []Window {
	return planDays(s, cursor, now, StatsWindowDays)
}

func (StatsDays) Backfill(s *Scope, from, to time.Time) []Window {
	return backfillDays(s, from, to, StatsWindowDays)
}

func (StatsDays) Query(s *Scope, w Window, q url.Values) {
	q["slice[]"] = slices.Clone(s.Slices)
	q.Set("filter[date_from]", date(w.From, s.Loc))
	q.Set("filter[date_to]", lastDate(w.To, s.Loc))
}

// ClickHours walks clicks over closed hours: whole days where a day is
// wholly inside the span, single hours (hour=) elsewhere. Affise keeps
// clicks for ClicksRetention: nothing older is asked for, and losing rows to
// it is logged as an error (a lag beyond ClicksWarnLag as a warning).
type ClickHours struct{}

func (ClickHours) Check(*Scope) error { return nil }

func (p ClickHours) Plan(s *Scope, cursor, now time.Time) []Window {
	floor := clicksFloor(s, now)
	start := s.start(cursor, now, ClicksRetention)
	if lag := RetentionLag(cursor, now); !cursor.IsZero() && lag > ClicksWarnLag {
		s.Log.Warn().Str("stream", s.Stream).Time("cursor", cursor).Dur("lag", lag).
			Msg("clicks cursor is more than 5 days behind; Affise keeps clicks for about 7 days")
	}
	if start.Before(floor) {
		if !cursor.IsZero() || !s.StartDate.IsZero() {
			s.Log.Error().Str("stream", s.Stream).Time("from", start).Time("retention_floor", floor).
				Msg("clicks before the retention floor are LOST: Affise no longer serves them; syncing from the floor")
		}
		start = floor
	}
	return planClicks(s.Loc, start, HourStart(now, s.Loc), cursor)
}

func (ClickHours) Backfill(s *Scope, from, to time.Time) []Window {
	loc := s.Loc
	now := s.Now().UTC()
	floor := clicksFloor(s, now)
	if from.Before(floor) {
		s.Log.Error().Str("stream", s.Stream).Time("from", from).Time("retention_floor", floor).
			Msg("clicks before the retention floor are LOST: Affise no longer serves them; backfilling from the floor")
		from = floor
	}
	return planClicks(loc, HourStart(from, loc), minTime(hourCeil(to, loc), HourStart(now, loc)), time.Time{})
}

func (ClickHours) Query(s *Scope, w Window, q url.Values) {
	loc := s.Loc
	q.Set("date_from", date(w.From, loc))
	q.Set("date_to", lastDate(w.To, loc))
	if !w.To.Equal(nextDay(w.From, loc)) || !w.From.Equal(DayStart(w.From, loc)) {
		q.Set("hour", strconv.Itoa(localHour(w.From, loc)))
	}
}

func (ClickHours) atRisk(cursor, now time.Time) bool {
	return RetentionLag(cursor, now) > ClicksWarnLag
}

func clicksFloor(s *Scope, now time.Time) time.Time {
	return HourStart(now.Add(-ClicksRetention), s.Loc)
}

// Snapshot reads the whole list in one window that advances to its end
// (offers, partners, advertisers).
type Snapshot struct{}

func (Snapshot) Check(*Scope) error { return nil }

func (Snapshot) Plan(_ *Scope, cursor, now time.Time) []Window {
	return []Window{{From: cursor, To: now, Advance: now}}
}

func (Snapshot) Backfill(_ *Scope, from, to time.Time) []Window {
	return []Window{{From: from, To: to, Advance: to}}
}

func (Snapshot) Query(*Scope, Window, url.Values) {}

// Daily takes a snapshot a day of a source that serves only the present
// (currency_rates): each pass reads it whole into the current UTC day,
// replacing that day's rows; past days keep the snapshot they got. A
// backfill has nothing to read.
type Daily struct{}

func (Daily) Check(*Scope) error { return nil }

func (Daily) Plan(_ *Scope, cursor, now time.Time) []Window {
	d := DayStart(now, time.UTC)
	return []Window{{From: d, To: d.AddDate(0, 0, 1), Advance: maxTime(now, cursor)}}
}

func (Daily) Backfill(*Scope, time.Time, time.Time) []Window { return nil }

func (Daily) Query(*Scope, Window, url.Values) {}

// planDays is an incremental pass over day-aligned windows of up to chunk
// days, from the day holding the pass's start through today; no window
// advances past today's midnight, so today is read again next pass.
func planDays(s *Scope, cursor, now time.Time, chunk int) []Window {
	loc := s.Loc
	start := s.start(cursor, now, DefaultStartAgo)
	return stepDays(loc, start, nextDay(now, loc), chunk, DayStart(now, loc), cursor)
}

// backfillDays covers [from, to) aligned outward to days.
func backfillDays(s *Scope, from, to time.Time, chunk int) []Window {
	return stepDays(s.Loc, from, dayCeil(to, s.Loc), chunk, farFuture, time.Time{})
}

// stepDays steps day-aligned windows of up to chunk days from the day holding
// start to end (a midnight). Advance = max(min(To, advCap), cursor).
func stepDays(loc *time.Location, start, end time.Time, chunk int, advCap, cursor time.Time) []Window {
	var ws []Window
	for t := DayStart(start, loc); t.Before(end); {
		to := minTime(addDays(t, chunk, loc), end)
		ws = append(ws, Window{From: t, To: to, Advance: maxTime(minTime(to, advCap), cursor)})
		t = to
	}
	for i := range ws {
		ws[i].CreatedFrom = DayStart(ws[0].From, time.UTC)
	}
	return ws
}

// planClicks covers [start, end) (end an hour boundary) with whole days
// where a day is wholly inside, else single hours.
func planClicks(loc *time.Location, start, end, cursor time.Time) []Window {
	var ws []Window
	for t := HourStart(start, loc); t.Before(end); {
		d0, d1 := DayStart(t, loc), nextDay(t, loc)
		if t.Equal(d0) && !d1.After(end) {
			ws = append(ws, Window{From: t, To: d1, Advance: maxTime(d1, cursor)})
			t = d1
			continue
		}
		to := HourStart(t.Add(time.Hour), loc)
		if !to.After(t) { // a zone whose hours are not whole: step anyway
			to = t.Add(time.Hour)
		}
		to = minTime(to, end)
		ws = append(ws, Window{From: t, To: to, Advance: maxTime(to, cursor)})
		t = to
	}
	return ws
}
