package affisesim

import (
	"testing"
	"time"
)

// A history of 100 days holds conversions old enough for long hold
// periods, and aged churn settles only those of the asked age.
func TestChurnByAge(t *testing.T) {
	s, clk := newSim(t, func(c *Config) { c.Conversions = 8000; c.Days = 100 })
	before := truth(t, s, "conversions")
	oldest := parseTS(t, before[0]["created_at"], time.UTC)
	if age := testAnchor.Sub(oldest); age < 99*24*time.Hour || age > 100*24*time.Hour {
		t.Fatalf("oldest conversion is %v old", age)
	}
	// Clicks are still kept for the retention only; custom stats have the
	// traffic of every day.
	for _, c := range truth(t, s, "clicks") {
		if testAnchor.Sub(parseTS(t, c["created_at"], time.UTC)) > 7*24*time.Hour {
			t.Fatalf("click from %v kept", c["created_at"])
		}
	}
	rows, _ := mustList(t, s, "/3.0/stats/custom?slice[]=day&filter[date_from]=2024-12-10&filter[date_to]=2024-12-10", "stats")
	if len(rows) != 1 || rows[0]["traffic"].(map[string]any)["raw"] == "0" {
		t.Errorf("custom stats 95 days ago: %v", rows)
	}

	window := "/3.0/stats/conversions?date_from=2024-12-01&date_to=2025-03-15&update_from_date=2025-03-15&update_from_hour=12&update_to_date=2025-03-15&update_to_hour=12"
	inWindow := ids(walkAll(t, s, window, "conversions", 500))
	now := testAnchor.Add(20 * time.Minute)
	clk.Set(now)
	lo, hi := now.Add(-90*24*time.Hour), now.Add(-30*24*time.Hour)
	candidates := 0
	for _, c := range before {
		cr := parseTS(t, c["created_at"], time.UTC)
		if st := c["status"]; (st == "pending" || st == "hold") && !cr.Before(lo) && !cr.After(hi) {
			candidates++
		}
	}
	if candidates < 150 {
		t.Fatalf("only %d pending or hold conversions 30-90 days old", candidates)
	}
	for _, bad := range []string{"n=5&min_age=abc", "n=5&min_age=-1h", "n=5&min_age=90d&max_age=30d", "n=x&min_age=1d"} {
		if r := call(t, s, "POST", "/_sim/churn?"+bad, ""); r.code != 400 {
			t.Errorf("%s: %d", bad, r.code)
		}
	}
	r := call(t, s, "POST", "/_sim/churn?n=100&min_age=30d&max_age=2160h", "")
	if r.code != 200 || r.body["changed"] != float64(100) || r.body["created"] != float64(0) {
		t.Fatalf("aged churn: %d %s", r.code, r.raw)
	}
	after := truth(t, s, "conversions")
	if len(after) != len(before) {
		t.Fatalf("aged churn created conversions: %d -> %d", len(before), len(after))
	}
	stamp := now.Format(time.DateTime)
	var changed []string
	for i, c := range after {
		b := before[i]
		if c["status"] == b["status"] && c["updated_at"] == b["updated_at"] {
			continue
		}
		cr := parseTS(t, c["created_at"], time.UTC)
		if cr.Before(lo) || cr.After(hi) {
			t.Errorf("%v created %v changed: outside 30-90 days", c["id"], cr)
		}
		if b["status"] != "pending" && b["status"] != "hold" {
			t.Errorf("%v was %v", c["id"], b["status"])
		}
		if c["status"] != "confirmed" && c["status"] != "declined" {
			t.Errorf("%v became %v", c["id"], c["status"])
		}
		if c["updated_at"] != stamp {
			t.Errorf("%v updated_at %v, want %s", c["id"], c["updated_at"], stamp)
		}
		changed = append(changed, c["id"].(string))
	}
	if len(changed) != 100 {
		t.Fatalf("%d conversions changed, want 100", len(changed))
	}
	// An update-time query over the whole history finds them, besides what
	// it found before.
	got := ids(walkAll(t, s, window, "conversions", 500))
	if want := append(inWindow, changed...); !sameSet(got, want) {
		t.Errorf("update window finds %d conversions, want %d before + %d changed", len(got), len(inWindow), len(changed))
	}
	// Asking for more than there are settles what there is; only max_age
	// bounds from below, only min_age from above.
	if n := s.ChurnAged(1000000, 30*24*time.Hour, 90*24*time.Hour); n != candidates-100 {
		t.Errorf("settled %d, %d were left", n, candidates-100)
	}
	if r := call(t, s, "POST", "/_sim/churn?n=1000000&min_age=30d&max_age=90d", ""); r.body["changed"] != float64(0) {
		t.Errorf("nothing left to settle, changed %v", r.body["changed"])
	}
	if r := call(t, s, "POST", "/_sim/churn?n=3&max_age=1d", ""); r.code != 200 || r.body["changed"] != float64(3) {
		t.Errorf("max_age only: %s", r.raw)
	}
	if r := call(t, s, "POST", "/_sim/churn?n=3&min_age=95d", ""); r.code != 200 || r.body["changed"] != float64(3) {
		t.Errorf("min_age only: %s", r.raw)
	}
	for _, c := range truth(t, s, "conversions") {
		if c["updated_at"] == stamp {
			cr := parseTS(t, c["created_at"], time.UTC)
			if a := now.Sub(cr); !(a <= 24*time.Hour || a >= 95*24*time.Hour || (a >= 30*24*time.Hour && a <= 90*24*time.Hour)) {
				t.Errorf("%v (%v old) changed", c["id"], a)
			}
		}
	}
}
