package checkpoints

import (
	"strings"
	"testing"
	"time"
)

func TestInFuture(t *testing.T) {
	now := time.Date(2025, 6, 10, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		pos  time.Time
		want bool
	}{
		{time.Time{}, false},
		{now.Add(-time.Hour), false},
		{now, false}, // a snapshot's cursor is its pass's clock reading
		{now.Add(FutureTolerance), false},
		{now.Add(FutureTolerance + time.Second), true},
		{now.AddDate(1, 0, 0), true},
	} {
		if got := (Cursor{Stream: "clicks", Position: c.pos}).InFuture(now); got != c.want {
			t.Errorf("cursor %v at %v: InFuture %v, want %v", c.pos, now, got, c.want)
		}
	}
}

func TestIsBackfillKey(t *testing.T) {
	if !IsBackfillKey(BackfillKey("conversions")) || IsBackfillKey("conversions") {
		t.Error("IsBackfillKey does not tell a backfill's cursor from an incremental one")
	}
}

func TestFutureCursorErrorNamesStreamCursorNowAndFix(t *testing.T) {
	now := time.Date(2025, 6, 10, 12, 0, 0, 0, time.UTC)
	e := &FutureCursorError{Stream: "clicks", Position: now.AddDate(0, 0, 30), Now: now}
	msg := e.Error()
	for _, want := range []string{"clicks", "2025-07-10T12:00:00Z", "2025-06-10T12:00:00Z", "30 days ahead", "syncd state reset --stream clicks"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q lacks %q", msg, want)
		}
	}
	if e.Fix() != "syncd state reset --stream clicks" || strings.Contains(msg, "\n") {
		t.Errorf("fix %q, message %q", e.Fix(), msg)
	}
}

// TestStoredMetaRoundTrips: what a sink stores for Backfill and Meta reads
// back as it was, and bounds keep the string the release before typed
// bounds wrote, so a backfill it left half done resumes after an upgrade.
func TestStoredMetaRoundTrips(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	bounds := BackfillBounds{From: time.Date(2025, 3, 1, 0, 0, 0, 0, berlin), To: time.Date(2025, 4, 1, 0, 0, 0, 0, berlin)}
	c := Cursor{Stream: BackfillKey("conversions"), Backfill: &bounds}
	stored, err := c.StoredMeta()
	if err != nil {
		t.Fatal(err)
	}
	if want := "2025-02-28T23:00:00Z/2025-03-31T22:00:00Z"; stored != want {
		t.Errorf("stored %q, want the earlier release's %q", stored, want)
	}
	var back Cursor
	back.SetStoredMeta(stored)
	if back.Backfill == nil || !back.Backfill.Equal(bounds) || back.Meta != "" {
		t.Errorf("read back %+v %q, want bounds %+v", back.Backfill, back.Meta, bounds)
	}

	for _, meta := range []string{"", "m1", `{"from":"2024-06-01","to":"2024-07-01"}`, "2025-01-01/2025-02-01", "2025-02-01T00:00:00Z/2025-01-01T00:00:00Z"} {
		stored, err := Cursor{Stream: "clicks", Meta: meta}.StoredMeta()
		if err != nil || stored != meta {
			t.Errorf("Meta %q stored as %q, %v", meta, stored, err)
		}
		back.SetStoredMeta(stored)
		if back.Meta != meta || back.Backfill != nil {
			t.Errorf("Meta %q read back as %q %+v", meta, back.Meta, back.Backfill)
		}
	}

	for name, bad := range map[string]Cursor{
		"both":             {Stream: "x", Backfill: &bounds, Meta: "m"},
		"meta like bounds": {Stream: "x", Meta: "2025-02-28T23:00:00Z/2025-03-31T22:00:00Z"},
		"empty range":      {Stream: "x", Backfill: &BackfillBounds{From: bounds.To, To: bounds.From}},
		"fractional":       {Stream: "x", Backfill: &BackfillBounds{From: bounds.From.Add(time.Millisecond), To: bounds.To}},
	} {
		if s, err := bad.StoredMeta(); err == nil {
			t.Errorf("%s: stored as %q, want an error", name, s)
		}
	}
}
