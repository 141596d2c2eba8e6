package e2e

import (
	"testing"
	"time"
)

// backfill's --from and --to are days of api.timezone's calendar, although
// conversions are asked for by UTC day: every conversion created on the
// day, as the network's clock reads it, is loaded. East of UTC the day
// starts on the UTC day before; west of it, it ends on the UTC day after.
func TestBackfillDaysAreTheNetworksDays(t *testing.T) {
	for _, zone := range []string{"Asia/Tokyo", "America/Los_Angeles"} {
		t.Run(zone, func(t *testing.T) {
			s := startSim(t, "--seed", "5", "--conversions", "800", "--days", "5", "--timezone", zone)
			e := newEnvIn(t, s, zone, "")
			day := time.Now().In(e.loc).AddDate(0, 0, -2).Format(time.DateOnly)
			if r := e.syncd(t, "backfill", "--stream", "conversions", "--from", day, "--to", day); r.code != 0 {
				t.Fatalf("backfill exit %d\n%s", r.code, tail(r.stderr, 4000))
			}
			var want [][]string
			for _, r := range s.truth(t, "conversions") {
				c, err := time.Parse(time.DateTime, str(r["created_at"]))
				if err != nil {
					t.Fatal(err)
				}
				if c.In(e.loc).Format(time.DateOnly) == day {
					want = append(want, []string{str(r["id"]), str(r["created_at"])})
				}
			}
			if len(want) == 0 {
				t.Fatalf("no conversions on %s; the test proves nothing", day)
			}
			db := e.openDB(t)
			var got [][]string
			for _, r := range queryStrings(t, db, `SELECT id, `+tsCol("created_at")+` FROM conversions`) {
				c, err := time.Parse(time.DateTime, r[1])
				if err != nil {
					t.Fatal(err)
				}
				if c.In(e.loc).Format(time.DateOnly) == day {
					got = append(got, r)
				}
			}
			compareRows(t, "conversions of "+day+" in "+zone, got, want)
		})
	}
}
