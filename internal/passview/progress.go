package passview

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/syncd/syncd/pipeline"
)

// Tracker turns the passes' progress (pipeline.Options.Progress) into a
// Line: per running stream its windows done of total, rows read,
// requests and, once a window is done, the time left at the pace so far.
// Several streams (a daemon runs them at once) share the line. Safe for
// concurrent use.
type Tracker struct {
	line *Line
	now  func() time.Time
	// every bounds how often the line is redrawn for rows and requests
	// alone; a committed window always redraws it.
	every time.Duration

	mu      sync.Mutex
	streams map[string]*running
	drawn   time.Time
}

type running struct {
	started time.Time
	p       pipeline.Progress
}

// NewTracker draws on line with clock now (time.Now when nil).
func NewTracker(line *Line, now func() time.Time) *Tracker {
	if now == nil {
		now = time.Now
	}
	return &Tracker{line: line, now: now, every: 200 * time.Millisecond, streams: map[string]*running{}}
}

// Progress is a pipeline.Options.Progress: it records p and redraws.
func (t *Tracker) Progress(p pipeline.Progress) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	r := t.streams[p.Stream]
	if r == nil {
		r = &running{started: now}
		t.streams[p.Stream] = r
	}
	window := p.Done != r.p.Done
	r.p = p
	if !window && now.Sub(t.drawn) < t.every {
		return
	}
	t.drawn = now
	t.line.Set(t.text(now))
}

// Done ends stream's part of the line (its pass finished).
func (t *Tracker) Done(stream string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.streams, stream)
	t.line.Set(t.text(t.now()))
}

func (t *Tracker) text(now time.Time) string {
	names := make([]string, 0, len(t.streams))
	for n := range t.streams {
		names = append(names, n)
	}
	slices.Sort(names)
	parts := make([]string, 0, len(names))
	for _, n := range names {
		r := t.streams[n]
		parts = append(parts, Describe(r.p, now.Sub(r.started)))
	}
	return strings.Join(parts, " | ")
}

// Describe is one stream's progress after elapsed: "conversions: window
// 3/12, 1,850 rows, 14 requests, ETA 1m12s". The time left is the pace of
// the windows done so far applied to those left; unknown before the first.
func Describe(p pipeline.Progress, elapsed time.Duration) string {
	s := fmt.Sprintf("%s: window %d/%d, %s rows, %s requests", p.Stream, p.Done, p.Total, Count(p.Read), Count(p.Requests))
	if p.Total > 0 && p.Done > 0 && p.Done < p.Total {
		left := time.Duration(float64(elapsed) / float64(p.Done) * float64(p.Total-p.Done))
		s += ", ETA " + pipeline.FormatDuration(left.Round(time.Second))
	}
	return s
}

// Count prints n with thousands separators: 1,850.
func Count(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
