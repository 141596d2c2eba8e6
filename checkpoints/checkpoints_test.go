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
