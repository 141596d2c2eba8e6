package extract

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/syncd/syncd/plan"
)

func ts(s string) time.Time {
	t, err := time.Parse("2006-01-02T15:04Z", s)
	if err != nil {
		panic(err)
	}
	return t
}

func day(s string) time.Time { return ts(s + "T00:00Z") }

// planClient is a client for planning only (no requests), whose clock is now.
func planClient(t *testing.T, tz string, now time.Time, opts ...ClientOption) *Client {
	t.Helper()
	c, err := NewClient(ClientConfig{BaseURL: "http://affise.invalid", Key: testKey, Timezone: tz},
		append([]ClientOption{WithClock(func() time.Time { return now })}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// win renders a window compactly: [from,to)->advance plus flags, in UTC.
func win(w Window) string {
	f := func(t time.Time) string {
		if t.IsZero() {
			return "0"
		}
		return t.UTC().Format("01-02T15Z")
	}
	s := fmt.Sprintf("[%s,%s)->%s", f(w.From), f(w.To), f(w.Advance))
	if w.ReplaceDays {
		s += " replace"
	}
	if w.Snapshot {
		s += " snapshot"
	}
	if w.Backfill {
		s += " backfill"
	}
	return s
}

func wins(ws []Window) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = win(w)
	}
	return out
}

// q renders the interesting parameters of a query in a fixed order.
func q(v url.Values) string {
	var parts []string
	for _, k := range []string{"date_from", "date_to", "hour", "update_from_date", "update_from_hour", "update_to_date", "update_to_hour", "filter[date_from]", "filter[date_to]"} {
		if x, ok := v[k]; ok {
			parts = append(parts, k+"="+strings.Join(x, ","))
		}
	}
	return strings.Join(parts, " ")
}

type planCase struct {
	name    string
	tz      string
	opts    Options
	cursor  time.Time
	now     time.Time
	windows []string
	queries []string // of the first windows
}

func runPlanCases(t *testing.T, build func(c *Client, o Options) (*Stream, error), cases []planCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := planClient(t, tc.tz, tc.now)
			s := mustStream(build(c, tc.opts))
			ws := s.Plan(tc.cursor, tc.now)
			if got := wins(ws); !slices.Equal(got, tc.windows) {
				t.Fatalf("windows\n got %q\nwant %q", got, tc.windows)
			}
			for i, want := range tc.queries {
				if got := q(s.Query(ws[i])); got != want {
					t.Errorf("query %d\n got %s\nwant %s", i, got, want)
				}
			}
			checkWindows(t, tc.cursor, ws)
		})
	}
}

// checkWindows: contiguous, non-empty, UTC, advances monotone and never
// behind the cursor.
func checkWindows(t *testing.T, cursor time.Time, ws []Window) {
	t.Helper()
	prev := cursor
	for i, w := range ws {
		if !w.From.Before(w.To) || w.From.Location() != time.UTC || w.To.Location() != time.UTC {
			t.Errorf("window %d %s not a UTC span", i, win(w))
		}
		if i > 0 && !ws[i-1].To.Equal(w.From) {
			t.Errorf("gap/overlap before window %d", i)
		}
		if w.Advance.Before(prev) {
			t.Errorf("window %d advance %v goes back from %v", i, w.Advance, prev)
		}
		prev = w.Advance
	}
}

