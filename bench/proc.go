package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// result is one finished child process.
type result struct {
	Wall time.Duration
	// PeakRSS is the child's high-water resident set in bytes: the last
	// VmHWM read from /proc while it ran (every 50 ms), or wait4's
	// ru_maxrss where there is no /proc. Not ru_maxrss on Linux: exec
	// keeps the high-water mark of the memory it replaces, which for a Go
	// parent is the parent's (os/exec starts children with vfork), so every
	// child after the in-process read_json measurement reported the bench
	// process's 1365 MB.
	PeakRSS int64
	// CPU is the child's user plus system time over all its threads
	// (wait4's rusage): what it cost the machine, which a busy machine
	// moves far less than the wall time.
	CPU    time.Duration
	Stderr string
}

// runChild runs bin with args in dir and waits for it. stop, when it
// fires before the child exits, interrupts the child (SIGINT, then SIGKILL
// after 10s): a stopped child is no error.
func runChild(ctx context.Context, dir string, env []string, stop <-chan struct{}, bin string, args ...string) (result, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return result{}, fmt.Errorf("start %s: %w", bin, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	exited, hwm := make(chan struct{}), make(chan int64, 1)
	go func() { hwm <- pollHWM(cmd.Process.Pid, exited) }()
	stopped := false
	var err error
	select {
	case err = <-done:
	case <-stop:
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case err = <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			err = <-done
		}
	}
	r := result{Wall: time.Since(start), Stderr: stderr.String()}
	if ps := cmd.ProcessState; ps != nil {
		r.CPU = ps.UserTime() + ps.SystemTime()
	}
	close(exited)
	if r.PeakRSS = <-hwm; r.PeakRSS == 0 {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			r.PeakRSS = ru.Maxrss * 1024 // kilobytes on Linux
		}
	}
	if err != nil && !stopped {
		return r, fmt.Errorf("%s %v: %w\n%s", bin, args, err, tail(r.Stderr, 2000))
	}
	return r, nil
}

// pollHWM reads the VmHWM of process pid every 50 ms until exited is
// closed, and returns the last value in bytes (0 when it read none). It
// misses only growth in the last 50 ms before the process ended.
func pollHWM(pid int, exited <-chan struct{}) int64 {
	path := fmt.Sprintf("/proc/%d/status", pid)
	var peak int64
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		if b, err := os.ReadFile(path); err == nil {
			for _, l := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
					var kb int64
					if _, err := fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb); err == nil && kb*1024 > peak {
						peak = kb * 1024
					}
				}
			}
		}
		select {
		case <-exited:
			return peak
		case <-t.C:
		}
	}
}

// selfCPU is the user plus system time of this process so far, all
// threads (DuckDB's included).
func selfCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
