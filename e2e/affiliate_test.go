package e2e

import (
	"os"
	"strings"
	"testing"
)

// An affiliate's key may not filter by update time nor read partners and
// advertisers: with api.role affiliate, conversions are read by creation
// date and the sync sees exactly that affiliate's rows.
func TestAffiliateKeySyncsItsOwnConversions(t *testing.T) {
	const affKey = "e2e-affiliate-key-0123456789"
	s := startSim(t, "--seed", "9", "--conversions", "1500", "--days", "10", "--affiliate-key", affKey, "--affiliate-partner", "3")
	e := newEnv(t, s, `  role: affiliate
streams:
  partners: {enabled: false}
  advertisers: {enabled: false}
  stats_daily: {slices: [day, offer, country]}
`)
	// newEnv appended role under warehouse: move it under api.
	fixAffiliateConfig(t, e)
	admin := s.Key
	s.Key = affKey
	e.mustSync(t, "--stream", "conversions,offers,stats_daily")
	s.Key = admin

	var want [][]string
	for _, r := range s.truth(t, "conversions") {
		if str(r["partner_id"]) == "3" {
			want = append(want, []string{str(r["id"]), str(r["status"]), num(r["payouts"])})
		}
	}
	if len(want) == 0 {
		t.Fatal("the simulator's affiliate 3 has no conversions; the test proves nothing")
	}
	db := e.openDB(t)
	got := queryStrings(t, db, `SELECT id, status, payouts::DECIMAL(18,2)::VARCHAR FROM conversions`)
	compareRows(t, "affiliate conversions", got, want)
	if n := queryStrings(t, db, `SELECT count(*)::VARCHAR FROM stats_daily`); n[0][0] == "0" {
		t.Error("stats_daily is empty for the affiliate")
	}
}

func fixAffiliateConfig(t *testing.T, e *env) {
	t.Helper()
	b, err := os.ReadFile(e.config)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(b), "  role: affiliate\n", "", 1)
	cfg = strings.Replace(cfg, "api:\n", "api:\n  role: affiliate\n", 1)
	if err := os.WriteFile(e.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}
