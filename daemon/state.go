package daemon

import (
	"context"
	"sync"
	"time"

	"github.com/syncd/syncd/checkpoints"
	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/pipeline"
)

// Stream states, as /healthz, /api/status and the status page show them.
const (
	StateFresh   = "fresh"   // last pass succeeded, within staleness
	StateStale   = "stale"   // no success (nor progress) within staleness
	StateFailing = "failing" // last pass failed; retrying with backoff
	StateRunning = "running" // a pass is in flight
	StateWaiting = "waiting" // never ran yet
	// StateCursorInFuture: the stored cursor lies ahead of now, so the
	// pipeline refuses every pass until someone moves it (see
	// checkpoints.FutureCursorError).
	StateCursorInFuture = "cursor_in_future"
)

// Reasons /healthz counts a stream against the daemon's health, in the
// order a stream is judged by (it is named under the first that holds).
const (
	ProblemCursorInFuture = "cursor in future"
	ProblemStale          = "stale"
	// ProblemFailingSinceStart: at least one pass finished since the daemon
	// started and none succeeded. A stream with a 6h schedule takes 18h to
	// turn stale; a bad key or a broken state should not wait that long.
	ProblemFailingSinceStart = "every pass since start failed"
)

// stream is one job's live state. Its mutex guards everything below it.
type stream struct {
	job       Job
	interval  time.Duration
	staleness time.Duration
	// retention: the stream's source drops old rows, so the retention
	// alarm watches its cursor.
	retention bool

	mu            sync.Mutex
	running       bool
	passStarted   time.Time
	lastStart     time.Time
	lastEnd       time.Time
	lastSuccess   time.Time
	last          pipeline.Result
	hasLast       bool
	lastErr       string
	lastErrAt     time.Time
	failures      int
	passes        int  // finished since start, cancelled ones aside
	okSinceStart  bool // a pass succeeded since start
	cursor        time.Time
	next          time.Time
	progressAt    time.Time
	progressDone  int
	progressTotal int
	progressRows  int64
	progressReqs  int64
}

// StreamStatus is a snapshot of one network's stream.
type StreamStatus struct {
	// Network is the stream's network (models.DefaultNetwork for a
	// single-api config; "" only from a daemon older than networks, which
	// ran the default network alone).
	Network     string        `json:"network"`
	Stream      string        `json:"stream"`
	State       string        `json:"state"`
	Running     bool          `json:"running"`
	Interval    time.Duration `json:"interval_ns"`
	Staleness   time.Duration `json:"staleness_ns"`
	Stale       bool          `json:"stale"`
	LastSuccess time.Time     `json:"last_success,omitzero"`
	PassStarted time.Time     `json:"pass_started,omitzero"`
	LastStart   time.Time     `json:"last_pass_started,omitzero"`
	LastEnd     time.Time     `json:"last_pass_finished,omitzero"`
	HasLast     bool          `json:"-"`
	// LastRows is the rows the last pass added or changed; LastRead the
	// rows it fetched, which its commits stored as LastInserted,
	// LastUpdated and LastUnchanged (load.Committed).
	LastRows      int64         `json:"last_pass_rows"`
	LastRead      int64         `json:"last_pass_rows_read"`
	LastInserted  int64         `json:"last_pass_rows_inserted"`
	LastUpdated   int64         `json:"last_pass_rows_updated"`
	LastUnchanged int64         `json:"last_pass_rows_unchanged"`
	LastRequests  int64         `json:"last_pass_requests"`
	LastRetries   int64         `json:"last_pass_retries"`
	LastWindows   int           `json:"last_pass_windows"`
	LastDuration  time.Duration `json:"last_pass_duration_ns"`
	// LastCursorBefore is where the last pass started from (its end is
	// Cursor, as committed).
	LastCursorBefore time.Time     `json:"last_pass_cursor_before,omitzero"`
	LastError        string        `json:"last_error,omitempty"`
	LastErrorAt      time.Time     `json:"last_error_at,omitzero"`
	Failures         int           `json:"consecutive_failures"`
	Cursor           time.Time     `json:"cursor,omitzero"`
	CursorLag        time.Duration `json:"cursor_lag_ns,omitempty"`
	// Behind is how far the cursor lags where it can be at most now (see
	// Job.Behind): zero while the stream is on time.
	Behind time.Duration `json:"behind_ns,omitempty"`
	// CursorInFuture: Cursor is more than checkpoints.FutureTolerance ahead
	// of now; Fix is the command that moves it.
	CursorInFuture bool   `json:"cursor_in_future,omitempty"`
	Fix            string `json:"fix,omitempty"`
	// PassesSinceStart counts the passes finished since the daemon started
	// (cancelled ones aside); OKSinceStart is whether one succeeded.
	PassesSinceStart int  `json:"passes_since_start"`
	OKSinceStart     bool `json:"ok_since_start"`
	// Problem is why /healthz counts the stream against it (one of the
	// Problem* constants), empty while it is healthy.
	Problem string    `json:"problem,omitempty"`
	NextRun time.Time `json:"next_run,omitzero"`
	// Age is how long since the last success (or since the daemon started,
	// or since the last committed window of a running pass, whichever is
	// latest): Stale is Age > Staleness.
	Age           time.Duration `json:"age_ns"`
	ProgressDone  int           `json:"progress_done,omitempty"`
	ProgressTotal int           `json:"progress_total,omitempty"`
	ProgressRows  int64         `json:"progress_rows,omitempty"`
	ProgressReqs  int64         `json:"progress_requests,omitempty"`
	RetentionRisk bool          `json:"retention_alarm,omitempty"`
}

