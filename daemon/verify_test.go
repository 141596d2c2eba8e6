package daemon

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A scheduled verification's result reaches /metrics and the status page:
// -1 before the first, the number of differing days after one, and a
// failed one says so (with the key masked).
func TestScheduledVerification(t *testing.T) {
	var calls atomic.Int32
	v := &Verification{Schedule: Every(20 * time.Millisecond), Days: 7, Run: func(ctx context.Context) (VerifyResult, error) {
		switch calls.Add(1) {
		case 1:
			return VerifyResult{Rows: 21, MismatchedDays: []string{"2025-06-01", "2025-06-03"}, Requests: 3}, nil
		case 2:
			return VerifyResult{}, errors.New("GET /3.0/stats/custom: HTTP 500 key s3cr3t-key-value")
		}
		<-ctx.Done()
		return VerifyResult{}, ctx.Err()
	}}
	d, err := New(Config{Listen: "127.0.0.1:0", Jobs: []Job{idleJob("offers", time.Hour)}, Verify: []*Verification{v},
		Redact: func(s string) string { return strings.ReplaceAll(s, "s3cr3t-key-value", "[REDACTED]") }})
	if err != nil {
		t.Fatal(err)
	}
	if m := scrape(t, d.Handler()); m[`syncd_verify_mismatched_days{network="default"}`] != -1 {
		t.Errorf("before any verification: %v", m[`syncd_verify_mismatched_days{network="default"}`])
	}
	if _, page := get(t, d.Handler(), "/"); !strings.Contains(page, "Not run yet") {
		t.Error("the status page does not say verification has not run")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done }()

	deadline := time.Now().Add(10 * time.Second)
	sawMismatch := false
	for time.Now().Before(deadline) {
		m := scrape(t, d.Handler())
		_, page := get(t, d.Handler(), "/")
		if !sawMismatch && m[`syncd_verify_mismatched_days{network="default"}`] == 2 {
			sawMismatch = true
			if !strings.Contains(page, "2025-06-01, 2025-06-03") || !strings.Contains(page, "syncd verify --repair") {
				t.Errorf("the status page does not show the differing days")
			}
		}
		if calls.Load() >= 3 && m[`syncd_verify_runs_total{network="default",result="error"}`] == 1 {
			if !sawMismatch && m[`syncd_verify_runs_total{network="default",result="mismatch"}`] != 1 {
				t.Error("the mismatch was never counted")
			}
			if m[`syncd_verify_mismatched_days{network="default"}`] != -1 {
				t.Errorf("after a failed verification the gauge is %v, want -1", m[`syncd_verify_mismatched_days{network="default"}`])
			}
			if !strings.Contains(page, "failed") || strings.Contains(page, "s3cr3t") || !strings.Contains(page, "[REDACTED]") {
				t.Errorf("the status page after a failed verification:\n%s", page[strings.Index(page, "Verification"):])
			}
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("the verification did not run on its schedule (%d calls)", calls.Load())
}
