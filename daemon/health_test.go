package daemon

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/syncd/syncd/checkpoints"
	"github.com/syncd/syncd/models"
	"github.com/syncd/syncd/pipeline"
)

// TestFutureCursorIsUnhealthyEverywhere: a stream whose stored cursor lies
// ahead of now (its passes refused by the pipeline) shows on /healthz, the
// status page, /api/status and /metrics, from the start and after each
// refused pass, while the other streams stay healthy; once its cursor is
// back in the past and a pass succeeds, all of that clears.
func TestFutureCursorIsUnhealthyEverywhere(t *testing.T) {
	clk := newClock(t0)
	sink := newFakeWarehouse()
	future := t0.AddDate(0, 0, 40).Truncate(time.Hour)
	sink.set("conversions", future)
	sink.set("clicks", t0.Add(-time.Hour))
	refuse := true
	log := &testLog{}
	d, err := New(Config{Now: clk.Now, Warehouse: sink, Log: log.logger(), Jobs: []Job{
		{Stream: "conversions", Schedule: every(15 * time.Minute), Run: func(context.Context) (pipeline.Result, error) {
			if refuse {
				return pipeline.Result{Cursor: future}, &checkpoints.FutureCursorError{Stream: "conversions", Position: future, Now: clk.Now()}
			}
			sink.set("conversions", t0.Add(-time.Hour))
			return pipeline.Result{Windows: 2}, nil
		}},
		idleJob("clicks", time.Hour),
	}})
	if err != nil {
		t.Fatal(err)
	}
	d.seed(context.Background())
	h := d.Handler()

	check := func(when string) {
		t.Helper()
		code, body := get(t, h, "/healthz")
		first, _, _ := strings.Cut(body, "\n")
		if code != 503 || first != "cursor in future: conversions" || !strings.Contains(body, "syncd state reset --stream conversions") {
			t.Errorf("%s: /healthz %d:\n%s", when, code, body)
		}
		m := scrape(t, h)
		if m[`syncd_cursor_in_future{network="default",stream="conversions"}`] != 1 || m[`syncd_cursor_in_future{network="default",stream="clicks"}`] != 0 {
			t.Errorf("%s: syncd_cursor_in_future conversions %v, clicks %v", when, m[`syncd_cursor_in_future{network="default",stream="conversions"}`], m[`syncd_cursor_in_future{network="default",stream="clicks"}`])
		}
		if m[`syncd_stream_unhealthy{network="default",stream="conversions"}`] != 1 {
			t.Errorf("%s: syncd_stream_unhealthy{conversions} = %v", when, m[`syncd_stream_unhealthy{network="default",stream="conversions"}`])
		}
		_, page := get(t, h, "/")
		for _, want := range []string{`pill state-cursor_in_future">cursor in future<`, "40d ahead of now", "syncd state reset --stream conversions", "cursor in future: conversions"} {
			if !strings.Contains(page, want) {
				t.Errorf("%s: status page lacks %q", when, want)
			}
		}
		_, js := get(t, h, "/api/status")
		var st struct {
			Streams []StreamStatus `json:"streams"`
		}
		if err := json.Unmarshal([]byte(js), &st); err != nil {
			t.Fatal(err)
		}
		if s := st.Streams[0]; s.State != StateCursorInFuture || !s.CursorInFuture || s.Problem != ProblemCursorInFuture || !s.Cursor.Equal(future) {
			t.Errorf("%s: /api/status conversions %+v", when, s)
		}
		if s := st.Streams[1]; s.CursorInFuture || s.Problem != "" {
			t.Errorf("%s: /api/status clicks %+v", when, s)
		}
	}
	// Before any pass: the seeded cursor alone says so, and the stream is
	// due at once even though its schedule would wait.
	check("at start")
	if due := d.byKey[jobKey{models.DefaultNetwork, "conversions"}].firstRun(clk.Now()); !due.Equal(clk.Now()) {
		t.Errorf("conversions first pass due %v, want now", due)
	}
	if err := d.pass(context.Background(), d.byKey[jobKey{models.DefaultNetwork, "conversions"}]); err == nil {
		t.Fatal("refused pass reported success")
	}
	_ = d.pass(context.Background(), d.byKey[jobKey{models.DefaultNetwork, "clicks"}])
	check("after a refused pass")
	if !strings.Contains(log.String(), "stored cursor") {
		t.Errorf("the daemon's log lacks the refusal:\n%s", log.String())
	}

	// The cursor moved back (what state reset does) and a pass succeeds.
	refuse = false
	clk.Add(time.Minute)
	if err := d.pass(context.Background(), d.byKey[jobKey{models.DefaultNetwork, "conversions"}]); err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, h, "/healthz"); code != 200 {
		t.Errorf("after the reset: /healthz %d:\n%s", code, body)
	}
	if m := scrape(t, h); m[`syncd_cursor_in_future{network="default",stream="conversions"}`] != 0 || m[`syncd_stream_unhealthy{network="default",stream="conversions"}`] != 0 {
		t.Errorf("after the reset: metrics still flag conversions")
	}
}