func (st *stream) begin(now time.Time) {
	st.mu.Lock()
	st.running = true
	st.passStarted = now
	st.progressAt, st.progressDone, st.progressTotal, st.progressRows, st.progressReqs = time.Time{}, 0, 0, 0, 0
	st.mu.Unlock()
}

func (st *stream) finish(now time.Time, res pipeline.Result, cursor time.Time, errText string, canceled bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.running = false
	st.lastStart, st.lastEnd = st.passStarted, now
	st.passStarted = time.Time{}
	st.last, st.hasLast = res, true
	if !cursor.IsZero() {
		st.cursor = cursor
	}
	switch {
	case errText == "":
		st.lastSuccess = now
		st.failures = 0
		st.passes++
		st.okSinceStart = true
	case canceled:
		// Shutting down: not the stream's fault.
	default:
		st.failures++
		st.passes++
		st.lastErr, st.lastErrAt = errText, now
	}
}

func (st *stream) setNext(t time.Time) {
	st.mu.Lock()
	st.next = t
	st.mu.Unlock()
}

func (st *stream) failureCount() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.failures
}

func (st *stream) snapshot() StreamStatus {
	st.mu.Lock()
	defer st.mu.Unlock()
	return StreamStatus{
		Network:          st.job.Network,
		Stream:           st.job.Stream,
		Running:          st.running,
		Interval:         st.interval,
		Staleness:        st.staleness,
		LastSuccess:      st.lastSuccess,
		PassStarted:      st.passStarted,
		LastStart:        st.lastStart,
		LastEnd:          st.lastEnd,
		HasLast:          st.hasLast,
		LastRows:         st.last.Rows,
		LastRead:         st.last.Read,
		LastInserted:     st.last.Committed.Inserted,
		LastUpdated:      st.last.Committed.Updated,
		LastUnchanged:    st.last.Committed.Unchanged,
		LastRequests:     st.last.Requests,
		LastRetries:      st.last.Retries,
		LastCursorBefore: st.last.CursorBefore,
		LastWindows:      st.last.Windows,
		LastDuration:     st.last.Duration,
		LastError:        st.lastErr,
		LastErrorAt:      st.lastErrAt,
		Failures:         st.failures,
		Cursor:           st.cursor,
		PassesSinceStart: st.passes,
		OKSinceStart:     st.okSinceStart,
		NextRun:          st.next,
		ProgressDone:     st.progressDone,
		ProgressTotal:    st.progressTotal,
		ProgressRows:     st.progressRows,
		ProgressReqs:     st.progressReqs,
		Age:              0,
	}
}

