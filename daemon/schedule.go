package daemon

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/rs/zerolog"

	"github.com/syncd/syncd/checkpoints"
	"github.com/syncd/syncd/pipeline"
)

// Interval is the gap between the schedule's ticks after now (the largest
// of the next few, for cron specs whose gaps vary).
func Interval(s cron.Schedule, now time.Time) time.Duration {
	if c, ok := s.(cron.ConstantDelaySchedule); ok {
		return c.Delay
	}
	var longest time.Duration
	t := s.Next(now)
	for range 4 {
		n := s.Next(t)
		if n.IsZero() {
			break
		}
		longest = max(longest, n.Sub(t))
		t = n
	}
	if longest <= 0 {
		longest = time.Hour
	}
	return longest
}

// DefaultStaleness is how long a stream may go without a successful pass:
// three intervals plus the smaller of one interval and five minutes (so a
// 2s test schedule turns stale within seconds and a 15m one after 50m).
func DefaultStaleness(s cron.Schedule, now time.Time) time.Duration {
	iv := Interval(s, now)
	return 3*iv + min(iv, 5*time.Minute)
}

// retryDelay is the backoff after the n-th consecutive failure (n >= 1):
// exponential from an eighth of the interval (at most one minute), capped
// at the interval and at 30 minutes, with ±10% jitter. The next regular
// tick still applies when it comes sooner.
func retryDelay(interval time.Duration, n int) time.Duration {
	limit := min(interval, 30*time.Minute)
	base := min(max(interval/8, 10*time.Millisecond), time.Minute)
	d := base
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	jitter := time.Duration((rand.Float64()*0.2 - 0.1) * float64(d))
	return d + jitter
}

// firstRun is when a stream's first pass after start-up is due: now when it
// never succeeded, its last pass failed or its cursor lies in the future
// (so the refusal and its fix are logged within seconds, not at the next
// tick hours away), else its next tick after the last success (which may
// be in the past: then now).
func (st *stream) firstRun(now time.Time) time.Time {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.lastSuccess.IsZero() || st.failures > 0 || (checkpoints.Cursor{Position: st.cursor}).InFuture(now) {
		return now
	}
	next := st.job.Schedule.Next(st.lastSuccess)
	if next.Before(now) {
		return now
	}
	return next
}

// schedule runs one goroutine per stream until ctx ends, then waits for
// the passes in flight up to the shutdown timeout.
func (d *Daemon) schedule(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, st := range d.streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.loop(ctx, st)
		}()
	}
	<-ctx.Done()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTimer(d.cfg.ShutdownTimeout)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-t.C:
		var running []string
		for _, st := range d.streams {
			if st.snapshot().Running {
				running = append(running, d.label(st.job.Network, st.job.Stream))
			}
		}
		d.log.Error().Strs("streams", running).Dur("waited", d.cfg.ShutdownTimeout).
			Msg("passes did not stop in time; exiting anyway (DuckDB's WAL keeps the file consistent)")
		return fmt.Errorf("%w: %s", ErrShutdownTimeout, strings.Join(running, ", "))
	}
}

// loop is one stream's scheduler: one pass at a time, so passes of a
// stream never overlap. A pass that outlasts its interval makes the missed
// ticks collapse into one pass right after it.
func (d *Daemon) loop(ctx context.Context, st *stream) {
	next := st.firstRun(d.now())
	for {
		st.setNext(next)
		if !sleepUntil(ctx, next.Sub(d.now())) {
			return
		}
		err := d.pass(ctx, st)
		if ctx.Err() != nil {
			return
		}
		now := d.now()
		next = st.job.Schedule.Next(now)
		if err != nil {
			if retry := now.Add(retryDelay(st.interval, st.failureCount())); retry.Before(next) {
				next = retry
			}
		}
	}
}

