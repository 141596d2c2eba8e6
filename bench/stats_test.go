package bench

import "testing"

func TestSampleMedianAndSpread(t *testing.T) {
	cases := []struct {
		s      Sample
		median float64
		spread string
	}{
		{nil, 0, "n/a"},
		{Sample{7}, 7, "7 (1 run)"},
		{Sample{3, 1, 2}, 2, "2 (1..3)"},
		{Sample{4, 1, 3, 2}, 2.5, "2 (1..4)"},
	}
	for _, c := range cases {
		if got := c.s.Median(); got != c.median {
			t.Errorf("%v: median %v, want %v", c.s, got, c.median)
		}
		if got := c.s.Spread("%.0f"); got != c.spread {
			t.Errorf("%v: spread %q, want %q", c.s, got, c.spread)
		}
	}
}
