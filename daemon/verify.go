package daemon

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/robfig/cron/v3"
)

// Verification is a scheduled check of one network's part of the
// warehouse against that network's API (syncd verify). The daemon knows
// neither: Run does the check.
type Verification struct {
	// Network is the network Run checks ("" is models.DefaultNetwork).
	Network  string
	Schedule cron.Schedule
	// Days is how many days, ending today, Run checks (shown on the
	// status page).
	Days int
	// Run compares the warehouse with the source and returns the days
	// that differ. It may run concurrently with passes; it must only read.
	Run func(ctx context.Context) (VerifyResult, error)
}

// VerifyResult is one verification's outcome.
type VerifyResult struct {
	Rows           int      // day-currency rows compared
	MismatchedDays []string // YYYY-MM-DD, in order
	Requests       int64
}

// verifier runs a Verification on its schedule and keeps the last result.
type verifier struct {
	v        Verification
	network  string
	mismatch prometheus.Gauge
	runs     *prometheus.CounterVec

	mu      sync.Mutex
	last    VerifyResult
	lastAt  time.Time // zero until the first verification ended
	lastErr string
}

// verifyMetrics are the verifications' series, one per network: several
// verifiers share them (a registry takes each metric name once).
type verifyMetrics struct {
	mismatch *prometheus.GaugeVec
	runs     *prometheus.CounterVec
}

func newVerifyMetrics(reg prometheus.Registerer) (*verifyMetrics, error) {
	vm := &verifyMetrics{
		mismatch: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "syncd_verify_mismatched_days",
			Help: "Days whose conversions differ from the network's own numbers at its last scheduled verification (-1 before one finished, or when it failed).",
		}, []string{"network"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "syncd_verify_runs_total",
			Help: "Scheduled verifications, by network and result (ok, mismatch, error).",
		}, []string{"network", "result"}),
	}
	if err := reg.Register(vm.mismatch); err != nil {
		return nil, err
	}
	if err := reg.Register(vm.runs); err != nil {
		return nil, err
	}
	return vm, nil
}

func newVerifier(v Verification, network string, vm *verifyMetrics) *verifier {
	vf := &verifier{v: v, network: network,
		mismatch: vm.mismatch.WithLabelValues(network),
		runs:     vm.runs.MustCurryWith(prometheus.Labels{"network": network}),
	}
	vf.mismatch.Set(-1)
	for _, r := range []string{"ok", "mismatch", "error"} {
		vf.runs.WithLabelValues(r)
	}
	return vf
}

// loop runs the verification at each scheduled time until ctx ends.
func (vf *verifier) loop(ctx context.Context, now func() time.Time, redact func(string) string) {
	for {
		next := vf.v.Schedule.Next(now())
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		res, err := vf.v.Run(ctx)
		vf.mu.Lock()
		vf.lastAt = now()
		if err != nil {
			if ctx.Err() != nil {
				vf.mu.Unlock()
				return
			}
			vf.lastErr = oneLine(redact(err.Error()), 300)
			vf.mismatch.Set(-1)
			vf.runs.WithLabelValues("error").Inc()
		} else {
			vf.last, vf.lastErr = res, ""
			vf.mismatch.Set(float64(len(res.MismatchedDays)))
			if len(res.MismatchedDays) > 0 {
				vf.runs.WithLabelValues("mismatch").Inc()
			} else {
				vf.runs.WithLabelValues("ok").Inc()
			}
		}
		vf.mu.Unlock()
	}
}

// verifyView is the status page's line about a network's last
// verification.
type verifyView struct {
	Network  string // "" while the daemon runs the default network alone
	Days     int
	Ran      bool
	At       time.Time
	Error    string
	Rows     int
	Requests int64
	Bad      string // the differing days, comma-separated
}

func (vf *verifier) view() verifyView {
	vf.mu.Lock()
	defer vf.mu.Unlock()
	return verifyView{Network: vf.network, Days: vf.v.Days, Ran: !vf.lastAt.IsZero(), At: vf.lastAt, Error: vf.lastErr, Rows: vf.last.Rows,
		Requests: vf.last.Requests, Bad: strings.Join(vf.last.MismatchedDays, ", ")}
}
