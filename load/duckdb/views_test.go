package duckdb

import (
	gosql "database/sql"
	"slices"
	"testing"
	"time"

	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/models"
	warehousesql "github.com/syncd/syncd/sql"
)

// viewNames are package warehousesql's views the warehouse has (each
// table's _raw view, see RawView, is left out).
func viewNames(t testing.TB, s *Sink) []string {
	return queryStrings(t, s, `SELECT view_name FROM duckdb_views() WHERE NOT internal AND schema_name = 'main' AND NOT suffix(view_name, '_raw') ORDER BY 1`)
}

func statsModel(t testing.TB, slices ...string) models.Model {
	m, err := models.StatsDaily(slices)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func loadViewDataset(t testing.TB, s *Sink, d1, d2 time.Time) {
	conv := models.Conversions()
	loadRows(t, s, load.Target{Model: conv, Mode: models.Upsert}, nil, []row{
		{"id": "c1", "currency": "USD", "status": "confirmed", "offer_id": 1, "partner_id": 10, "revenue": "10", "payouts": "6", "created_at": d1.Add(time.Hour)},
		{"id": "c2", "currency": "USD", "status": "pending", "offer_id": 1, "partner_id": 10, "revenue": "5", "payouts": "3", "created_at": d1.Add(2 * time.Hour)},
		{"id": "c3", "currency": "USD", "status": "declined", "offer_id": 1, "partner_id": 10, "revenue": "100", "payouts": "50", "created_at": d1.Add(3 * time.Hour)},
		{"id": "c4", "currency": "USD", "status": "hold", "offer_id": 1, "partner_id": 11, "revenue": "2", "payouts": "1", "created_at": d1.Add(23 * time.Hour)},
		{"id": "c5", "currency": "USD", "status": "confirmed", "offer_id": 2, "partner_id": 11, "revenue": "7.5", "payouts": "2.5", "created_at": d2},
		{"id": "c6", "currency": "USD", "status": "not_found", "offer_id": 2, "partner_id": 11, "revenue": "1", "payouts": "1", "created_at": d2},
		{"id": "c7", "currency": "USD", "status": "confirmed", "offer_id": 3, "partner_id": 12, "revenue": "1", "payouts": "0.25", "created_at": d2},
	})
}

func TestViews(t *testing.T) {
	s, path := openTest(t)
	d1, d2 := day("2025-01-01"), day("2025-01-02")
	if v := viewNames(t, s); len(v) != 0 {
		t.Fatalf("views before any table: %v", v)
	}
	loadViewDataset(t, s, d1, d2)
	// offers and partners are missing: daily_revenue waits for them.
	eq(t, viewNames(t, s), []string{"conversions_by_status"})
	eq(t, queryStrings(t, s, `SELECT view_name FROM duckdb_views() WHERE suffix(view_name, '_raw') ORDER BY 1`), []string{"conversions_raw"})

	loadRows(t, s, load.Target{Model: models.Offers(), Mode: models.ReplaceTable}, nil, []row{
		{"id": 1, "title": "Offer One"}, {"id": 2, "title": "Offer Two"},
	})
	loadRows(t, s, load.Target{Model: models.Partners(), Mode: models.ReplaceTable}, nil, []row{
		{"id": 10, "email": "a@x"}, {"id": 11, "email": "b@x"},
	})
	eq(t, viewNames(t, s), []string{"conversions_by_status", "daily_revenue"})

	// conversions counts every status, not_found included, and the status
	// columns add up to it.
	eq(t, queryStrings(t, s, `SELECT day, offer_id, offer_title, partner_id, partner_email, conversions, confirmed, pending, declined, hold, not_found,
			revenue::VARCHAR, payouts::VARCHAR, profit::VARCHAR FROM daily_revenue ORDER BY ALL`), []string{
		"2025-01-01T00:00:00|1|Offer One|10|a@x|3|1|1|1|0|0|15.0000|9.0000|6.0000",
		"2025-01-01T00:00:00|1|Offer One|11|b@x|1|0|0|0|1|0|2.0000|1.0000|1.0000",
		"2025-01-02T00:00:00|2|Offer Two|11|b@x|2|1|0|0|0|1|7.5000|2.5000|5.0000",
		"2025-01-02T00:00:00|3|NULL|12|NULL|1|1|0|0|0|0|1.0000|0.2500|0.7500",
	})
	eq(t, queryStrings(t, s, `SELECT count(*) FROM daily_revenue WHERE conversions <> confirmed + pending + declined + hold + not_found`), []string{"0"})
	eq(t, queryStrings(t, s, `SELECT day, status, count, revenue::VARCHAR, payouts::VARCHAR FROM conversions_by_status ORDER BY ALL`), []string{
		"2025-01-01T00:00:00|confirmed|1|10.0000|6.0000",
		"2025-01-01T00:00:00|declined|1|100.0000|50.0000",
		"2025-01-01T00:00:00|hold|1|2.0000|1.0000",
		"2025-01-01T00:00:00|pending|1|5.0000|3.0000",
		"2025-01-02T00:00:00|confirmed|2|8.5000|2.7500",
		"2025-01-02T00:00:00|not_found|1|1.0000|1.0000",
	})

	// stats_daily sliced by day, offer, partner, country.
	st := statsModel(t, "day", "offer", "partner", "country")
	loadRows(t, s, load.Target{Model: st, Mode: models.ReplaceDays, From: d1, To: d2}, nil, []row{
		{"day": d1, "offer_id": 1, "partner_id": 10, "country": "US", "clicks_raw": 100, "clicks_uniq": 80,
			"confirmed_count": 2, "pending_count": 1, "hold_count": 1, "declined_count": 5,
			"confirmed_revenue": "4", "pending_revenue": "1", "hold_revenue": "1", "declined_revenue": "9",
			"confirmed_charge": "10", "pending_charge": "2", "hold_charge": "2", "declined_charge": "20"},
		{"day": d1, "offer_id": 1, "partner_id": 11, "country": "DE", "clicks_raw": 50, "clicks_uniq": 50,
			"confirmed_count": 1, "confirmed_revenue": "2", "confirmed_charge": "3"},
		{"day": d1, "offer_id": 2, "partner_id": 11, "country": "US"},
	})
	eq(t, viewNames(t, s), []string{"conversions_by_status", "cr_epc_by_country_day", "cr_epc_by_offer_day", "cr_epc_by_partner_day", "daily_revenue"})
	eq(t, queryStrings(t, s, `SELECT day, offer_id, clicks, unique_clicks, conversions, confirmed, declined, revenue::VARCHAR, payouts::VARCHAR, profit::VARCHAR,
			round(cr, 4), round(cr_unique, 4), round(epc, 4), round(revenue_per_click, 4) FROM cr_epc_by_offer_day ORDER BY ALL`), []string{
		"2025-01-01T00:00:00|1|150|130|5|3|5|17.0000|8.0000|9.0000|0.0333|0.0385|0.0533|0.1133",
		"2025-01-01T00:00:00|2|0|0|0|0|0|0.0000|0.0000|0.0000|NULL|NULL|NULL|NULL",
	})
	eq(t, queryStrings(t, s, `SELECT partner_id, clicks, conversions, payouts::VARCHAR, round(epc, 4) FROM cr_epc_by_partner_day ORDER BY ALL`), []string{
		"10|100|4|6.0000|0.06",
		"11|50|1|2.0000|0.04",
	})
	eq(t, queryStrings(t, s, `SELECT country, clicks, conversions, revenue::VARCHAR, round(cr, 4) FROM cr_epc_by_country_day ORDER BY ALL`), []string{
		"DE|50|1|3.0000|0.02",
		"US|100|4|14.0000|0.04",
	})

	// Slices change: a new file with stats_daily by day and offer only gets
	// the offer view, not the partner and country ones.
	s.Close()
	s2, _ := openTest(t)
	loadRows(t, s2, load.Target{Model: statsModel(t, "day", "offer"), Mode: models.ReplaceDays, From: d1, To: d2}, nil,
		[]row{{"day": d1, "offer_id": 1, "clicks_raw": 10, "confirmed_count": 1}})
	eq(t, viewNames(t, s2), []string{"cr_epc_by_offer_day"})
	eq(t, queryStrings(t, s2, `SELECT clicks, conversions, cr FROM cr_epc_by_offer_day`), []string{"10|1|0.1"})

	// Reopening the first file recreates its views (idempotent).
	s2.Close()
	s3, err := Open(bg, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Close()
	if got := viewNames(t, s3); len(got) != 5 {
		t.Fatalf("views after reopen: %v", got)
	}
}

func TestReports(t *testing.T) {
	s, _ := openTest(t)
	today := time.Now().UTC().Truncate(24 * time.Hour)
	loadViewDataset(t, s, today.AddDate(0, 0, -2), today.AddDate(0, 0, -1))
	// An old conversion outside the 30 days.
	loadRows(t, s, load.Target{Model: models.Conversions(), Mode: models.Upsert}, nil, []row{
		{"id": "old", "status": "confirmed", "currency": "USD", "offer_id": 1, "partner_id": 10, "revenue": "1000", "payouts": "1", "created_at": today.AddDate(0, 0, -40)},
		// Euros on a day of dollars: never added to them.
		{"id": "e1", "status": "confirmed", "currency": "EUR", "offer_id": 1, "partner_id": 10, "revenue": "50", "payouts": "20", "created_at": today.AddDate(0, 0, -1)},
	})
	loadRows(t, s, load.Target{Model: models.Offers(), Mode: models.ReplaceTable}, nil, []row{{"id": 1, "title": "Offer One"}, {"id": 2, "title": "Offer Two"}})
	loadRows(t, s, load.Target{Model: models.Partners(), Mode: models.ReplaceTable}, nil, []row{{"id": 10, "email": "a@x"}, {"id": 11, "email": "b@x"}})
	// Another network, whose ids are its own: its c1 and offer 1 are not
	// the default network's.
	beta := s.ForNetwork("beta").(*Sink)
	loadRows(t, beta, load.Target{Model: models.Conversions(), Mode: models.Upsert}, nil, []row{
		{"network": "beta", "id": "c1", "status": "confirmed", "currency": "USD", "offer_id": 1, "partner_id": 10, "revenue": "3", "payouts": "1", "created_at": today.AddDate(0, 0, -1)},
	})
	loadRows(t, beta, load.Target{Model: models.Offers(), Mode: models.ReplaceTable}, nil, []row{{"network": "beta", "id": 1, "title": "Beta One"}})

	names := []string{}
	reports, err := warehousesql.Reports()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reports {
		names = append(names, r.Name)
	}
	if !slices.Equal(names, []string{"conversions_by_status", "cr_epc_by_country", "cr_epc_by_offer", "cr_epc_by_partner", "daily_summary", "top_offers", "top_partners"}) {
		t.Fatalf("reports: %v", names)
	}
	// The CR/EPC reports add up to the clicks and conversions stats_daily holds.
	d := today.AddDate(0, 0, -1)
	loadRows(t, s, load.Target{Model: statsModel(t, "day", "offer", "partner", "country"), Mode: models.ReplaceDays, From: d.AddDate(0, 0, -1), To: d.AddDate(0, 0, 1)}, nil, []row{
		{"day": d, "offer_id": 1, "partner_id": 10, "country": "US", "clicks_raw": 100, "confirmed_count": 2, "pending_count": 1, "confirmed_revenue": "4", "confirmed_charge": "10"},
		{"day": d.AddDate(0, 0, -1), "offer_id": 2, "partner_id": 11, "country": "DE", "clicks_raw": 40, "hold_count": 1, "hold_revenue": "1", "hold_charge": "2"},
	})
	total := queryStrings(t, s, `SELECT sum(clicks_raw)::VARCHAR || '|' || sum(confirmed_count + pending_count + hold_count)::VARCHAR FROM stats_daily`)
	eq(t, total, []string{"140|4"})
	for _, name := range []string{"cr_epc_by_offer", "cr_epc_by_partner", "cr_epc_by_country"} {
		sql, err := warehousesql.Report(name)
		if err != nil {
			t.Fatal(err)
		}
		eq(t, queryStrings(t, s, "SELECT sum(clicks)::VARCHAR || '|' || sum(conversions)::VARCHAR FROM ("+trimSemi(sql)+")"), total)
	}
	sql, err := warehousesql.Report("conversions_by_status")
	if err != nil {
		t.Fatal(err)
	}
	eq(t, queryStrings(t, s, "SELECT sum(conversions)::VARCHAR FROM ("+trimSemi(sql)+")"),
		queryStrings(t, s, "SELECT count(*)::VARCHAR FROM conversions WHERE created_at >= current_date - 14"))
	q := func(name string) string {
		sql, err := warehousesql.Report(name)
		if err != nil {
			t.Fatal(err)
		}
		return "SELECT * EXCLUDE (revenue, payouts, profit), revenue::VARCHAR, payouts::VARCHAR, profit::VARCHAR FROM (" + trimSemi(sql) + ")"
	}
	d2, d1 := today.AddDate(0, 0, -1).Format("2006-01-02T15:04:05"), today.AddDate(0, 0, -2).Format("2006-01-02T15:04:05")
	// conversions = confirmed + pending + declined + hold + not_found.
	eq(t, queryStrings(t, s, q("daily_summary")), []string{
		"beta|" + d2 + "|USD|1|1|0|0|0|0|3.00|1.00|2.00",
		"default|" + d2 + "|EUR|1|1|0|0|0|0|50.00|20.00|30.00",
		"default|" + d2 + "|USD|3|2|0|0|0|1|8.50|2.75|5.75",
		"default|" + d1 + "|USD|4|1|1|1|1|0|17.00|10.00|7.00",
	})
	eq(t, queryStrings(t, s, q("top_offers")), []string{
		"beta|1|USD|Beta One|1|1|3.00|1.00|2.00",
		"default|1|EUR|Offer One|1|1|50.00|20.00|30.00",
		"default|1|USD|Offer One|4|1|17.00|10.00|7.00",
		"default|2|USD|Offer Two|2|1|7.50|2.50|5.00",
		"default|3|USD|NULL|1|1|1.00|0.25|0.75",
	})
	eq(t, queryStrings(t, s, q("top_partners")), []string{
		"beta|10|USD|NULL|1|1|3.00|1.00|2.00",
		"default|10|EUR|a@x|1|1|50.00|20.00|30.00",
		"default|10|USD|a@x|3|1|15.00|9.00|6.00",
		"default|11|USD|b@x|3|1|9.50|3.50|6.00",
		"default|12|USD|NULL|1|1|1.00|0.25|0.75",
	})
	// A network's view queries only its rows (`syncd report --network`),
	// the report's views included; the warehouse as opened, every one's.
	for _, c := range []struct {
		q    load.Querier
		want []string
	}{
		{beta, []string{"beta|" + d2 + "|USD|1|1|0|0|0|0|3.00|1.00|2.00"}},
		{s.ForNetwork(models.DefaultNetwork), []string{
			"default|" + d2 + "|EUR|1|1|0|0|0|0|50.00|20.00|30.00",
			"default|" + d2 + "|USD|3|2|0|0|0|1|8.50|2.75|5.75",
			"default|" + d1 + "|USD|4|1|1|1|1|0|17.00|10.00|7.00",
		}},
		{s.ForNetwork("gamma"), nil},
	} {
		var got []string
		err := c.q.Query(bg, q("daily_summary"), func(rows *gosql.Rows) error {
			got = scanStrings(t, rows)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		eq(t, got, c.want)
	}
	if got := queryStrings(t, s, "SELECT count(DISTINCT network) FROM conversions"); !slices.Equal(got, []string{"2"}) {
		t.Errorf("a network's query left its scope on the pool: %v networks", got)
	}
	if _, err := warehousesql.Report("nope"); err == nil {
		t.Fatal("unknown report accepted")
	}
}

func trimSemi(s string) string {
	for len(s) > 0 && (s[len(s)-1] == ';' || s[len(s)-1] == '\n' || s[len(s)-1] == ' ') {
		s = s[:len(s)-1]
	}
	return s
}

// daily_revenue_rc converts each row's money into the reporting currency
// at the rate of its day: the latest snapshot at or before it, the earliest
// for days before the first; money of two currencies then adds up.
func TestConvertedView(t *testing.T) {
	s, _ := openTest(t, ReportingCurrency("EUR"))
	d1, d2, d3 := day("2025-01-01"), day("2025-01-02"), day("2025-01-03")
	loadRows(t, s, load.Target{Model: models.Conversions(), Mode: models.Upsert}, nil, []row{
		{"id": "a", "status": "confirmed", "currency": "USD", "offer_id": 1, "partner_id": 10, "revenue": "10", "payouts": "5", "created_at": d1.Add(time.Hour)},
		{"id": "b", "status": "confirmed", "currency": "EUR", "offer_id": 1, "partner_id": 10, "revenue": "10", "payouts": "5", "created_at": d2.Add(time.Hour)},
		{"id": "c", "status": "confirmed", "currency": "USD", "offer_id": 1, "partner_id": 10, "revenue": "10", "payouts": "5", "created_at": d3.Add(time.Hour)},
		{"id": "d", "status": "confirmed", "currency": "RUB", "offer_id": 1, "partner_id": 10, "revenue": "1000", "payouts": "500", "created_at": d3.Add(time.Hour)},
		{"id": "e", "status": "confirmed", "currency": "XYZ", "offer_id": 1, "partner_id": 10, "revenue": "7", "payouts": "1", "created_at": d3.Add(time.Hour)},
	})
	loadRows(t, s, load.Target{Model: models.Offers(), Mode: models.ReplaceTable}, nil, []row{{"id": 1, "title": "Offer One"}})
	loadRows(t, s, load.Target{Model: models.Partners(), Mode: models.ReplaceTable}, nil, []row{{"id": 10, "email": "a@x"}})
	rates := models.CurrencyRates()
	for _, snap := range []struct {
		day           time.Time
		usd, eur, rub float64
	}{{d2, 1, 0.9, 90}, {d3, 1, 0.8, 100}} {
		loadRows(t, s, load.Target{Model: rates, Mode: models.ReplaceDays, From: snap.day, To: snap.day.AddDate(0, 0, 1)}, nil, []row{
			{"date": snap.day, "currency": "USD", "rate_per_usd": snap.usd},
			{"date": snap.day, "currency": "EUR", "rate_per_usd": snap.eur},
			{"date": snap.day, "currency": "RUB", "rate_per_usd": snap.rub},
		})
	}
	if err := s.EnsureViews(bg); err != nil {
		t.Fatal(err)
	}
	eq(t, queryStrings(t, s, `SELECT strftime(day, '%Y-%m-%d') || '|' || currency || '|' || reporting_currency || '|' || coalesce(revenue_rc::VARCHAR, 'NULL') || '|' || coalesce(profit_rc::VARCHAR, 'NULL')
		FROM daily_revenue_rc ORDER BY day, currency`), []string{
		"2025-01-01|USD|EUR|9.0000|4.5000",  // before the first snapshot: the earliest rates
		"2025-01-02|EUR|EUR|10.0000|5.0000", // its own currency
		"2025-01-03|RUB|EUR|8.0000|4.0000",  // 1000 RUB at 100 per USD, 0.8 EUR per USD
		"2025-01-03|USD|EUR|8.0000|4.0000",  // the day's snapshot
		"2025-01-03|XYZ|EUR|NULL|NULL",      // no rate for it at all
	})
}
