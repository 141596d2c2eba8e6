package models

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

var plainIdent = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// TestIdentifiersArePlain: every table and column name a model hands to the
// loaders is a plain lower-case identifier, whatever the configured slices,
// and StatsDaily accepts only its allow-list, so nothing from the config
// can reach SQL as a name.
func TestIdentifiersArePlain(t *testing.T) {
	all := []Model{Conversions(), Clicks(), ServerPostbacks(), AffiliatePostbacks(), Offers(), Partners(), Advertisers()}
	full, err := StatsDaily(slices.DeleteFunc(slices.Clone(StatsSlices), func(s string) bool { return s == "affiliate" }))
	if err != nil {
		t.Fatal(err)
	}
	all = append(all, full)
	for _, m := range all {
		if !plainIdent.MatchString(m.Table()) {
			t.Errorf("table %q", m.Table())
		}
		for _, f := range m.Schema().Fields() {
			if !plainIdent.MatchString(f.Name) {
				t.Errorf("%s: column %q", m.Table(), f.Name)
			}
		}
	}
	for _, s := range []string{`day"; DROP TABLE stats_daily; --`, "offer,country", "offer country", "OFFER", " offer_id",
		"offer_id", "sub6", "hour", "day\x00", "country--", "Day", "ｄａｙ", "", "slice[]", "offer&slice[]=x"} {
		if _, err := StatsDaily([]string{"day", s}); err == nil {
			t.Errorf("slice %q accepted", s)
		} else if !strings.Contains(err.Error(), "unknown slice") {
			t.Errorf("slice %q: %v", s, err)
		}
	}
}

// FuzzStatsDailySlices: any slice list StatsDaily accepts consists of
// allow-listed names only and yields plain column names.
func FuzzStatsDailySlices(f *testing.F) {
	f.Add("day,offer,country")
	f.Add(`day,x"; DROP TABLE t; --`)
	f.Add("day, partner ,affiliate")
	f.Fuzz(func(t *testing.T, list string) {
		in := strings.Split(list, ",")
		m, err := StatsDaily(in)
		if err != nil {
			return
		}
		for _, s := range in {
			if !slices.Contains(StatsSlices, strings.TrimSpace(s)) {
				t.Fatalf("accepted slice %q", s)
			}
		}
		for _, f := range m.Schema().Fields() {
			if !plainIdent.MatchString(f.Name) {
				t.Fatalf("column %q", f.Name)
			}
		}
	})
}
