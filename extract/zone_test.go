package extract

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/syncd/syncd/models"
	"github.com/syncd/syncd/plan"
)

// Rows are asked for, planned and read in UTC whatever api.timezone is;
// only stats_daily, whose days are the network's calendar days, uses it.
func TestStreamZones(t *testing.T) {
	for _, tz := range []string{"Europe/Berlin", "America/New_York", "Asia/Kolkata"} {
		t.Run(tz, func(t *testing.T) {
			now := ts("2026-10-26T08:30Z")
			c := planClient(t, tz, now)
			network, _ := time.LoadLocation(tz)
			for _, name := range models.Names() {
				s := mustStream(NewExtractor(name, c, testModel{}, Options{
					StartDate: day("2026-10-20"), UpdateFilter: true, Slices: []string{"day", "offer"}}))
				want := time.UTC
				if name == "stats_daily" {
					want = network
				}
				if s.Location().String() != want.String() {
					t.Errorf("%s: Location %s, want %s", name, s.Location(), want)
				}
				ws := s.Plan(time.Time{}, now)
				for i, w := range ws {
					if got := s.Query(w).Get("timezone"); got != want.String() {
						t.Errorf("%s window %d: timezone=%q, want %q", name, i, got, want)
					}
					if w.Snapshot {
						continue
					}
					if !w.From.Equal(plan.HourStart(w.From, want)) {
						t.Errorf("%s window %s does not start on an hour of %s", name, win(w), want)
					}
					if (name == "stats_daily" || name == "server_postbacks") && !w.From.Equal(plan.DayStart(w.From, want)) {
						t.Errorf("%s window %s does not start on a midnight of %s", name, win(w), want)
					}
				}
				// The first window holds start_date's first instant in the
				// network's calendar.
				// (clicks keep 7 days; currency_rates is today's snapshot only.)
				if first := time.Date(2026, 10, 20, 0, 0, 0, 0, network); name != "clicks" && name != "currency_rates" && !ws[0].Snapshot &&
					(first.Before(ws[0].From) || !first.Before(ws[0].To)) {
					t.Errorf("%s: first window %s misses %s", name, win(ws[0]), first)
				}
			}
		})
	}
}

// Affise's offset-less times are read in the zone they were asked in: a
// conversion at 00:30Z on Berlin's fall-back day was rendered "02:30:00"
// in Berlin, which reads back as 01:30Z (the same text names both); asked
// in UTC it is "00:30:00", exactly.
func TestRowTimesReadInUTC(t *testing.T) {
	var zones []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		zone := r.URL.Query().Get("timezone")
		zones = append(zones, zone)
		loc, err := time.LoadLocation(zone)
		if err != nil {
			loc = time.UTC // Affise's platform zone
		}
		created := ts("2026-10-25T00:30Z").In(loc).Format(time.DateTime)
		json.NewEncoder(w).Encode(map[string]any{"status": 1, "conversions": []map[string]any{
			{"id": "c1", "status": "confirmed", "created_at": created, "updated_at": created}},
			"pagination": map[string]any{"per_page": 500, "total_count": 1, "page": 1}})
	}))
	defer srv.Close()
	now := ts("2026-10-25T12:00Z")
	c := testClient(t, srv, ClientConfig{Timezone: "Europe/Berlin"}, WithClock(func() time.Time { return now }))
	s := mustStream(NewExtractor("conversions", c, models.Conversions(), Options{UpdateFilter: true, StartDate: day("2026-10-20")}))
	var got []time.Time
	_, err := s.Fetch(context.Background(), Window{From: day("2026-10-25"), To: now, Advance: now}, func(rec arrow.RecordBatch) error {
		for _, name := range []string{"created_at", "updated_at"} {
			col := rec.Column(rec.Schema().FieldIndices(name)[0]).(*array.Timestamp)
			unit := rec.Schema().Field(rec.Schema().FieldIndices(name)[0]).Type.(*arrow.TimestampType).Unit
			got = append(got, col.Value(0).ToTime(unit).UTC())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(zones) != 1 || zones[0] != "UTC" {
		t.Errorf("asked in %q, want UTC", zones)
	}
	for _, g := range got {
		if !g.Equal(ts("2026-10-25T00:30Z")) {
			t.Errorf("stored %s, want 2026-10-25T00:30Z", g)
		}
	}
	if len(got) != 2 {
		t.Fatalf("%d times read", len(got))
	}
}
