package affisesim

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// dstDays are the 2026 changes of the zones syncd's users most often set:
// a spring-forward day (one wall hour never happens) and a fall-back day
// (one wall hour happens twice).
var dstDays = []struct {
	zone, day string
	// hour is the skipped (spring) or repeated (autumn) wall hour.
	hour     int
	repeated bool
}{
	{"Europe/Berlin", "2026-03-29", 2, false},
	{"Europe/Berlin", "2026-10-25", 2, true},
	{"America/New_York", "2026-03-08", 2, false},
	{"America/New_York", "2026-11-01", 1, true},
}

// Affise filters by the wall-clock text it renders in the requested zone:
// every row a date/hour filter returns reads that date and hour, and the
// hours of a day together return exactly the day's rows. On a fall-back day
// the repeated hour therefore holds two real hours of rows; on a
// spring-forward day the skipped hour holds none.
func TestWallClockFiltersAcrossDST(t *testing.T) {
	for _, tc := range dstDays {
		t.Run(tc.zone+" "+tc.day, func(t *testing.T) {
			loc, err := time.LoadLocation(tc.zone)
			if err != nil {
				t.Fatal(err)
			}
			d, _ := time.Parse(time.DateOnly, tc.day)
			anchor := d.Add(36 * time.Hour)
			s, _ := newSim(t, func(c *Config) {
				c.Now, c.Clock = anchor, func() time.Time { return anchor }
				c.Days, c.Conversions, c.ClicksPerConversion = 3, 1200, 2
			})
			wall := func(v any) string { return parseTS(t, v, time.UTC).In(loc).Format(time.DateTime) }
			tz := "&timezone=" + tc.zone + "&date_from=" + tc.day + "&date_to=" + tc.day

			for _, f := range []struct {
				stream, list, field, path string
				hour                      func(h int) string
			}{
				{"conversions", "conversions", "created_at", "/3.0/stats/conversions?x=1" + tz, func(h int) string { return fmt.Sprintf("&hour=%d", h) }},
				{"clicks", "clicks", "created_at", "/3.0/stats/clicks?x=1" + tz, func(h int) string { return fmt.Sprintf("&hour=%d", h) }},
				{"conversions", "conversions", "updated_at",
					"/3.0/stats/conversions?timezone=" + tc.zone + "&date_from=" + d.AddDate(0, 0, -4).Format(time.DateOnly) + "&date_to=" + d.AddDate(0, 0, 2).Format(time.DateOnly),
					func(h int) string {
						return fmt.Sprintf("&update_from_date=%s&update_from_hour=%d&update_to_date=%s&update_to_hour=%d", tc.day, h, tc.day, h)
					}},
			} {
				// The day's rows by the zone's own rendering of the truth.
				var want []string
				inHour := map[int][]string{}
				twice := map[string]bool{} // UTC hours that read as the repeated hour
				for _, r := range truth(t, s, f.stream) {
					w := wall(r[f.field])
					if w[:10] != tc.day {
						continue
					}
					id := fmt.Sprint(r["id"])
					want = append(want, id)
					h := int(w[11]-'0')*10 + int(w[12]-'0')
					inHour[h] = append(inHour[h], id)
					if h == tc.hour {
						twice[parseTS(t, r[f.field], time.UTC).Format("15")] = true
					}
				}
				if tc.repeated && len(twice) != 2 {
					t.Fatalf("%s %s: the truth has no rows in both occurrences of hour %d; the test proves nothing", f.stream, f.field, tc.hour)
				}
				if f.field == "created_at" {
					rows := walkAll(t, s, f.path, f.list, 500)
					if got := ids(rows); !sameSet(got, want) {
						t.Errorf("%s by day: %d rows, want %d", f.stream, len(got), len(want))
					}
				}
				var union []string
				for h := 0; h < 24; h++ {
					rows := walkAll(t, s, f.path+f.hour(h), f.list, 500)
					for _, r := range rows {
						// Rows come rendered in the requested zone.
						if w := r[f.field].(string); w[:13] != fmt.Sprintf("%s %02d", tc.day, h) {
							t.Fatalf("%s hour %d returned %s %s (%s)", f.stream, h, f.field, w, tc.zone)
						}
					}
					if got := ids(rows); !sameSet(got, inHour[h]) {
						t.Errorf("%s %s hour %d: %d rows, want %d", f.stream, f.field, h, len(got), len(inHour[h]))
					}
					union = append(union, ids(rows)...)
				}
				if !sameSet(union, want) {
					t.Errorf("%s %s: hours 0..23 return %d rows, the day holds %d", f.stream, f.field, len(union), len(want))
				}
				if !tc.repeated && len(inHour[tc.hour]) != 0 {
					t.Fatalf("truth renders a skipped hour")
				}
			}
		})
	}
}

func ids(rows []map[string]any) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = fmt.Sprint(r["id"])
	}
	return out
}

// sameSet: the same ids, none repeated.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b) && len(slices.Compact(a)) == len(b)
}
