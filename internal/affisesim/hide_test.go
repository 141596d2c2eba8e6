package affisesim

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// hideState GETs the lie's state.
func hideStateOf(t *testing.T, s *Sim) map[string]any {
	t.Helper()
	r := call(t, s, "GET", "/_sim/hide-once", "")
	if r.code != 200 {
		t.Fatalf("hide state: %d %s", r.code, r.raw)
	}
	return r.body
}

func TestHideOnce(t *testing.T) {
	s, _ := newSim(t, nil)
	all := truth(t, s, "conversions")
	var hidden []string
	for _, c := range all {
		if strings.HasPrefix(c["created_at"].(string), "2025-03-10") && len(hidden) < 3 {
			hidden = append(hidden, c["id"].(string))
		}
	}
	for _, bad := range []string{"", "?stream=clicks&ids=" + hidden[0], "?ids=5f0000000000000000000000", "?day=10.03.2025", "?day=2020-01-01"} {
		if r := call(t, s, "POST", "/_sim/hide-once"+bad, ""); r.code != 400 {
			t.Errorf("hide-once%s: %d %s", bad, r.code, r.raw)
		}
	}
	if st := hideStateOf(t, s); st["state"] != "none" {
		t.Errorf("state before: %v", st)
	}
	r := call(t, s, "POST", "/_sim/hide-once?stream=conversions&ids="+strings.Join(hidden, ","), "")
	if r.code != 200 || r.body["hidden"] != float64(3) {
		t.Fatalf("hide-once: %d %s", r.code, r.raw)
	}
	// A window without them gets the truth and leaves the lie armed.
	other := "/3.0/stats/conversions?date_from=2025-03-01&date_to=2025-03-02"
	rows := walkAll(t, s, other, "conversions", 500)
	if want := countDays(all, "2025-03-01", "2025-03-02"); len(rows) != want {
		t.Errorf("other window: %d rows, truth %d", len(rows), want)
	}
	if st := hideStateOf(t, s); st["state"] != "armed" {
		t.Errorf("after another window: %v", st)
	}
	// The first window holding them lies, consistently, page after page,
	// in whatever order they are fetched and at whatever page size.
	window := "/3.0/stats/conversions?date_from=2025-03-08&date_to=2025-03-12"
	truthN := countDays(all, "2025-03-08", "2025-03-12")
	_, p := mustList(t, s, window+"&limit=1", "conversions")
	if total(p) != truthN-3 {
		t.Fatalf("total_count %d, truth %d, 3 hidden", total(p), truthN)
	}
	if st := hideStateOf(t, s); st["state"] != "lying" || !strings.Contains(st["window"].(string), "2025-03-08") {
		t.Errorf("claimed: %v", st)
	}
	last := (truthN - 3 + 99) / 100
	var got []string
	for page := last; page >= 1; page-- {
		rows, p := mustList(t, s, fmt.Sprintf("%s&limit=100&page=%d", window, page), "conversions")
		if total(p) != truthN-3 {
			t.Fatalf("page %d: total_count %d, want %d", page, total(p), truthN-3)
		}
		got = append(got, ids(rows)...)
		if page == 2 {
			// Meanwhile other windows, even with the hidden rows, see the truth.
			day := walkAll(t, s, "/3.0/stats/conversions?date_from=2025-03-10&date_to=2025-03-10", "conversions", 500)
			if n := countDays(all, "2025-03-10", "2025-03-10"); len(day) != n {
				t.Errorf("a window other than the lying one: %d rows, truth %d", len(day), n)
			}
			if st := hideStateOf(t, s); st["state"] != "lying" {
				t.Errorf("before the last page: %v", st)
			}
		}
	}
	var want []string
	for _, c := range all {
		if d := c["created_at"].(string)[:10]; d >= "2025-03-08" && d <= "2025-03-12" && !slices.Contains(hidden, c["id"].(string)) {
			want = append(want, c["id"].(string))
		}
	}
	if !sameSet(got, want) {
		t.Errorf("the lying walk: %d rows, want the %d not hidden", len(got), len(want))
	}
	// Then the truth again, for the same window too.
	if st := hideStateOf(t, s); st["state"] != "done" {
		t.Errorf("after the walk: %v", st)
	}
	if again := walkAll(t, s, window, "conversions", 500); len(again) != truthN {
		t.Errorf("after the lie: %d rows, truth %d", len(again), truthN)
	}
	// Neither custom stats nor the truth ever lie.
	if n := len(truth(t, s, "conversions")); n != len(all) {
		t.Errorf("truth %d rows, was %d", n, len(all))
	}

	// A day's conversions; a page lost to an injected fault does not end
	// the lie, its retry lies the same way.
	r = call(t, s, "POST", "/_sim/hide-once?day=2025-03-11", "")
	dayN := countDays(all, "2025-03-11", "2025-03-11")
	if r.code != 200 || r.body["hidden"] != float64(dayN) {
		t.Fatalf("hide a day: %s, the day has %d", r.raw, dayN)
	}
	w2 := "/3.0/stats/conversions?date_from=2025-03-10&date_to=2025-03-12&limit=500"
	truth2 := countDays(all, "2025-03-10", "2025-03-12")
	last2 := (truth2 - dayN + 499) / 500
	for page := 1; page < last2; page++ {
		mustList(t, s, fmt.Sprintf("%s&page=%d", w2, page), "conversions")
	}
	if err := s.SetFaults(1, []string{"truncated"}); err != nil {
		t.Fatal(err)
	}
	get(t, s, fmt.Sprintf("%s&page=%d", w2, last2))
	s.SetFaults(0, nil)
	if st := hideStateOf(t, s); st["state"] != "lying" {
		t.Errorf("after a truncated last page: %v", st)
	}
	rows, p = mustList(t, s, fmt.Sprintf("%s&page=%d", w2, last2), "conversions")
	if total(p) != truth2-dayN {
		t.Errorf("retried last page: total_count %d, want %d", total(p), truth2-dayN)
	}
	for _, c := range rows {
		if strings.HasPrefix(c["created_at"].(string), "2025-03-11") {
			t.Errorf("hidden day's conversion %v served", c["id"])
		}
	}
	if st := hideStateOf(t, s); st["state"] != "done" {
		t.Errorf("after the retried last page: %v", st)
	}
	stats, _ := mustList(t, s, "/3.0/stats/custom?slice[]=day&filter[date_from]=2025-03-11&filter[date_to]=2025-03-11", "stats")
	if n := stats[0]["actions"].(map[string]any)["total"].(map[string]any)["count"]; n != float64(dayN) {
		t.Errorf("custom stats of the hidden day: %v, want %d", n, dayN)
	}
}

// countDays counts truth conversions created on days from..to (UTC).
func countDays(all []map[string]any, from, to string) int {
	n := 0
	for _, c := range all {
		if d := c["created_at"].(string)[:10]; d >= from && d <= to {
			n++
		}
	}
	return n
}