func TestPlanConversionsByUpdate(t *testing.T) {
	build := func(c *Client, o Options) (*Stream, error) {
		o.UpdateFilter = true
		return NewExtractor("conversions", c, testModel{}, o)
	}
	start := Options{StartDate: day("2025-01-01"), Lookback: 6 * time.Hour}
	runPlanCases(t, build, []planCase{{
		name: "same day, open hour re-read", tz: "UTC", opts: start,
		cursor: ts("2025-03-10T12:00Z"), now: ts("2025-03-10T14:30Z"),
		windows: []string{"[03-10T06Z,03-10T15Z)->03-10T14Z"},
		queries: []string{"date_from=2025-01-01 date_to=2025-03-10 update_from_date=2025-03-10 update_from_hour=6 update_to_date=2025-03-10 update_to_hour=14"},
	}, {
		name: "lookback crosses midnight: windows stay within a day, advance never goes back", tz: "UTC", opts: start,
		cursor: ts("2025-03-10T02:00Z"), now: ts("2025-03-10T14:30Z"),
		windows: []string{"[03-09T20Z,03-10T00Z)->03-10T02Z", "[03-10T00Z,03-10T15Z)->03-10T14Z"},
		queries: []string{"date_from=2025-01-01 date_to=2025-03-10 update_from_date=2025-03-09 update_from_hour=20 update_to_date=2025-03-09 update_to_hour=23"},
	}, {
		name: "first run starts at start_date", tz: "UTC", opts: Options{StartDate: day("2025-03-08")},
		now:     ts("2025-03-10T14:30Z"),
		windows: []string{"[03-08T00Z,03-09T00Z)->03-09T00Z", "[03-09T00Z,03-10T00Z)->03-10T00Z", "[03-10T00Z,03-10T15Z)->03-10T14Z"},
		queries: []string{"date_from=2025-03-08 date_to=2025-03-10 update_from_date=2025-03-08 update_from_hour=0 update_to_date=2025-03-08 update_to_hour=23"},
	}, {
		name: "cursor at the current hour", tz: "UTC", opts: start,
		cursor: ts("2025-03-10T14:00Z"), now: ts("2025-03-10T14:00Z"), // Lookback 6h
		windows: []string{"[03-10T08Z,03-10T15Z)->03-10T14Z"},
	}, {
		// Update hours are asked in UTC whatever api.timezone is: in Berlin's
		// zone a fall-back day's repeated hour cannot be named unambiguously.
		// start_date is a day of Berlin's calendar, so the creation floor is
		// the UTC date holding its midnight.
		name: "api.timezone Berlin, spring-forward: UTC days", tz: "Europe/Berlin", opts: Options{StartDate: day("2025-01-01")},
		cursor: ts("2025-03-28T23:00Z"), now: ts("2025-03-30T12:30Z"), // 03-29 00:00 CET .. 03-30 14:30 CEST
		windows: []string{"[03-28T23Z,03-29T00Z)->03-29T00Z", "[03-29T00Z,03-30T00Z)->03-30T00Z", "[03-30T00Z,03-30T13Z)->03-30T12Z"},
		queries: []string{
			"date_from=2024-12-31 date_to=2025-03-30 update_from_date=2025-03-28 update_from_hour=23 update_to_date=2025-03-28 update_to_hour=23",
			"date_from=2024-12-31 date_to=2025-03-30 update_from_date=2025-03-29 update_from_hour=0 update_to_date=2025-03-29 update_to_hour=23",
			"date_from=2024-12-31 date_to=2025-03-30 update_from_date=2025-03-30 update_from_hour=0 update_to_date=2025-03-30 update_to_hour=12",
		},
	}, {
		name: "api.timezone Berlin, fall-back: UTC days", tz: "Europe/Berlin", opts: Options{StartDate: day("2025-01-01")},
		cursor: ts("2025-10-25T22:00Z"), now: ts("2025-10-27T08:10Z"),
		windows: []string{"[10-25T22Z,10-26T00Z)->10-26T00Z", "[10-26T00Z,10-27T00Z)->10-27T00Z", "[10-27T00Z,10-27T09Z)->10-27T08Z"},
		queries: []string{
			"date_from=2024-12-31 date_to=2025-10-27 update_from_date=2025-10-25 update_from_hour=22 update_to_date=2025-10-25 update_to_hour=23",
			"date_from=2024-12-31 date_to=2025-10-27 update_from_date=2025-10-26 update_from_hour=0 update_to_date=2025-10-26 update_to_hour=23",
			"date_from=2024-12-31 date_to=2025-10-27 update_from_date=2025-10-27 update_from_hour=0 update_to_date=2025-10-27 update_to_hour=8",
		},
	}})
	t.Run("no start_date: 30 days back, creation floor 30 days before each window", func(t *testing.T) {
		now := ts("2025-03-10T14:30Z")
		s := mustStream(build(planClient(t, "UTC", now), Options{}))
		ws := s.Plan(time.Time{}, now)
		if len(ws) != 31 || !ws[0].From.Equal(ts("2025-02-08T14:00Z")) {
			t.Fatalf("%d windows from %v", len(ws), ws[0].From)
		}
		if got := q(s.Query(ws[len(ws)-1])); !strings.HasPrefix(got, "date_from=2025-02-08 date_to=2025-03-10 ") {
			t.Fatalf("query %s", got)
		}
	})
}

