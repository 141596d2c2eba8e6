package daemon

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syncd/syncd/load"
	"github.com/syncd/syncd/pipeline"
)

// TestSchedulerNeverOverlapsAStream runs two streams on @every 200ms with
// passes longer than the interval: each stream has at most one pass in
// flight, the two streams do run at the same time, and missed ticks
// collapse instead of piling up.
func TestSchedulerNeverOverlapsAStream(t *testing.T) {
	type counters struct{ inflight, maxInflight, passes atomic.Int64 }
	var global, globalMax atomic.Int64
	per := map[string]*counters{"a": {}, "b": {}}
	job := func(name string) Job {
		c := per[name]
		return Job{Stream: name, Schedule: every(200 * time.Millisecond), Run: func(ctx context.Context) (pipeline.Result, error) {
			n := c.inflight.Add(1)
			defer c.inflight.Add(-1)
			for {
				m := c.maxInflight.Load()
				if n <= m || c.maxInflight.CompareAndSwap(m, n) {
					break
				}
			}
			g := global.Add(1)
			defer global.Add(-1)
			for {
				m := globalMax.Load()
				if g <= m || globalMax.CompareAndSwap(m, g) {
					break
				}
			}
			c.passes.Add(1)
			select {
			case <-time.After(300 * time.Millisecond):
			case <-ctx.Done():
				return pipeline.Result{}, ctx.Err()
			}
			return pipeline.Result{Rows: 1}, nil
		}}
	}
	d, err := New(Config{Jobs: []Job{job("a"), job("b")}, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	stop := runDaemon(t, d)
	time.Sleep(2 * time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for name, c := range per {
		if m := c.maxInflight.Load(); m != 1 {
			t.Errorf("%s: %d passes in flight at once", name, m)
		}
		// 2s / (300ms pass + <=200ms wait): between 4 and 7 passes.
		if p := c.passes.Load(); p < 4 || p > 7 {
			t.Errorf("%s: %d passes in 2s, want 4..7", name, p)
		}
	}
	if globalMax.Load() < 2 {
		t.Error("the two streams never ran concurrently")
	}
}

// TestStartupRunsWhatIsDue: a stream that never ran runs at once even on
// an hourly schedule.
func TestStartupRunsWhatIsDue(t *testing.T) {
	ran := make(chan time.Time, 4)
	d, err := New(Config{Listen: "127.0.0.1:0", Jobs: []Job{{Stream: "offers", Schedule: every(time.Hour), Run: func(context.Context) (pipeline.Result, error) {
		ran <- time.Now()
		return pipeline.Result{}, nil
	}}}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	runDaemon(t, d)
	select {
	case at := <-ran:
		if at.Sub(start) > time.Second {
			t.Errorf("first pass after %s", at.Sub(start))
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no pass at start-up")
	}
	select {
	case <-ran:
		t.Fatal("a second pass ran long before the hourly tick")
	case <-time.After(300 * time.Millisecond):
	}
	s := d.Status()[0]
	if s.State != StateFresh || s.NextRun.Sub(time.Now()) < 59*time.Minute {
		t.Errorf("after the first pass: state %s, next run %s", s.State, s.NextRun)
	}
}

// TestFailureBackoff: failures are retried sooner than the next tick,
// with growing delays capped at the interval; a success resets it.
func TestFailureBackoff(t *testing.T) {
	var mu sync.Mutex
	var times []time.Time
	var fail atomic.Bool
	fail.Store(true)
	log := &testLog{}
	d, err := New(Config{Listen: "127.0.0.1:0", Log: log.logger(), Jobs: []Job{{Stream: "conversions", Schedule: every(800 * time.Millisecond), Run: func(context.Context) (pipeline.Result, error) {
		mu.Lock()
		times = append(times, time.Now())
		n := len(times)
		mu.Unlock()
		if fail.Load() {
			return pipeline.Result{}, errors.New("HTTP 503: boom")
		}
		_ = n
		return pipeline.Result{}, nil
	}}}})
	if err != nil {
		t.Fatal(err)
	}
	runDaemon(t, d)
	// interval 800ms: base 100ms, then 200, 400, 800 (cap), 800 ...
	waitFor(t, "6 failed passes", 10*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(times) >= 6 })
	fail.Store(false)
	mu.Lock()
	gaps := make([]time.Duration, 0, 5)
	for i := 1; i < 6; i++ {
		gaps = append(gaps, times[i].Sub(times[i-1]))
	}
	mu.Unlock()
	want := []time.Duration{100, 200, 400, 800, 800}
	for i, g := range gaps {
		w := want[i] * time.Millisecond
		if g < w*85/100 || g > w*115/100+100*time.Millisecond {
			t.Errorf("gap %d = %s, want about %s (all gaps %v)", i+1, g, w, gaps)
		}
	}
	s := d.Status()[0]
	if s.Failures < 5 || !strings.Contains(s.LastError, "HTTP 503") {
		t.Errorf("status after failures: %+v", s)
	}
	waitFor(t, "a success", 5*time.Second, func() bool { return d.Status()[0].Failures == 0 })
	s = d.Status()[0]
	if s.State != StateFresh {
		t.Errorf("state after success = %s", s.State)
	}
	if !strings.Contains(log.String(), `"error":"HTTP 503: boom"`) {
		t.Errorf("failed pass not logged: %s", log.String())
	}
}

// TestPassLogLine: one summary line per pass with stream, rows read,
// inserted, updated and unchanged, requests, retries, the duration as a
// duration, and the cursor before and after.
func TestPassLogLine(t *testing.T) {
	log := &testLog{}
	sink := newFakeWarehouse()
	cur := time.Now().UTC().Add(-time.Hour).Truncate(time.Hour)
	d, err := New(Config{Listen: "127.0.0.1:0", Log: log.logger(), Warehouse: sink, Jobs: []Job{{Stream: "clicks", Schedule: every(time.Hour), Retention: true, Run: func(context.Context) (pipeline.Result, error) {
		sink.set("clicks", cur)
		return pipeline.Result{Stream: "clicks", Rows: 42, Read: 50, Committed: load.Committed{Inserted: 40, Updated: 2, Unchanged: 8},
			Requests: 3, Retries: 1, Windows: 2, Planned: 2, CursorBefore: cur.Add(-time.Hour), Cursor: cur, Duration: 72 * time.Second}, nil
	}}}})
	if err != nil {
		t.Fatal(err)
	}
	runDaemon(t, d)
	waitFor(t, "a pass", 5*time.Second, func() bool { return strings.Contains(log.String(), "pass finished") })
	line := ""
	for _, l := range strings.Split(log.String(), "\n") {
		if strings.Contains(l, "pass finished") {
			line = l
		}
	}
	for _, want := range []string{`"stream":"clicks"`, `"rows":42`, `"rows_read":50`, `"rows_inserted":40`, `"rows_updated":2`, `"rows_unchanged":8`,
		`"requests":3`, `"retries":1`, `"duration":"1m12s"`, `"cursor_before":"` + cur.Add(-time.Hour).Format(time.RFC3339), `"cursor":"` + cur.Format(time.RFC3339)} {
		if !strings.Contains(line, want) {
			t.Errorf("pass line lacks %s: %s", want, line)
		}
	}
}

// TestShutdownWaitsForThePassInFlight: cancelling Run cancels the pass,
// which gets to finish (commit or roll back); Run returns nil well within
// 10s.
func TestShutdownWaitsForThePassInFlight(t *testing.T) {
	started := make(chan struct{})
	var finished atomic.Bool
	d, err := New(Config{Listen: "127.0.0.1:0", Jobs: []Job{{Stream: "conversions", Schedule: every(time.Hour), Run: func(ctx context.Context) (pipeline.Result, error) {
		close(started)
		<-ctx.Done()
		time.Sleep(300 * time.Millisecond) // the rollback
		finished.Store(true)
		return pipeline.Result{}, ctx.Err()
	}}}})
	if err != nil {
		t.Fatal(err)
	}
	stop := runDaemon(t, d)
	<-started
	t0 := time.Now()
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if el := time.Since(t0); el > 10*time.Second {
		t.Errorf("Run took %s to return", el)
	}
	if !finished.Load() {
		t.Error("Run returned before the pass in flight finished")
	}
	if s := d.Status()[0]; s.Failures != 0 {
		t.Errorf("a pass cancelled by shutdown counts as a failure: %+v", s)
	}
}

// TestShutdownDeadline: a pass that ignores cancellation does not hold the
// daemon past ShutdownTimeout.
func TestShutdownDeadline(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	defer close(release)
	d, err := New(Config{Listen: "127.0.0.1:0", ShutdownTimeout: 300 * time.Millisecond, Jobs: []Job{{Stream: "stuck", Schedule: every(time.Hour), Run: func(context.Context) (pipeline.Result, error) {
		close(started)
		<-release
		return pipeline.Result{}, nil
	}}}})
	if err != nil {
		t.Fatal(err)
	}
	stop := runDaemon(t, d)
	<-started
	t0 := time.Now()
	err = stop()
	if !errors.Is(err, ErrShutdownTimeout) || !strings.Contains(err.Error(), "stuck") {
		t.Fatalf("Run = %v, want ErrShutdownTimeout naming the stream", err)
	}
	if el := time.Since(t0); el > 2*time.Second {
		t.Errorf("Run took %s", el)
	}
}

// TestPanicIsAFailedPass: a panicking pass fails that pass, not the daemon.
func TestPanicIsAFailedPass(t *testing.T) {
	var n atomic.Int64
	d, err := New(Config{Listen: "127.0.0.1:0", Jobs: []Job{{Stream: "offers", Schedule: every(200 * time.Millisecond), Run: func(context.Context) (pipeline.Result, error) {
		if n.Add(1) == 1 {
			panic("boom")
		}
		return pipeline.Result{}, nil
	}}}})
	if err != nil {
		t.Fatal(err)
	}
	runDaemon(t, d)
	waitFor(t, "a pass after the panic", 5*time.Second, func() bool { return n.Load() >= 2 })
}

func TestIntervalAndStaleness(t *testing.T) {
	now := time.Date(2025, 3, 1, 10, 7, 0, 0, time.UTC)
	for _, c := range []struct {
		spec      string
		interval  time.Duration
		staleness time.Duration
	}{
		{"@every 2s", 2 * time.Second, 8 * time.Second},
		{"@every 15m", 15 * time.Minute, 50 * time.Minute},
		{"@every 6h", 6 * time.Hour, 18*time.Hour + 5*time.Minute},
		{"CRON_TZ=UTC 0 * * * *", time.Hour, 3*time.Hour + 5*time.Minute},
		{"CRON_TZ=UTC 30 2 * * *", 24 * time.Hour, 72*time.Hour + 5*time.Minute},
	} {
		s := mustSchedule(t, c.spec)
		if got := Interval(s, now); got != c.interval {
			t.Errorf("%s: interval %s, want %s", c.spec, got, c.interval)
		}
		if got := DefaultStaleness(s, now); got != c.staleness {
			t.Errorf("%s: staleness %s, want %s", c.spec, got, c.staleness)
		}
	}
	for n, want := range map[int]time.Duration{1: 1875 * time.Millisecond, 3: 7500 * time.Millisecond, 5: 15 * time.Second, 9: 15 * time.Second} {
		if got := retryDelay(15*time.Second, n); got < want*89/100 || got > want*111/100 {
			t.Errorf("retryDelay(15s, %d) = %s, want about %s", n, got, want)
		}
	}
	if got := retryDelay(6*time.Hour, 20); got > 33*time.Minute {
		t.Errorf("retryDelay(6h, 20) = %s, want at most 30m (+jitter)", got)
	}
}
