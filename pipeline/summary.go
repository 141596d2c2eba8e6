package pipeline

import (
	"time"

	"github.com/rs/zerolog"
)

// Log adds r to ev as the fields of a pass's one summary line: what it
// read, what its commits stored (inserted, updated, unchanged), its
// requests and retries, how long it took (a duration such as "1m12s",
// as a person reads it) and its cursor before and after.
func (r Result) Log(ev *zerolog.Event) *zerolog.Event {
	ev = ev.Str("stream", r.Stream).
		Int("windows", r.Windows).Int("windows_planned", r.Planned).
		Int64("rows_read", r.Read).
		Int64("rows_inserted", r.Committed.Inserted).Int64("rows_updated", r.Committed.Updated).
		Int64("rows_unchanged", r.Committed.Unchanged).Int64("rows", r.Rows).
		Int64("requests", r.Requests).Int64("retries", r.Retries).
		Str("duration", FormatDuration(r.Duration))
	// A stream that never committed has no cursor: no 0001-01-01.
	if !r.CursorBefore.IsZero() {
		ev = ev.Time("cursor_before", r.CursorBefore)
	}
	if !r.Cursor.IsZero() {
		ev = ev.Time("cursor", r.Cursor)
	}
	return ev
}

// FormatDuration prints d as a person reads it: "850ms", "4.2s", "1m12s",
// "2h5m0s"; never float seconds.
func FormatDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
