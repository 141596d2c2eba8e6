package main

import (
	"strings"
	"testing"

	warehousesql "github.com/syncd/syncd/sql"
)

// Every report carries the one day filter --from/--to replace, and the
// replacement bounds the days as asked.
func TestReportsTakeARange(t *testing.T) {
	reports, err := warehousesql.Reports()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reports {
		if n := len(reportRange.FindAllString(r.SQL, -1)); n != 1 {
			t.Errorf("report %s has %d day filters, want 1", r.Name, n)
		}
		q, err := withRange(r.SQL, "2025-06-01", "2025-06-30")
		if err != nil || !strings.Contains(q, "WHERE day >= DATE '2025-06-01' AND day <= DATE '2025-06-30'") || strings.Contains(q, "current_date") {
			t.Errorf("report %s with a range: %v\n%s", r.Name, err, q)
		}
		q, err = withRange(r.SQL, "", "2025-06-30")
		if err != nil || !strings.Contains(q, "WHERE day >= current_date - ") || !strings.Contains(q, "AND day <= DATE '2025-06-30'") {
			t.Errorf("report %s with --to only: %v\n%s", r.Name, err, q)
		}
		if reportSummary(r.SQL) == "" {
			t.Errorf("report %s has no summary line", r.Name)
		}
	}
	if _, err := withRange("SELECT 1", "2025-06-01", ""); err == nil {
		t.Error("a report without a day filter took a range")
	}
	if _, err := withRange(reports[0].SQL, "June", ""); err == nil {
		t.Error("a bad --from was accepted")
	}
}
