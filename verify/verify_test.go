package verify

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// compare names what differs: counts exactly, money to the cent.
func TestCompare(t *testing.T) {
	w, a := newNumbers(), newNumbers()
	for _, n := range []Numbers{w, a} {
		n.Count["confirmed"], n.Revenue["confirmed"], n.Payouts["confirmed"] = 3, 10.004, 5
		n.Count["total"], n.Revenue["total"] = 4, 12
	}
	a.Revenue["confirmed"] = 10.0049 // within a cent: Affise sends floats
	if d := compare(w, a); len(d) != 0 {
		t.Errorf("equal numbers differ: %v", d)
	}
	a.Count["pending"] = 1
	a.Payouts["confirmed"] = 5.01
	d := compare(w, a)
	if !slices.Equal(d, []string{"confirmed payouts 5.00 != 5.01", "pending count 0 != 1"}) {
		t.Errorf("diffs %v", d)
	}
}

// MismatchedDays lists each differing day once, in order, whatever the
// currencies.
func TestMismatchedDays(t *testing.T) {
	rep := Report{Rows: []Row{
		{Key: Key{Day: "2025-06-01", Currency: "EUR"}, Diffs: []string{"x"}},
		{Key: Key{Day: "2025-06-01", Currency: "USD"}, Diffs: []string{"y"}},
		{Key: Key{Day: "2025-06-02", Currency: "USD"}},
		{Key: Key{Day: "2025-06-03", Currency: ClicksCurrency}, Diffs: []string{"clicks 1 != 2"}},
	}}
	var got []string
	for _, d := range rep.MismatchedDays() {
		got = append(got, d.Format(time.DateOnly))
	}
	if strings.Join(got, ",") != "2025-06-01,2025-06-03" || len(rep.Mismatched()) != 3 {
		t.Errorf("mismatched days %v, rows %d", got, len(rep.Mismatched()))
	}
}
