package plan

import "time"

// All helpers take and return instants; day and hour boundaries are those of
// loc, the stream's zone.

// HourStart is the start of the loc hour holding t (exact for any offset,
// unambiguous across DST changes).
func HourStart(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return t.Add(-time.Duration(l.Minute())*time.Minute - time.Duration(l.Second())*time.Second - time.Duration(l.Nanosecond())).UTC()
}

// hourCeil is the first loc hour boundary at or after t.
func hourCeil(t time.Time, loc *time.Location) time.Time {
	h := HourStart(t, loc)
	if h.Equal(t) {
		return h
	}
	return HourStart(h.Add(time.Hour), loc)
}

// DayStart is the loc midnight starting the day holding t.
func DayStart(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc).UTC()
}

// nextDay is the loc midnight after the day holding t.
func nextDay(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, loc).UTC()
}

// addDays moves a loc midnight by n days.
func addDays(t time.Time, n int, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day()+n, 0, 0, 0, 0, loc).UTC()
}

// dayCeil is the first loc midnight at or after t.
func dayCeil(t time.Time, loc *time.Location) time.Time {
	d := DayStart(t, loc)
	if d.Equal(t) {
		return d
	}
	return nextDay(t, loc)
}

// date formats t's loc calendar date as YYYY-MM-DD.
func date(t time.Time, loc *time.Location) string { return t.In(loc).Format(time.DateOnly) }

// lastDate is the date of the last instant of [.., to).
func lastDate(to time.Time, loc *time.Location) string { return date(to.Add(-time.Nanosecond), loc) }

// localHour is t's hour of day in loc.
func localHour(t time.Time, loc *time.Location) int { return t.In(loc).Hour() }

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
