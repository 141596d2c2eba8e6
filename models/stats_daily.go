package models

import (
	"fmt"
	"strings"
	"time"

	"github.com/syncd/syncd/plan"
)

// stats_daily: Affise's custom stats with slice[]=day plus the configured
// slices; one row per day and combination of the other slices' values. The
// key is day + those slice columns; each window's days are replaced whole,
// so stats_daily follows Affise's re-counting of past days.
func statsDailyStream() *Stream {
	return &Stream{
		RereadsChanges: ChangedConversions,
		PerCurrency:    true,
		Name:           "stats_daily", Endpoint: "/3.0/stats/custom", ListKey: "stats",
		Planner: plan.StatsDays{}, Zone: ZoneNetwork, Mode: ReplaceDays,
		Defaults: Defaults{Schedule: "@every 1h", Lookback: 7 * 24 * time.Hour, Slices: []string{"day", "offer", "partner", "country"}},
		Day:      "day",
		build:    StatsDaily, // the key is day + the slices' columns
	}
}

// StatsSlices lists the slices stats_daily accepts, in the order their
// columns appear (whatever the order in the config). "partner" and
// "affiliate" are the same slice (column partner_id).
var StatsSlices = []string{
	"day", "offer", "partner", "affiliate", "advertiser", "manager",
	"country", "city", "os", "device", "goal", "browser",
	"sub1", "sub2", "sub3", "sub4", "sub5",
}

// StatsTypes are the conversion types stored per row, each as <type>_count,
// <type>_revenue (affiliate payouts), <type>_charge (advertiser revenue) and
// <type>_earning (profit). Types missing from a reply are 0.
var StatsTypes = []string{"total", "confirmed", "pending", "declined", "hold"}

// StatsAPISlice is the slice[] value to send for a configured slice: the
// name as configured (Affise documents "affiliate", accepts "partner").
func StatsAPISlice(slice string) string { return slice }

// StatsSliceColumn is the stats_daily column holding a slice's value.
func StatsSliceColumn(slice string) string {
	switch slice {
	case "offer":
		return "offer_id"
	case "partner", "affiliate":
		return "partner_id"
	case "advertiser":
		return "advertiser_id"
	case "manager":
		return "manager_id"
	}
	return slice
}

// statsReplyKeys are the members of the reply's slice object that may carry
// a slice's value, in order of preference.
func statsReplyKeys(slice string) []string {
	switch slice {
	case "partner", "affiliate":
		return []string{"partner", "affiliate"}
	case "manager":
		return []string{"manager", "manager_id", "affiliate_manager_id"}
	}
	return []string{slice}
}

// StatsDaily builds the stats_daily model for the configured slices. "day"
// is required; unknown or repeated slices are errors.
func StatsDaily(slices []string) (Model, error) {
	want := map[string]bool{}
	hasDay := false
	for _, s := range slices {
		s = strings.TrimSpace(s)
		if !isStatsSlice(s) {
			return nil, fmt.Errorf("stats_daily: unknown slice %q (allowed: %s)", s, strings.Join(StatsSlices, ", "))
		}
		canon := s
		if s == "affiliate" {
			canon = "partner"
		}
		if want[canon] {
			return nil, fmt.Errorf("stats_daily: slice %q given twice (partner and affiliate are the same slice)", s)
		}
		want[canon] = true
		if s == "day" {
			hasDay = true
		}
	}
	if !hasDay {
		return nil, fmt.Errorf("stats_daily: slices must include \"day\" (got [%s])", strings.Join(slices, ", "))
	}

	// A slice's value is 0 or "" (not NULL) when missing, so keys compare.
	cols := []column{{name: "day", typ: tDate, from: at("slice"), dec: (*rowState).statsDay}}
	key := []string{"day"}
	for _, s := range StatsSlices {
		if s == "day" || s == "affiliate" || !want[s] {
			continue
		}
		typ, dec := tString, (*rowState).sliceText
		if s == "offer" || s == "partner" {
			typ, dec = tInt64, (*rowState).sliceID
		}
		var names []path
		for _, k := range statsReplyKeys(s) {
			names = append(names, at("slice", k))
		}
		name := StatsSliceColumn(s)
		cols = append(cols, column{name: name, typ: typ, from: found(names...), dec: dec})
		key = append(key, name)
	}
	// The currency of the row's money: "" where Affise's numbers mix every
	// currency (rows read before syncd asked per currency, or while no
	// currency was known). Traffic is the slice's whole, in each currency's
	// row: clicks carry no currency.
	cols = append(cols, column{name: "currency", typ: tString, from: at("slice", "currency"), dec: (*rowState).sliceText})
	key = append(key, "currency")
	cols = append(cols,
		column{name: "clicks_raw", typ: tInt64, from: at("traffic", "raw"), dec: (*rowState).int0},
		column{name: "clicks_uniq", typ: tInt64, from: at("traffic", "uniq"), dec: (*rowState).int0})
	for _, t := range StatsTypes {
		cols = append(cols, column{name: t + "_count", typ: tInt64, from: at("actions", t, "count"), dec: (*rowState).int0})
		for _, m := range statsMoney {
			cols = append(cols, column{name: t + "_" + m, typ: tDecimal, from: at("actions", t, m), dec: (*rowState).dec0})
		}
	}
	for i := range cols {
		cols[i].notNull = true // every value defaults to 0 or ""
	}
	return buildTable("stats_daily", cols, key, "day", ""), nil
}

