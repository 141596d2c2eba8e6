package models

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/syncd/syncd/plan"
)

func TestRegistry(t *testing.T) {
	want := []string{"conversions", "clicks", "server_postbacks", "affiliate_postbacks",
		"stats_daily", "offers", "partners", "advertisers", "currency_rates"}
	if !reflect.DeepEqual(Names(), want) {
		t.Fatalf("Names() = %v", Names())
	}
	days := map[string]string{"conversions": "created_at", "clicks": "created_at",
		"server_postbacks": "date", "affiliate_postbacks": "date", "stats_daily": "day",
		"offers": "", "partners": "", "advertisers": "", "currency_rates": "date"}
	for _, s := range Names() {
		m, err := ByName(s, []string{"day", "offer"})
		if err != nil {
			t.Fatal(err)
		}
		eq(t, s+" Table", m.Table(), s)
		eq(t, s+" DayColumn", m.DayColumn(), days[s])
		wantKey := []string{NetworkColumn, "id"}
		if s == "currency_rates" {
			wantKey = []string{NetworkColumn, "date", "currency"}
		}
		eq(t, s+" first column", m.Schema().Field(0).Name, NetworkColumn)
		if s != "stats_daily" && !reflect.DeepEqual(m.Key(), wantKey) {
			t.Errorf("%s key = %v", s, m.Key())
		}
		checkSchema(t, m)
	}
	if _, err := ByName("stats_daily", nil); err == nil {
		t.Error("stats_daily without slices: want an error")
	}
	_, err := ByName("leads", nil)
	wantErr(t, err, "leads", "conversions")
}

// checkSchema: raw and _synced_at last, key columns exist and are not
// nullable, timestamps as documented. (The DDL derived from it is checked by
// load/duckdb's TestCreateTable.)
func checkSchema(t *testing.T, m Model) {
	t.Helper()
	fields := m.Schema().Fields()
	for _, f := range fields {
		if ts, ok := f.Type.(*arrow.TimestampType); ok && (ts.Unit != arrow.Microsecond || ts.TimeZone != "UTC") {
			t.Errorf("%s.%s: %s, want timestamp[us, tz=UTC]", m.Table(), f.Name, ts)
		}
	}
	n := len(fields)
	eq(t, m.Table()+" second-last column", fields[n-2].Name, "raw")
	eq(t, m.Table()+" last column", fields[n-1].Name, "_synced_at")
	for _, k := range m.Key() {
		idx := m.Schema().FieldIndices(k)
		if len(idx) != 1 || fields[idx[0]].Nullable {
			t.Errorf("%s: key column %s missing or nullable", m.Table(), k)
		}
	}
}

func TestStatsDailySlices(t *testing.T) {
	m, err := StatsDaily([]string{"country", "partner", "day", "offer"})
	if err != nil {
		t.Fatal(err)
	}
	// Columns in canonical order whatever the configured order.
	eq(t, "key", strings.Join(m.Key(), ","), "network,day,offer_id,partner_id,country,currency")
	names := []string{}
	for _, f := range m.Schema().Fields()[:8] {
		names = append(names, f.Name+":"+f.Type.String())
	}
	eq(t, "columns", strings.Join(names, " "),
		"network:utf8 day:date32 offer_id:int64 partner_id:int64 country:utf8 currency:utf8 clicks_raw:int64 clicks_uniq:int64")
	eq(t, "DayColumn", m.DayColumn(), "day")
	checkSchema(t, m)

	m2, err := StatsDaily([]string{"day", "affiliate", "advertiser", "manager", "city", "os", "device", "goal", "browser", "sub1", "sub2", "sub3", "sub4", "sub5"})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "key", strings.Join(m2.Key(), ","), "network,day,partner_id,advertiser_id,manager_id,city,os,device,goal,browser,sub1,sub2,sub3,sub4,sub5,currency")
	checkSchema(t, m2)

	_, err = StatsDaily([]string{"day", "hour"})
	wantErr(t, err, `"hour"`, "allowed", "day, offer, partner, affiliate, advertiser, manager, country")
	_, err = StatsDaily([]string{"day", `x"; DROP TABLE t; --`})
	wantErr(t, err, "unknown slice")
	_, err = StatsDaily([]string{"offer", "country"})
	wantErr(t, err, `"day"`)
	_, err = StatsDaily(nil)
	wantErr(t, err, `"day"`)
	_, err = StatsDaily([]string{"day", "partner", "affiliate"})
	wantErr(t, err, "twice")
	_, err = StatsDaily([]string{"day", "offer", "offer"})
	wantErr(t, err, "twice")

	for s, c := range map[string]string{"day": "day", "offer": "offer_id", "partner": "partner_id",
		"affiliate": "partner_id", "advertiser": "advertiser_id", "manager": "manager_id",
		"country": "country", "sub3": "sub3", "goal": "goal"} {
		eq(t, "StatsSliceColumn("+s+")", StatsSliceColumn(s), c)
		eq(t, "StatsAPISlice("+s+")", StatsAPISlice(s), s)
	}
}

