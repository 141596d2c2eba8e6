package duckdb

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/syncd/syncd/load"
)

// TestLastRuns: per stream the latest finished sync pass, with the finish
// of its latest successful one; backfills and unfinished passes do not
// count, and a fresh warehouse has none.
func TestLastRuns(t *testing.T) {
	s, _ := openTest(t)
	if runs, err := s.LastRuns(bg); err != nil || len(runs) != 0 {
		t.Fatalf("fresh warehouse: %v %v", runs, err)
	}
	at := func(h int) time.Time { return time.Date(2025, 2, 3, h, 0, 0, 0, time.UTC) }
	for _, r := range []load.Run{
		{Stream: "a", Kind: "sync", StartedAt: at(1), FinishedAt: at(2), Rows: 10, Requests: 3},
		{Stream: "a", Kind: "sync", StartedAt: at(3), FinishedAt: at(4), Requests: 7, Error: "HTTP 500"},
		{Stream: "a", Kind: "backfill", StartedAt: at(5), FinishedAt: at(6), Rows: 99},
		{Stream: "a", Kind: "sync", StartedAt: at(7)}, // still running when the process died
		{Stream: "b", Kind: "sync", StartedAt: at(1), FinishedAt: at(1).Add(90 * time.Second), Error: "boom"},
		{Stream: "c", Kind: "backfill", StartedAt: at(1), FinishedAt: at(2)},
	} {
		if err := s.RecordRun(bg, r); err != nil {
			t.Fatal(err)
		}
	}
	runs, err := s.LastRuns(bg)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range runs {
		got = append(got, fmt.Sprintf("%s|%s|%s|%s|%d|%d|%s|%s", r.Stream, r.Kind, r.StartedAt.Format(time.RFC3339), r.FinishedAt.Format(time.RFC3339),
			r.Rows, r.Requests, r.Error, r.LastSuccess.Format(time.RFC3339)))
		if r.StartedAt.Location() != time.UTC || r.FinishedAt.Location() != time.UTC {
			t.Errorf("%s: times not in UTC", r.Stream)
		}
	}
	slices.Sort(got)
	eq(t, got, []string{
		"a|sync|2025-02-03T03:00:00Z|2025-02-03T04:00:00Z|0|7|HTTP 500|2025-02-03T02:00:00Z",
		"b|sync|2025-02-03T01:00:00Z|2025-02-03T01:01:30Z|0|0|boom|0001-01-01T00:00:00Z",
	})
}

// TestDailyMoneyWithoutConversions: no conversions table is not an error.
func TestDailyMoneyWithoutConversions(t *testing.T) {
	s, _ := openTest(t)
	days, found, err := s.DailyMoney(bg, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC))
	if err != nil || found || len(days) != 0 {
		t.Fatalf("DailyMoney = %v %v %v, want nothing found", days, found, err)
	}
	if _, err := s.DB().ExecContext(bg, `CREATE TABLE conversions (id VARCHAR, status VARCHAR, revenue DECIMAL(18,4), payouts DECIMAL(18,4), created_at TIMESTAMP);
		INSERT INTO conversions VALUES ('a', 'confirmed', 2.5, 1, '2025-01-31 23:59:59'), ('b', 'declined', 9, 9, '2025-01-31 01:00:00'), ('c', 'hold', 1, 1, '2025-02-01 00:00:00')`); err != nil {
		t.Fatal(err)
	}
	days, found, err = s.DailyMoney(bg, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC))
	if err != nil || !found || len(days) != 1 {
		t.Fatalf("DailyMoney = %v %v %v", days, found, err)
	}
	if d := days[0]; !d.Day.Equal(time.Date(2025, 1, 31, 0, 0, 0, 0, time.UTC)) || d.Revenue != 2.5 || d.Payouts != 1 || d.Conversions != 2 || d.Day.Location() != time.UTC {
		t.Errorf("day = %+v", d)
	}
}
