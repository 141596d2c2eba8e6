package plan

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// at is an instant written as UTC "2006-01-02T15:04".
func at(t *testing.T, s string) time.Time {
	t.Helper()
	p, err := time.Parse("2006-01-02T15:04", s)
	if err != nil {
		t.Fatalf("bad time %q", s)
	}
	return p
}

// render writes windows as From..To>Advance in UTC hours, one a line, so a
// failing case shows every edge at once.
func render(ws []Window) string {
	f := func(t time.Time) string {
		if t.IsZero() {
			return "0"
		}
		return t.UTC().Format("01-02T15")
	}
	var b strings.Builder
	for _, w := range ws {
		fmt.Fprintf(&b, "%s..%s>%s\n", f(w.From), f(w.To), f(w.Advance))
	}
	return b.String()
}

// lines joins expected windows as render writes them.
func lines(ws ...string) string {
	if len(ws) == 0 {
		return ""
	}
	return strings.Join(ws, "\n") + "\n"
}

func TestPlannersWindowEdges(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	type tc struct {
		name    string
		p       Planner
		scope   Scope // Loc and Network default to UTC
		now     string
		cursor  string // "" for a stream that never ran
		from    string // set: a Backfill of [from, to) instead of a Plan
		to      string
		want    string
		count   int // when set, only the first window and the count are checked
		checkFn func(t *testing.T, ws []Window)
	}
	cases := []tc{
		{name: "UpdateHours reads the open hour but does not advance past it",
			p: UpdateHours{}, scope: Scope{UpdateFilter: true}, now: "2025-03-10T14:30", cursor: "2025-03-09T22:00",
			want: lines("03-09T22..03-10T00>03-10T00", "03-10T00..03-10T15>03-10T14")},
		{name: "UpdateHours without the update filter walks days",
			p: UpdateHours{}, now: "2025-03-10T14:30", cursor: "2025-03-09T22:00",
			want: lines("03-09T00..03-10T00>03-10T00", "03-10T00..03-11T00>03-10T00")},
		{name: "UpdateHours backfills by days",
			p: UpdateHours{}, scope: Scope{UpdateFilter: true}, now: "2025-03-10T14:30", from: "2025-03-01T05:00", to: "2025-03-03T00:00",
			want: lines("03-01T00..03-02T00>03-02T00", "03-02T00..03-03T00>03-03T00")},
		{name: "Days from start_date re-read today without advancing past its midnight",
			p: Days{}, scope: Scope{StartDate: at(t, "2025-03-08T00:00")}, now: "2025-03-10T14:30",
			want: lines("03-08T00..03-09T00>03-09T00", "03-09T00..03-10T00>03-10T00", "03-10T00..03-11T00>03-10T00")},
		{name: "Days lookback never moves the cursor back",
			p: Days{}, scope: Scope{Lookback: 36 * time.Hour}, now: "2025-03-10T14:30", cursor: "2025-03-10T00:00",
			want: lines("03-08T00..03-09T00>03-10T00", "03-09T00..03-10T00>03-10T00", "03-10T00..03-11T00>03-10T00")},
		{name: "Days without start_date start DefaultStartAgo back",
			p: Days{}, now: "2025-03-10T14:30", count: 31, want: lines("02-08T00..02-09T00>02-09T00")},
		{name: "Days backfill ending at a midnight stops there",
			p: Days{}, now: "2025-03-10T14:30", from: "2025-03-01T05:00", to: "2025-03-03T00:00",
			want: lines("03-01T00..03-02T00>03-02T00", "03-02T00..03-03T00>03-03T00")},
		{name: "Days backfill aligns its end outward",
			p: Days{}, now: "2025-03-10T14:30", from: "2025-03-01T00:00", to: "2025-03-02T00:01",
			want: lines("03-01T00..03-02T00>03-02T00", "03-02T00..03-03T00>03-03T00")},
		{name: "Days backfill over a fall-back day is one 25-hour window in the zone",
			p: Days{}, scope: Scope{Loc: berlin, Network: berlin}, now: "2026-11-01T00:00", from: "2026-10-24T22:00", to: "2026-10-25T23:00",
			want: lines("10-24T22..10-25T23>10-25T23")},
		{name: "StatsDays walks windows of StatsWindowDays, today capped at its midnight",
			p: StatsDays{}, scope: Scope{StartDate: at(t, "2025-01-01T00:00")}, now: "2025-03-10T14:30",
			want: lines("01-01T00..02-01T00>02-01T00", "02-01T00..03-04T00>03-04T00", "03-04T00..03-11T00>03-10T00")},
		{name: "StatsDays backfill of one day",
			p: StatsDays{}, now: "2025-03-10T14:30", from: "2025-02-01T00:00", to: "2025-02-02T00:00",
			want: lines("02-01T00..02-02T00>02-02T00")},
		{name: "ClickHours plans closed hours only",
			p: ClickHours{}, now: "2025-03-10T14:30", cursor: "2025-03-10T10:00",
			want: lines("03-10T10..03-10T11>03-10T11", "03-10T11..03-10T12>03-10T12", "03-10T12..03-10T13>03-10T13", "03-10T13..03-10T14>03-10T14")},
		{name: "ClickHours takes whole days where they fit, hours elsewhere",
			p: ClickHours{}, now: "2025-03-10T02:30", cursor: "2025-03-08T23:00",
			want: lines("03-08T23..03-09T00>03-09T00", "03-09T00..03-10T00>03-10T00", "03-10T00..03-10T01>03-10T01", "03-10T01..03-10T02>03-10T02")},
		{name: "ClickHours starts a cursor beyond retention at the floor",
			p: ClickHours{}, now: "2025-03-10T02:30", cursor: "2025-03-01T00:00",
			// 22 hours to the 4th, whole days 4th..9th, two hours of the 10th.
			count: 30, want: lines("03-03T02..03-03T03>03-03T03")},
		{name: "ClickHours backfill aligns outward to hours",
			p: ClickHours{}, now: "2025-03-10T02:30", from: "2025-03-09T05:10", to: "2025-03-09T07:05",
			want: lines("03-09T05..03-09T06>03-09T06", "03-09T06..03-09T07>03-09T07", "03-09T07..03-09T08>03-09T08")},
		{name: "ClickHours backfill stops at the open hour",
			p: ClickHours{}, now: "2025-03-10T02:30", from: "2025-03-10T00:00", to: "2025-03-11T00:00",
			want: lines("03-10T00..03-10T01>03-10T01", "03-10T01..03-10T02>03-10T02")},
		{name: "ClickHours backfill from beyond retention starts at the floor",
			p: ClickHours{}, now: "2025-03-10T02:30", from: "2025-02-01T00:00", to: "2025-03-03T04:00",
			want: lines("03-03T02..03-03T03>03-03T03", "03-03T03..03-03T04>03-03T04")},
		{name: "Snapshot reads everything up to now",
			p: Snapshot{}, now: "2025-03-10T14:30", cursor: "2025-03-09T14:00",
			checkFn: func(t *testing.T, ws []Window) {
				if len(ws) != 1 || !ws[0].From.Equal(at(t, "2025-03-09T14:00")) || !ws[0].To.Equal(at(t, "2025-03-10T14:30")) || !ws[0].Advance.Equal(ws[0].To) {
					t.Errorf("windows %+v", ws)
				}
			}},
		{name: "Snapshot backfill is one window advancing to its end",
			p: Snapshot{}, now: "2025-03-10T14:30", from: "2025-03-01T00:00", to: "2025-03-02T00:00",
			want: lines("03-01T00..03-02T00>03-02T00")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := c.scope
			if s.Loc == nil {
				s.Loc = time.UTC
			}
			if s.Network == nil {
				s.Network = time.UTC
			}
			now := at(t, c.now)
			s.Now = func() time.Time { return now }
			s.Log = zerolog.Nop()
			s.Stream = "test"
			var ws []Window
			if c.from != "" {
				ws = c.p.Backfill(&s, at(t, c.from), at(t, c.to))
			} else {
				var cursor time.Time
				if c.cursor != "" {
					cursor = at(t, c.cursor)
				}
				ws = c.p.Plan(&s, cursor, now)
			}
			for i := 1; i < len(ws); i++ {
				if !ws[i].From.Equal(ws[i-1].To) {
					t.Errorf("window %d starts at %s, the last ended at %s", i, ws[i].From, ws[i-1].To)
				}
			}
			for i, w := range ws {
				if !w.From.Before(w.To) || w.From.Location() != time.UTC || w.To.Location() != time.UTC {
					t.Errorf("window %d %s..%s is empty or not in UTC", i, w.From, w.To)
				}
			}
			switch {
			case c.checkFn != nil:
				c.checkFn(t, ws)
			case c.count > 0:
				if len(ws) != c.count || render(ws[:1]) != c.want {
					t.Errorf("%d windows, first %s; want %d, first %s", len(ws), render(ws[:min(1, len(ws))]), c.count, c.want)
				}
			default:
				if got := render(ws); got != c.want {
					t.Errorf("windows:\n%swant:\n%s", got, c.want)
				}
			}
		})
	}
}

