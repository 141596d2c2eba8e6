package models

import (
	"bytes"
	"encoding/json"
	"math/big"
	"strings"
	"testing"

	"github.com/syncd/syncd/internal/fixtures"
)

// Every fixture decodes fully; spot checks of ids, money, UTC times, raw.

func TestFixtureConversions(t *testing.T) {
	objs := fixtures.AffiseList(t, "3.0.stats.conversions@get.json", "conversions")
	m := Conversions()
	rec := build(t, m, berlin, objs...)
	eq(t, "rows", rec.NumRows(), int64(100))

	id, _ := str(t, rec, "id", 0)
	eq(t, "id[0]", id, "5fa924c9134ed04c008b4576")
	id, _ = str(t, rec, "id", 99)
	eq(t, "id[99]", id, "5fa8957c134ed079008b456e")
	n, _ := i64(t, rec, "offer_id", 0)
	eq(t, "offer_id[0]", n, 71)
	n, _ = i64(t, rec, "partner_id", 0)
	eq(t, "partner_id[0]", n, 12)
	s, _ := str(t, rec, "advertiser_id", 0)
	eq(t, "advertiser_id[0]", s, "5f059c53d346519b154f20d4")
	s, _ = str(t, rec, "sub5", 0)
	eq(t, "sub5[0]", s, "sohel")
	s, _ = str(t, rec, "status", 0)
	eq(t, "status[0]", s, "confirmed")
	s, _ = str(t, rec, "payment_status", 0)
	eq(t, "payment_status[0]", s, "pending")
	eq(t, "revenue[0]", dec(t, rec, "revenue", 0), "4.0000")
	eq(t, "payouts[0]", dec(t, rec, "payouts", 0), "3.0000")
	// Berlin is UTC+1 in November: 14:15:21 local is 13:15:21 UTC.
	eq(t, "created_at[0]", ts(t, rec, "created_at", 0), "2020-11-09 13:15:21")
	eq(t, "click_time[0]", ts(t, rec, "click_time", 0), "2020-11-09 13:12:11")
	eq(t, "updated_at[0] (absent in old responses)", ts(t, rec, "updated_at", 0), "NULL")
	eq(t, "_synced_at", ts(t, rec, "_synced_at", 0), "2026-11-25 12:00:00")

	eq(t, "revenue[18]", dec(t, rec, "revenue", 18), "4.2300")
	eq(t, "payouts[18]", dec(t, rec, "payouts", 18), "3.1700")
	eq(t, "earnings[18]", dec(t, rec, "earnings", 18), "1.0600")
	eq(t, "revenue[34]", dec(t, rec, "revenue", 34), "0.0300")
	eq(t, "payouts[34]", dec(t, rec, "payouts", 34), "0.0285")
	eq(t, "earnings[34]", dec(t, rec, "earnings", 34), "0.0015")

	// Every money value equals its JSON text exactly (checked with big.Rat,
	// independently of the decimal parser).
	for i, o := range objs {
		var src map[string]json.Number
		d := json.NewDecoder(bytes.NewReader(o))
		d.UseNumber()
		var any map[string]any
		if err := d.Decode(&any); err != nil {
			t.Fatal(err)
		}
		src = map[string]json.Number{}
		for _, k := range []string{"revenue", "payouts", "earnings"} {
			src[k] = any[k].(json.Number)
		}
		for k, num := range src {
			r, ok := new(big.Rat).SetString(string(num))
			if !ok {
				t.Fatal(num)
			}
			want := new(big.Rat).Mul(r, big.NewRat(10000, 1))
			got := dec(t, rec, k, i)
			g, _ := new(big.Rat).SetString(strings.Replace(got, ".", "", 1))
			if want.Cmp(g) != 0 {
				t.Errorf("row %d %s: got %s from %s", i, k, got, num)
			}
		}
		// raw and the folded columns give back the source object (no
		// credentials in conversions), and raw is what no column holds.
		if got, want := whole(t, Conversions(), rec, i), canon(t, string(o)); got != want {
			t.Errorf("row %d: the rebuilt object differs from the source:\n%s\n%s", i, got, want)
		}
	}
}

func TestFixtureClicks(t *testing.T) {
	objs := fixtures.AffiseList(t, "3.0.stats.clicks@get.json", "clicks")
	rec := build(t, Clicks(), berlin, objs...)
	eq(t, "rows", rec.NumRows(), int64(20))
	id, _ := str(t, rec, "id", 0)
	eq(t, "id[0]", id, "5fc0bb8e125d990001b7b448")
	id, _ = str(t, rec, "id", 19)
	eq(t, "id[19]", id, "5fb21ac0125d990001e42274")
	n, _ := i64(t, rec, "offer_id", 0) // from offer.id: clicks have no offer_id
	eq(t, "offer_id[0]", n, 104)
	n, _ = i64(t, rec, "partner_id", 0)
	eq(t, "partner_id[0]", n, 4)
	s, _ := str(t, rec, "device_type", 0)
	eq(t, "device_type[0]", s, "mobile")
	s, _ = str(t, rec, "sub1", 0)
	eq(t, "sub1[0]", s, "AU")
	eq(t, "created_at[0]", ts(t, rec, "created_at", 0), "2020-11-27 10:40:46")
	hc := col(t, rec, "has_conversions")
	eq(t, "has_conversions[0] null", hc.IsNull(0), false)
	eq(t, "has_conversions[0]", hc.ValueStr(0), "false")
	if rec.Schema().HasField("ip") {
		t.Error("clicks must not have an ip column")
	}
}

