package daemon

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// serviceFunc is a Service from a function.
type serviceFunc func(ctx context.Context) error

func (f serviceFunc) Serve(ctx context.Context) error { return f(ctx) }

// TestServicesRunWithTheDaemon: a service starts with Run and is stopped
// with it; one that fails stops the daemon with its error.
func TestServicesRunWithTheDaemon(t *testing.T) {
	started, stopped := make(chan struct{}), make(chan struct{})
	svc := serviceFunc(func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		close(stopped)
		return nil
	})
	d, err := New(Config{Listen: "127.0.0.1:0", Jobs: []Job{idleJob("offers", time.Hour)}, Services: []Service{svc}})
	if err != nil {
		t.Fatal(err)
	}
	stop := runDaemon(t, d)
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("the service did not start")
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-stopped:
	default:
		t.Fatal("Run returned before the service stopped")
	}

	failing := serviceFunc(func(context.Context) error { return errors.New("postgres: accept: too many open files") })
	d, err = New(Config{Listen: "127.0.0.1:0", Jobs: []Job{idleJob("offers", time.Hour)}, Services: []Service{failing}})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- d.Run(context.Background()) }()
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), "too many open files") {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("a failed service did not stop the daemon")
	}
}
