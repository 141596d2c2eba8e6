package passview

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/syncd/syncd/pipeline"
)

// Pass is one stream's pass as the summary shows it.
type Pass struct {
	pipeline.Result
	// Network is the network the pass synced; "" leaves the column out
	// (a config with one network).
	Network string
	// Error is why the pass failed ("" when it did not), redacted.
	Error string
	// Err is the failure itself, for the caller's exit error; not printed.
	Err error
}

// WriteTable writes one line per pass: windows, rows read, rows inserted,
// updated and unchanged, requests, retries, duration and the cursor
// before -> after, and ok or failed.
func WriteTable(w io.Writer, passes []Pass) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	network := func(string) string { return "" }
	if slices.ContainsFunc(passes, func(p Pass) bool { return p.Network != "" }) {
		network = func(n string) string { return n + "\t" }
	}
	fmt.Fprint(tw, network("NETWORK"))
	fmt.Fprintln(tw, "STREAM\tWINDOWS\tREAD\tINSERTED\tUPDATED\tUNCHANGED\tREQUESTS\tRETRIES\tDURATION\tCURSOR\tRESULT")
	for _, p := range passes {
		r := p.Result
		result := "ok"
		if p.Error != "" {
			result = "failed"
		}
		fmt.Fprint(tw, network(p.Network))
		fmt.Fprintf(tw, "%s\t%d/%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Stream, r.Windows, r.Planned,
			Count(r.Read), Count(r.Committed.Inserted), Count(r.Committed.Updated), Count(r.Committed.Unchanged),
			Count(r.Requests), Count(r.Retries), pipeline.FormatDuration(r.Duration), cursorMove(r.CursorBefore, r.Cursor), result)
	}
	return tw.Flush()
}

// cursorMove is "before -> after", "none" for a stream without a cursor,
// or one instant when the pass left it where it was.
func cursorMove(before, after time.Time) string {
	f := func(t time.Time) string {
		if t.IsZero() {
			return "none"
		}
		return t.UTC().Format("2006-01-02 15:04Z")
	}
	if before.Equal(after) {
		return f(after) + " (unchanged)"
	}
	return f(before) + " -> " + f(after)
}

// passJSON is a pass in `--format json`: counts as numbers, the duration
// as a duration string and in milliseconds, instants in RFC 3339.
type passJSON struct {
	Network        string     `json:"network,omitempty"`
	Stream         string     `json:"stream"`
	OK             bool       `json:"ok"`
	Error          string     `json:"error,omitempty"`
	Windows        int        `json:"windows"`
	WindowsPlanned int        `json:"windows_planned"`
	RowsRead       int64      `json:"rows_read"`
	RowsInserted   int64      `json:"rows_inserted"`
	RowsUpdated    int64      `json:"rows_updated"`
	RowsUnchanged  int64      `json:"rows_unchanged"`
	Requests       int64      `json:"requests"`
	Retries        int64      `json:"retries"`
	Duration       string     `json:"duration"`
	DurationMS     int64      `json:"duration_ms"`
	CursorBefore   *time.Time `json:"cursor_before"`
	CursorAfter    *time.Time `json:"cursor_after"`
}

// WriteJSON writes the passes as a JSON array, one object per pass.
func WriteJSON(w io.Writer, passes []Pass) error {
	out := make([]passJSON, 0, len(passes))
	for _, p := range passes {
		r := p.Result
		j := passJSON{Network: p.Network, Stream: r.Stream, OK: p.Error == "", Error: p.Error, Windows: r.Windows, WindowsPlanned: r.Planned, RowsRead: r.Read,
			RowsInserted: r.Committed.Inserted, RowsUpdated: r.Committed.Updated, RowsUnchanged: r.Committed.Unchanged,
			Requests: r.Requests, Retries: r.Retries, Duration: pipeline.FormatDuration(r.Duration), DurationMS: r.Duration.Milliseconds(),
			CursorBefore: instant(r.CursorBefore), CursorAfter: instant(r.Cursor)}
		out = append(out, j)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func instant(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
