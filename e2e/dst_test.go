package e2e

import (
	"strconv"
	"testing"
	"time"
)

// Affise renders row times as wall-clock text without an offset. In the
// hour a fall-back change repeats, that text names two instants, so rows
// requested in api.timezone were stored an hour off. Each case replays
// three days around one change, with the simulator's platform zone and
// api.timezone both set to the changing zone, and needs every stored time
// to equal the simulator's truth.
func TestDSTChangesStoreExactTimes(t *testing.T) {
	for _, tc := range []struct{ zone, day string }{
		{"Europe/Berlin", "2026-03-29"},
		{"Europe/Berlin", "2026-10-25"},
		{"America/New_York", "2026-03-08"},
		{"America/New_York", "2026-11-01"},
	} {
		t.Run(tc.zone+" "+tc.day, func(t *testing.T) {
			day, _ := time.Parse(time.DateOnly, tc.day)
			// The history ends at noon UTC the day after the change, on an
			// hour, so every click is in a closed hour and gets synced.
			now := day.Add(36 * time.Hour)
			clock := now.Format(time.RFC3339)
			s := startSim(t, "--seed", "11", "--conversions", "600", "--days", "3", "--clicks-per-conversion", "2",
				"--timezone", tc.zone, "--anchor", clock, "--clock", clock)
			from := day.AddDate(0, 0, -2).Format(time.DateOnly)
			e := newEnvIn(t, s, tc.zone, `streams:
  conversions: {start_date: `+from+`}
  server_postbacks: {start_date: `+from+`}
  affiliate_postbacks: {start_date: `+from+`}
  stats_daily: {start_date: `+from+`}
`)
			e.replay(now)

			change := transition(t, e.loc, day)
			for _, stream := range []string{"conversions", "clicks"} {
				before, after := 0, 0
				for _, r := range s.truth(t, stream) {
					c, err := time.Parse(time.DateTime, str(r["created_at"]))
					if err != nil {
						t.Fatal(err)
					}
					switch {
					case !c.Before(change.Add(-time.Hour)) && c.Before(change):
						before++
					case !c.Before(change) && c.Before(change.Add(time.Hour)):
						after++
					}
				}
				if before == 0 || after == 0 {
					t.Fatalf("%s: %d rows in the hour before the change at %s, %d in the hour after; the test proves nothing",
						stream, before, change, after)
				}
			}

			e.mustSync(t)
			// Times of conversions (created_at, updated_at), clicks and
			// postbacks, stats_daily per day of the zone, no duplicates.
			assertEqualsSimulator(t, e)
			db := e.openDB(t)
			for _, table := range []string{"conversions", "clicks", "server_postbacks", "affiliate_postbacks", "offers", "partners", "advertisers"} {
				got := queryStrings(t, db, `SELECT count(*)::VARCHAR FROM `+table)[0][0]
				if want := strconv.Itoa(len(s.truth(t, table))); got != want {
					t.Errorf("%s: warehouse holds %s rows, simulator %s", table, got, want)
				}
			}
		})
	}
}

// transition is the instant loc's offset changes on day (a UTC date).
func transition(t *testing.T, loc *time.Location, day time.Time) time.Time {
	t.Helper()
	_, end := day.Add(-12 * time.Hour).In(loc).ZoneBounds()
	if end.Before(day.Add(-12*time.Hour)) || !end.Before(day.Add(36*time.Hour)) {
		t.Fatalf("%s does not change offset around %s", loc, day.Format(time.DateOnly))
	}
	return end.UTC()
}
