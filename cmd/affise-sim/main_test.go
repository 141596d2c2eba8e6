package main

import (
	"strings"
	"testing"

	"github.com/syncd/syncd/internal/affisesim"
)

// The help text describes every path the simulator serves and names
// every data set /_sim/truth serves.
func TestUsageNamesEverything(t *testing.T) {
	u := usage()
	for _, p := range affisesim.Endpoints() {
		if !strings.Contains(u, "GET "+p+" ") {
			t.Errorf("usage does not describe %s", p)
		}
	}
	for _, s := range affisesim.Streams() {
		if !strings.Contains(u, " "+s) {
			t.Errorf("usage does not name the truth stream %s", s)
		}
	}
	for _, c := range []string{"GET /3.0/admin/currency ", "POST /_sim/churn?n=N&min_age=", "GET  /_sim/truth/currency_rates ",
		"POST /_sim/hide-once?", "GET  /_sim/hide-once "} {
		if !strings.Contains(u, c) {
			t.Errorf("usage does not describe %s", c)
		}
	}
	if strings.Contains(u, "%!") {
		t.Errorf("usage has a formatting error:\n%s", u)
	}
}