func TestPlanConversionsByCreation(t *testing.T) {
	build := func(c *Client, o Options) (*Stream, error) { return NewExtractor("conversions", c, testModel{}, o) }
	runPlanCases(t, build, []planCase{{
		name: "UTC: lookback re-read by creation day", tz: "UTC", opts: Options{Lookback: 48 * time.Hour},
		cursor: day("2025-03-10"), now: ts("2025-03-10T14:30Z"),
		windows: []string{"[03-08T00Z,03-09T00Z)->03-10T00Z", "[03-09T00Z,03-10T00Z)->03-10T00Z", "[03-10T00Z,03-11T00Z)->03-10T00Z"},
		queries: []string{"date_from=2025-03-08 date_to=2025-03-08", "date_from=2025-03-09 date_to=2025-03-09", "date_from=2025-03-10 date_to=2025-03-10"},
	}, {
		name: "api.timezone Berlin across spring-forward: UTC days", tz: "Europe/Berlin", opts: Options{Lookback: 48 * time.Hour},
		cursor: ts("2025-03-29T23:00Z"), now: ts("2025-03-30T12:30Z"),
		windows: []string{"[03-27T00Z,03-28T00Z)->03-29T23Z", "[03-28T00Z,03-29T00Z)->03-29T23Z", "[03-29T00Z,03-30T00Z)->03-30T00Z", "[03-30T00Z,03-31T00Z)->03-30T00Z"},
		queries: []string{"date_from=2025-03-27 date_to=2025-03-27", "date_from=2025-03-28 date_to=2025-03-28", "date_from=2025-03-29 date_to=2025-03-29", "date_from=2025-03-30 date_to=2025-03-30"},
	}})
}

func TestPlanBackfill(t *testing.T) {
	now := ts("2025-03-10T14:30Z")
	c := planClient(t, "Europe/Berlin", now)
	conv := mustStream(NewExtractor("conversions", c, testModel{}, Options{UpdateFilter: true, StartDate: day("2024-06-01")}))
	// Berlin's days (as syncd backfill passes them) align outward to UTC days.
	ws := conv.PlanBackfill(ts("2024-12-31T23:00Z"), ts("2025-01-02T23:00Z"))
	want := []string{"[12-31T00Z,01-01T00Z)->01-01T00Z backfill", "[01-01T00Z,01-02T00Z)->01-02T00Z backfill", "[01-02T00Z,01-03T00Z)->01-03T00Z backfill"}
	if got := wins(ws); !slices.Equal(got, want) {
		t.Fatalf("got %q", got)
	}
	if got := q(conv.Query(ws[1])); got != "date_from=2025-01-01 date_to=2025-01-01" {
		t.Fatalf("backfill selects by creation: %s", got)
	}
	stats := mustStream(NewExtractor("stats_daily", c, testModel{}, Options{Slices: []string{"day", "offer"}}))
	if got := wins(stats.PlanBackfill(ts("2024-12-31T23:00Z"), ts("2025-02-28T23:00Z"))); !slices.Equal(got, []string{
		"[12-31T23Z,01-31T23Z)->01-31T23Z replace backfill", "[01-31T23Z,02-28T23Z)->02-28T23Z replace backfill"}) {
		t.Fatalf("stats backfill %q", got)
	}
	offers := mustStream(NewExtractor("offers", c, testModel{}, Options{}))
	if got := wins(offers.PlanBackfill(day("2025-01-01"), now)); len(got) != 1 || !strings.Contains(got[0], "snapshot") {
		t.Fatalf("offers backfill %q", got)
	}
	clicks := mustStream(NewExtractor("clicks", c, testModel{}, Options{}))
	cw := clicks.PlanBackfill(day("2025-01-01"), now)
	if len(cw) == 0 || cw[0].From.Before(now.Add(-plan.ClicksRetention-time.Hour)) || cw[len(cw)-1].To.After(now) {
		t.Fatalf("clicks backfill not within retention: %q", wins(cw))
	}
}

