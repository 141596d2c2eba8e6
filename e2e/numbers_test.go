package e2e

import (
	"testing"
	"time"
)

// A conversion confirmed 35-55 days after it was created gets its new
// status, whether the warehouse reached that far through start_date or
// through a backfill: update-time passes ask Affise for conversions created
// from the first day the warehouse holds. (Before, they asked from 30 days
// before each window and such changes were lost for good.)
func TestOldConversionsStatusChangesLand(t *testing.T) {
	for _, how := range []string{"start_date", "backfill"} {
		t.Run(how, func(t *testing.T) {
			s := startSim(t, "--seed", "5", "--conversions", "4000", "--days", "100")
			from := time.Now().UTC().AddDate(0, 0, -60).Format(time.DateOnly)
			extra := ""
			if how == "start_date" {
				extra = "streams:\n  conversions: {start_date: " + from + "}\n"
			}
			e := newEnv(t, s, extra)
			e.mustSync(t, "--stream", "conversions")
			if how == "backfill" {
				if r := e.syncd(t, "backfill", "--stream", "conversions", "--from", from); r.code != 0 {
					t.Fatalf("backfill: exit %d\n%s", r.code, tail(r.stderr, 2000))
				}
			}
			var churn struct{ Changed int }
			s.control(t, "POST", "/_sim/churn?n=60&min_age=35d&max_age=55d", nil, &churn)
			if churn.Changed == 0 {
				t.Fatal("the simulator changed no old conversion")
			}
			e.mustSync(t, "--stream", "conversions")

			truth := map[string]string{}
			changed := 0
			lo, hi := time.Now().UTC().AddDate(0, 0, -56), time.Now().UTC().AddDate(0, 0, -34)
			for _, r := range s.truth(t, "conversions") {
				truth[str(r["id"])] = str(r["status"])
				if c, err := time.Parse(time.DateTime, str(r["created_at"])); err == nil && c.After(lo) && c.Before(hi) && str(r["updated_at"]) > time.Now().UTC().Add(-time.Hour).Format(time.DateTime) {
					changed++
				}
			}
			if changed == 0 {
				t.Fatal("no conversion 35-55 days old was changed within the hour; the test proves nothing")
			}
			db := e.openDB(t)
			rows := queryStrings(t, db, `SELECT id, status FROM conversions WHERE created_at >= '`+from+`'`)
			wrong := 0
			for _, r := range rows {
				if truth[r[0]] != r[1] {
					wrong++
					if wrong <= 5 {
						t.Errorf("conversion %s: %s in the warehouse, %s at Affise", r[0], r[1], truth[r[0]])
					}
				}
			}
			if wrong > 0 {
				t.Errorf("%d of %d conversions have a stale status", wrong, len(rows))
			}
			t.Logf("%d old conversions changed; %d compared", churn.Changed, len(rows))
		})
	}
}