func TestStatsDaysCheck(t *testing.T) {
	for _, c := range []struct {
		slices []string
		ok     bool
	}{
		{nil, false}, {[]string{"offer"}, false}, {[]string{"day"}, true}, {[]string{"offer", "day"}, true},
	} {
		if err := (StatsDays{}).Check(&Scope{Slices: c.slices}); (err == nil) != c.ok {
			t.Errorf("Check(%v) = %v, want ok %v", c.slices, err, c.ok)
		}
	}
}

func TestRetention(t *testing.T) {
	now := time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC)
	for _, p := range []Planner{UpdateHours{}, Days{}, StatsDays{}, Snapshot{}} {
		if HasRetention(p) || AtRisk(p, now.Add(-30*24*time.Hour), now) {
			t.Errorf("%T has a retention", p)
		}
	}
	if !HasRetention(ClickHours{}) {
		t.Error("ClickHours has no retention")
	}
	for _, c := range []struct {
		cursor time.Time
		risk   bool
	}{
		{time.Time{}, false}, {now.Add(-ClicksWarnLag), false}, {now.Add(-ClicksWarnLag - time.Second), true}, {now.Add(time.Hour), false},
	} {
		if got := AtRisk(ClickHours{}, c.cursor, now); got != c.risk {
			t.Errorf("AtRisk(cursor %s) = %v, want %v", c.cursor, got, c.risk)
		}
	}
}

