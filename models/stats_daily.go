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
		Name: "stats_daily", Endpoint: "/3.0/stats/custom", ListKey: "stats",
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

type statsSlice struct {
	name string
	col  int
	typ  colType
	keys []string
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

	cols := []column{{name: "day", typ: tDate, notNull: true}}
	key := []string{"day"}
	var ss []statsSlice
	for _, s := range StatsSlices {
		if s == "day" || s == "affiliate" || !want[s] {
			continue
		}
		typ := tString
		if s == "offer" || s == "partner" {
			typ = tInt64
		}
		name := StatsSliceColumn(s)
		ss = append(ss, statsSlice{name: s, col: len(cols), typ: typ, keys: statsReplyKeys(s)})
		cols = append(cols, column{name: name, typ: typ, notNull: true})
		key = append(key, name)
	}
	clicks := len(cols)
	cols = append(cols,
		column{name: "clicks_raw", typ: tInt64, notNull: true},
		column{name: "clicks_uniq", typ: tInt64, notNull: true})
	actions := len(cols)
	for _, t := range StatsTypes {
		cols = append(cols,
			column{name: t + "_count", typ: tInt64, notNull: true},
			column{name: t + "_revenue", typ: tDecimal, notNull: true},
			column{name: t + "_charge", typ: tDecimal, notNull: true},
			column{name: t + "_earning", typ: tDecimal, notNull: true})
	}
	row := func(r *rowState) { statsRow(r, ss, clicks, actions) }
	return newTable("stats_daily", cols, key, "day", []string{"slice", "traffic", "actions"}, row), nil
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

func statsRow(r *rowState, ss []statsSlice, clicks, actions int) {
	slice := r.val("slice")
	if len(slice) == 0 || slice[0] != '{' {
		r.fail("slice", fmt.Errorf("want an object, got %s", describe(slice)))
		return
	}
	r.statsDay(0, slice)
	for _, s := range ss {
		var v []byte
		for _, k := range s.keys {
			if v = member(slice, k); v != nil {
				break
			}
		}
		field := "slice." + s.keys[0]
		if s.typ == tInt64 {
			n, ok, err := intOf(idOf(v))
			if err != nil {
				r.fail(field, err)
				return
			}
			if !ok {
				n = 0 // keys compare: 0, not NULL
			}
			r.set(s.col, cell{i: n})
			continue
		}
		if len(v) > 0 && v[0] == '{' {
			v = first(member(v, "id"), member(v, "code"))
		}
		b, _, err := textOf(v)
		if err != nil {
			r.fail(field, err)
			return
		}
		r.set(s.col, cell{s: b}) // "" (not NULL) when missing
	}

	traffic := r.val("traffic")
	r.int0(clicks, "traffic.raw", member(traffic, "raw"))
	r.int0(clicks+1, "traffic.uniq", member(traffic, "uniq"))

	acts := r.val("actions")
	for i, t := range StatsTypes {
		a := member(acts, t)
		col := actions + 4*i
		r.int0(col, "actions."+t+".count", member(a, "count"))
		for j, m := range statsMoney {
			r.dec0(col+1+j, "actions."+t+"."+m, member(a, m))
		}
	}
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
func (r *rowState) statsDay(col int, slice []byte) {
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