func sleepUntil(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

type progressKey struct{}

// Progress returns the function to pass as pipeline.Options.Progress from
// a Job's Run: every committed window counts as progress, so a long
// catch-up pass keeps the stream healthy and shows on the status page
// (rows fetched alone do not: a pass that never commits is not healthy).
// It is a no-op outside a daemon pass.
func Progress(ctx context.Context) func(pipeline.Progress) {
	if st, ok := ctx.Value(progressKey{}).(*passProgress); ok {
		return st.report
	}
	return func(pipeline.Progress) {}
}

type passProgress struct {
	d  *Daemon
	st *stream
}

func (p *passProgress) report(pr pipeline.Progress) {
	p.st.mu.Lock()
	if pr.Done != p.st.progressDone {
		p.st.progressAt = p.d.now()
	}
	p.st.progressDone, p.st.progressTotal, p.st.progressRows, p.st.progressReqs = pr.Done, pr.Total, pr.Read, pr.Requests
	p.st.mu.Unlock()
}

// pass runs one pass of st and records its outcome.
func (d *Daemon) pass(ctx context.Context, st *stream) (err error) {
	started := d.now()
	st.begin(started)
	pctx := context.WithValue(ctx, progressKey{}, &passProgress{d: d, st: st})
	var res pipeline.Result
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("%s: pass panicked: %v", d.label(st.job.Network, st.job.Stream), r)
				d.streamLog(d.log.Error(), st).Str("stack", string(debug.Stack())).Msg("pass panicked")
			}
		}()
		res, err = st.job.Run(pctx)
	}()
	finished := d.now()
	if res.Duration <= 0 {
		res.Duration = finished.Sub(started)
	}
	res.Stream = st.job.Stream

	cursor := res.Cursor
	if r := d.reader(st.job.Network); r != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		if c, ok, cerr := r.Cursor(cctx, st.job.Stream); cerr == nil && ok {
			cursor = c.Position
		}
		cancel()
	}
	canceled := err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled)
	errText := ""
	if err != nil {
		errText = d.redact(err.Error())
	}
	st.finish(finished, res, cursor, errText, canceled)

	m := d.metrics
	m.pass(st.job.Network, res)
	result := "ok"
	switch {
	case canceled:
		result = "canceled"
	case err != nil:
		result = "error"
	}
	m.passes.WithLabelValues(st.job.Network, st.job.Stream, result).Inc()

	ev := d.log.Info()
	if err != nil && !canceled {
		ev = d.log.Error().Str("error", errText).Int("failures", st.failureCount())
	} else if canceled {
		ev = d.log.Warn().Str("error", errText)
	}
	res.Cursor = cursor
	ev = res.Log(d.networkLog(ev, st))
	if !cursor.IsZero() {
		ev = ev.Str("cursor_lag", pipeline.FormatDuration(finished.Sub(cursor).Round(time.Second)))
	}
	ev.Msg("pass finished")

	if st.retention && !cursor.IsZero() {
		if lag := finished.Sub(cursor); lag > d.cfg.ClicksAlarmLag {
			d.streamLog(d.log.Warn(), st).Time("cursor", cursor).Dur("cursor_lag", lag.Round(time.Minute)).
				Msg("clicks cursor is more than " + humanDuration(d.cfg.ClicksAlarmLag) + " behind: Affise drops clicks after about 7 days, older ones will be lost")
		}
	}
	return err
}

// networkLog adds the stream's network to a log line when the daemon runs
// more than the default network (res.Log names the stream).
func (d *Daemon) networkLog(ev *zerolog.Event, st *stream) *zerolog.Event {
	if d.multi {
		ev = ev.Str("network", st.job.Network)
	}
	return ev
}

// streamLog names the stream, and its network when there are several.
func (d *Daemon) streamLog(ev *zerolog.Event, st *stream) *zerolog.Event {
	return d.networkLog(ev, st).Str("stream", st.job.Stream)
}

// Every is a schedule of exactly d between passes. Unlike cron's "@every",
// it neither rounds d up to a second nor aligns ticks to whole seconds
// (tests use sub-second schedules).
func Every(d time.Duration) cron.Schedule { return exactDelay(d) }

type exactDelay time.Duration

func (e exactDelay) Next(t time.Time) time.Time { return t.Add(time.Duration(e)) }
