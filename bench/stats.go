package bench

import (
	"fmt"
	"slices"
)

// Sample is one figure measured several times.
type Sample []float64

// Median is the middle value (the mean of the two middle ones for an even
// count); 0 for no values.
func (s Sample) Median() float64 {
	if len(s) == 0 {
		return 0
	}
	c := slices.Clone(s)
	slices.Sort(c)
	if len(c)%2 == 1 {
		return c[len(c)/2]
	}
	return (c[len(c)/2-1] + c[len(c)/2]) / 2
}

// Spread renders the median with min and max, "12.3 (11.0..13.1)", each
// with format f; a single value is rendered alone with "(1 run)".
func (s Sample) Spread(f string) string {
	switch len(s) {
	case 0:
		return "n/a"
	case 1:
		return fmt.Sprintf(f+" (1 run)", s[0])
	}
	return fmt.Sprintf(f+" ("+f+".."+f+")", s.Median(), slices.Min(s), slices.Max(s))
}
