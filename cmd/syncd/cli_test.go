package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestGroupFailuresPrintsEachReasonOnce(t *testing.T) {
	got := groupFailures([]probeFailure{
		{"conversions", "GET /3.0/stats/conversions page 1: HTTP 401: API-Key is invalid (check api.key)"},
		{"clicks", "GET /3.0/stats/clicks page 1: HTTP 401: API-Key is invalid (check api.key) (after 3 attempts)"},
		{"offers", "GET /3.0/offers page 1: HTTP 403: forbidden (check api.key: its role may not use this endpoint)"},
		{"partners", "GET /3.0/admin/partners page 1: HTTP 401: API-Key is invalid (check api.key)"},
	})
	want := []string{
		"FAIL  api conversions, clicks, partners (3 streams, the same failure): HTTP 401: API-Key is invalid (check api.key)",
		"FAIL  api offers: GET /3.0/offers page 1: HTTP 403: forbidden (check api.key: its role may not use this endpoint)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestConfirm(t *testing.T) {
	for in, want := range map[string]bool{"y\n": true, "YES\n": true, " y \n": true, "n\n": false, "\n": false, "": false, "yes please\n": false} {
		var out bytes.Buffer
		got, err := confirm(strings.NewReader(in), &out, "Move? [y/N] ")
		if err != nil || got != want || out.String() != "Move? [y/N] " {
			t.Errorf("answer %q: %v %v (asked %q), want %v", in, got, err, out.String(), want)
		}
	}
}

// Not a terminal: state reset refuses without --yes before touching
// anything, and says how to go on.
func TestStateResetWithoutATerminalNeedsYes(t *testing.T) {
	root, _ := newRootCmd()
	root.SetArgs([]string{"state", "reset", "--stream", "clicks", "-c", "/nonexistent.yaml"})
	root.SetIn(strings.NewReader("y\n"))
	var out bytes.Buffer
	root.SetOut(&out)
	err := root.Execute()
	var ue usageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "add --yes") || strings.Contains(err.Error(), "\n") || out.Len() != 0 {
		t.Errorf("got %v, output %q", err, out.String())
	}
}

func TestPrintPlan(t *testing.T) {
	day := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	rows := []planRow{
		{Stream: "stats_daily", Cursor: day, Windows: 3, ChangedDayWindows: 2, From: day.AddDate(0, 0, -20), To: day.AddDate(0, 0, 1),
			CursorAfter: day, Currencies: []string{"EUR", "USD"}, EstimatedRequests: 6},
		{Stream: "clicks", StartsAt: "its default start 2026-03-03", Windows: 168, From: day.AddDate(0, 0, -7), To: day, CursorAfter: day, EstimatedRequests: 168},
		{Stream: "offers", Error: "boom"},
	}
	var b bytes.Buffer
	if err := printPlan(&b, rows, "table"); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"2 changed-day re-read", "2 currencies (EUR,USD) each", ">= 6", "starts at its default start 2026-03-03", "cursor -> 2026-03-10T00:00Z", "cannot plan: boom", "at least 174 in all"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
}

// A pass under way shows as running, not as a stream that never ran.
func TestPrintStateShowsAPassUnderWay(t *testing.T) {
	start := time.Date(2026, 12, 2, 3, 23, 15, 0, time.UTC)
	rows := []stateRow{
		{Stream: "conversions", Enabled: true, StartsAt: "its default start (30 days back)", NextRun: start.Add(15 * time.Minute), RunningSince: start},
		{Stream: "offers", Enabled: true, Cursor: start, Behind: "on time", LastPassEnd: start.Add(4 * time.Second), LastRows: 40, NextRun: start.Add(6 * time.Hour)},
	}
	var b strings.Builder
	if err := printState(&b, rows, "table"); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[1], "running since 2026-12-02T03:23:15Z") || strings.Contains(lines[2], "running") {
		t.Errorf("state table:\n%s", b.String())
	}
	b.Reset()
	if err := printState(&b, rows, "json"); err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal([]byte(b.String()), &got); err != nil {
		t.Fatal(err)
	}
	if got[0]["running_since"] != "2026-12-02T03:23:15Z" || got[1]["running_since"] != nil {
		t.Errorf("state json: %s", b.String())
	}
}