func TestFixtureServerPostbacks(t *testing.T) {
	objs := fixtures.AffiseList(t, "3.0.stats.serverpostbacks@get.json", "postbacks")
	rec := build(t, ServerPostbacks(), berlin, objs...)
	eq(t, "rows", rec.NumRows(), int64(1))
	id, _ := str(t, rec, "id", 0)
	eq(t, "id", id, "59359e1d7e28feb7568b4569")
	// sec/usec are Unix time: no zone shift whatever loc is.
	eq(t, "date", ts(t, rec, "date", 0), "2017-06-05 18:08:29.035")
	s, _ := str(t, rec, "click_id", 0)
	eq(t, "click_id", s, "59359dcb7e28fee0558b4567")
	n, _ := i64(t, rec, "offer_id", 0)
	eq(t, "offer_id", n, 934)
	n, _ = i64(t, rec, "partner_id", 0) // "610", a string, in the fixture
	eq(t, "partner_id", n, 610)
	_, ok := str(t, rec, "conversion_id", 0)
	eq(t, "conversion_id is NULL", ok, false)

	// Fallbacks: track.offer_id (a string) and _get.clickid.
	rec = buildOne(t, ServerPostbacks(), `{"_id":{"$id":"x"},"date":{"sec":0,"usec":1},"_get":{"clickid":"c1"},"track":{"offer_id":"934","partner":null}}`)
	n, _ = i64(t, rec, "offer_id", 0)
	eq(t, "offer_id fallback", n, 934)
	s, _ = str(t, rec, "click_id", 0)
	eq(t, "click_id fallback", s, "c1")
	_, ok = i64(t, rec, "partner_id", 0)
	eq(t, "partner_id null", ok, false)
	eq(t, "date", ts(t, rec, "date", 0), "1970-01-01 00:00:00.000001")
}

func TestFixtureAffiliatePostbacks(t *testing.T) {
	objs := fixtures.AffiseList(t, "3.0.stats.affiliatepostbacks@get.json", "postbacks")
	rec := build(t, AffiliatePostbacks(), berlin, objs...)
	eq(t, "rows", rec.NumRows(), int64(1))
	id, _ := str(t, rec, "id", 0)
	eq(t, "id", id, "5a1d248f1bfa2441008b4567")
	eq(t, "date", ts(t, rec, "date", 0), "2017-11-28 08:55:43.662")
	for name, want := range map[string]int64{"pid": 2, "http_code": 200, "offer_id": 1, "status": 1} {
		n, ok := i64(t, rec, name, 0)
		eq(t, name+" valid", ok, true)
		eq(t, name, n, want)
	}
	s, _ := str(t, rec, "lead_id", 0)
	eq(t, "lead_id", s, "5a1d247cbbf68e0001972d26")
	s, _ = str(t, rec, "goal", 0)
	eq(t, "goal", s, "1")
	s, _ = str(t, rec, "postback_url", 0)
	eq(t, "postback_url", s, "http://dsda.com")
}

func TestFixtureCustomStats(t *testing.T) {
	objs := fixtures.AffiseList(t, "3.0.stats.custom@get.json", "stats")
	m, err := StatsDaily([]string{"day"})
	if err != nil {
		t.Fatal(err)
	}
	rec := build(t, m, berlin, objs...)
	eq(t, "rows", rec.NumRows(), int64(1))
	eq(t, "day", col(t, rec, "day").ValueStr(0), "2017-03-01") // a calendar day: no zone shift
	n, _ := i64(t, rec, "clicks_raw", 0)
	eq(t, "clicks_raw", n, 1607530)
	n, _ = i64(t, rec, "clicks_uniq", 0)
	eq(t, "clicks_uniq", n, 1468939)
	n, _ = i64(t, rec, "total_count", 0)
	eq(t, "total_count", n, 1092)
	n, _ = i64(t, rec, "confirmed_count", 0)
	eq(t, "confirmed_count", n, 995)
	eq(t, "total_charge", dec(t, rec, "total_charge", 0), "1352.5200")
	eq(t, "total_revenue", dec(t, rec, "total_revenue", 0), "1252.0000")
	eq(t, "total_earning", dec(t, rec, "total_earning", 0), "100.5200")
	eq(t, "confirmed_charge", dec(t, rec, "confirmed_charge", 0), "1352.5200")
	// pending, declined and hold are absent in this reply: 0, not NULL.
	for _, ty := range []string{"pending", "declined", "hold"} {
		n, ok := i64(t, rec, ty+"_count", 0)
		eq(t, ty+"_count", n, 0)
		eq(t, ty+"_count valid", ok, true)
		eq(t, ty+"_charge", dec(t, rec, ty+"_charge", 0), "0.0000")
	}
	raw := rawOf(t, rec, 0)
	if _, ok := raw["traffic"]; !ok {
		t.Error("raw lost traffic")
	}
}