func TestStatsDailyDecode(t *testing.T) {
	m, err := StatsDaily([]string{"day", "offer", "partner", "advertiser", "manager", "country", "city", "goal"})
	if err != nil {
		t.Fatal(err)
	}
	objs := []json.RawMessage{
		// Slice values as objects, partner under "affiliate", numbers as strings.
		json.RawMessage(`{"slice":{"year":"2025","month":1,"day":31,"offer":{"id":906,"offer_id":"5931","title":"HD"},
		  "affiliate":{"id":"610","email":"a@b"},"advertiser":{"id":"56cc","title":"adv"},
		  "manager":{"id":"57b1"},"country":{"code":"US","name":"USA"},"city":{"id":563497,"name":"Maksut"},"goal":"1"},
		 "traffic":{"raw":12,"uniq":"3"},
		 "actions":{"total":{"revenue":191190.40796039,"charge":"339894.05859619","earning":148703.65063587,"null":0,"count":"12600"},
		   "not_found":{"revenue":1,"charge":1,"earning":1,"count":1},
		   "hold":{"revenue":0,"charge":0,"earning":0,"count":0}}}`),
		// Scalars, "partner" key, missing values -> "" and 0, actions as [].
		json.RawMessage(`{"slice":{"year":2025,"month":2,"day":28,"offer":7,"partner":8,"country":"DE"},"traffic":[],"actions":[]}`),
	}
	rec := build(t, m, berlin, objs...)
	eq(t, "day", col(t, rec, "day").ValueStr(0), "2025-01-31")
	n, _ := i64(t, rec, "offer_id", 0)
	eq(t, "offer_id", n, 906)
	n, _ = i64(t, rec, "partner_id", 0)
	eq(t, "partner_id", n, 610)
	for name, want := range map[string]string{"advertiser_id": "56cc", "manager_id": "57b1", "country": "US", "city": "563497", "goal": "1"} {
		s, _ := str(t, rec, name, 0)
		eq(t, name, s, want)
	}
	n, _ = i64(t, rec, "clicks_raw", 0)
	eq(t, "clicks_raw", n, 12)
	n, _ = i64(t, rec, "total_count", 0)
	eq(t, "total_count", n, 12600)
	eq(t, "total_revenue", dec(t, rec, "total_revenue", 0), "191190.4080")
	eq(t, "total_charge", dec(t, rec, "total_charge", 0), "339894.0586")
	eq(t, "total_earning", dec(t, rec, "total_earning", 0), "148703.6506")

	eq(t, "day[1]", col(t, rec, "day").ValueStr(1), "2025-02-28")
	n, _ = i64(t, rec, "offer_id", 1)
	eq(t, "offer_id[1]", n, 7)
	n, _ = i64(t, rec, "partner_id", 1)
	eq(t, "partner_id[1]", n, 8)
	for _, name := range []string{"advertiser_id", "manager_id", "city", "goal"} {
		s, ok := str(t, rec, name, 1)
		eq(t, name+"[1] is \"\" not NULL", ok, true)
		eq(t, name+"[1]", s, "")
	}
	n, ok := i64(t, rec, "clicks_uniq", 1)
	eq(t, "clicks_uniq[1]", n, 0)
	eq(t, "clicks_uniq[1] valid", ok, true)
	eq(t, "total_charge[1]", dec(t, rec, "total_charge", 1), "0.0000")

	for _, c := range []struct{ obj, field string }{
		{`{"slice":{"year":2025,"month":2}}`, "slice.day"},
		{`{"slice":{"year":2025,"month":2,"day":30}}`, "slice.day"},
		{`{"slice":{"year":2025,"month":2,"day":1,"offer":{"id":"x"}}}`, "slice.offer"},
		{`{"slice":{"year":2025,"month":2,"day":1},"traffic":{"raw":"many"}}`, "traffic.raw"},
		{`{"slice":{"year":2025,"month":2,"day":1},"actions":{"total":{"charge":"lots"}}}`, "actions.total.charge"},
		{`{"slice":null}`, "slice"},
	} {
		wantErr(t, appendErr(m, c.obj), "stats_daily", `"`+c.field+`"`)
	}
}