func TestPlanClicks(t *testing.T) {
	build := func(c *Client, o Options) (*Stream, error) { return NewExtractor("clicks", c, testModel{}, o) }
	hours := func(d string, from, to int) []string {
		var out []string
		for h := from; h < to; h++ {
			t0 := ts(fmt.Sprintf("%sT%02d:00Z", d, h))
			out = append(out, win(Window{From: t0, To: t0.Add(time.Hour), Advance: t0.Add(time.Hour)}))
		}
		return out
	}
	runPlanCases(t, build, []planCase{{
		name: "partial past day and today: closed hours only", tz: "UTC",
		cursor: ts("2025-03-09T21:00Z"), now: ts("2025-03-10T02:30Z"),
		windows: append(hours("2025-03-09", 21, 24), hours("2025-03-10", 0, 2)...),
		queries: []string{"date_from=2025-03-09 date_to=2025-03-09 hour=21"},
	}, {
		name: "whole past days as one window", tz: "UTC",
		cursor: day("2025-03-08"), now: ts("2025-03-10T02:59Z"),
		windows: append([]string{"[03-08T00Z,03-09T00Z)->03-09T00Z", "[03-09T00Z,03-10T00Z)->03-10T00Z"}, hours("2025-03-10", 0, 2)...),
		queries: []string{"date_from=2025-03-08 date_to=2025-03-08", "date_from=2025-03-09 date_to=2025-03-09", "date_from=2025-03-10 date_to=2025-03-10 hour=0"},
	}, {
		name: "nothing closed yet", tz: "UTC",
		cursor: ts("2025-03-10T02:00Z"), now: ts("2025-03-10T02:59Z"),
		windows: nil,
	}, {
		// In Berlin's zone the two real hours of a fall-back day's 02:xx
		// were both asked as hour=2, and their times read back alike.
		name: "api.timezone Berlin, fall-back: UTC hours", tz: "Europe/Berlin",
		cursor: ts("2025-10-25T22:00Z"), now: ts("2025-10-26T03:10Z"),
		windows: []string{"[10-25T22Z,10-25T23Z)->10-25T23Z", "[10-25T23Z,10-26T00Z)->10-26T00Z", "[10-26T00Z,10-26T01Z)->10-26T01Z", "[10-26T01Z,10-26T02Z)->10-26T02Z", "[10-26T02Z,10-26T03Z)->10-26T03Z"},
		queries: []string{"date_from=2025-10-25 date_to=2025-10-25 hour=22", "date_from=2025-10-25 date_to=2025-10-25 hour=23",
			"date_from=2025-10-26 date_to=2025-10-26 hour=0", "date_from=2025-10-26 date_to=2025-10-26 hour=1", "date_from=2025-10-26 date_to=2025-10-26 hour=2"},
	}, {
		name: "api.timezone Berlin, spring-forward: UTC days", tz: "Europe/Berlin",
		cursor: ts("2025-03-29T23:00Z"), now: ts("2025-03-31T00:30Z"),
		windows: []string{"[03-29T23Z,03-30T00Z)->03-30T00Z", "[03-30T00Z,03-31T00Z)->03-31T00Z"},
		queries: []string{"date_from=2025-03-29 date_to=2025-03-29 hour=23", "date_from=2025-03-30 date_to=2025-03-30"},
	}, {
		name: "api.timezone Kolkata (half-hour offset): UTC hours", tz: "Asia/Kolkata",
		cursor: ts("2025-03-10T04:30Z"), now: ts("2025-03-10T06:45Z"),
		windows: []string{"[03-10T04Z,03-10T05Z)->03-10T05Z", "[03-10T05Z,03-10T06Z)->03-10T06Z"},
		queries: []string{"date_from=2025-03-10 date_to=2025-03-10 hour=4", "date_from=2025-03-10 date_to=2025-03-10 hour=5"},
	}})
}

