package bench

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// A child's peak RSS is its own, not its parent's: ru_maxrss of a child
// started by a Go process with a big heap reports the parent's.
func TestPeakRSSIsTheChilds(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("VmHWM is Linux's")
	}
	big := make([]byte, 400<<20)
	for i := range big {
		if i%4096 == 0 {
			big[i] = 1
		}
	}
	r, err := runChild(context.Background(), t.TempDir(), nil, nil, "/bin/sleep", "0.3")
	runtime.KeepAlive(big)
	if err != nil {
		t.Fatal(err)
	}
	if r.PeakRSS <= 0 || r.PeakRSS > 100<<20 {
		t.Fatalf("peak RSS of sleep %d MB, want its own few MB (the parent holds 400 MB)", r.PeakRSS>>20)
	}
}

// A child's CPU time is what it spent, not its wall time: sleep spends
// next to none, a busy loop most of its wall time.
func TestCPUIsTheChilds(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("wait4's rusage is measured on Linux")
	}
	idle, err := runChild(context.Background(), t.TempDir(), nil, nil, "/bin/sleep", "0.3")
	if err != nil {
		t.Fatal(err)
	}
	if idle.CPU > idle.Wall/3 {
		t.Fatalf("sleep 0.3 spent %s of CPU in %s", idle.CPU, idle.Wall)
	}
	busy, err := runChild(context.Background(), t.TempDir(), nil, nil, "/bin/sh", "-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done")
	if err != nil {
		t.Fatal(err)
	}
	if busy.CPU <= 0 || busy.CPU > busy.Wall+50*time.Millisecond {
		t.Fatalf("a busy loop spent %s of CPU in %s", busy.CPU, busy.Wall)
	}
}
