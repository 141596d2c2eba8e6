package affisesim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/internal/fixtures"
)

func TestParseCurrencies(t *testing.T) {
	for _, c := range []struct {
		spec string
		want []Currency
	}{
		{"USD", []Currency{{"USD", 100}}},
		{"usd,EUR,RUB", []Currency{{"USD", 70}, {"EUR", 20}, {"RUB", 10}}},
		{"USD,EUR", []Currency{{"USD", 70}, {"EUR", 30}}},
		{"EUR:1, USD:3", []Currency{{"EUR", 1}, {"USD", 3}}},
	} {
		got, err := ParseCurrencies(c.spec)
		if err != nil {
			t.Errorf("%q: %v", c.spec, err)
			continue
		}
		if len(got) != len(c.want) {
			t.Errorf("%q: %v, want %v", c.spec, got, c.want)
			continue
		}
		for i := range got {
			if got[i].Code != c.want[i].Code || math.Abs(got[i].Weight-c.want[i].Weight) > 1e-9 {
				t.Errorf("%q: %v, want %v", c.spec, got, c.want)
			}
		}
	}
	for _, bad := range []string{"", "XXX", "USD,USD", "USD:0", "USD:-1", "USD:70,EUR", "USD:abc"} {
		if _, err := ParseCurrencies(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if _, err := New(Config{Key: testKey, Currencies: []Currency{}}); err == nil {
		t.Error("New with an empty currency list")
	}
}

// The default mix is mostly USD, amounts are in the conversion's currency,
// and drawing currencies leaves the rest of the data set as it was.
func TestCurrencyMix(t *testing.T) {
	small := func(c *Config) { c.Conversions = 6000 }
	s, _ := newSim(t, small)
	usd, _ := newSim(t, func(c *Config) { small(c); c.Currencies = []Currency{{"USD", 1}} })
	rows, err := s.Truth("conversions")
	if err != nil {
		t.Fatal(err)
	}
	urows, _ := usd.Truth("conversions")
	if len(rows) != len(urows) {
		t.Fatalf("%d vs %d conversions", len(rows), len(urows))
	}
	n := map[string]int{}
	rev := map[string]float64{}
	for i, raw := range rows {
		var c, u map[string]any
		json.Unmarshal(raw, &c)
		json.Unmarshal(urows[i], &u)
		cur := c["currency"].(string)
		n[cur]++
		if u["currency"] != "USD" {
			t.Fatalf("USD-only network has a %v conversion", u["currency"])
		}
		usdRev := u["revenue"].(float64)
		if cur == "USD" {
			if !bytes.Equal(raw, urows[i]) {
				t.Fatalf("row %d differs from the USD-only network's:\n%s\n%s", i, raw, urows[i])
			}
			rev["USD"] += usdRev
			continue
		}
		rev[cur] += c["revenue"].(float64)
		rev[cur+"/USD"] += usdRev
		// Same conversion otherwise: only money and currency differ.
		for _, k := range []string{"revenue", "payouts", "earnings", "sum", "currency"} {
			delete(c, k)
			delete(u, k)
		}
		cb, _ := json.Marshal(c)
		ub, _ := json.Marshal(u)
		if !bytes.Equal(cb, ub) {
			t.Fatalf("row %d differs beyond money:\n%s\n%s", i, cb, ub)
		}
	}
	total := float64(len(rows))
	for cur, want := range map[string]float64{"USD": 0.70, "EUR": 0.20, "RUB": 0.10} {
		if got := float64(n[cur]) / total; math.Abs(got-want) > 0.02 {
			t.Errorf("%s share %.3f, want ~%.2f (%v)", cur, got, want, n)
		}
	}
	if len(n) != 3 {
		t.Errorf("currencies %v", n)
	}
	for cur, lo := range map[string][2]float64{"EUR": {0.9, 0.94}, "RUB": {89, 90}} {
		if r := rev[cur] / rev[cur+"/USD"]; r < lo[0] || r > lo[1] {
			t.Errorf("%s revenue is %.3fx its USD amount", cur, r)
		}
	}
	// Deterministic per seed, different for another.
	again, _ := newSim(t, small)
	other, _ := newSim(t, func(c *Config) { small(c); c.Seed = 8 })
	ra, _ := again.Truth("conversions")
	rb, _ := other.Truth("conversions")
	if !slices.EqualFunc(ra, rows, func(a, b json.RawMessage) bool { return bytes.Equal(a, b) }) {
		t.Error("same seed, different conversions")
	}
	curOf := func(row []byte) string {
		_, after, _ := bytes.Cut(row, []byte(`"currency":"`))
		return string(after[:3])
	}
	same := 0
	for i := range min(len(rows), len(rb)) {
		if curOf(rows[i]) == curOf(rb[i]) {
			same++
		}
	}
	if same == min(len(rows), len(rb)) {
		t.Error("another seed draws the same currencies")
	}
	// Churned conversions get currencies too.
	s.Churn(400)
	after := truth(t, s, "conversions")
	cn := map[any]int{}
	for _, c := range after[len(rows):] {
		cn[c["currency"]]++
	}
	if len(cn) < 2 {
		t.Errorf("new conversions' currencies: %v", cn)
	}
}

func TestAdminCurrency(t *testing.T) {
	s, clk := newSim(t, func(c *Config) { c.Conversions = 500; c.AffiliateKey = "aff-key" })
	raw := fixtures.AffiseFile(t, "3.0.admin.currency@get.json")
	var fix map[string]any
	if err := json.Unmarshal(raw, &fix); err != nil {
		t.Fatal(err)
	}
	r := get(t, s, "/3.0/admin/currency")
	if r.code != 200 {
		t.Fatalf("%d %s", r.code, r.raw)
	}
	var errs, extra []string
	for k, v := range fix {
		compareShape(k, v, r.body[k], nil, &errs, &extra)
	}
	for _, e := range errs {
		t.Errorf("shape: %s", e)
	}
	quotes := r.body["quotes"].(map[string]any)
	if r.body["status"] != float64(1) || quotes["USD"] != float64(1) {
		t.Errorf("status %v, USD %v", r.body["status"], quotes["USD"])
	}
	for k, v := range quotes {
		f, ok := v.(float64)
		if len(k) != 3 || !ok || f <= 0 {
			t.Errorf("quote %s: %v", k, v)
		}
		if f != math.Round(f*1e6)/1e6 {
			t.Errorf("quote %s = %v: more than 6 decimals", k, f)
		}
	}
	if q := quotes["RUB"].(float64); q < 80 || q > 100 {
		t.Errorf("RUB %v", q)
	}
	// Rates move from one day of the clock to the next, and hold within a day.
	day1 := string(r.raw)
	clk.Set(testAnchor.Add(3 * time.Hour))
	if r := get(t, s, "/3.0/admin/currency"); string(r.raw) != day1 {
		t.Error("quotes changed within a day")
	}
	clk.Set(testAnchor.Add(24 * time.Hour))
	r2 := get(t, s, "/3.0/admin/currency")
	q2 := r2.body["quotes"].(map[string]any)
	if q2["EUR"] == quotes["EUR"] || q2["RUB"] == quotes["RUB"] || q2["USD"] != float64(1) {
		t.Errorf("day 2 quotes: EUR %v -> %v, RUB %v -> %v", quotes["EUR"], q2["EUR"], quotes["RUB"], q2["RUB"])
	}
	// The truth names the same quotes per day.
	for day, want := range map[string]map[string]any{"2025-03-15": quotes, "2025-03-16": q2} {
		tr := call(t, s, "GET", "/_sim/truth/currency_rates?day="+day, "")
		rows := tr.body["rows"].([]any)
		if tr.code != 200 || len(rows) != 1 {
			t.Fatalf("truth %s: %d %s", day, tr.code, trunc(tr.raw))
		}
		row := rows[0].(map[string]any)
		if row["date"] != day || fmt.Sprint(row["quotes"]) != fmt.Sprint(want) {
			t.Errorf("truth %s: %v, API said %v", day, row, want)
		}
	}
	all := call(t, s, "GET", "/_sim/truth/currency_rates", "")
	rows := all.body["rows"].([]any)
	if len(rows) != 32 || rows[0].(map[string]any)["date"] != "2025-02-13" || rows[31].(map[string]any)["date"] != "2025-03-16" {
		t.Errorf("truth over the history: %d rows, first %v", len(rows), rows[0])
	}
	if call(t, s, "GET", "/_sim/truth/currency_rates?day=15.03.2025", "").code != 400 {
		t.Error("bad day")
	}
	// Only active: the currencies conversions use, and USD.
	ra := get(t, s, "/3.0/admin/currency?get_only_active=1")
	var keys []string
	for k := range ra.body["quotes"].(map[string]any) {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if strings.Join(keys, ",") != "EUR,RUB,USD" {
		t.Errorf("active currencies %v", keys)
	}
	eur, _ := newSim(t, func(c *Config) { c.Conversions = 100; c.Currencies = []Currency{{"EUR", 1}} })
	re := get(t, eur, "/3.0/admin/currency?get_only_active=1")
	if q := re.body["quotes"].(map[string]any); len(q) != 2 || q["USD"] != float64(1) || q["EUR"] == nil {
		t.Errorf("EUR-only network's active quotes: %v", q)
	}
	if r := call(t, s, "GET", "/3.0/admin/currency", "aff-key"); r.code != 403 {
		t.Errorf("affiliate key: %d", r.code)
	}
	if r := get(t, s, "/3.0/admin/currency?get_only_active=yes"); r.code != 400 {
		t.Errorf("bad get_only_active: %d", r.code)
	}
}

// statsByDay sums custom stats rows (slice day) into day -> bucket ->
// [count, charge, revenue], and day -> raw clicks.
func statsByDay(t *testing.T, s *Sim, query string) (map[string]map[string][3]float64, map[string]string) {
	t.Helper()
	out := map[string]map[string][3]float64{}
	traffic := map[string]string{}
	for _, r := range walkAll(t, s, "/3.0/stats/custom?slice[]=day"+query, "stats", 500) {
		sv := r["slice"].(map[string]any)
		day := fmt.Sprintf("%04v-%02v-%02v", sv["year"], sv["month"], sv["day"])
		traffic[day] = r["traffic"].(map[string]any)["raw"].(string)
		m := map[string][3]float64{}
		for k, v := range r["actions"].(map[string]any) {
			a := v.(map[string]any)
			m[k] = [3]float64{a["count"].(float64), a["charge"].(float64), a["revenue"].(float64)}
		}
		out[day] = m
	}
	return out, traffic
}

func TestCurrencyFilter(t *testing.T) {
	s, _ := newSim(t, nil)
	rng := "&filter[date_from]=2025-03-01&filter[date_to]=2025-03-15"
	all, allTraffic := statsByDay(t, s, rng)
	if len(all) != 15 {
		t.Fatalf("%d days", len(all))
	}
	// Every form the API takes: name, name[], name[N]; any case.
	per := map[string]string{"USD": "&filter[currency]=usd", "EUR": "&filter[currency][]=EUR", "RUB": "&filter[currency][0]=RUB"}
	sum := map[string]map[string][3]float64{}
	truthRows := truth(t, s, "conversions")
	for cur, q := range per {
		got, traffic := statsByDay(t, s, rng+q)
		// Each currency's numbers are its conversions', in its money.
		want := map[string]map[string][3]float64{}
		for _, c := range truthRows {
			day := c["created_at"].(string)[:10]
			if c["currency"] != cur || day < "2025-03-01" || day > "2025-03-15" {
				continue
			}
			if want[day] == nil {
				want[day] = map[string][3]float64{}
			}
			for _, k := range []string{"total", c["status"].(string)} {
				b := want[day][k]
				want[day][k] = [3]float64{b[0] + 1, b[1] + c["revenue"].(float64), b[2] + c["payouts"].(float64)}
			}
		}
		for day, m := range got {
			// Traffic is the network's, whatever the currency filter.
			if traffic[day] != allTraffic[day] {
				t.Errorf("%s %s: traffic %s, unfiltered %s", cur, day, traffic[day], allTraffic[day])
			}
			if sum[day] == nil {
				sum[day] = map[string][3]float64{}
			}
			for k, v := range m {
				w := want[day][k]
				if v[0] != w[0] || math.Abs(v[1]-w[1]) > 0.005 || math.Abs(v[2]-w[2]) > 0.005 {
					t.Errorf("%s %s %s: %v, conversions say %v", cur, day, k, v, w)
				}
				b := sum[day][k]
				sum[day][k] = [3]float64{b[0] + v[0], b[1] + v[1], b[2] + v[2]}
			}
		}
		if len(want) == 0 {
			t.Errorf("no %s conversions", cur)
		}
	}
	// The currencies add up to the unfiltered stats, which mix them all.
	for day, m := range all {
		for k, v := range m {
			w := sum[day][k]
			if v[0] != w[0] || math.Abs(v[1]-w[1]) > 0.01 || math.Abs(v[2]-w[2]) > 0.01 {
				t.Errorf("%s %s: unfiltered %v, sum over currencies %v", day, k, v, w)
			}
		}
	}
	both, _ := statsByDay(t, s, rng+"&filter[currency][]=EUR&filter[currency][]=RUB")
	usd, _ := statsByDay(t, s, rng+per["USD"])
	for day := range all {
		if both[day]["total"][0]+usd[day]["total"][0] != all[day]["total"][0] {
			t.Errorf("%s: EUR+RUB %v + USD %v != all %v", day, both[day]["total"], usd[day]["total"], all[day]["total"])
		}
	}
	// A currency no conversion uses selects none; a non-code is an error.
	gbp, _ := statsByDay(t, s, rng+"&filter[currency]=GBP")
	for day, m := range gbp {
		if m["total"][0] != 0 {
			t.Errorf("GBP %s: %v", day, m["total"])
		}
	}
	if r := get(t, s, "/3.0/stats/custom?slice[]=day&filter[currency]=dollars"+rng); r.code != 400 {
		t.Errorf("bad currency: %d", r.code)
	}
	// The 3.0 doc lists no currency slice.
	if r := get(t, s, "/3.0/stats/custom?slice[]=currency"+rng); r.code != 400 {
		t.Errorf("slice currency: %d", r.code)
	}

	// Conversions take currency (the doc's conversions parameter) too.
	base := "/3.0/stats/conversions?date_from=2025-03-01&date_to=2025-03-15&limit=500"
	_, pall := mustList(t, s, base, "conversions")
	n := 0
	for _, cur := range []string{"USD", "EUR", "RUB"} {
		rows := walkAll(t, s, base[:len(base)-len("&limit=500")]+"&currency="+cur, "conversions", 500)
		for _, c := range rows {
			if c["currency"] != cur {
				t.Fatalf("currency=%s gave a %v conversion", cur, c["currency"])
			}
		}
		n += len(rows)
	}
	if n != total(pall) {
		t.Errorf("conversions per currency add up to %d, all %d", n, total(pall))
	}
	_, p := mustList(t, s, base+"&currency[]=EUR&currency[]=RUB", "conversions")
	_, pu := mustList(t, s, base+"&currency[]=USD", "conversions")
	if total(p)+total(pu) != total(pall) {
		t.Errorf("currency[]=EUR,RUB %d + USD %d != %d", total(p), total(pu), total(pall))
	}
}