func TestClicksRetention(t *testing.T) {
	now := ts("2025-03-10T14:30Z")
	var logs strings.Builder
	c := planClient(t, "UTC", now)
	c.log = zerolog.New(&logs)
	s := mustStream(NewExtractor("clicks", c, testModel{}, Options{}))

	cursor := ts("2025-03-02T10:00Z") // 8 days behind
	ws := s.Plan(cursor, now)
	if !ws[0].From.Equal(ts("2025-03-03T14:00Z")) {
		t.Fatalf("first window %s, want the retention floor", win(ws[0]))
	}
	if !strings.Contains(logs.String(), "LOST") || !strings.Contains(logs.String(), `"level":"error"`) {
		t.Fatalf("no loud log: %s", logs.String())
	}
	if !s.RetentionAtRisk(cursor, now) || s.RetentionLag(cursor, now) != now.Sub(cursor) {
		t.Fatal("retention lag not reported")
	}
	checkWindows(t, cursor, ws)
	if last := ws[len(ws)-1]; !last.To.Equal(ts("2025-03-10T14:00Z")) {
		t.Fatalf("last window %s", win(last))
	}

	logs.Reset()
	cursor = ts("2025-03-04T12:00Z") // 6 days behind: warn, nothing lost
	ws = s.Plan(cursor, now)
	if !ws[0].From.Equal(cursor) || !strings.Contains(logs.String(), `"level":"warn"`) || strings.Contains(logs.String(), "LOST") {
		t.Fatalf("first %s logs %s", win(ws[0]), logs.String())
	}
	if s.RetentionAtRisk(ts("2025-03-06T12:00Z"), now) {
		t.Fatal("4 days behind is not at risk")
	}
	logs.Reset()
	ws = s.Plan(time.Time{}, now) // first run: from the floor, quietly
	if !ws[0].From.Equal(ts("2025-03-03T14:00Z")) || logs.Len() != 0 {
		t.Fatalf("first run %s logs %s", win(ws[0]), logs.String())
	}
	conv := mustStream(NewExtractor("conversions", c, testModel{}, Options{}))
	if conv.RetentionAtRisk(cursor, now) {
		t.Fatal("only clicks have a retention")
	}
}

func TestPlanPostbacks(t *testing.T) {
	for _, build := range []func(c *Client, o Options) (*Stream, error){
		func(c *Client, o Options) (*Stream, error) {
			return NewExtractor("server_postbacks", c, testModel{}, o)
		},
		func(c *Client, o Options) (*Stream, error) {
			return NewExtractor("affiliate_postbacks", c, testModel{}, o)
		},
	} {
		runPlanCases(t, build, []planCase{{
			name: "lookback 2d", tz: "UTC", opts: Options{Lookback: 48 * time.Hour},
			cursor: day("2025-03-10"), now: ts("2025-03-10T14:30Z"),
			windows: []string{"[03-08T00Z,03-09T00Z)->03-10T00Z", "[03-09T00Z,03-10T00Z)->03-10T00Z", "[03-10T00Z,03-11T00Z)->03-10T00Z"},
			queries: []string{"date_from=2025-03-08 date_to=2025-03-08", "date_from=2025-03-09 date_to=2025-03-09", "date_from=2025-03-10 date_to=2025-03-10"},
		}, {
			// start_date is Berlin's 03-08, which begins on UTC's 03-07.
			name: "first run from start_date, api.timezone Berlin", tz: "Europe/Berlin", opts: Options{StartDate: day("2025-03-08")},
			now:     ts("2025-03-09T12:00Z"),
			windows: []string{"[03-07T00Z,03-08T00Z)->03-08T00Z", "[03-08T00Z,03-09T00Z)->03-09T00Z", "[03-09T00Z,03-10T00Z)->03-09T00Z"},
			queries: []string{"date_from=2025-03-07 date_to=2025-03-07", "date_from=2025-03-08 date_to=2025-03-08", "date_from=2025-03-09 date_to=2025-03-09"},
		}, {
			name: "default 30 days back", tz: "UTC",
			now: ts("2025-03-31T12:00Z"),
			windows: func() []string {
				var out []string
				for d := day("2025-03-01"); d.Before(day("2025-04-01")); d = d.Add(24 * time.Hour) {
					out = append(out, win(Window{From: d, To: d.Add(24 * time.Hour), Advance: minTime(d.Add(24*time.Hour), day("2025-03-31"))}))
				}
				return out
			}(),
		}})
	}
}