// Status returns every network's streams' state at the daemon's clock, in
// Jobs order.
func (d *Daemon) Status() []StreamStatus {
	now := d.now()
	out := make([]StreamStatus, 0, len(d.streams))
	for _, st := range d.streams {
		s := st.snapshot()
		st.mu.Lock()
		progressAt := st.progressAt
		st.mu.Unlock()
		base := d.started
		if s.LastSuccess.After(base) {
			base = s.LastSuccess
		}
		if progressAt.After(base) {
			base = progressAt
		}
		s.LastError = d.redact(s.LastError)
		s.Age = max(now.Sub(base), 0)
		s.Stale = s.Age > s.Staleness
		if !s.Cursor.IsZero() {
			s.CursorLag = max(now.Sub(s.Cursor), 0)
			s.Behind = s.CursorLag
			if st.job.Behind != nil {
				s.Behind = max(st.job.Behind(s.Cursor, now), 0)
			}
		}
		s.RetentionRisk = st.retention && !s.Cursor.IsZero() && s.CursorLag > d.cfg.ClicksAlarmLag
		// Judged from the cursor itself, by the rule the pipeline refuses
		// passes with, so it shows from start-up and clears when the clock
		// catches up, without waiting for a pass.
		if (checkpoints.Cursor{Stream: s.Stream, Position: s.Cursor}).InFuture(now) {
			s.CursorInFuture = true
			s.Fix = checkpoints.ResetCommand(s.Stream)
			if d.multi {
				s.Fix += " --network " + s.Network
			}
		}
		switch {
		case s.CursorInFuture:
			s.Problem = ProblemCursorInFuture
		case s.Stale:
			s.Problem = ProblemStale
		case s.PassesSinceStart > 0 && !s.OKSinceStart:
			s.Problem = ProblemFailingSinceStart
		}
		switch {
		case s.CursorInFuture:
			s.State = StateCursorInFuture
		case s.Stale:
			s.State = StateStale
		case s.Failures > 0:
			s.State = StateFailing
		case s.Running:
			s.State = StateRunning
		case s.LastSuccess.IsZero():
			s.State = StateWaiting
		default:
			s.State = StateFresh
		}
		out = append(out, s)
	}
	return out
}

// seed loads what the warehouse remembers: each network's streams' cursors
// and last sync passes, so a restarted daemon shows its state at once and
// runs at start-up only what is due. Failures are ignored (a fresh
// warehouse has nothing).
func (d *Daemon) seed(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for _, n := range d.networks {
		if r := d.reader(n); r != nil {
			d.seedNetwork(ctx, n, r)
		}
	}
}

func (d *Daemon) seedNetwork(ctx context.Context, network string, w load.Reader) {
	if cursors, err := w.Cursors(ctx); err == nil {
		for _, c := range cursors {
			if st := d.byKey[jobKey{network, c.Stream}]; st != nil && !c.Position.IsZero() {
				st.mu.Lock()
				st.cursor = c.Position.UTC()
				st.mu.Unlock()
			}
		}
	}
	runs, err := w.LastRuns(ctx)
	if err != nil {
		d.log.Debug().Str("network", network).Str("error", d.redact(err.Error())).Msg("no pass history to start from")
		return
	}
	for _, r := range runs {
		st := d.byKey[jobKey{network, r.Stream}]
		if st == nil {
			continue
		}
		st.mu.Lock()
		st.lastStart, st.lastEnd = r.StartedAt.UTC(), r.FinishedAt.UTC()
		st.last = pipeline.Result{Stream: r.Stream, Rows: r.Rows, Read: r.RowsRead,
			Committed: load.Committed{Inserted: r.Inserted, Updated: r.Updated, Unchanged: r.Unchanged},
			Requests:  r.Requests, Retries: r.Retries, CursorBefore: r.CursorBefore, Cursor: r.CursorAfter,
			Duration: r.FinishedAt.Sub(r.StartedAt)}
		st.hasLast = true
		if !r.LastSuccess.IsZero() {
			st.lastSuccess = r.LastSuccess.UTC()
		}
		if r.Error != "" {
			st.failures = 1
			st.lastErr, st.lastErrAt = d.redact(r.Error), r.FinishedAt.UTC()
		}
		st.mu.Unlock()
	}
}