// TestFirstRunOfAFutureCursorIsImmediate: a stream that succeeded recently
// would wait for its next tick, but one whose cursor is in the future runs
// at once, so its refusal shows within seconds of start-up.
func TestFirstRunOfAFutureCursorIsImmediate(t *testing.T) {
	st := &stream{job: idleJob("offers", 6*time.Hour)}
	st.lastSuccess = t0.Add(-time.Hour)
	if got := st.firstRun(t0); !got.Equal(t0.Add(5 * time.Hour)) {
		t.Fatalf("first run %v, want the next tick", got)
	}
	st.cursor = t0.AddDate(0, 1, 0)
	if got := st.firstRun(t0); !got.Equal(t0) {
		t.Errorf("first run with a future cursor %v, want now", got)
	}
}

// TestHealthzWhenEveryPassSinceStartFailed: a stream whose every pass
// since the daemon started failed makes /healthz 503 at once, long before
// it turns stale (18h for a 6h schedule), even when it succeeded before
// the restart; one success clears it, a cancelled pass does not count,
// and a stream not yet attempted is not counted against.
func TestHealthzWhenEveryPassSinceStartFailed(t *testing.T) {
	clk := newClock(t0)
	d, err := New(Config{Now: clk.Now, Jobs: []Job{idleJob("conversions", 15*time.Minute), idleJob("offers", 6*time.Hour), idleJob("partners", 6*time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	h := d.Handler()
	offers := d.byKey[jobKey{models.DefaultNetwork, "offers"}]
	offers.lastSuccess = t0.Add(-2 * time.Hour) // from _syncd_runs, before this start

	clk.Add(time.Minute)
	conv := d.byKey[jobKey{models.DefaultNetwork, "conversions"}]
	conv.begin(clk.Now())
	conv.finish(clk.Now(), pipeline.Result{Rows: 5}, time.Time{}, "", false)
	offers.begin(clk.Now())
	offers.finish(clk.Now(), pipeline.Result{}, time.Time{}, "offers: stopped: context canceled", true) // shutting down: not counted
	if code, body := get(t, h, "/healthz"); code != 200 {
		t.Fatalf("after a success and a cancelled pass: %d\n%s", code, body)
	}
	for range 2 {
		offers.begin(clk.Now())
		offers.finish(clk.Now(), pipeline.Result{}, time.Time{}, "GET /3.0/offers: HTTP 401: bad key", false)
	}
	code, body := get(t, h, "/healthz")
	first, _, _ := strings.Cut(body, "\n")
	if code != 503 || first != "every pass since start failed: offers" || !strings.Contains(body, "offers: failing, all 2 passes since start failed") || !strings.Contains(body, "HTTP 401") {
		t.Fatalf("offers failing since start: %d\n%s", code, body)
	}
	if strings.Contains(first, "partners") || strings.Contains(first, "conversions") {
		t.Errorf("names a stream that did not fail: %q", first)
	}
	if m := scrape(t, h); m[`syncd_stream_unhealthy{network="default",stream="offers"}`] != 1 || m[`syncd_stream_unhealthy{network="default",stream="partners"}`] != 0 {
		t.Errorf("syncd_stream_unhealthy offers %v, partners %v", m[`syncd_stream_unhealthy{network="default",stream="offers"}`], m[`syncd_stream_unhealthy{network="default",stream="partners"}`])
	}
	if _, page := get(t, h, "/"); !strings.Contains(page, "every pass since start failed: offers") {
		t.Error("the status page does not say offers never succeeded since start")
	}

	offers.begin(clk.Now())
	offers.finish(clk.Now(), pipeline.Result{}, time.Time{}, "", false)
	if code, body := get(t, h, "/healthz"); code != 200 {
		t.Fatalf("after offers succeeded: %d\n%s", code, body)
	}
	// A later failure is the ordinary failing state, judged by staleness.
	offers.begin(clk.Now())
	offers.finish(clk.Now(), pipeline.Result{}, time.Time{}, "HTTP 500", false)
	if code, body := get(t, h, "/healthz"); code != 200 {
		t.Fatalf("a failure after a success since start: %d\n%s", code, body)
	}
}