func TestFixtureOffers(t *testing.T) {
	objs := fixtures.AffiseList(t, "3.0.offers@get.json", "offers")
	rec := build(t, Offers(), berlin, objs...)
	eq(t, "rows", rec.NumRows(), int64(len(objs)))
	n, _ := i64(t, rec, "id", 0)
	eq(t, "id", n, 331)
	for name, want := range map[string]string{
		"offer_id": "5bdffa7339f65625008b4568", "title": "blabla",
		"advertiser_id": "5bc9d7c16d73e41c008b4567", "status": "active",
		"privacy": "public", "currency": "usd",
	} {
		s, _ := str(t, rec, name, 0)
		eq(t, name, s, want)
	}
	eq(t, "created_at", ts(t, rec, "created_at", 0), "2018-11-05 10:08:19")
	raw := rawOf(t, rec, 0)
	if _, ok := raw["hash_password"]; ok {
		t.Error("raw keeps hash_password")
	}
	if _, ok := raw["caps"]; !ok {
		t.Error("raw lost caps")
	}
}

func TestFixturePartners(t *testing.T) {
	objs := fixtures.AffiseList(t, "3.0.admin.partners@get.json", "partners")
	rec := build(t, Partners(), berlin, objs...)
	eq(t, "rows", rec.NumRows(), int64(2))
	n, _ := i64(t, rec, "id", 0)
	eq(t, "id[0]", n, 1)
	n, _ = i64(t, rec, "id", 1)
	eq(t, "id[1]", n, 2)
	_, ok := str(t, rec, "manager_id", 0)
	eq(t, "manager_id[0] NULL (manager null)", ok, false)
	s, _ := str(t, rec, "manager_id", 1)
	eq(t, "manager_id[1]", s, "5f9008bfafd0ba5d88c4dee8")
	s, _ = str(t, rec, "country", 1)
	eq(t, "country[1]", s, "AE")
	s, _ = str(t, rec, "email", 1)
	eq(t, "email[1]", s, "vvvv@bigfishmedia.com")
	_, ok = str(t, rec, "name", 0)
	eq(t, "name[0] NULL", ok, false)
	// Berlin summer time (UTC+2) vs winter (UTC+1).
	eq(t, "created_at[0]", ts(t, rec, "created_at", 0), "2020-06-12 14:53:02")
	eq(t, "updated_at[1]", ts(t, rec, "updated_at", 1), "2020-12-14 10:10:41")
	for i := 0; i < 2; i++ {
		raw, _ := str(t, rec, "raw", i)
		if strings.Contains(raw, "api_key") || strings.Contains(raw, "19673476a51fe659657ca8151644a28c") ||
			strings.Contains(raw, "ca30365558190b87c9fe1c496e467c2d") || strings.Contains(raw, "5e862f6be57613b95a730e4ff88e7b56") {
			t.Errorf("row %d: raw keeps an api key: %s", i, raw)
		}
	}
	raw := rawOf(t, rec, 1)
	if raw["manager"].(map[string]any)["email"] != "vcbmnvb@hgjgfkaf.com" {
		t.Error("raw lost manager fields next to the dropped api_key")
	}
	if _, ok := raw["balance"]; !ok {
		t.Error("raw lost balance")
	}
}

func TestFixtureAdvertisers(t *testing.T) {
	objs := fixtures.AffiseList(t, "3.0.admin.advertisers@get.json", "advertisers")
	rec := build(t, Advertisers(), berlin, objs...)
	eq(t, "rows", rec.NumRows(), int64(1))
	s, _ := str(t, rec, "id", 0)
	eq(t, "id", s, "505998ea5caf25a003000000")
	s, _ = str(t, rec, "country", 0)
	eq(t, "country", s, "RU")
	s, ok := str(t, rec, "manager", 0)
	eq(t, "manager", s, "")
	eq(t, "manager valid", ok, true)
	eq(t, "created_at", ts(t, rec, "created_at", 0), "NULL")
	eq(t, "updated_at", ts(t, rec, "updated_at", 0), "NULL")
	raw := rawOf(t, rec, 0)
	if _, ok := raw["hash_password"]; ok {
		t.Error("raw keeps hash_password")
	}
}

// Dates in the first hour after the DST switch are shifted by the right offset.
func TestBerlinDST(t *testing.T) {
	rec := build(t, Clicks(), berlin,
		json.RawMessage(`{"id":"a","created_at":"2025-03-30 01:59:59"}`),
		json.RawMessage(`{"id":"b","created_at":"2025-03-30 03:00:00"}`),
		json.RawMessage(`{"id":"c","created_at":"2025-07-01 00:30:00"}`))
	eq(t, "before switch", ts(t, rec, "created_at", 0), "2025-03-30 00:59:59")
	eq(t, "after switch", ts(t, rec, "created_at", 1), "2025-03-30 01:00:00")
	eq(t, "summer, previous UTC day", ts(t, rec, "created_at", 2), "2025-06-30 22:30:00")
}
