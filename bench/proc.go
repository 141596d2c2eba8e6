package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// result is one finished child process.
type result struct {
	Wall time.Duration
	// PeakRSS is the child's high-water resident set (wait4's ru_maxrss),
	// in bytes.
	PeakRSS int64
	Stderr  string
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
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.PeakRSS = ru.Maxrss * 1024 // kilobytes on Linux
	}
	if err != nil && !stopped {
		return r, fmt.Errorf("%s %v: %w\n%s", bin, args, err, tail(r.Stderr, 2000))
	}
	return r, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