func TestNewBuilderDefaults(t *testing.T) {
	b := Offers().NewBuilder(nil, DefaultNetwork, nil, time.Unix(0, 0))
	defer b.Release()
	if err := b.Append(json.RawMessage(`{"id":1,"created_at":"2020-01-01 00:00:00"}`)); err != nil {
		t.Fatal(err)
	}
	rec := b.NewRecord()
	defer rec.Release()
	eq(t, "created_at in UTC when loc is nil", ts(t, rec, "created_at", 0), "2020-01-01 00:00:00")
}

// Every declaration is complete and agrees with itself: the table builds
// and is safe to load, its key, day and version are its columns, and the
// load mode fits the planner.
func TestDeclarations(t *testing.T) {
	names := map[string]bool{}
	for _, s := range Registry() {
		if !validIdent(s.Name) || names[s.Name] {
			t.Errorf("stream name %q: not an identifier, or repeated", s.Name)
		}
		names[s.Name] = true
		if !strings.HasPrefix(s.Endpoint, "/3.0/") || s.ListKey == "" || s.Planner == nil || s.Defaults.Schedule == "" {
			t.Errorf("%s: endpoint %q, list key %q, planner %v, schedule %q", s.Name, s.Endpoint, s.ListKey, s.Planner, s.Defaults.Schedule)
		}
		m, err := s.Model(s.Defaults.Slices)
		if err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		if err := m.(*table).check(); err != nil {
			t.Error(err)
		}
		eq(t, s.Name+" table", m.Table(), s.Name)
		eq(t, s.Name+" day", m.DayColumn(), s.Day)
		eq(t, s.Name+" version", m.Version(), s.Version)
		if s.Key != nil && !reflect.DeepEqual(m.Key(), append([]string{NetworkColumn}, s.Key...)) {
			t.Errorf("%s: table key %v, declared %v", s.Name, m.Key(), s.Key)
		}
		_, snapshot := s.Planner.(plan.Snapshot)
		if snapshot != (s.Mode == ReplaceTable) {
			t.Errorf("%s: mode %v with planner %T: snapshots, and only they, replace the table", s.Name, s.Mode, s.Planner)
		}
		if s.Mode == ReplaceDays && s.Day == "" {
			t.Errorf("%s: replaces days but has no day column", s.Name)
		}
	}
}

// The retention alarm follows the declarations: of today's streams only
// clicks' source drops old rows.
func TestOnlyClicksHasRetention(t *testing.T) {
	for _, s := range Registry() {
		if got, want := plan.HasRetention(s.Planner), s.Name == "clicks"; got != want {
			t.Errorf("%s: retention %v, want %v", s.Name, got, want)
		}
	}
}

// currency_rates: the quotes map's members become rows of the snapshot's
// day; a rate keeps its digits (a float, not a 4-decimal amount).
func TestCurrencyRates(t *testing.T) {
	rec := build(t, CurrencyRates(), time.UTC, json.RawMessage(`{"date":"2026-12-01","key":"RUB","value":59.312599}`),
		json.RawMessage(`{"date":"2026-12-01","key":"BTC","value":"0.0000123"}`), json.RawMessage(`{"date":"2026-12-01","key":"USD","value":1}`))
	rates := col(t, rec, "rate_per_usd").(*array.Float64)
	days := col(t, rec, "date").(*array.Date32)
	for i, want := range []struct {
		cur  string
		rate float64
	}{{"RUB", 59.312599}, {"BTC", 0.0000123}, {"USD", 1}} {
		if c, _ := str(t, rec, "currency", i); c != want.cur || rates.Value(i) != want.rate || days.Value(i).FormattedString() != "2026-12-01" {
			t.Errorf("row %d: %s %v %s, want %s %v 2026-12-01", i, c, rates.Value(i), days.Value(i).FormattedString(), want.cur, want.rate)
		}
	}
	for obj, want := range map[string]string{
		`{"date":"2026-12-01","key":"EUR","value":"lots"}`: "value",
		`{"key":"EUR","value":1}`:                          "date",
		`{"date":"2026-12-01","key":"EUR","value":1e999}`:  "value",
	} {
		if err := appendErr(CurrencyRates(), obj); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error naming %s", obj, err, want)
		}
	}
}