func TestPlanStatsDaily(t *testing.T) {
	build := func(c *Client, o Options) (*Stream, error) {
		o.Slices = []string{"day", "offer", "partner", "country"}
		return NewExtractor("stats_daily", c, testModel{}, o)
	}
	runPlanCases(t, build, []planCase{{
		name: "first run: 31-day windows, today partial", tz: "UTC", opts: Options{StartDate: day("2025-01-01")},
		now:     ts("2025-03-10T14:30Z"),
		windows: []string{"[01-01T00Z,02-01T00Z)->02-01T00Z replace", "[02-01T00Z,03-04T00Z)->03-04T00Z replace", "[03-04T00Z,03-11T00Z)->03-10T00Z replace"},
		queries: []string{"filter[date_from]=2025-01-01 filter[date_to]=2025-01-31", "filter[date_from]=2025-02-01 filter[date_to]=2025-03-03", "filter[date_from]=2025-03-04 filter[date_to]=2025-03-10"},
	}, {
		// stats_daily's days are the network's: Berlin midnights, across
		// the 23-hour spring-forward day.
		name: "lookback 7d re-read and replaced", tz: "Europe/Berlin", opts: Options{Lookback: 7 * 24 * time.Hour},
		cursor: ts("2025-03-29T23:00Z"), now: ts("2025-03-30T12:30Z"),
		windows: []string{"[03-22T23Z,03-30T22Z)->03-29T23Z replace"},
		queries: []string{"filter[date_from]=2025-03-23 filter[date_to]=2025-03-30"},
	}, {
		name: "Berlin fall-back day has 25 hours", tz: "Europe/Berlin", opts: Options{Lookback: 24 * time.Hour},
		cursor: ts("2025-10-26T23:00Z"), now: ts("2025-10-27T08:00Z"),
		windows: []string{"[10-25T22Z,10-27T23Z)->10-26T23Z replace"},
		queries: []string{"filter[date_from]=2025-10-26 filter[date_to]=2025-10-27"},
	}, {
		name: "first run from start_date, New York days", tz: "America/New_York", opts: Options{StartDate: day("2025-03-08")},
		now:     ts("2025-03-10T12:00Z"),
		windows: []string{"[03-08T05Z,03-11T04Z)->03-10T04Z replace"},
		queries: []string{"filter[date_from]=2025-03-08 filter[date_to]=2025-03-10"},
	}})
	c := planClient(t, "UTC", time.Now())
	s := mustStream(build(c, Options{}))
	got := s.Query(Window{From: day("2025-03-01"), To: day("2025-03-02")})["slice[]"]
	if !slices.Equal(got, []string{"day", "offer", "partner", "country"}) {
		t.Fatalf("slice[] = %v", got)
	}
	if _, err := NewExtractor("stats_daily", c, testModel{}, Options{Slices: []string{"offer"}}); err == nil {
		t.Fatal("slices without day accepted")
	}
	if _, err := NewExtractor("stats_daily", c, testModel{}, Options{}); err == nil {
		t.Fatal("no slices accepted")
	}
}

func TestPlanSnapshots(t *testing.T) {
	now := ts("2025-03-10T14:30Z")
	c := planClient(t, "UTC", now)
	for _, name := range []string{"offers", "partners", "advertisers"} {
		s := mustStream(NewExtractor(name, c, testModel{}, Options{}))
		ws := s.Plan(ts("2025-03-10T08:30Z"), now)
		if len(ws) != 1 || !ws[0].Snapshot || !ws[0].Advance.Equal(now) || ws[0].ReplaceDays {
			t.Fatalf("%s: %q", name, wins(ws))
		}
		if s.Stream() != name {
			t.Fatalf("name %s", s.Stream())
		}
	}
	if _, err := NewExtractor("nope", c, testModel{}, Options{}); err == nil {
		t.Fatal("unknown stream accepted")
	}
}

// The update-time walk must also send date_from=<start_date>, or Affise
// filters by creation within the last week only.
func TestConversionsSendCreationRange(t *testing.T) {
	f := newFakeAPI(t, 3, "conversions")
	srv := httptest.NewServer(f)
	defer srv.Close()
	now := ts("2025-03-10T14:30Z")
	c := testClient(t, srv, ClientConfig{Timezone: "Europe/Berlin"}, WithClock(func() time.Time { return now }))
	s := mustStream(NewExtractor("conversions", c, testModel{}, Options{UpdateFilter: true, StartDate: day("2024-11-01")}))
	ws := s.Plan(ts("2025-03-10T10:00Z"), now)
	if len(ws) != 1 {
		t.Fatalf("windows %q", wins(ws))
	}
	if _, _, _, err := collect(t, context.Background(), s, ws[0]); err != nil {
		t.Fatal(err)
	}
	got := f.requests()[0].URL.Query()
	// Asked in UTC although api.timezone is Berlin; start_date is Berlin's
	// 11-01, which begins on UTC's 10-31.
	for k, v := range map[string]string{
		"date_from": "2024-10-31", "date_to": "2025-03-10", "timezone": "UTC",
		"update_from_date": "2025-03-10", "update_from_hour": "10", "update_to_date": "2025-03-10", "update_to_hour": "14",
	} {
		if got.Get(k) != v {
			t.Errorf("%s = %q, want %q (query %s)", k, got.Get(k), v, got.Encode())
		}
	}
}
