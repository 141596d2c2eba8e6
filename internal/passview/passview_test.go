package passview

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/pipeline"
)

func TestLineWritesLogAboveTheLine(t *testing.T) {
	var out bytes.Buffer
	l := NewLine(&out, func() int { return 30 })
	l.Set("conversions: window 1/4")
	if _, err := l.Write([]byte("a log line\n")); err != nil {
		t.Fatal(err)
	}
	l.Set("conversions: window 2/4, a very long text that does not fit")
	l.Clear()
	want := "\rconversions: window 1/4" + // drawn
		"\r\x1b[Ka log line\nconversions: window 1/4" + // erased, log, redrawn
		"\r\x1b[Kconversions: window 2/4, a v…" + // cut to 29 columns
		"\r\x1b[K" // cleared
	if got := out.String(); got != want {
		t.Errorf("terminal got\n%q\nwant\n%q", got, want)
	}
	out.Reset()
	if _, err := l.Write([]byte("after\n")); err != nil || out.String() != "after\n" {
		t.Errorf("with no line shown a write is the log alone: %q %v", out.String(), err)
	}
}

func TestDescribe(t *testing.T) {
	p := pipeline.Progress{Stream: "conversions", Done: 3, Total: 12, Read: 1850, Requests: 14}
	if got, want := Describe(p, 30*time.Second), "conversions: window 3/12, 1,850 rows, 14 requests, ETA 1m30s"; got != want {
		t.Errorf("Describe = %q, want %q", got, want)
	}
	p.Done = 0
	if got := Describe(p, 30*time.Second); strings.Contains(got, "ETA") {
		t.Errorf("no window done, no pace: %q", got)
	}
}

func TestTrackerSharesTheLineAndRedrawsOnWindows(t *testing.T) {
	var out bytes.Buffer
	clock := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tr := NewTracker(NewLine(&out, func() int { return 0 }), func() time.Time { return clock })
	tr.Progress(pipeline.Progress{Stream: "offers", Total: 1})
	tr.Progress(pipeline.Progress{Stream: "clicks", Total: 2, Read: 10}) // within 200ms, no window: not drawn
	if strings.Contains(out.String(), "clicks") {
		t.Errorf("redrawn for rows alone within the interval: %q", out.String())
	}
	clock = clock.Add(10 * time.Second)
	tr.Progress(pipeline.Progress{Stream: "clicks", Done: 1, Total: 2, Read: 500, Requests: 3})
	if !strings.HasSuffix(out.String(), "clicks: window 1/2, 500 rows, 3 requests, ETA 10s | offers: window 0/1, 0 rows, 0 requests") {
		t.Errorf("line: %q", out.String())
	}
	tr.Done("clicks")
	tr.Done("offers")
	if !strings.HasSuffix(out.String(), "\r\x1b[K") {
		t.Errorf("the line is not cleared when the passes end: %q", out.String())
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1850: "1,850", 1234567: "1,234,567", -1850: "-1,850"} {
		if got := Count(n); got != want {
			t.Errorf("Count(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestSummary(t *testing.T) {
	before := time.Date(2025, 1, 1, 10, 0, 0, 0, time.UTC)
	passes := []Pass{
		{Result: pipeline.Result{Stream: "conversions", Windows: 3, Planned: 3, Read: 1850, Committed: load.Committed{Updated: 12, Unchanged: 1838},
			Requests: 14, Retries: 2, Duration: 72 * time.Second, CursorBefore: before, Cursor: before.Add(24 * time.Hour)}},
		{Result: pipeline.Result{Stream: "clicks", Planned: 2, Requests: 8, Duration: 850 * time.Millisecond}, Error: "HTTP 500"},
	}
	var tbl bytes.Buffer
	if err := WriteTable(&tbl, passes); err != nil {
		t.Fatal(err)
	}
	want := `STREAM       WINDOWS  READ   INSERTED  UPDATED  UNCHANGED  REQUESTS  RETRIES  DURATION  CURSOR                                  RESULT
conversions  3/3      1,850  0         12       1,838      14        2        1m12s     2025-01-01 10:00Z -> 2025-01-02 10:00Z  ok
clicks       0/2      0      0         0        0          8         0        850ms     none (unchanged)                        failed
`
	if tbl.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", tbl.String(), want)
	}
	var js bytes.Buffer
	if err := WriteJSON(&js, passes); err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(js.Bytes(), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, js.String())
	}
	c := got[0]
	if c["rows_read"] != 1850.0 || c["rows_updated"] != 12.0 || c["rows_unchanged"] != 1838.0 || c["duration"] != "1m12s" ||
		c["cursor_before"] != "2025-01-01T10:00:00Z" || c["cursor_after"] != "2025-01-02T10:00:00Z" || c["ok"] != true {
		t.Errorf("json conversions: %v", c)
	}
	if got[1]["ok"] != false || got[1]["error"] != "HTTP 500" || got[1]["cursor_before"] != nil {
		t.Errorf("json clicks: %v", got[1])
	}
}
