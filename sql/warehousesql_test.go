package warehousesql

import (
	"strings"
	"testing"
)

func TestViewsParse(t *testing.T) {
	want := map[string]string{
		"daily_revenue":         "conversions",
		"conversions_by_status": "conversions",
		"daily_revenue_rc":      "conversions",
		"cr_epc_by_offer_day":   "stats_daily",
		"cr_epc_by_partner_day": "stats_daily",
		"cr_epc_by_country_day": "stats_daily",
	}
	vs, err := Views()
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != len(want) {
		t.Fatalf("got %d views", len(vs))
	}
	for _, v := range vs {
		if want[v.Name] == "" || v.Requires[0].Table != want[v.Name] || len(v.Requires[0].Columns) == 0 {
			t.Errorf("view %s: requires %+v", v.Name, v.Requires)
		}
		if !strings.Contains(v.SQL, "CREATE OR REPLACE VIEW "+v.Name+" AS") {
			t.Errorf("view %s: SQL does not create it", v.Name)
		}
	}
	// Views returns copies.
	vs[0].Requires[0].Columns[0] = "changed"
	if again, _ := Views(); again[0].Requires[0].Columns[0] == "changed" {
		t.Fatal("Views shares its slices")
	}
	for _, name := range []string{"daily_summary", "top_offers.sql", "sql/reports/top_partners.sql"} {
		if q, err := Report(name); err != nil || !strings.Contains(q, "SELECT") {
			t.Errorf("Report(%q) = %q, %v", name, q, err)
		}
	}
}