func isStatsSlice(s string) bool {
	for _, a := range StatsSlices {
		if a == s {
			return true
		}
	}
	return false
}

var statsMoney = [3]string{"revenue", "charge", "earning"}

// sliceID decodes an id slice (offer, partner): a number, a numeric string
// or an object's id; 0 when missing.
func (r *rowState) sliceID(col int, field string, v []byte) {
	n, _, err := intOf(idOf(v))
	if err != nil {
		r.fail(field, err)
		return
	}
	r.set(col, cell{i: n})
}

// sliceText decodes a text slice: a scalar, or an object's id or code
// (country is {"code", "name"}); "" when missing.
func (r *rowState) sliceText(col int, field string, v []byte) {
	if len(v) > 0 && v[0] == '{' {
		v = first(member(v, "id"), member(v, "code"))
	}
	b, _, err := textOf(v)
	if err != nil {
		r.fail(field, err)
		return
	}
	r.set(col, cell{s: b})
}

// int0 and dec0 decode a number, 0 when missing or null.
func (r *rowState) int0(col int, field string, v []byte) {
	n, _, err := intOf(v)
	if err != nil {
		r.fail(field, err)
		return
	}
	r.set(col, cell{i: n})
}

func (r *rowState) dec0(col int, field string, v []byte) {
	n, _, err := decimalOf(v)
	if err != nil {
		r.fail(field, err)
		return
	}
	r.set(col, cell{i: n})
}

// statsDay decodes slice.year/month/day (ints or numeric strings; a
// "YYYY-MM-DD" string in day or date is accepted too) into a DATE cell.
func (r *rowState) statsDay(col int, field string, slice []byte) {
	if len(slice) == 0 || slice[0] != '{' {
		r.fail(field, fmt.Errorf("want an object, got %s", describe(slice)))
		return
	}
	if d := first(member(slice, "date"), member(slice, "day")); len(d) > 0 && d[0] == '"' {
		if s, err := unquote(d); err == nil && len(s) >= 10 && s[4] == '-' {
			t, err := parseNaive(s, time.UTC)
			if err != nil {
				r.fail("slice.day", err)
				return
			}
			r.set(col, cell{i: t.Unix() / 86400})
			return
		}
	}
	var ymd [3]int64
	for i, k := range [3]string{"year", "month", "day"} {
		n, ok, err := intOf(member(slice, k))
		if err == nil && !ok {
			err = errNull
		}
		if err != nil {
			r.fail("slice."+k, err)
			return
		}
		ymd[i] = n
	}
	y, m, d := ymd[0], ymd[1], ymd[2]
	if y < 1 || y > 9999 || m < 1 || m > 12 || d < 1 || d > int64(daysIn(int(y), int(m))) {
		r.fail("slice.day", fmt.Errorf("no such date %d-%d-%d", y, m, d))
		return
	}
	t := time.Date(int(y), time.Month(m), int(d), 0, 0, 0, 0, time.UTC)
	r.set(col, cell{i: t.Unix() / 86400})
}
