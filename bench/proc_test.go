package bench

import (
	"context"
	"runtime"
	"testing"
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