// Update-time windows of conversions ask for creation dates from the
// oldest day the warehouse holds (the pipeline lowers CreatedFrom to it),
// from the pass's start for a warehouse that holds nothing yet, from
// start_date when earlier, and never more than CreationSpanMax back.
func TestUpdateHoursCreationFloor(t *testing.T) {
	now := time.Date(2025, 6, 10, 14, 30, 0, 0, time.UTC)
	s := &Scope{Stream: "conversions", Loc: time.UTC, Network: time.UTC, UpdateFilter: true, Lookback: 6 * time.Hour,
		Now: func() time.Time { return now }}
	ws := UpdateHours{}.Plan(s, time.Date(2025, 6, 8, 3, 0, 0, 0, time.UTC), now)
	if len(ws) < 2 {
		t.Fatalf("windows %v", ws)
	}
	passStart := time.Date(2025, 6, 7, 0, 0, 0, 0, time.UTC)
	for _, w := range ws {
		if !w.CreatedFrom.Equal(passStart) {
			t.Errorf("window %v: CreatedFrom %v, want the pass's start day %v", w.From, w.CreatedFrom, passStart)
		}
	}
	last := ws[len(ws)-1]
	dateFrom := func(w Window, sc *Scope) string {
		q := url.Values{}
		UpdateHours{}.Query(sc, w, q)
		return q.Get("date_from")
	}
	if got := dateFrom(last, s); got != "2025-06-07" {
		t.Errorf("an empty warehouse: date_from %s, want the pass's start 2025-06-07", got)
	}
	held := last
	held.CreatedFrom = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC) // a conversion 100 days old
	if got := dateFrom(held, s); got != "2025-03-01" {
		t.Errorf("a warehouse holding 2025-03-01: date_from %s", got)
	}
	withStart := *s
	withStart.StartDate = time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)
	if got := dateFrom(held, &withStart); got != "2025-02-01" {
		t.Errorf("start_date 2025-02-01 before the held day: date_from %s", got)
	}
	ancient := last
	ancient.CreatedFrom = time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)
	if got, want := dateFrom(ancient, s), now.Add(-CreationSpanMax).Format(time.DateOnly); got != want {
		t.Errorf("a warehouse from 2022: date_from %s, want the cap %s", got, want)
	}
}
